package idp

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/manam-id/manam/storage"
)

// MembershipStore keeps which tenants an account belongs to.
type MembershipStore interface {
	EnsureMembership(ctx context.Context, accountID, clientID, via string, now time.Time) (bool, error)
	Membership(ctx context.Context, accountID, clientID string) (*storage.Membership, error)
	UpdateMembership(ctx context.Context, accountID, clientID string, role *string, fields map[string]any) error
}

// ErrNotMember: the account is not a member of the tenant (a tenant sees
// only its members).
var ErrNotMember = errors.New("idp: not a member of this tenant")

func (s *Accounts) memberships() (MembershipStore, error) {
	if s.members == nil {
		return nil, errors.New("idp: memberships are not configured")
	}
	return s.members, nil
}

// Membership is an account's membership of a tenant: ErrNotMember when it
// has none.
func (s *Accounts) Membership(ctx context.Context, accountID, clientID string) (*storage.Membership, error) {
	ms, err := s.memberships()
	if err != nil {
		return nil, err
	}
	m, err := ms.Membership(ctx, accountID, clientID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrNotMember
	}
	return m, err
}

// maxCustomFields bounds what a tenant keeps about one member.
const maxCustomFields = 50

// UpdateMembership sets a member's role (role nil: unchanged) and merges
// fields into the tenant's custom fields about it. Keys are 1 to 64
// characters and values at most 1,000 characters each when printed;
// anything else is FieldErrors and changes nothing.
func (s *Accounts) UpdateMembership(ctx context.Context, accountID, clientID string, role *string, fields map[string]any) error {
	if fe := CheckMembership(role, fields); len(fe) > 0 {
		return fe
	}
	ms, err := s.memberships()
	if err != nil {
		return err
	}
	if err := ms.UpdateMembership(ctx, accountID, clientID, role, fields); errors.Is(err, storage.ErrNotFound) {
		return ErrNotMember
	} else if err != nil {
		return err
	}
	return nil
}

// CheckMembership validates a role and custom fields.
func CheckMembership(role *string, fields map[string]any) FieldErrors {
	fe := FieldErrors{}
	if role != nil && (len(*role) > 100 || !plainText(*role, 100)) {
		fe["role"] = "Use at most 100 characters, without < or >."
	}
	if len(fields) > maxCustomFields {
		fe["custome_fields"] = "Send at most 50 custom fields."
	}
	for k, v := range fields {
		if k == "" || len(k) > 64 {
			fe["custome_fields"] = "Name each custom field with 1 to 64 characters."
			break
		}
		if b, err := json.Marshal(v); err != nil || len(b) > 1000 {
			fe["custome_fields"] = "Keep each custom field under 1,000 characters."
			break
		}
	}
	return fe
}

// How an account joined a tenant.
const (
	JoinedByRegistration = "registration"
	JoinedBySignIn       = "sign-in"
)

// Join makes the account a member of the tenant, if it is not one yet.
func (s *Accounts) Join(ctx context.Context, accountID, clientID, via string) error {
	ms, err := s.memberships()
	if err != nil {
		return err
	}
	joined, err := ms.EnsureMembership(ctx, accountID, clientID, via, s.now())
	if err == nil && joined {
		s.log.InfoContext(ctx, "account joined tenant", "account", accountID, "tenant", clientID, "via", via)
	}
	return err
}

// SaveMemberProfile stores a member's profile together with the tenant's
// role (nil: unchanged) and custom fields about it, in one transaction:
// invalid input (FieldErrors) or a failure changes nothing.
func (s *Accounts) SaveMemberProfile(ctx context.Context, accountID, clientID string, in ProfileInput, role *string, fields map[string]any) error {
	name, p, fe := s.ParseProfile(in)
	for k, v := range CheckMembership(role, fields) {
		if fe == nil {
			fe = FieldErrors{}
		}
		fe[k] = v
	}
	if len(fe) > 0 {
		return fe
	}
	if s.profiles == nil {
		return errors.New("idp: profile changes are not configured")
	}
	return s.inTx(ctx, func(ctx context.Context) error {
		if err := s.profiles.UpdateProfile(ctx, accountID, name, p); err != nil {
			return err
		}
		if role == nil && len(fields) == 0 {
			return nil
		}
		return s.UpdateMembership(ctx, accountID, clientID, role, fields)
	})
}
