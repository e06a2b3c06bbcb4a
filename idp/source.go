package idp

import (
	"context"
	"crypto/rand"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/manam-id/manam/idp/mfa"
	"github.com/manam-id/manam/storage"
)

// Source is where an attempt comes from, as the surface that received it
// determined it. It chooses the budget the attempt spends (see
// docs/design.md, "Throttles and lockout").
type Source struct {
	// Addr is the end user's address: the client address of a hosted
	// page or a direct API call, or the one a tenant's back end passed
	// (X-Manam-End-User-IP). "" when unknown.
	Addr string
	// Backend is the tenant whose registered back end sent the request
	// ("" for anyone else): its attempts count per tenant and end-user
	// identifier instead of per address, and it is a known source for
	// the accounts it signs in.
	Backend string
	// Device is the device cookie the browser sent (DeviceToken), "" for none.
	Device string
}

// FromAddr is a Source known only by its address (a hosted page without a
// device cookie, a direct API call).
func FromAddr(addr string) Source { return Source{Addr: addr} }

// deviceAAD binds sealed device tokens to their purpose.
const deviceAAD = "manam device cookie v1"

// DeviceTTL is how long a device cookie makes its browser a known source.
const DeviceTTL = 365 * 24 * time.Hour

// device is the nonce of src's device cookie when it was issued to
// accountID within DeviceTTL, else "".
func (s *core) device(src Source, accountID string) string {
	if s.devices == nil || src.Device == "" || len(src.Device) > 512 {
		return ""
	}
	raw, err := s.devices.Open(src.Device, deviceAAD)
	if err != nil {
		return ""
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 3 || parts[0] != accountID {
		return ""
	}
	at, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || s.now().Sub(time.Unix(at, 0)) > DeviceTTL {
		return ""
	}
	return parts[1]
}

// newDeviceSealer seals device cookies under key (nil key: no device cookies).
func newDeviceSealer(key []byte) (*mfa.Sealer, error) {
	if key == nil {
		return nil, nil
	}
	return mfa.NewSealer(key, rand.Reader)
}

// guard is what one guess at an account's secret (a password, a code)
// spends before it is checked, chosen by where it comes from:
//   - a device cookie issued to the account: that device's own budget;
//   - a tenant's registered back end: its budget for this end user;
//   - anyone else: the client address's budget.
//
// The first two are known sources: the account's lock (which counts
// failures from unknown sources) neither stops nor counts their guesses,
// so an attacker elsewhere cannot lock the owner out of them.
type guard struct {
	th    *Throttle
	key   string
	known bool
}

// signInGuard is the guard of a password or a code for account a (nil
// when the identifier has none) named by ident.
func (s *core) signInGuard(src Source, a *storage.Account, ident string) guard {
	if a != nil {
		if dev := s.device(src, a.ID); dev != "" {
			return guard{s.throttles.known, "device " + a.ID + " " + dev, true}
		}
		ident = "account " + a.ID // one budget whichever identifier names the account
	}
	if src.Backend != "" {
		return guard{s.throttles.known, "backend " + src.Backend + " " + ident, true}
	}
	return guard{s.throttles.signIn, AddrKey(src.Addr), false}
}

// endUserKey is the key of a per-address budget for an attempt about
// ident (an identifier being registered or recovered, a number being
// reset): the end user's address; from a tenant's back end that does not
// pass it, the tenant and the identifier.
func endUserKey(src Source, ident string) string {
	if src.Backend != "" && src.Addr == "" {
		return "backend " + src.Backend + " " + ident
	}
	return AddrKey(src.Addr)
}

// take spends the guard's attempt: ErrThrottled when none is left, the
// store's error (a 503 for the caller) when it fails.
func (g guard) take(ctx context.Context) error {
	ok, err := g.th.Take(ctx, g.key)
	if err != nil {
		return err
	}
	if !ok {
		return ErrThrottled
	}
	return nil
}

// refund gives the attempt back (it did not count). A failure leaves it
// spent, which is safe: it is logged, not returned.
func (s *core) refund(ctx context.Context, g guard) {
	if err := g.th.Refund(ctx, g.key); err != nil {
		s.log.WarnContext(ctx, "giving back a throttled attempt failed", "err", err)
	}
}

// takeFor spends an attempt of th for the end user of src about ident
// (registration, recovery, reset codes).
func (s *core) takeFor(ctx context.Context, th *Throttle, src Source, ident string) (guard, error) {
	g := guard{th: th, key: endUserKey(src, ident)}
	return g, g.take(ctx)
}

// identKey is the form of an identifier its budgets are kept under: the
// normalised e-mail address or mobile number, else the text as typed
// (trimmed, lower-cased), so that spellings of one identifier share one.
func (s *core) identKey(raw, seed string) string {
	raw = strings.TrimSpace(raw)
	if strings.Contains(raw, "@") {
		if e, err := NormalizeEmail(raw); err == nil {
			return "email " + e
		}
	} else {
		if seed == "" {
			seed = s.cfg.DefaultCountryCode
		}
		if m, err := NormalizeMobile(raw, seed); err == nil {
			return "mobile " + m
		}
	}
	return "text " + strings.ToLower(raw)
}

// lockedOut tells whether a's lock stops a guess guarded by g (only
// guesses from unknown sources are stopped).
func (s *core) lockedOut(a *storage.Account, g guard) bool {
	return !g.known && a.LockedUntil != nil && s.now().Before(*a.LockedUntil)
}

// countFailure counts a wrong guess on a: on the account's lock when it
// came from an unknown source (a known source's guess stays spent from its
// own budget).
func (s *core) countFailure(ctx context.Context, a *storage.Account, g guard, what string) error {
	if g.known {
		return nil
	}
	locked, err := s.accounts.RecordLoginFailure(ctx, a.ID, s.now(), s.lockoutPolicy())
	if err != nil {
		return err
	}
	if locked != nil {
		s.log.WarnContext(ctx, "account locked for unknown sources after repeated "+what, "account", a.ID, "until", *locked)
	}
	return nil
}

// clearFailures forgets a's failures after a success from an unknown
// source. A success from a known source leaves them: the owner signing in
// from their device must not reset an attacker's lock elsewhere.
func (s *core) clearFailures(ctx context.Context, a *storage.Account, g guard) error {
	if g.known || (a.FailedLogins == 0 && a.Lockouts == 0 && a.LockedUntil == nil) {
		return nil
	}
	return s.accounts.ClearLoginFailures(ctx, a.ID)
}

func (s *core) lockoutPolicy() storage.LockoutPolicy {
	return storage.LockoutPolicy{MaxFailures: s.cfg.MaxFailures, Window: s.cfg.FailureWindow, LockFor: s.lockFor}
}

// lockFor is the length of an account's next lock: LockBase doubled per
// earlier lock, at most LockMax.
func (s *core) lockFor(lockouts int) time.Duration {
	d := s.cfg.LockBase
	for i := 0; i < lockouts && d < s.cfg.LockMax; i++ {
		d *= 2
	}
	return min(d, s.cfg.LockMax)
}

// proveOwner checks a signed-in user's current password before a change
// of identifier; a wrong one counts towards the lockout, like a sign-in.
func (s *core) proveOwner(ctx context.Context, a *storage.Account, password string) error {
	if a.LockedUntil != nil && s.now().Before(*a.LockedUntil) {
		// As at sign-in: no guess is checked, or counted, while locked.
		return FieldErrors{"current_password": "Too many attempts. Wait a few minutes and try again."}
	}
	ok, _, err := s.pw.Verify(ctx, a.PasswordHash, password)
	if err != nil && !errors.Is(err, ErrHashFormat) {
		return err
	}
	if !ok {
		if _, err := s.accounts.RecordLoginFailure(ctx, a.ID, s.now(), s.lockoutPolicy()); err != nil {
			return err
		}
		return FieldErrors{"current_password": "This is not your current password."}
	}
	return nil
}
