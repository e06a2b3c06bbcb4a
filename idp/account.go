package idp

import (
	"context"
	"errors"
	"strings"

	"github.com/manam-id/manam/storage"
)

// ChangePassword sets a new password for a signed-in user who proves the
// current one. A wrong current password counts towards the lockout like a
// failed sign-in. Every other session of the account and all its tokens
// end; the session that made the change stays.
func (s *Service) ChangePassword(ctx context.Context, sess *Session, current, password, confirm string) error {
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
func (s *Service) replacePassword(ctx context.Context, a *storage.Account, sess *Session, password string) error {
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

// AccountByIdentifier finds the account an e-mail address or a mobile
// number (international, or national with the default country code)
// names: storage.ErrNotFound when none does (or the identifier is not
// valid). For callers already authorized to look accounts up.
func (s *Service) AccountByIdentifier(ctx context.Context, identifier string) (*storage.Account, error) {
	a, _, err := s.lookup(ctx, strings.TrimSpace(identifier))
	if errors.Is(err, ErrInvalidInput) {
		return nil, storage.ErrNotFound
	}
	return a, err
}

// DefaultCountryCode is the calling code national mobile numbers are completed with ("" for none).
func (s *Service) DefaultCountryCode() string { return s.cfg.DefaultCountryCode }
