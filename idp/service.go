package idp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/manam-id/manam/idp/mfa"
	"github.com/manam-id/manam/storage"
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

// AccountStore is what idp needs to read and write accounts.
type AccountStore interface {
	CreateAccount(ctx context.Context, a *storage.Account) error
	AccountByID(ctx context.Context, id string) (*storage.Account, error)
	AccountByEmail(ctx context.Context, email string) (*storage.Account, error)
	AccountByMobile(ctx context.Context, mobile string) (*storage.Account, error)
	SetPasswordHash(ctx context.Context, id, hash string) error
	RecordLoginFailure(ctx context.Context, id string, now time.Time, p storage.LockoutPolicy) (*time.Time, error)
	ClearLoginFailures(ctx context.Context, id string) error
}

// SessionStore keeps sign-in sessions.
type SessionStore interface {
	CreateSession(ctx context.Context, s *storage.LoginSession) error
	SessionByID(ctx context.Context, id string, now time.Time) (*storage.LoginSession, error)
	DeleteSession(ctx context.Context, id string) error
	DeleteSessionBySID(ctx context.Context, sid string) error
}

// ConsentStore keeps what users granted tenants.
type ConsentStore interface {
	Consent(ctx context.Context, accountID, clientID string) (*storage.Consent, error)
	SaveConsent(ctx context.Context, c *storage.Consent) error
}

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

// Service is the account core.
type Service struct {
	accounts  AccountStore
	sessions  SessionStore
	consents  ConsentStore
	pw        *Passwords
	cfg       Config
	now       func() time.Time
	log       *slog.Logger
	throttles struct{ signIn, register, known *Throttle }
	devices   *mfa.Sealer // seals device cookies (nil: none)
	life      *Lifecycle
	tenants   TenantSource
	links     LinkStore
	mfa       *FactorsConfig
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
	Lifecycle *Lifecycle
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

// New builds the service.
func New(cfg Config, d Deps) (*Service, error) {
	if d.Accounts == nil || d.Sessions == nil || d.Consents == nil || d.Passwords == nil {
		return nil, errors.New("idp: missing dependency")
	}
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
			return nil, fmt.Errorf("idp: throttle budget %v: want at least 1 attempt and a refill of at least 1ms", *b.b)
		}
	}
	if cfg.MessageLimits == nil {
		cfg.MessageLimits = []MessageLimit{{1, time.Minute}, {5, 24 * time.Hour}}
	}
	if cfg.CodeAttempts == 0 {
		cfg.CodeAttempts = 5
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
	s := &Service{accounts: d.Accounts, sessions: d.Sessions, consents: d.Consents, pw: d.Passwords, cfg: cfg, now: d.Now, log: d.Logger,
		devices: devices, life: d.Lifecycle, tenants: d.Tenants, links: d.Links, mfa: d.Factors}
	s.throttles.signIn = NewThrottle(d.Buckets, "sign-in", cfg.SignIn, d.Now)
	s.throttles.register = NewThrottle(d.Buckets, "register", cfg.Register, d.Now)
	s.throttles.known = NewThrottle(d.Buckets, "known source", cfg.Known, d.Now)
	return s, nil
}

// NewAccount is what creating an account takes.
type NewAccount struct {
	Email          string
	Mobile         string // national (with MobileSeed) or international
	MobileSeed     string
	Password       string
	Name           string
	EmailVerified  bool
	MobileVerified bool
}

// CreateAccount makes a local account.
func (s *Service) CreateAccount(ctx context.Context, in NewAccount) (*storage.Account, error) {
	var email, mobile *string
	if in.Email != "" || in.Mobile == "" {
		e, err := NormalizeEmail(in.Email)
		if err != nil {
			return nil, err
		}
		email = &e
	}
	if in.Mobile != "" {
		m, err := NormalizeMobile(in.Mobile, in.MobileSeed)
		if err != nil {
			return nil, err
		}
		mobile = &m
	}
	if len(in.Password) < 8 || len(in.Password) > 128 {
		return nil, fmt.Errorf("%w: password must be 8 to 128 characters", ErrInvalidInput)
	}
	hash, err := s.pw.Hash(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	a := &storage.Account{ID: newID(), Email: email, EmailVerified: in.EmailVerified && email != nil, Mobile: mobile,
		MobileVerified: in.MobileVerified && mobile != nil, PasswordHash: hash, Name: strings.TrimSpace(in.Name), CreatedAt: now, UpdatedAt: now}
	if err := s.accounts.CreateAccount(ctx, a); err != nil {
		if errors.Is(err, storage.ErrDuplicate) {
			return nil, ErrExists
		}
		return nil, err
	}
	return a, nil
}

// Account loads an account by id.
func (s *Service) Account(ctx context.Context, id string) (*storage.Account, error) {
	return s.accounts.AccountByID(ctx, id)
}

// Authenticate checks an e-mail and password for a client at address addr
// ("" when unknown). An unknown e-mail, a wrong password, an account
// without a usable hash and a locked account all give
// ErrInvalidCredentials after the same amount of work, so the answer tells
// nothing about the account. Too many failures from one address give
// ErrThrottled without any work (RFC 6749 §10.10).
func (s *Service) Authenticate(ctx context.Context, email, password, addr string) (*storage.Account, error) {
	return s.AuthenticateFor(ctx, "", email, password, FromAddr(addr))
}

// AuthenticateFor is Authenticate for a sign-in through a tenant, whose
// settings apply (whether an unconfirmed address may sign in), from src:
// the attempt spends the budget of its source (signInGuard), and only
// failures from unknown sources count towards the account's lock.
func (s *Service) AuthenticateFor(ctx context.Context, clientID, identifier, password string, src Source) (*storage.Account, error) {
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
func (s *Service) authenticate(ctx context.Context, clientID string, a *storage.Account, byMobile bool, password string, g guard) (*storage.Account, error) {
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

func (s *Service) lockoutPolicy() storage.LockoutPolicy {
	return storage.LockoutPolicy{MaxFailures: s.cfg.MaxFailures, Window: s.cfg.FailureWindow, LockFor: s.lockFor}
}

// lookup finds the account an identifier names: an e-mail address, or a
// mobile number (international, or national with DefaultCountryCode).
func (s *Service) lookup(ctx context.Context, identifier string) (*storage.Account, bool, error) {
	if strings.Contains(identifier, "@") {
		e, err := NormalizeEmail(identifier)
		if err != nil {
			return nil, false, err
		}
		a, err := s.accounts.AccountByEmail(ctx, e)
		return a, false, err
	}
	m, err := NormalizeMobile(identifier, s.cfg.DefaultCountryCode)
	if err != nil {
		return nil, true, err
	}
	a, err := s.accounts.AccountByMobile(ctx, m)
	return a, true, err
}

// lockFor is the length of an account's next lock: LockBase doubled per
// earlier lock, at most LockMax.
func (s *Service) lockFor(lockouts int) time.Duration {
	d := s.cfg.LockBase
	for i := 0; i < lockouts && d < s.cfg.LockMax; i++ {
		d *= 2
	}
	return min(d, s.cfg.LockMax)
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
func (s *Service) StartSession(ctx context.Context, a *storage.Account, amr []string, remember bool) (string, *Session, error) {
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
	if err := s.sessions.CreateSession(ctx, row); err != nil {
		return "", nil, err
	}
	return token, &Session{Row: row, Account: a}, nil
}

// RememberTTL is how long a remembered session's cookie should last.
func (s *Service) RememberTTL() time.Duration { return s.cfg.RememberTTL }

// Session resolves a cookie value to its live session.
func (s *Service) Session(ctx context.Context, token string) (*Session, error) {
	if token == "" || len(token) > 100 {
		return nil, ErrNoSession
	}
	row, err := s.sessions.SessionByID(ctx, hashToken(token), s.now().UTC())
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
func (s *Service) EndSession(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	return s.sessions.DeleteSession(ctx, hashToken(token))
}

// EndSessionBySID signs out the session an ID token's sid names.
func (s *Service) EndSessionBySID(ctx context.Context, sid string) error {
	if sid == "" {
		return nil
	}
	return s.sessions.DeleteSessionBySID(ctx, sid)
}

// HasConsent tells whether the account already granted the client every scope in scopes.
func (s *Service) HasConsent(ctx context.Context, accountID, clientID string, scopes []string, notBefore time.Time) (bool, error) {
	c, err := s.consents.Consent(ctx, accountID, clientID)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !notBefore.IsZero() && !c.GrantedAt.After(notBefore) {
		return false, nil
	}
	for _, sc := range scopes {
		if !slices.Contains(c.Scopes, sc) {
			return false, nil
		}
	}
	return true, nil
}

// GrantConsent records that the account granted the client scopes (added
// to what it granted before).
func (s *Service) GrantConsent(ctx context.Context, accountID, clientID string, scopes []string) error {
	all := append([]string{}, scopes...)
	if c, err := s.consents.Consent(ctx, accountID, clientID); err == nil {
		for _, sc := range c.Scopes {
			if !slices.Contains(all, sc) {
				all = append(all, sc)
			}
		}
	} else if !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	slices.Sort(all)
	return s.consents.SaveConsent(ctx, &storage.Consent{AccountID: accountID, ClientID: clientID, Scopes: all, GrantedAt: s.now().UTC().Truncate(time.Millisecond)})
}

// NormalizeEmail validates an address and lower-cases it.
func NormalizeEmail(e string) (string, error) {
	e = strings.TrimSpace(e)
	if e == "" || len(e) > 254 {
		return "", fmt.Errorf("%w: e-mail address", ErrInvalidInput)
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || addr.Name != "" || !strings.Contains(e[strings.LastIndex(e, "@")+1:], ".") {
		return "", fmt.Errorf("%w: e-mail address", ErrInvalidInput)
	}
	return strings.ToLower(e), nil
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

// newID is a random UUID (version 4).
func newID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
