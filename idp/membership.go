package idp

import (
	"context"
	"errors"
	"time"
)

// MembershipStore keeps which tenants an account belongs to.
type MembershipStore interface {
	EnsureMembership(ctx context.Context, accountID, clientID, via string, now time.Time) (bool, error)
}

// How an account joined a tenant.
const (
	JoinedByRegistration = "registration"
	JoinedBySignIn       = "sign-in"
)

// Join makes the account a member of the tenant, if it is not one yet.
func (s *Service) Join(ctx context.Context, accountID, clientID, via string) error {
	ms, ok := s.accounts.(MembershipStore)
	if !ok {
		return errors.New("idp: memberships are not configured")
	}
	joined, err := ms.EnsureMembership(ctx, accountID, clientID, via, s.now())
	if err == nil && joined {
		s.log.InfoContext(ctx, "account joined tenant", "account", accountID, "tenant", clientID, "via", via)
	}
	return err
}
