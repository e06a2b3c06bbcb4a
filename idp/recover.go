package idp

import (
	"context"
	"errors"
	"time"

	"github.com/manam-id/manam/storage"
)

// TokenRevoker ends every token of an account (storage.FositeStore).
type TokenRevoker interface {
	RevokeSubject(ctx context.Context, subject string) error
}

// SessionEnder ends an account's sign-in sessions.
type SessionEnder interface {
	DeleteSessionsOf(ctx context.Context, accountID, keep string) error
}

const purposeRecover = "recover"

// recoverTTL is how long a recovery link works.
const recoverTTL = time.Hour

// RequestRecovery mails a password-reset link to the account with this
// address, if there is one: at most one a minute and five a day. The answer
// is the same in every case (no account enumeration).
func (s *Service) RequestRecovery(ctx context.Context, email string, links Links, from string) error {
	if !s.regThrottle.Allowed(from) {
		return ErrThrottled
	}
	s.regThrottle.Fail(from)
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

// overLimit tells whether an account already had a link of this purpose
// in the last minute, or five in the last day.
func (s *Service) overLimit(ctx context.Context, accountID, purpose string) (bool, error) {
	now := s.now()
	for _, lim := range []struct {
		since time.Duration
		max   int64
	}{{time.Minute, 1}, {24 * time.Hour, 5}} {
		n, err := s.life.Store.CountConfirmations(ctx, accountID, purpose, now.Add(-lim.since))
		if err != nil {
			return false, err
		}
		if n >= lim.max {
			s.log.InfoContext(ctx, "link refused: over the limit", "account", accountID, "purpose", purpose)
			return true, nil
		}
	}
	return false, nil
}

// ResetPassword sets a new password with a recovery link's token. The
// token is used once; the account's other sessions and all its tokens end
// (a reset is what a user does when someone else may have the password),
// its lockout is cleared, and its address counts as confirmed (the user
// proved the mailbox). Password problems come back as FieldErrors without
// using the token; a bad token is ErrInvalidToken.
func (s *Service) ResetPassword(ctx context.Context, token, password, confirm string) (*storage.Account, error) {
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
		if err := s.accounts.SetPasswordHash(ctx, a.ID, hash); err != nil {
			return err
		}
		if err := s.accounts.ClearLoginFailures(ctx, a.ID); err != nil {
			return err
		}
		if a.Email != nil && *a.Email == c.Target && !a.EmailVerified {
			if err := s.life.Store.MarkEmailVerified(ctx, a.ID, c.Target); err != nil {
				return err
			}
		}
		if err := s.life.Sessions.DeleteSessionsOf(ctx, a.ID, ""); err != nil {
			return err
		}
		if err := s.life.Revoker.RevokeSubject(ctx, a.ID); err != nil {
			return err
		}
		acct, err = s.accounts.AccountByID(ctx, a.ID)
		return err
	})
	return acct, err
}
