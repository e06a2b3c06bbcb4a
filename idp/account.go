package idp

import (
	"context"
	"errors"
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
	hash, err := s.pw.Hash(ctx, password)
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
		return s.life.Revoker.RevokeSubject(ctx, a.ID)
	})
}
