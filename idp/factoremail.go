package idp

import (
	"context"
	"crypto/subtle"
	"errors"
	"time"

	"github.com/manam-id/manam/idp/i18n"
	"github.com/manam-id/manam/storage"
)

// The optional e-mail step before a second factor is enrolled (a tenant
// setting, always on in the legacy API whose documented flow has it): the
// person types the account's address, a single-use link goes to it, and
// opening the link proves the mailbox. Where the proof is kept until the
// enrolment (a signed cookie bound to the session) is the caller's.

const (
	purposeFactorEmail = "mfa_email"
	// FactorEmailTTL is how long the mailed link works.
	FactorEmailTTL = 30 * time.Minute
)

// ErrNoEmail: the account has no e-mail address to prove.
var ErrNoEmail = errors.New("idp: the account has no e-mail address")

// NeedsFactorEmail tells whether enrolling a second factor through the
// tenant needs the e-mail step first.
func (s *SecondFactors) NeedsFactorEmail(ctx context.Context, clientID string) bool {
	return s.settings(ctx, clientID).MFAConfirmEmail
}

// NeedsAccountFactorEmail tells whether setting up a second factor from
// the account page (outside any tenant's sign-in) needs the e-mail step:
// when some tenant asks for it, for an account with an address. The
// tenant's guarantee, that an enrolled factor comes with proof of the
// mailbox, must hold whatever page the factor was set up on, and a factor
// set up before the account ever used that tenant counts there too.
func (s *SecondFactors) NeedsAccountFactorEmail(ctx context.Context, a *storage.Account) (bool, error) {
	if a == nil || a.Email == nil {
		return false, nil
	}
	src, ok := s.tenants.(interface {
		AnyRequiresFactorEmail(context.Context) (bool, error)
	})
	if !ok {
		return false, nil
	}
	return src.AnyRequiresFactorEmail(ctx)
}

// SendFactorEmail mails the link that proves the account's mailbox before a
// factor is enrolled. typed must be the account's own address (the
// documented flow has the person type it): otherwise FieldErrors, and
// nothing is sent. Links.FactorEmail builds the link. At most one a minute
// and five a day (beyond that, quietly nothing, like every other mail).
func (s *SecondFactors) SendFactorEmail(ctx context.Context, accountID, typed string, links Links) error {
	if s.life == nil || links.FactorEmail == nil {
		return errors.New("idp: mail is not configured")
	}
	a, err := s.accounts.AccountByID(ctx, accountID)
	if err != nil {
		return err
	}
	if a.Email == nil {
		return ErrNoEmail
	}
	norm, err := NormalizeEmail(typed)
	if err != nil || subtle.ConstantTimeCompare([]byte(norm), []byte(*a.Email)) != 1 {
		return FieldErrors{"code": "Type the e-mail address of your account."}
	}
	if over, err := s.overLimit(ctx, a.ID, purposeFactorEmail); err != nil || over {
		return err
	}
	links = s.forTenant(ctx, links)
	token := randomToken(32)
	now := s.now().UTC()
	lang := links.Lang
	err = s.life.InTx(ctx, func(ctx context.Context) error {
		if err := s.life.Store.CreateConfirmation(ctx, &storage.Confirmation{ID: hashToken(token), AccountID: a.ID, Purpose: purposeFactorEmail,
			Target: norm, CreatedAt: now, ExpiresAt: now.Add(FactorEmailTTL)}); err != nil {
			return err
		}
		return s.mail(ctx, a.ID, norm, "notice", map[string]any{"Links": links, "Name": a.Name,
			"Subject": i18n.T(lang, "Confirm two-factor authentication for %s", links.Product),
			"Lines":   []string{i18n.T(lang, "To turn on two-factor authentication for your %s account, open this link in the browser where you asked for it. It works once, for 30 minutes. If you did not ask for this, change your password.", links.Product)},
			"URL":     links.FactorEmail(token), "Button": i18n.T(lang, "Confirm")})
	})
	if err != nil {
		return err
	}
	s.notify()
	return nil
}

// ProveFactorEmail uses a link of SendFactorEmail, once: ErrInvalidToken
// when it is unknown, used, expired or another account's.
func (s *SecondFactors) ProveFactorEmail(ctx context.Context, accountID, token string) error {
	if s.life == nil {
		return errors.New("idp: mail is not configured")
	}
	if token == "" || len(token) > 100 {
		return ErrInvalidToken
	}
	c, err := s.life.Store.UseConfirmation(ctx, hashToken(token), purposeFactorEmail, s.now())
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrUsed) {
		return ErrInvalidToken
	}
	if err != nil {
		return err
	}
	if c.AccountID != accountID {
		return ErrInvalidToken
	}
	return nil
}
