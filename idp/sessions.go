package idp

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/manam-id/manam/storage"
)

// SessionStore keeps sign-in sessions.
type SessionStore interface {
	CreateSession(ctx context.Context, s *storage.LoginSession) error
	SessionByID(ctx context.Context, id string, now time.Time) (*storage.LoginSession, error)
	DeleteSession(ctx context.Context, id string) error
	DeleteSessionBySID(ctx context.Context, sid string) error
}

// SessionAMRSetter raises a session's methods after a factor is proved in
// it (an optional capability of a SessionStore).
type SessionAMRSetter interface {
	SetSessionAMR(ctx context.Context, id, amr, acr string) error
}

// Sessions signs accounts in with a password (authenticate.go) and keeps
// their browser sessions. It owns the session store; failed guesses count
// on the shared throttles and account lockout.
type Sessions struct {
	*core
	store SessionStore
}

func newSessions(c *core, store SessionStore) *Sessions {
	return &Sessions{core: c, store: store}
}

// Session is a signed-in browser.
type Session struct {
	Row     *storage.LoginSession
	Account *storage.Account
}

// AMR lists the session's authentication methods (RFC 8176 values).
func (s *Session) AMR() []string { return strings.Fields(s.Row.AMR) }

// StartSession signs an account in and returns the cookie value (shown
// once, stored only hashed) and the session.
func (s *Sessions) StartSession(ctx context.Context, a *storage.Account, amr []string, remember bool) (string, *Session, error) {
	token := randomToken(32)
	now := s.now().UTC()
	ttl := s.cfg.SessionTTL
	if remember {
		ttl = s.cfg.RememberTTL
	}
	acr := ACRFor(amr)
	row := &storage.LoginSession{
		ID: hashToken(token), SID: randomToken(16), AccountID: a.ID,
		// Stored to the millisecond (MySQL keeps DATETIME(3)).
		AuthTime: now.Truncate(time.Millisecond), AMR: strings.Join(amr, " "), ACR: acr,
		Remember: remember, CreatedAt: now, ExpiresAt: now.Add(ttl), LastSeenAt: now,
	}
	if err := s.store.CreateSession(ctx, row); err != nil {
		return "", nil, err
	}
	return token, &Session{Row: row, Account: a}, nil
}

// RememberTTL is how long a remembered session's cookie should last.
func (s *Sessions) RememberTTL() time.Duration { return s.cfg.RememberTTL }

// Session resolves a cookie value to its live session.
func (s *Sessions) Session(ctx context.Context, token string) (*Session, error) {
	if token == "" || len(token) > 100 {
		return nil, ErrNoSession
	}
	row, err := s.store.SessionByID(ctx, hashToken(token), s.now().UTC())
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	a, err := s.accounts.AccountByID(ctx, row.AccountID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	return &Session{Row: row, Account: a}, nil
}

// EndSession signs a browser out.
func (s *Sessions) EndSession(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	return s.store.DeleteSession(ctx, hashToken(token))
}

// EndSessionBySID signs out the session an ID token's sid names.
func (s *Sessions) EndSessionBySID(ctx context.Context, sid string) error {
	if sid == "" {
		return nil
	}
	return s.store.DeleteSessionBySID(ctx, sid)
}

// RaiseSession records in a session that a second factor was just proved
// in it (an enrolment): it then counts as a second-factor sign-in.
func (s *Sessions) RaiseSession(ctx context.Context, sess *Session, method string) error {
	setter, ok := s.store.(SessionAMRSetter)
	if !ok {
		return errors.New("idp: sessions cannot be raised")
	}
	amr := withMethod(sess.AMR(), method)
	if err := setter.SetSessionAMR(ctx, sess.Row.ID, strings.Join(amr, " "), ACRFor(amr)); err != nil {
		return err
	}
	sess.Row.AMR, sess.Row.ACR = strings.Join(amr, " "), ACRFor(amr)
	return nil
}

// EndOtherSessions ends every session of the account but this one (after
// a second factor is set up: the others were signed in without it).
func (s *Sessions) EndOtherSessions(ctx context.Context, sess *Session) error {
	if s.life == nil || s.life.Sessions == nil {
		return errors.New("idp: sessions cannot be ended")
	}
	return s.life.Sessions.DeleteSessionsOf(ctx, sess.Account.ID, sess.Row.ID)
}
