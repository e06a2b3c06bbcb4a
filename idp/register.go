package idp

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/manam-id/manam/idp/i18n"
	"github.com/manam-id/manam/storage"
)

// Registration is what a person fills in.
type Registration struct {
	// Email may hold a mobile number instead (no @): the account is then
	// registered by mobile, confirmed by an SMS code.
	Email, Password, PasswordConfirm, Name string
	Mobile, MobileSeed                     string
	// ClientID is the tenant the person registers through ("" for none):
	// the account becomes its member.
	ClientID string
	// Profile, when not nil, is stored with a new account (parsed with
	// ParseProfile first, so a bad profile writes nothing).
	Profile *storage.Profile
	// Role (when not nil) and Fields are the membership's, with ClientID
	// (checked with CheckMembership first).
	Role   *string
	Fields map[string]any
}

// joinRegistered makes a new account a member of the tenant it registered
// through, with the registration's role and fields (in the caller's
// transaction).
func (s *Lifecycle) joinRegistered(ctx context.Context, a *storage.Account, in Registration) error {
	if in.ClientID == "" {
		return nil
	}
	if err := s.members.Join(ctx, a.ID, in.ClientID, JoinedByRegistration); err != nil {
		return err
	}
	if in.Role == nil && len(in.Fields) == 0 {
		return nil
	}
	return s.members.UpdateMembership(ctx, a.ID, in.ClientID, in.Role, in.Fields)
}

// Links builds the URLs that go into mail.
type Links struct {
	// Confirm returns the confirmation URL carrying token.
	Confirm func(token string) string
	// Reset returns the password-reset URL carrying token.
	Reset func(token string) string
	// ChangeEmail returns the URL confirming a new address of an account.
	ChangeEmail func(token string) string
	// ConfirmPage is a confirmation page the caller chose for this mail
	// and already checked against the tenant (the legacy API's
	// tenant_confirm_url): it wins over the tenant's setting.
	ConfirmPage string
	// FactorEmail returns the URL proving the mailbox before a second
	// factor is enrolled.
	FactorEmail func(token string) string
	// SignIn and Recover are where an existing account holder goes.
	SignIn, Recover string
	// Product names the service in mail ("Manam", or a tenant's name).
	Product string
	// Lang is the language of the mail (the page's).
	Lang i18n.Lang
	// ClientID is the tenant the mail is sent for ("" for none): its
	// sender and confirmation page apply.
	ClientID string
	// From is the sender ("" for the configured one); set from the tenant.
	From string
}

const purposeEmail = "email"

// Register creates an unconfirmed account and mails a confirmation link,
// atomically. Every problem with the input comes back together as
// FieldErrors. An address that already has an account gets a mail saying
// so instead, and the caller gets the same answer as for a new account (nil
// account, nil error), so the form reveals nothing about who is registered.
// Every registration spends the registration budget of its end user (src).
func (s *Lifecycle) Register(ctx context.Context, in Registration, links Links, src Source) (*storage.Account, error) {
	if links.ClientID == "" {
		links.ClientID = in.ClientID
	}
	links = s.forTenant(ctx, links)
	if s.life == nil {
		return nil, errors.New("idp: registration is not configured")
	}
	ident := in.Email
	if in.Mobile != "" {
		ident = in.Mobile
	}
	if _, err := s.takeFor(ctx, s.throttles.register, src, s.identKey(ident, in.MobileSeed)); err != nil {
		return nil, err
	}
	fe := FieldErrors{}
	if in.Mobile == "" && in.Email != "" && !strings.Contains(in.Email, "@") {
		in.Mobile, in.Email = in.Email, ""
	}
	var email string
	var err error
	if in.Mobile != "" {
		seed := in.MobileSeed
		if seed == "" {
			seed = s.cfg.DefaultCountryCode
		}
		if in.Mobile, err = NormalizeMobile(in.Mobile, seed); err != nil || len(s.life.CodeKey) == 0 {
			fe["email"] = "Enter a valid e-mail address or mobile number."
		}
	} else if email, err = NormalizeEmail(in.Email); err != nil {
		fe["email"] = "Enter a valid e-mail address."
	}
	name := strings.TrimSpace(in.Name)
	if utf8.RuneCountInString(name) > 200 || strings.ContainsAny(name, "\x00\r\n<>") {
		fe["name"] = "Use at most 200 characters, without < or >."
	}
	for k, v := range CheckMembership(in.Role, in.Fields) {
		fe[k] = v
	}
	if msg := CheckPassword(in.Password, email, in.Mobile); msg != "" {
		fe["password"] = msg
	} else if in.Password != in.PasswordConfirm {
		fe["password_confirm"] = "The two passwords differ."
	}
	if len(fe) > 0 {
		return nil, fe
	}
	hash, err := s.pw.Hash(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	if in.Mobile != "" {
		return s.registerMobile(ctx, in, links, hash)
	}
	now := s.now().UTC()
	var created *storage.Account
	err = s.life.InTx(ctx, func(ctx context.Context) error {
		existing, err := s.accounts.AccountByEmail(ctx, email)
		if err == nil {
			// Tell the owner, not the form; not more often than links.
			if ok, err := s.noticeAllowed(ctx, existing.ID, email); err != nil || !ok {
				return err
			}
			return s.mail(ctx, existing.ID, email, "exists", map[string]any{"Links": links, "Name": existing.Name})
		}
		if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		a := &storage.Account{ID: newID(), Email: &email, PasswordHash: hash, Name: name, CreatedAt: now, UpdatedAt: now}
		if in.Profile != nil {
			a.Profile = *in.Profile
		}
		if err := s.accounts.CreateAccount(ctx, a); err != nil {
			if errors.Is(err, storage.ErrDuplicate) {
				return nil // registered concurrently: same answer
			}
			return err
		}
		created = a
		if err := s.joinRegistered(ctx, a, in); err != nil {
			return err
		}
		return s.sendConfirmation(ctx, a, links)
	})
	if err != nil {
		return nil, err
	}
	s.notify()
	return created, nil
}

// sendConfirmation stores a new link token and queues its mail.
func (s *Lifecycle) sendConfirmation(ctx context.Context, a *storage.Account, links Links) error {
	token := randomToken(32) // 256 bits
	now := s.now().UTC()
	if err := s.life.Store.CreateConfirmation(ctx, &storage.Confirmation{ID: hashToken(token), AccountID: a.ID, Purpose: purposeEmail,
		Target: *a.Email, ClientID: links.ClientID, CreatedAt: now, ExpiresAt: now.Add(s.life.ConfirmTTL)}); err != nil {
		return err
	}
	return s.mail(ctx, a.ID, *a.Email, "confirm", map[string]any{"Links": links, "Name": a.Name, "URL": links.Confirm(token),
		"Hours": int(s.life.ConfirmTTL.Hours())})
}

// ConfirmEmail uses a link token: the account's address becomes verified.
// An unknown, used or expired token is ErrInvalidToken.
func (s *Lifecycle) ConfirmEmail(ctx context.Context, token string) (*storage.Account, error) {
	a, _, err := s.ConfirmEmailFor(ctx, token)
	return a, err
}

// ConfirmEmailFor is ConfirmEmail that also says which tenant the link was
// mailed for ("" for none): a tenant's surface signs the account in only
// with a link of its own.
func (s *Lifecycle) ConfirmEmailFor(ctx context.Context, token string) (*storage.Account, string, error) {
	if token == "" || len(token) > 100 {
		return nil, "", ErrInvalidToken
	}
	var acct *storage.Account
	var clientID string
	err := s.life.InTx(ctx, func(ctx context.Context) error {
		c, err := s.life.Store.UseConfirmation(ctx, hashToken(token), purposeEmail, s.now())
		if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrUsed) {
			return ErrInvalidToken
		}
		if err != nil {
			return err
		}
		if err := s.life.Store.MarkEmailVerified(ctx, c.AccountID, c.Target); errors.Is(err, storage.ErrNotFound) {
			return ErrInvalidToken // the address changed since
		} else if err != nil {
			return err
		}
		clientID = c.ClientID
		acct, err = s.accounts.AccountByID(ctx, c.AccountID)
		return err
	})
	return acct, clientID, err
}

// ResendConfirmation mails a new link to an unconfirmed account: at most
// one a minute and five a day. It answers the same whether or not the
// address has an account, is confirmed, or is over its limit.
func (s *Lifecycle) ResendConfirmation(ctx context.Context, email string, links Links) error {
	links = s.forTenant(ctx, links)
	a, err := s.accountFor(ctx, email)
	if a == nil || err != nil || a.EmailVerified {
		return err
	}
	if over, err := s.overLimit(ctx, a.ID, purposeEmail); err != nil || over {
		return err
	}
	if err := s.life.InTx(ctx, func(ctx context.Context) error { return s.sendConfirmation(ctx, a, links) }); err != nil {
		return err
	}
	s.notify()
	return nil
}

// accountFor finds the account a mailed link is for: nil (and no error)
// for an invalid or unknown address, which callers answer like any other.
func (s *Lifecycle) accountFor(ctx context.Context, email string) (*storage.Account, error) {
	norm, err := NormalizeEmail(email)
	if err != nil {
		return nil, nil
	}
	a, err := s.accounts.AccountByEmail(ctx, norm)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	return a, err
}

// purposeNotice records an "already registered" notice (nothing to use).
const purposeNotice = "exists"

// noticeAllowed tells whether an account's owner may be told once more
// that someone tried to register their address or number, and records
// the notice: at most one a minute and five a day, as for links, so the
// registration form cannot be used to bomb a mailbox or pump SMS.
func (s *Lifecycle) noticeAllowed(ctx context.Context, accountID, target string) (bool, error) {
	if over, err := s.overLimit(ctx, accountID, purposeNotice); err != nil || over {
		return false, err
	}
	now := s.now().UTC()
	err := s.life.Store.CreateConfirmation(ctx, &storage.Confirmation{ID: hashToken(randomToken(16)), AccountID: accountID,
		Purpose: purposeNotice, Target: target, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)})
	return err == nil, err
}
