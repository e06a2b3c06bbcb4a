package idp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/manam-id/manam/storage"
)

// LinkStore keeps the links between accounts and upstream identities, and
// the links waiting for a password proof (storage.Links).
type LinkStore interface {
	CreateLink(ctx context.Context, l *storage.UpstreamLink) error
	LinkBySubject(ctx context.Context, upstream, subject string) (*storage.UpstreamLink, error)
	LinksOf(ctx context.Context, accountID string) ([]storage.UpstreamLink, error)
	DeleteLink(ctx context.Context, accountID, upstream, subject string) error
	TouchLink(ctx context.Context, upstream, subject string, profile storage.UpstreamLink) error
	CreatePendingLink(ctx context.Context, p *storage.PendingUpstreamLink) error
	PendingLink(ctx context.Context, id string, now time.Time) (*storage.PendingUpstreamLink, error)
	UsePendingLink(ctx context.Context, id string, now time.Time) error
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
}

// Federation signs accounts in through upstream identity providers: it
// links what a connector vouches for to an account, making one when none
// has the identity. It owns the LinkStore; a pending link's password is
// proved by the Sessions' sign-in, and a tenant joined through the
// Accounts.
type Federation struct {
	*core
	links   LinkStore // nil: no federation
	auth    passwordSignIn
	members tenantJoiner
}

// passwordSignIn checks an account's password as a sign-in does (Sessions).
type passwordSignIn interface {
	AuthenticateFor(ctx context.Context, clientID, identifier, password string, src Source) (*storage.Account, error)
}

// tenantJoiner makes an account a member of a tenant (Accounts).
type tenantJoiner interface {
	Join(ctx context.Context, accountID, clientID, via string) error
}

// JoinedByUpstream: the account joined a tenant by signing in through an
// upstream identity provider.
const JoinedByUpstream = "upstream"

// PendingLinkTTL is how long a password proof for linking may take.
const PendingLinkTTL = 10 * time.Minute

// maxRawClaims bounds the upstream claims kept per link.
const maxRawClaims = 16 << 10

// Errors of federation.
var (
	// ErrUnverifiedEmail: the upstream does not vouch for the e-mail
	// address, and an account already has it: nothing is linked or made.
	ErrUnverifiedEmail = errors.New("idp: upstream e-mail not verified and already in use")
	// ErrLinkExpired: the pending link is unknown, used or expired.
	ErrLinkExpired = errors.New("idp: pending link expired")
	// ErrLastSignIn: removing the link would leave the account no way to sign in.
	ErrLastSignIn = errors.New("idp: last way to sign in")
	// ErrFederationOff: no link store is configured.
	ErrFederationOff = errors.New("idp: federation is not configured")
)

// FederatedIdentity is what an upstream identity provider vouches for
// (package upstream's Identity, as idp sees it). (Upstream, Subject) is the
// link key.
type FederatedIdentity struct {
	Upstream      string          `json:"upstream"` // the upstream's configured id
	Subject       string          `json:"sub"`
	Email         string          `json:"email,omitempty"`
	EmailVerified bool            `json:"email_verified,omitempty"`
	Name          string          `json:"name,omitempty"`
	GivenName     string          `json:"given_name,omitempty"`
	FamilyName    string          `json:"family_name,omitempty"`
	Picture       string          `json:"picture,omitempty"`
	Locale        string          `json:"locale,omitempty"`
	Birthdate     string          `json:"birthdate,omitempty"` // OIDC: YYYY-MM-DD, 0000-MM-DD or YYYY
	RawClaims     json.RawMessage `json:"raw,omitempty"`
}

// LinkPasswordRequired is the error of SignInUpstream when the identity's
// verified e-mail belongs to an account with a password: its owner proves
// the password once (CompleteLink with Token) before the link is made, so
// nobody takes an account over through an upstream that merely claims its
// address.
type LinkPasswordRequired struct {
	Token    string // the pending link's token: single use, PendingLinkTTL; only its hash is stored
	Email    string // the account's address, to show
	Upstream string // the upstream's id
}

func (e *LinkPasswordRequired) Error() string {
	return "idp: the account's password must be proved before linking"
}

// HasPassword tells whether an account has a usable password: a hash this
// package can verify. Accounts made through an upstream have none, and an
// empty or unusable hash matches no password (Verify rejects it).
func HasPassword(a *storage.Account) bool {
	h := a.PasswordHash
	return strings.HasPrefix(h, "$argon2id$") || strings.HasPrefix(h, "$2a$") || strings.HasPrefix(h, "$2b$") || strings.HasPrefix(h, "$2y$")
}

// SignInUpstream resolves an upstream identity to the account it signs in,
// for the tenant clientID ("" for none; it becomes a member) on the
// authorization request flow (an opaque value kept with a pending link):
//
//   - the account linked to (upstream, subject) signs in, and the link's
//     copy of the upstream profile is refreshed;
//   - else an account with the same e-mail is linked only if the upstream
//     says the e-mail is verified (ErrUnverifiedEmail otherwise), and only
//     after its password is proved if it has one (*LinkPasswordRequired);
//   - else a new account is made, confirmed, with the upstream's profile
//     and no password, and linked. An unverified e-mail is not given to it.
func (s *Federation) SignInUpstream(ctx context.Context, id FederatedIdentity, clientID, flow string) (*storage.Account, error) {
	if s.links == nil {
		return nil, ErrFederationOff
	}
	if err := checkIdentity(&id); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		a, err := s.signInUpstream(ctx, id, clientID, flow)
		// Two first sign-ins at once: the loser's insert is a duplicate;
		// the second round finds the winner's link.
		if errors.Is(err, storage.ErrDuplicate) && attempt == 0 {
			continue
		}
		return a, err
	}
}

func (s *Federation) signInUpstream(ctx context.Context, id FederatedIdentity, clientID, flow string) (*storage.Account, error) {
	now := s.now().UTC()
	l, err := s.links.LinkBySubject(ctx, id.Upstream, id.Subject)
	switch {
	case err == nil:
		a, err := s.accounts.AccountByID(ctx, l.AccountID)
		if err != nil {
			return nil, err
		}
		if err := s.links.TouchLink(ctx, id.Upstream, id.Subject, *linkRow(id, "", now)); err != nil {
			return nil, err
		}
		return a, s.joinUpstream(ctx, a.ID, clientID)
	case !errors.Is(err, storage.ErrNotFound):
		return nil, err
	}

	email, _ := NormalizeEmail(id.Email)
	if email != "" {
		a, err := s.accounts.AccountByEmail(ctx, email)
		switch {
		case err == nil:
			return s.linkExisting(ctx, a, id, clientID, flow, now)
		case !errors.Is(err, storage.ErrNotFound):
			return nil, err
		}
	}

	// A new account. An address the upstream does not vouch for is not
	// given to it: it would keep the real owner from registering it.
	if !id.EmailVerified {
		email = ""
	}
	a := &storage.Account{ID: newID(), EmailVerified: email != "", Name: clipRunes(firstNonEmpty(id.Name, strings.TrimSpace(id.GivenName+" "+id.FamilyName)), 200),
		CreatedAt: now, UpdatedAt: now}
	if email != "" {
		a.Email = &email
	}
	a.FirstName, a.LastName = clipRunes(id.GivenName, 100), clipRunes(id.FamilyName, 100)
	if u, err := url.Parse(id.Picture); err == nil && u.Scheme == "https" && u.Host != "" && len(id.Picture) <= 2000 {
		a.PictureURL = id.Picture
	}
	if b, err := time.Parse("2006-01-02", id.Birthdate); err == nil && b.Year() > 1 {
		a.Birthday, a.BirthdayCalendar = &b, "gregorian"
	}
	err = s.links.InTx(ctx, func(ctx context.Context) error {
		if err := s.accounts.CreateAccount(ctx, a); err != nil {
			return err
		}
		return s.links.CreateLink(ctx, linkRow(id, a.ID, now))
	})
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "account created through an upstream", "account", a.ID, "upstream", id.Upstream)
	return a, s.joinUpstream(ctx, a.ID, clientID)
}

// linkExisting links id to a, the account with id's e-mail, when the
// policy allows.
func (s *Federation) linkExisting(ctx context.Context, a *storage.Account, id FederatedIdentity, clientID, flow string, now time.Time) (*storage.Account, error) {
	if !id.EmailVerified {
		s.log.InfoContext(ctx, "upstream sign-in refused: unverified e-mail of an existing account", "account", a.ID, "upstream", id.Upstream)
		return nil, ErrUnverifiedEmail
	}
	if HasPassword(a) {
		raw, err := json.Marshal(id)
		if err != nil {
			return nil, err
		}
		token := randomToken(32)
		err = s.links.CreatePendingLink(ctx, &storage.PendingUpstreamLink{ID: hashToken(token), AccountID: a.ID, Identity: string(raw), Flow: flow,
			CreatedAt: now, ExpiresAt: now.Add(PendingLinkTTL)})
		if err != nil {
			return nil, err
		}
		return nil, &LinkPasswordRequired{Token: token, Email: *a.Email, Upstream: id.Upstream}
	}
	if err := s.links.CreateLink(ctx, linkRow(id, a.ID, now)); err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "upstream identity linked by verified e-mail", "account", a.ID, "upstream", id.Upstream)
	return a, s.joinUpstream(ctx, a.ID, clientID)
}

func (s *Federation) joinUpstream(ctx context.Context, accountID, clientID string) error {
	if clientID == "" {
		return nil
	}
	return s.members.Join(ctx, accountID, clientID, JoinedByUpstream)
}

// checkIdentity refuses an identity that cannot be a link key, and bounds
// what is kept of it.
func checkIdentity(id *FederatedIdentity) error {
	if id.Upstream == "" || len(id.Upstream) > 64 || id.Subject == "" || len(id.Subject) > 255 || !utf8.ValidString(id.Subject) {
		return fmt.Errorf("%w: upstream identity", ErrInvalidInput)
	}
	if len(id.RawClaims) > maxRawClaims || (len(id.RawClaims) > 0 && !json.Valid(id.RawClaims)) {
		id.RawClaims = nil
	}
	if len(id.Email) > 320 {
		id.Email = ""
	}
	return nil
}

// linkRow is the link row of an identity (accountID "" for a profile update).
func linkRow(id FederatedIdentity, accountID string, now time.Time) *storage.UpstreamLink {
	raw := string(id.RawClaims)
	if raw == "" {
		raw = "{}"
	}
	bd := id.Birthdate
	if len(bd) > 10 {
		bd = ""
	}
	loc := id.Locale
	if len(loc) > 35 {
		loc = ""
	}
	pic := id.Picture
	if len(pic) > 2000 {
		pic = ""
	}
	return &storage.UpstreamLink{Upstream: id.Upstream, Subject: id.Subject, AccountID: accountID, Email: id.Email,
		GivenName: clipRunes(id.GivenName, 200), FamilyName: clipRunes(id.FamilyName, 200), Name: clipRunes(id.Name, 200),
		Picture: pic, Locale: loc, Birthdate: bd, RawClaims: raw, CreatedAt: now, LastLoginAt: now}
}

// clipRunes trims s and keeps at most n runes of it.
func clipRunes(s string, n int) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

func derefEmail(a *storage.Account) string {
	if a.Email == nil {
		return ""
	}
	return *a.Email
}
