package idp

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Errors a caller maps to its own surface. Messages shown to users must
// not tell these apart where that would reveal whether an account exists.
var (
	ErrInvalidCredentials = errors.New("idp: invalid e-mail or password")
	ErrNoSession          = errors.New("idp: no session")
	ErrInvalidInput       = errors.New("idp: invalid input")
	ErrExists             = errors.New("idp: account exists")
	// ErrThrottled: too many failures from this address; try later.
	ErrThrottled = errors.New("idp: too many attempts")
)

// Config tunes the service.
type Config struct {
	// SessionTTL is how long a browser session lives without "remember me"
	// (the cookie itself ends with the browser). Default 12 h.
	SessionTTL time.Duration
	// RememberTTL is a remembered session's life. Default 30 days.
	RememberTTL time.Duration
	// MaxFailures wrong passwords within FailureWindow lock an account
	// (defaults 5 and 15 min) for LockBase, doubling with each lock up to
	// LockMax (defaults 1 min and 1 h).
	MaxFailures   int
	FailureWindow time.Duration
	LockBase      time.Duration
	LockMax       time.Duration
	// The throttles (MANAM_THROTTLE_*), each spent before the work it
	// guards; a zero Budget takes the default. SignIn: failed sign-ins and
	// wrong codes per client address (20 at once, then one every 30 s).
	// Register: registrations and recovery requests, one budget, per
	// client address (5, then one a minute). Known: failed sign-ins per
	// account from one known source, a device that signed in before or a
	// tenant's back end (10, then one every 15 minutes).
	SignIn, Register, Known Budget
	// MessageLimits bound the links, codes and notices one account gets
	// for one purpose: at most Max within each Within (one a minute, five
	// a day).
	MessageLimits []MessageLimit
	// CodeAttempts is how many wrong guesses one SMS code, or one
	// half-done sign-in's second step, takes before it ends (5).
	CodeAttempts int
	// AllowUnconfirmed lets accounts sign in before confirming their
	// e-mail (default no).
	AllowUnconfirmed bool
	// DefaultCountryCode completes national mobile numbers typed to sign
	// in ("+98"); "" requires the international form.
	DefaultCountryCode string
}

// MessageLimit is one bound on the messages an account gets for one
// purpose: at most Max within Within.
type MessageLimit struct {
	Max    int
	Within time.Duration
}

// Deps are the service's collaborators.
type Deps struct {
	Accounts  AccountStore
	Sessions  SessionStore
	Consents  ConsentStore
	Passwords *Passwords
	Now       func() time.Time // default time.Now
	Logger    *slog.Logger     // default slog.Default()
	// Lifecycle enables registration and confirmation (nil: not offered).
	Lifecycle *LifecycleConfig
	// Tenants gives each tenant's settings (nil: every tenant has the defaults).
	Tenants TenantSource
	// Links keeps upstream identities linked to accounts (nil: no federation).
	Links LinkStore
	// Factors enables second factors (nil: not offered).
	Factors *FactorsConfig
	// Buckets keeps the throttles' budgets (storage.Throttles, shared by
	// every replica; nil: this process's memory).
	Buckets BucketStore
	// DeviceKey (32 bytes, derived from the system secret) seals device
	// cookies (nil: no device is ever a known source).
	DeviceKey []byte
}

// Service is the account core as its callers use it today: every
// operation of the sub-services below, on one value. Each sub-service owns
// one concern and the stores it needs, over a shared core (the clock,
// randomness, logger, passwords, throttles, tenants, accounts, and mail
// and SMS); new code should take the sub-service it uses, not Service.
type Service struct {
	*core
	// Accounts: creating, importing and finding accounts, profiles and
	// tenant memberships.
	*Accounts
	// Sessions: password sign-in and browser sessions.
	*Sessions
	// Consents: what users granted tenants.
	*Consents
	// SecondFactors: enrolment and proof of second factors, half-done
	// sign-ins, recovery codes and remembered devices.
	*SecondFactors
	// Lifecycle: registration, confirmation, recovery, and changes of
	// password, e-mail address and mobile number.
	*Lifecycle
	// Federation: sign-in through upstream identity providers and the
	// links to them.
	*Federation
}

// New builds the service.
func New(cfg Config, d Deps) (*Service, error) {
	if d.Accounts == nil || d.Sessions == nil || d.Consents == nil || d.Passwords == nil {
		return nil, errors.New("idp: missing dependency")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if l := d.Lifecycle; l != nil {
		if l.Store == nil || l.Outbox == nil || l.InTx == nil {
			return nil, errors.New("idp: lifecycle needs a store, an outbox and InTx")
		}
		if l.ConfirmTTL == 0 {
			l.ConfirmTTL = 24 * time.Hour
		}
	}
	devices, err := newDeviceSealer(d.DeviceKey)
	if err != nil {
		return nil, fmt.Errorf("idp: device key: %w", err)
	}
	if d.Buckets == nil {
		d.Buckets = NewMemoryBuckets()
	}
	c := &core{accounts: d.Accounts, pw: d.Passwords, cfg: cfg, now: d.Now, log: d.Logger, devices: devices, life: d.Lifecycle, tenants: d.Tenants}
	c.throttles.signIn = NewThrottle(d.Buckets, "sign-in", cfg.SignIn, d.Now)
	c.throttles.register = NewThrottle(d.Buckets, "register", cfg.Register, d.Now)
	c.throttles.known = NewThrottle(d.Buckets, "known source", cfg.Known, d.Now)
	accounts := newAccounts(c)
	sessions := newSessions(c, d.Sessions)
	return &Service{core: c, Accounts: accounts, Sessions: sessions, Consents: &Consents{core: c, store: d.Consents},
		SecondFactors: newSecondFactors(c, d.Factors), Lifecycle: &Lifecycle{core: c, members: accounts},
		Federation: &Federation{core: c, links: d.Links, auth: sessions, members: accounts}}, nil
}

// withDefaults fills in the defaults of unset fields and checks the
// throttles' budgets.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.RememberTTL == 0 {
		cfg.RememberTTL = 30 * 24 * time.Hour
	}
	if cfg.MaxFailures == 0 {
		cfg.MaxFailures = 5
	}
	if cfg.FailureWindow == 0 {
		cfg.FailureWindow = 15 * time.Minute
	}
	if cfg.LockBase == 0 {
		cfg.LockBase = time.Minute
	}
	if cfg.LockMax == 0 {
		cfg.LockMax = time.Hour
	}
	for _, b := range []struct {
		b   *Budget
		def Budget
	}{{&cfg.SignIn, Budget{20, 30 * time.Second}}, {&cfg.Register, Budget{5, time.Minute}}, {&cfg.Known, Budget{10, 15 * time.Minute}}} {
		if *b.b == (Budget{}) {
			*b.b = b.def
		}
		if !b.b.Valid() {
			return cfg, fmt.Errorf("idp: throttle budget %v: want at least 1 attempt and a refill of at least 1ms", *b.b)
		}
	}
	if cfg.MessageLimits == nil {
		cfg.MessageLimits = []MessageLimit{{1, time.Minute}, {5, 24 * time.Hour}}
	}
	if cfg.CodeAttempts == 0 {
		cfg.CodeAttempts = 5
	}
	return cfg, nil
}
