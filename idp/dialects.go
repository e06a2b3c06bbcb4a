package idp

import (
	"context"
	"errors"
	"time"
)

// ErrStaleSession: the session's sign-in is older than a change without
// the current password allows.
var ErrStaleSession = errors.New("idp: the sign-in is too old for this change without the current password")

// ChangePasswordRecent sets a new password for a session that signed in
// at most maxAge ago, without asking for the current password again: the
// client dialect of seed 003 sends none (its PUT password carries the new
// password twice). An older session is ErrStaleSession (the caller asks
// for the current password and uses ChangePassword). Otherwise it is
// ChangePassword: policy problems are FieldErrors and change nothing;
// every other session of the account and all its tokens end.
func (s *Lifecycle) ChangePasswordRecent(ctx context.Context, sess *Session, maxAge time.Duration, password, confirm string) error {
	if s.life == nil || s.life.Revoker == nil || s.life.Sessions == nil {
		return errors.New("idp: password change is not configured")
	}
	if sess == nil || sess.Row == nil {
		return ErrNoSession
	}
	if age := s.now().Sub(sess.Row.AuthTime); age > maxAge || age < -time.Minute {
		return ErrStaleSession
	}
	a, err := s.accounts.AccountByID(ctx, sess.Account.ID)
	if err != nil {
		return err
	}
	if err := checkNewPassword(a, password, confirm); err != nil {
		return err
	}
	return s.replacePassword(ctx, a, sess, password)
}
