package idp

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/manam-id/manam/storage"
)

// The links of an account to upstream identities: proving the password
// of a pending link, listing and removing links.

// PendingLinkInfo is what a page shows about a pending link.
type PendingLinkInfo struct {
	Email    string
	Upstream string
	// Flow is the opaque value given to SignInUpstream.
	Flow string
}

// PendingLink describes a live pending link (ErrLinkExpired if none).
func (s *Federation) PendingLink(ctx context.Context, token string) (*PendingLinkInfo, error) {
	p, id, a, err := s.pendingLink(ctx, token)
	if err != nil {
		return nil, err
	}
	return &PendingLinkInfo{Email: derefEmail(a), Upstream: id.Upstream, Flow: p.Flow}, nil
}

func (s *Federation) pendingLink(ctx context.Context, token string) (*storage.PendingUpstreamLink, *FederatedIdentity, *storage.Account, error) {
	if s.links == nil {
		return nil, nil, nil, ErrFederationOff
	}
	if token == "" || len(token) > 100 {
		return nil, nil, nil, ErrLinkExpired
	}
	p, err := s.links.PendingLink(ctx, hashToken(token), s.now().UTC())
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil, nil, ErrLinkExpired
	}
	if err != nil {
		return nil, nil, nil, err
	}
	var id FederatedIdentity
	if err := json.Unmarshal([]byte(p.Identity), &id); err != nil {
		return nil, nil, nil, fmt.Errorf("idp: pending link: %w", err)
	}
	a, err := s.accounts.AccountByID(ctx, p.AccountID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil, nil, ErrLinkExpired
	}
	if err != nil {
		return nil, nil, nil, err
	}
	email, _ := NormalizeEmail(id.Email)
	if a.Email == nil || subtle.ConstantTimeCompare([]byte(email), []byte(*a.Email)) != 1 {
		// The account's address changed meanwhile: the proof is for another.
		return nil, nil, nil, ErrLinkExpired
	}
	return p, &id, a, nil
}

// CompleteLink proves the password of a pending link's account and, when
// it is right, links the identity (once) and returns the account and the
// pending link's flow. A wrong password is ErrInvalidCredentials and
// counts towards the account's lockout exactly like a failed sign-in
// (ErrThrottled by the budget of src, as for AuthenticateFor); the pending
// link stays usable until it expires.
func (s *Federation) CompleteLink(ctx context.Context, token, password, clientID string, src Source) (*storage.Account, string, error) {
	p, id, a, err := s.pendingLink(ctx, token)
	if err != nil {
		return nil, "", err
	}
	got, err := s.auth.AuthenticateFor(ctx, clientID, *a.Email, password, src)
	switch {
	case errors.Is(err, ErrUnconfirmed):
		// The password was right (only then is this said); the upstream
		// has just vouched for the address.
	case err != nil:
		return nil, "", err
	case got.ID != a.ID:
		return nil, "", ErrLinkExpired
	}
	now := s.now().UTC()
	err = s.links.InTx(ctx, func(ctx context.Context) error {
		if err := s.links.UsePendingLink(ctx, p.ID, now); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return ErrLinkExpired
			}
			return err
		}
		return s.links.CreateLink(ctx, linkRow(*id, a.ID, now))
	})
	if errors.Is(err, storage.ErrDuplicate) {
		// Linked meanwhile (to this account or another): this proof is spent.
		return nil, "", ErrLinkExpired
	}
	if err != nil {
		return nil, "", err
	}
	s.log.InfoContext(ctx, "upstream identity linked after a password proof", "account", a.ID, "upstream", id.Upstream)
	if got != nil {
		a = got
	}
	return a, p.Flow, s.joinUpstream(ctx, a.ID, clientID)
}

// Links lists an account's upstream identities, oldest first.
func (s *Federation) Links(ctx context.Context, accountID string) ([]storage.UpstreamLink, error) {
	if s.links == nil {
		return nil, nil
	}
	return s.links.LinksOf(ctx, accountID)
}

// Unlink removes one of an account's upstream identities, unless it is
// the account's last way to sign in (no usable password, no other link):
// ErrLastSignIn. An identity the account does not have is ErrInvalidInput.
func (s *Federation) Unlink(ctx context.Context, accountID, upstream, subject string) error {
	if s.links == nil {
		return ErrFederationOff
	}
	a, err := s.accounts.AccountByID(ctx, accountID)
	if err != nil {
		return err
	}
	links, err := s.links.LinksOf(ctx, accountID)
	if err != nil {
		return err
	}
	found := false
	for _, l := range links {
		if l.Upstream == upstream && l.Subject == subject {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("%w: no such linked identity", ErrInvalidInput)
	}
	if !HasPassword(a) && len(links) <= 1 {
		return ErrLastSignIn
	}
	if err := s.links.DeleteLink(ctx, accountID, upstream, subject); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("%w: no such linked identity", ErrInvalidInput)
		}
		return err
	}
	s.log.InfoContext(ctx, "upstream identity unlinked", "account", accountID, "upstream", upstream)
	return nil
}
