package idp

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/manam-id/manam/storage"
)

// ConsentStore keeps what users granted tenants.
type ConsentStore interface {
	Consent(ctx context.Context, accountID, clientID string) (*storage.Consent, error)
	SaveConsent(ctx context.Context, c *storage.Consent) error
}

// Consents keeps what users granted tenants (the consent page's and the
// authorization endpoint's decision).
type Consents struct {
	*core
	store ConsentStore
}

// HasConsent tells whether the account already granted the client every scope in scopes.
func (s *Consents) HasConsent(ctx context.Context, accountID, clientID string, scopes []string, notBefore time.Time) (bool, error) {
	c, err := s.store.Consent(ctx, accountID, clientID)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !notBefore.IsZero() && !c.GrantedAt.After(notBefore) {
		return false, nil
	}
	for _, sc := range scopes {
		if !slices.Contains(c.Scopes, sc) {
			return false, nil
		}
	}
	return true, nil
}

// GrantConsent records that the account granted the client scopes (added
// to what it granted before).
func (s *Consents) GrantConsent(ctx context.Context, accountID, clientID string, scopes []string) error {
	all := append([]string{}, scopes...)
	if c, err := s.store.Consent(ctx, accountID, clientID); err == nil {
		for _, sc := range c.Scopes {
			if !slices.Contains(all, sc) {
				all = append(all, sc)
			}
		}
	} else if !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	slices.Sort(all)
	return s.store.SaveConsent(ctx, &storage.Consent{AccountID: accountID, ClientID: clientID, Scopes: all, GrantedAt: s.now().UTC().Truncate(time.Millisecond)})
}
