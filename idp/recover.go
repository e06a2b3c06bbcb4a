package idp

import (
	"context"
	"crypto/hmac"
	"errors"
	"strings"
	"time"

	"github.com/manam-id/manam/idp/i18n"
	"github.com/manam-id/manam/storage"
)

const purposeRecover = "recover"

// recoverTTL is how long a recovery link works.
const recoverTTL = time.Hour

// RequestRecovery mails a password-reset link to the account with this
// address, if there is one: at most one a minute and five a day. The answer
// is the same in every case (no account enumeration). A mobile number
// instead of an address gets a 6-digit code by SMS, for ResetWithCode.
// Every request spends the registration budget of its end user (src).
func (s *Lifecycle) RequestRecovery(ctx context.Context, email string, links Links, src Source) error {
	links = s.forTenant(ctx, links)
	if _, err := s.takeFor(ctx, s.throttles.register, src, s.identKey(email, "")); err != nil {
		return err
	}
	if !strings.Contains(email, "@") {
		return s.recoverByMobile(ctx, email, links)
	}
	a, err := s.accountFor(ctx, email)
	if a == nil || err != nil {
		return err
	}
	norm := *a.Email
	if over, err := s.overLimit(ctx, a.ID, purposeRecover); err != nil || over {
		return err
	}
	token := randomToken(32)
	now := s.now().UTC()
	err = s.life.InTx(ctx, func(ctx context.Context) error {
		if err := s.life.Store.CreateConfirmation(ctx, &storage.Confirmation{ID: hashToken(token), AccountID: a.ID, Purpose: purposeRecover,
			Target: norm, CreatedAt: now, ExpiresAt: now.Add(recoverTTL)}); err != nil {
			return err
		}
		return s.mail(ctx, a.ID, norm, "recover", map[string]any{"Links": links, "Name": a.Name, "URL": links.Reset(token), "Minutes": int(recoverTTL.Minutes())})
	})
	if err != nil {
		return err
	}
	s.notify()
	return nil
}

// ResetPassword sets a new password with a recovery link's token. The
// token is used once; the account's other sessions and all its tokens end
// (a reset is what a user does when someone else may have the password),
// its lockout is cleared, and its address counts as confirmed (the user
// proved the mailbox). Password problems come back as FieldErrors without
// using the token; a bad token is ErrInvalidToken.
func (s *Lifecycle) ResetPassword(ctx context.Context, token, password, confirm string) (*storage.Account, error) {
	if token == "" || len(token) > 100 {
		return nil, ErrInvalidToken
	}
	if s.life.Revoker == nil || s.life.Sessions == nil {
		return nil, errors.New("idp: recovery is not configured")
	}
	hash, err := s.pw.Hash(ctx, password) // outside the transaction: it is slow
	if err != nil {
		return nil, err
	}
	var acct *storage.Account
	err = s.life.InTx(ctx, func(ctx context.Context) error {
		c, err := s.life.Store.UseConfirmation(ctx, hashToken(token), purposeRecover, s.now())
		if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrUsed) {
			return ErrInvalidToken
		}
		if err != nil {
			return err
		}
		a, err := s.accounts.AccountByID(ctx, c.AccountID)
		if err != nil {
			return err
		}
		if a.Email == nil || *a.Email != c.Target {
			// Mailed to an address the account no longer has.
			return ErrInvalidToken
		}
		if err := checkNewPassword(a, password, confirm); err != nil {
			return err
		}
		acct, err = s.finishReset(ctx, a, hash, func() error {
			if a.Email != nil && *a.Email == c.Target && !a.EmailVerified {
				return s.life.Store.MarkEmailVerified(ctx, a.ID, c.Target)
			}
			return nil
		})
		return err
	})
	return acct, err
}

// finishReset sets a reset password (in the caller's transaction): the
// lockout clears, the proved address is marked confirmed, and every
// session and token of the account ends.
func (s *Lifecycle) finishReset(ctx context.Context, a *storage.Account, hash string, markProved func() error) (*storage.Account, error) {
	if err := s.accounts.SetPasswordHash(ctx, a.ID, hash); err != nil {
		return nil, err
	}
	if err := s.accounts.ClearLoginFailures(ctx, a.ID); err != nil {
		return nil, err
	}
	if err := markProved(); err != nil {
		return nil, err
	}
	if err := s.life.Sessions.DeleteSessionsOf(ctx, a.ID, ""); err != nil {
		return nil, err
	}
	if err := s.life.Revoker.RevokeSubject(ctx, a.ID); err != nil {
		return nil, err
	}
	if err := s.voidCredentialLinks(ctx, a.ID); err != nil {
		return nil, err
	}
	return s.accounts.AccountByID(ctx, a.ID)
}

// credentialPurposes are the links and codes that change how an account
// is signed in to: a recovery link or code, a change of address or number.
var credentialPurposes = []string{purposeRecover, purposeRecoverSMS, purposeChangeEmail, purposeChangeMobile}

// voidCredentialLinks ends the account's unused recovery links and codes
// and pending changes of address, when its password changes (in the
// caller's transaction): an e-mail change or a reset link that someone
// else asked for must not survive the owner's reset, and a reset link
// sent before must not undo the owner's new password.
func (s *Lifecycle) voidCredentialLinks(ctx context.Context, accountID string, purposes ...string) error {
	v, ok := s.life.Store.(ConfirmationVoider)
	if !ok {
		return errors.New("idp: confirmations cannot be ended")
	}
	if len(purposes) == 0 {
		purposes = credentialPurposes
	}
	return v.VoidConfirmations(ctx, accountID, purposes, s.now())
}

const (
	purposeRecoverSMS = "recover_sms"
	recoverCodeTTL    = 10 * time.Minute
)

// recoverByMobile sends a reset code to the account with this number, if
// there is one (confirmed or not: the code proves the number, as a link
// proves a mailbox).
func (s *Lifecycle) recoverByMobile(ctx context.Context, mobile string, links Links) error {
	if len(s.life.CodeKey) == 0 {
		return nil
	}
	m, err := NormalizeMobile(mobile, s.cfg.DefaultCountryCode)
	if err != nil {
		return nil
	}
	a, err := s.accounts.AccountByMobile(ctx, m)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if over, err := s.overLimit(ctx, a.ID, purposeRecoverSMS); err != nil || over {
		return err
	}
	code, err := sixDigits()
	if err != nil {
		return err
	}
	now := s.now().UTC()
	err = s.life.InTx(ctx, func(ctx context.Context) error {
		if err := s.life.Store.CreateConfirmation(ctx, &storage.Confirmation{ID: hashToken(randomToken(16)), AccountID: a.ID, Purpose: purposeRecoverSMS,
			Target: m, CodeHash: s.codeHash(a.ID, code), CreatedAt: now, ExpiresAt: now.Add(recoverCodeTTL)}); err != nil {
			return err
		}
		return s.sms(ctx, m, i18n.T(links.Lang, "Your %s password reset code is %s. It works for 10 minutes. If you did not ask for it, ignore this message.", links.Product, code))
	})
	if err != nil {
		return err
	}
	s.notify()
	return nil
}

// ResetWithCode sets a new password with the SMS code RequestRecovery sent
// to a mobile number. Password problems come back as FieldErrors without
// using the code. An unknown number and a wrong, used or expired code are
// all ErrInvalidToken; five wrong codes end the code, and wrong codes count
// towards the sign-in budget of the end user (src; ErrThrottled). Then, as
// with a link, the account's sessions and tokens end and its lockout is
// cleared, and the number counts as confirmed.
func (s *Lifecycle) ResetWithCode(ctx context.Context, mobile, code, password, confirm string, src Source) (*storage.Account, error) {
	cs, ok := s.life.Store.(CodeStore)
	if !ok || len(s.life.CodeKey) == 0 || s.life.Revoker == nil || s.life.Sessions == nil {
		return nil, errors.New("idp: recovery by SMS is not configured")
	}
	g, err := s.takeFor(ctx, s.throttles.signIn, src, s.identKey(mobile, ""))
	if err != nil {
		return nil, err
	}
	wrong := false // an unknown number or a wrong code keeps the attempt spent
	defer func() {
		if !wrong {
			s.refund(ctx, g)
		}
	}()
	m, err := NormalizeMobile(mobile, s.cfg.DefaultCountryCode)
	if err != nil {
		return nil, ErrInvalidToken
	}
	if msg := CheckPassword(password, m); msg != "" {
		return nil, FieldErrors{"password": msg}
	}
	if password != confirm {
		return nil, FieldErrors{"password_confirm": "The two passwords differ."}
	}
	a, err := s.accounts.AccountByMobile(ctx, m)
	if errors.Is(err, storage.ErrNotFound) {
		// The time of the hash a known number costs: the answer must not
		// tell which numbers have accounts.
		s.pw.Waste(ctx, password)
		wrong = true
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, err
	}
	if a.Email != nil {
		if msg := CheckPassword(password, *a.Email, m); msg != "" {
			return nil, FieldErrors{"password": msg}
		}
	}
	hash, err := s.pw.Hash(ctx, password) // before the code is used: it is slow
	if err != nil {
		return nil, err
	}
	want := s.codeHash(a.ID, toASCIIDigits(strings.TrimSpace(code)))
	// Outside the transaction below, so a wrong guess is counted even
	// though the caller is told no.
	_, err = cs.CheckCode(ctx, a.ID, purposeRecoverSMS, s.now(), s.cfg.CodeAttempts, func(stored string) bool {
		return hmac.Equal([]byte(stored), []byte(want))
	})
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrUsed) {
		wrong = true
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, err
	}
	var acct *storage.Account
	err = s.life.InTx(ctx, func(ctx context.Context) error {
		acct, err = s.finishReset(ctx, a, hash, func() error {
			if !a.MobileVerified {
				return cs.MarkMobileVerified(ctx, a.ID, m)
			}
			return nil
		})
		return err
	})
	return acct, err
}

// checkNewPassword checks a new password for an account against the
// policy and its confirmation (FieldErrors).
func checkNewPassword(a *storage.Account, password, confirm string) error {
	email := ""
	if a.Email != nil {
		email = *a.Email
	}
	if msg := CheckPassword(password, email); msg != "" {
		return FieldErrors{"password": msg}
	}
	if password != confirm {
		return FieldErrors{"password_confirm": "The two passwords differ."}
	}
	return nil
}
