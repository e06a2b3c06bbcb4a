package idp

import (
	"context"
	"errors"
	"strconv"

	"github.com/manam-id/manam/storage"
)

// Authenticate checks an e-mail and password for a client at address addr
// ("" when unknown). An unknown e-mail, a wrong password, an account
// without a usable hash and a locked account all give
// ErrInvalidCredentials after the same amount of work, so the answer tells
// nothing about the account. Too many failures from one address give
// ErrThrottled without any work (RFC 6749 §10.10).
func (s *Sessions) Authenticate(ctx context.Context, email, password, addr string) (*storage.Account, error) {
	return s.AuthenticateFor(ctx, "", email, password, FromAddr(addr))
}

// AuthenticateFor is Authenticate for a sign-in through a tenant, whose
// settings apply (whether an unconfirmed address may sign in), from src:
// the attempt spends the budget of its source (signInGuard), and only
// failures from unknown sources count towards the account's lock.
func (s *Sessions) AuthenticateFor(ctx context.Context, clientID, identifier, password string, src Source) (*storage.Account, error) {
	a, byMobile, err := s.lookup(ctx, identifier)
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, ErrInvalidInput) {
		a, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	// Spent before the password is checked, so guesses sent at once
	// cannot all pass; given back unless the guess was wrong.
	g := s.signInGuard(src, a, s.identKey(identifier, ""))
	if err := g.take(ctx); err != nil {
		return nil, err
	}
	a, err = s.authenticate(ctx, clientID, a, byMobile, password, g)
	if !errors.Is(err, ErrInvalidCredentials) {
		s.refund(ctx, g)
	}
	return a, err
}

// authenticate checks password for a (nil: no account), guarded by g.
func (s *Sessions) authenticate(ctx context.Context, clientID string, a *storage.Account, byMobile bool, password string, g guard) (*storage.Account, error) {
	if len(password) > 1024 {
		return nil, ErrInvalidCredentials
	}
	if a == nil {
		s.pw.Waste(ctx, password)
		return nil, ErrInvalidCredentials
	}
	if s.lockedOut(a, g) {
		// Locked: even the right password is refused, after the same work.
		s.pw.Waste(ctx, password)
		s.log.InfoContext(ctx, "sign-in to a locked account refused", "account", a.ID, "locked_until", a.LockedUntil)
		return nil, ErrInvalidCredentials
	}
	ok, rehash, err := s.pw.Verify(ctx, a.PasswordHash, password)
	if errors.Is(err, ErrHashFormat) {
		// Same work as an unknown account, so the timing tells nothing.
		s.pw.Waste(ctx, password)
		s.log.WarnContext(ctx, "account has an unreadable password hash", "account", a.ID)
		return nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, err
	}
	if !ok {
		if err := s.countFailure(ctx, a, g, "sign-in failures"); err != nil {
			return nil, err
		}
		return nil, ErrInvalidCredentials
	}
	if err := s.clearFailures(ctx, a, g); err != nil {
		return nil, err
	}
	// The identifier used to sign in must be confirmed.
	if verified := (byMobile && a.MobileVerified) || (!byMobile && a.EmailVerified); !verified && !s.cfg.AllowUnconfirmed && !s.settings(ctx, clientID).AllowUnconfirmed {
		// Only someone who knows the password learns this.
		return nil, ErrUnconfirmed
	}
	if rehash {
		if h, err := s.pw.Hash(ctx, password); err == nil {
			if err := s.accounts.SetPasswordHash(ctx, a.ID, h); err != nil {
				s.log.WarnContext(ctx, "password hash upgrade failed", "account", a.ID, "err", err)
			} else {
				a.PasswordHash = h
			}
		}
	}
	return a, nil
}

// DeviceToken is the value of a device cookie (OWASP's "device cookie")
// for a browser where accountID has just signed in: the account id, a
// random nonce and the time, sealed (AES-256-GCM under Deps.DeviceKey), so
// nobody can make one for another account or alter it. It grants nothing:
// it only makes the browser a known source, whose failed sign-ins count on
// its own budget instead of the account's lock. "" when device cookies
// are off.
func (s *Sessions) DeviceToken(accountID string) string {
	if s.devices == nil {
		return ""
	}
	v, err := s.devices.Seal([]byte(accountID+"|"+randomToken(12)+"|"+strconv.FormatInt(s.now().Unix(), 10)), deviceAAD)
	if err != nil {
		return ""
	}
	return v
}
