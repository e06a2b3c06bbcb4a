package idp

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"github.com/manam-id/manam/storage"
)

// Accounts makes, imports and finds accounts, and keeps their profiles
// (profile.go) and their memberships of tenants (membership.go). Its
// stores are the shared AccountStore and, found on it, the optional
// MembershipStore and ProfileStore.
type Accounts struct {
	*core
	members  MembershipStore // nil: memberships are not configured
	profiles ProfileStore    // nil: profile changes are not configured
}

func newAccounts(c *core) *Accounts {
	a := &Accounts{core: c}
	a.members, _ = c.accounts.(MembershipStore)
	a.profiles, _ = c.accounts.(ProfileStore)
	return a
}

// NewAccount is what creating an account takes.
type NewAccount struct {
	Email          string
	Mobile         string // national (with MobileSeed) or international
	MobileSeed     string
	Password       string
	Name           string
	EmailVerified  bool
	MobileVerified bool
}

// CreateAccount makes a local account.
func (s *Accounts) CreateAccount(ctx context.Context, in NewAccount) (*storage.Account, error) {
	var email, mobile *string
	if in.Email != "" || in.Mobile == "" {
		e, err := NormalizeEmail(in.Email)
		if err != nil {
			return nil, err
		}
		email = &e
	}
	if in.Mobile != "" {
		m, err := NormalizeMobile(in.Mobile, in.MobileSeed)
		if err != nil {
			return nil, err
		}
		mobile = &m
	}
	if len(in.Password) < 8 || len(in.Password) > 128 {
		return nil, fmt.Errorf("%w: password must be 8 to 128 characters", ErrInvalidInput)
	}
	hash, err := s.pw.Hash(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	a := &storage.Account{ID: newID(), Email: email, EmailVerified: in.EmailVerified && email != nil, Mobile: mobile,
		MobileVerified: in.MobileVerified && mobile != nil, PasswordHash: hash, Name: strings.TrimSpace(in.Name), CreatedAt: now, UpdatedAt: now}
	if err := s.accounts.CreateAccount(ctx, a); err != nil {
		if errors.Is(err, storage.ErrDuplicate) {
			return nil, ErrExists
		}
		return nil, err
	}
	return a, nil
}

// Account loads an account by id.
func (s *Accounts) Account(ctx context.Context, id string) (*storage.Account, error) {
	return s.accounts.AccountByID(ctx, id)
}

// NormalizeEmail validates an address and lower-cases it.
func NormalizeEmail(e string) (string, error) {
	e = strings.TrimSpace(e)
	if e == "" || len(e) > 254 {
		return "", fmt.Errorf("%w: e-mail address", ErrInvalidInput)
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || addr.Name != "" || !strings.Contains(e[strings.LastIndex(e, "@")+1:], ".") {
		return "", fmt.Errorf("%w: e-mail address", ErrInvalidInput)
	}
	return strings.ToLower(e), nil
}

// AccountByIdentifier finds the account an e-mail address or a mobile
// number (international, or national with the default country code)
// names: storage.ErrNotFound when none does (or the identifier is not
// valid). For callers already authorized to look accounts up.
func (s *Accounts) AccountByIdentifier(ctx context.Context, identifier string) (*storage.Account, error) {
	a, _, err := s.lookup(ctx, strings.TrimSpace(identifier))
	if errors.Is(err, ErrInvalidInput) {
		return nil, storage.ErrNotFound
	}
	return a, err
}

// DefaultCountryCode is the calling code national mobile numbers are completed with ("" for none).
func (s *Accounts) DefaultCountryCode() string { return s.cfg.DefaultCountryCode }
