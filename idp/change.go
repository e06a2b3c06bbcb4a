package idp

import (
	"context"
	"crypto/hmac"
	"errors"
	"strings"

	"github.com/manam-id/manam/idp/i18n"
	"github.com/manam-id/manam/storage"
)

const (
	purposeChangeEmail  = "change_email"
	purposeChangeMobile = "change_mobile"
)

// ChangePassword sets a new password for a signed-in user who proves the
// current one. A wrong current password counts towards the lockout like a
// failed sign-in. Every other session of the account and all its tokens
// end; the session that made the change stays.
func (s *Lifecycle) ChangePassword(ctx context.Context, sess *Session, current, password, confirm string) error {
	if s.life == nil || s.life.Revoker == nil || s.life.Sessions == nil {
		return errors.New("idp: password change is not configured")
	}
	a, err := s.accounts.AccountByID(ctx, sess.Account.ID)
	if err != nil {
		return err
	}
	if err := s.proveOwner(ctx, a, current); err != nil {
		return err
	}
	email := ""
	if a.Email != nil {
		email = *a.Email
	}
	fe := FieldErrors{}
	if msg := CheckPassword(password, email); msg != "" {
		fe["password"] = msg
	} else if password != confirm {
		fe["password_confirm"] = "The two passwords differ."
	} else if password == current {
		fe["password"] = "Choose a password different from the current one."
	}
	if len(fe) > 0 {
		return fe
	}
	return s.replacePassword(ctx, a, sess, password)
}

// replacePassword stores a checked new password for a signed-in account:
// every other session of the account and all its tokens end, in the same
// transaction.
func (s *Lifecycle) replacePassword(ctx context.Context, a *storage.Account, sess *Session, password string) error {
	hash, err := s.pw.Hash(ctx, password) // outside the transaction: it is slow
	if err != nil {
		return err
	}
	return s.life.InTx(ctx, func(ctx context.Context) error {
		if err := s.accounts.SetPasswordHash(ctx, a.ID, hash); err != nil {
			return err
		}
		if err := s.life.Sessions.DeleteSessionsOf(ctx, a.ID, sess.Row.ID); err != nil {
			return err
		}
		if err := s.voidCredentialLinks(ctx, a.ID); err != nil {
			return err
		}
		return s.life.Revoker.RevokeSubject(ctx, a.ID)
	})
}

func (s *Lifecycle) identifiers() (IdentifierStore, CodeStore, error) {
	if s.life == nil {
		return nil, nil, errors.New("idp: changing identifiers is not configured")
	}
	ids, ok1 := s.life.Store.(IdentifierStore)
	cs, ok2 := s.life.Store.(CodeStore)
	if !ok1 || !ok2 {
		return nil, nil, errors.New("idp: changing identifiers is not configured")
	}
	return ids, cs, nil
}

// RequestEmailChange starts changing a signed-in user's e-mail: with the
// current password, a link goes to the new address, and the change happens
// when it is opened (ConfirmEmailChange). An address another account has
// gets a mail saying so instead, and the caller the same answer. Problems
// come back as FieldErrors ("email", "current_password").
func (s *Lifecycle) RequestEmailChange(ctx context.Context, sess *Session, newEmail, password string, links Links) error {
	if _, _, err := s.identifiers(); err != nil {
		return err
	}
	a, err := s.accounts.AccountByID(ctx, sess.Account.ID)
	if err != nil {
		return err
	}
	email, err := NormalizeEmail(newEmail)
	if err != nil {
		return FieldErrors{"new_email": "Enter a valid e-mail address."}
	}
	if a.Email != nil && *a.Email == email {
		return FieldErrors{"new_email": "This is already your address."}
	}
	if err := s.proveOwner(ctx, a, password); err != nil {
		return err
	}
	if over, err := s.overLimit(ctx, a.ID, purposeChangeEmail); err != nil || over {
		return err
	}
	links = s.forTenant(ctx, links)
	lang := links.Lang
	err = s.life.InTx(ctx, func(ctx context.Context) error {
		// A confirmation is stored either way, so the limit above counts
		// the notices too; the token of one for a taken address is never sent.
		token := randomToken(32)
		now := s.now().UTC()
		if err := s.life.Store.CreateConfirmation(ctx, &storage.Confirmation{ID: hashToken(token), AccountID: a.ID, Purpose: purposeChangeEmail,
			Target: email, CreatedAt: now, ExpiresAt: now.Add(s.life.ConfirmTTL)}); err != nil {
			return err
		}
		if other, err := s.accounts.AccountByEmail(ctx, email); err == nil {
			return s.mail(ctx, other.ID, email, "notice", map[string]any{"Links": links, "Name": other.Name,
				"Subject": i18n.T(lang, "Your %s address", links.Product),
				"Lines":   []string{i18n.T(lang, "Someone tried to add this e-mail address to another %s account. It stays with yours, and nothing has changed.", links.Product)}})
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		return s.mail(ctx, a.ID, email, "notice", map[string]any{"Links": links, "Name": a.Name,
			"Subject": i18n.T(lang, "Confirm your new %s address", links.Product),
			"Lines":   []string{i18n.T(lang, "To make this your %s e-mail address, open this link. It works once, for 24 hours. If you did not ask for this, ignore this mail.", links.Product)},
			"URL":     links.ChangeEmail(token), "Button": i18n.T(lang, "Confirm the new address")})
	})
	if err != nil {
		return err
	}
	s.notify()
	return nil
}

// ConfirmEmailChange completes an e-mail change with the link's token: the
// new address becomes the account's (confirmed), and the old one is told.
// A bad token is ErrInvalidToken; an address taken meanwhile, ErrExists.
func (s *Lifecycle) ConfirmEmailChange(ctx context.Context, token string, links Links) (*storage.Account, error) {
	ids, _, err := s.identifiers()
	if err != nil {
		return nil, err
	}
	if token == "" || len(token) > 100 {
		return nil, ErrInvalidToken
	}
	links = s.forTenant(ctx, links)
	var acct *storage.Account
	err = s.life.InTx(ctx, func(ctx context.Context) error {
		c, err := s.life.Store.UseConfirmation(ctx, hashToken(token), purposeChangeEmail, s.now())
		if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrUsed) {
			return ErrInvalidToken
		}
		if err != nil {
			return err
		}
		before, err := s.accounts.AccountByID(ctx, c.AccountID)
		if err != nil {
			return err
		}
		if err := ids.ChangeEmail(ctx, c.AccountID, c.Target); err != nil {
			if errors.Is(err, storage.ErrDuplicate) {
				return ErrExists
			}
			return err
		}
		// Recovery links went to the old address, and other pending
		// changes were asked for before this one.
		if err := s.voidCredentialLinks(ctx, c.AccountID, purposeRecover, purposeChangeEmail); err != nil {
			return err
		}
		if before.Email != nil && *before.Email != c.Target {
			if err := s.mail(ctx, before.ID, *before.Email, "notice", map[string]any{"Links": links, "Name": before.Name,
				"Subject": i18n.T(links.Lang, "Your %s address was changed", links.Product),
				"Lines":   []string{i18n.T(links.Lang, "The e-mail address of your %s account is now %s. If you did not do this, reset your password at once.", links.Product, c.Target)},
				"URL":     links.Recover, "Button": i18n.T(links.Lang, "Reset my password")}); err != nil {
				return err
			}
		}
		acct, err = s.accounts.AccountByID(ctx, c.AccountID)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.notify()
	return acct, nil
}

// RequestMobileChange starts adding or changing a signed-in user's mobile
// number: with the current password, a 6-digit code goes by SMS to the
// new number, for ConfirmMobileChange. A number another account has gets
// an SMS saying so instead, and the caller the same answer. Problems come
// back as FieldErrors ("new_mobile", "current_password").
func (s *Lifecycle) RequestMobileChange(ctx context.Context, sess *Session, newMobile, password string, links Links) (string, error) {
	if _, _, err := s.identifiers(); err != nil {
		return "", err
	}
	if len(s.life.CodeKey) == 0 {
		return "", errors.New("idp: SMS codes are not configured")
	}
	a, err := s.accounts.AccountByID(ctx, sess.Account.ID)
	if err != nil {
		return "", err
	}
	m, err := NormalizeMobile(newMobile, s.cfg.DefaultCountryCode)
	if err != nil {
		return "", FieldErrors{"new_mobile": "Enter a valid mobile number, with its country code (+98…)."}
	}
	if a.Mobile != nil && *a.Mobile == m && a.MobileVerified {
		return "", FieldErrors{"new_mobile": "This is already your number."}
	}
	if err := s.proveOwner(ctx, a, password); err != nil {
		return "", err
	}
	if over, err := s.overLimit(ctx, a.ID, purposeChangeMobile); err != nil || over {
		return m, err
	}
	links = s.forTenant(ctx, links)
	err = s.life.InTx(ctx, func(ctx context.Context) error {
		other, err := s.accounts.AccountByMobile(ctx, m)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		taken := err == nil && other.ID != a.ID
		code, err := sixDigits()
		if err != nil {
			return err
		}
		// A confirmation is stored either way, so the limit above counts the
		// notices too; one for a taken number has no code that matches.
		hash := s.codeHash(a.ID, code)
		if taken {
			hash = ""
		}
		now := s.now().UTC()
		if err := s.life.Store.CreateConfirmation(ctx, &storage.Confirmation{ID: hashToken(randomToken(16)), AccountID: a.ID, Purpose: purposeChangeMobile,
			Target: m, CodeHash: hash, CreatedAt: now, ExpiresAt: now.Add(smsCodeTTL)}); err != nil {
			return err
		}
		if taken {
			return s.sms(ctx, m, i18n.T(links.Lang, "Someone tried to add this number to another %s account. It stays with yours, and nothing has changed.", links.Product))
		}
		return s.sms(ctx, m, i18n.T(links.Lang, "Your %s code is %s. It works for 10 minutes. Do not share it.", links.Product, code))
	})
	if err != nil {
		return "", err
	}
	s.notify()
	return m, nil
}

// ConfirmMobileChange completes a number change with the SMS code: the new
// number becomes the account's (confirmed). Five wrong codes end the code;
// a wrong, used or expired one is ErrInvalidToken, a number taken
// meanwhile ErrExists.
func (s *Lifecycle) ConfirmMobileChange(ctx context.Context, sess *Session, code string) (*storage.Account, error) {
	ids, cs, err := s.identifiers()
	if err != nil {
		return nil, err
	}
	want := s.codeHash(sess.Account.ID, toASCIIDigits(strings.TrimSpace(code)))
	c, err := cs.CheckCode(ctx, sess.Account.ID, purposeChangeMobile, s.now(), s.cfg.CodeAttempts, func(stored string) bool {
		return hmac.Equal([]byte(stored), []byte(want))
	})
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrUsed) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, err
	}
	err = s.life.InTx(ctx, func(ctx context.Context) error {
		if err := ids.ChangeMobile(ctx, sess.Account.ID, c.Target); err != nil {
			if errors.Is(err, storage.ErrDuplicate) {
				return ErrExists
			}
			return err
		}
		// Recovery codes went to the old number.
		return s.voidCredentialLinks(ctx, sess.Account.ID, purposeRecoverSMS, purposeChangeMobile)
	})
	if err != nil {
		return nil, err
	}
	return s.accounts.AccountByID(ctx, sess.Account.ID)
}
