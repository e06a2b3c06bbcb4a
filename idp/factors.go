package idp

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/manam-id/manam/idp/i18n"
	"github.com/manam-id/manam/idp/mfa"
	"github.com/manam-id/manam/storage"
)

// Second-factor kinds, the methods that prove one at sign-in, and the
// authentication context classes a sign-in reaches.
const (
	FactorTOTP = "totp"
	FactorSMS  = "sms"
	// MethodRecovery is a recovery code, usable where a factor is asked for.
	MethodRecovery = "recovery"

	// ACRPassword: a password (or an upstream identity) alone.
	ACRPassword = "urn:manam:acr:pwd"
	// ACRMFA: a second factor as well. A tenant asks for it with
	// acr_values, or requires it for every sign-in.
	ACRMFA = "urn:manam:acr:mfa"
	// acrPAPEMFA is the OpenID PAPE multi-factor policy, accepted in
	// acr_values as a request for ACRMFA.
	acrPAPEMFA = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"
)

// Errors of second factors.
var (
	// ErrBadCode: a code that is wrong, malformed, used, expired, or
	// refused because the account is locked.
	ErrBadCode = errors.New("idp: wrong or expired code")
	// ErrFactorState: an enrolment step out of order (confirming what was
	// never started, enrolling a factor the account has).
	ErrFactorState = errors.New("idp: second-factor step out of order")
	// ErrNoPending: no half-done sign-in (expired, finished, or dropped
	// after too many wrong codes).
	ErrNoPending = errors.New("idp: no pending sign-in")
)

// FactorStore keeps second factors (storage.Factors).
type FactorStore interface {
	PutFactor(ctx context.Context, f *storage.Factor) error
	Factor(ctx context.Context, accountID, kind string) (*storage.Factor, error)
	ConfirmedFactors(ctx context.Context, accountID string) ([]storage.Factor, error)
	ConfirmFactor(ctx context.Context, id string, lastStep int64, now time.Time) error
	AdvanceStep(ctx context.Context, id string, step int64) error
	DeleteFactor(ctx context.Context, accountID, kind string) error
	ReplaceRecoveryCodes(ctx context.Context, accountID string, hashes []string, now time.Time) error
	UseRecoveryCode(ctx context.Context, accountID, hash string, now time.Time) error
	RecoveryCodesLeft(ctx context.Context, accountID string) (int64, error)
	CreateTrustedDevice(ctx context.Context, d *storage.TrustedDevice) error
	TrustedDevice(ctx context.Context, id, accountID string, now time.Time) (*storage.TrustedDevice, error)
	TrustedDevices(ctx context.Context, accountID string, now time.Time) ([]storage.TrustedDevice, error)
	DeleteTrustedDevice(ctx context.Context, accountID, id string) error
	CreatePending(ctx context.Context, p *storage.PendingLogin) error
	Pending(ctx context.Context, id string, now time.Time) (*storage.PendingLogin, error)
	PendingFailed(ctx context.Context, id string, max int) error
	TakePending(ctx context.Context, id string) error
}

// SessionAMRSetter raises a session's methods after a factor is proved in it.
type SessionAMRSetter interface {
	SetSessionAMR(ctx context.Context, id, amr, acr string) error
}

// FactorsConfig enables second factors.
type FactorsConfig struct {
	Store FactorStore
	// Sealer seals TOTP seeds at rest (its key derived from the system secret).
	Sealer *mfa.Sealer
	// CodeKey keys the hashes of recovery codes.
	CodeKey []byte
	// Issuer is the name authenticator apps show ("Manam").
	Issuer string
	// DeviceTTL is how long "remember this device" lasts (30 days).
	DeviceTTL time.Duration
	// PendingTTL is how long a half-done sign-in waits for its factor (10 min).
	PendingTTL time.Duration
}

const (
	purposeLoginSMS = "mfa_sms"   // a code sent at sign-in
	purposeEnrolSMS = "mfa_enrol" // a code confirming an SMS factor
	loginCodeTTL    = 5 * time.Minute
)

func (s *Service) factors() (*FactorsConfig, error) {
	if s.mfa == nil || s.mfa.Store == nil || s.mfa.Sealer == nil || len(s.mfa.CodeKey) < mfa.MinCodeKeySize {
		return nil, errors.New("idp: second factors are not configured")
	}
	return s.mfa, nil
}

// Factors lists an account's confirmed second factors (none when second
// factors are not configured).
func (s *Service) Factors(ctx context.Context, accountID string) ([]storage.Factor, error) {
	if s.mfa == nil {
		return nil, nil
	}
	return s.mfa.Store.ConfirmedFactors(ctx, accountID)
}

// WantsMFA tells whether an authorization request's acr_values ask for a
// second factor.
func WantsMFA(acrValues string) bool {
	for _, v := range strings.Fields(acrValues) {
		if v == ACRMFA || v == acrPAPEMFA {
			return true
		}
	}
	return false
}

// ACRFor is the authentication context class of a sign-in by these methods.
func ACRFor(amr []string) string {
	if slices.Contains(amr, "mfa") {
		return ACRMFA
	}
	return ACRPassword
}

// SecondStep says what a sign-in that proved its first factor still needs.
type SecondStep int

const (
	// StepNone: nothing; the session can start.
	StepNone SecondStep = iota
	// StepVerify: the account's second factor.
	StepVerify
	// StepEnrol: the sign-in needs a second factor the account does not
	// have yet: it enrols one first.
	StepEnrol
	// StepTrusted: none, because this device is remembered after a
	// second factor proved on it (the sign-in counts as "mfa").
	StepTrusted
)

// NextStep decides whether a sign-in of acct needs a second factor:
// always when the account has one (unless deviceToken is a device it
// trusted), and when wantMFA says the tenant requires one or the request
// asked for one (then an account without a factor enrols first). With
// StepVerify comes the method to ask for first ("totp", else "sms").
func (s *Service) NextStep(ctx context.Context, acct *storage.Account, wantMFA bool, deviceToken string) (SecondStep, string, error) {
	if s.mfa == nil {
		return StepNone, "", nil
	}
	fs, err := s.mfa.Store.ConfirmedFactors(ctx, acct.ID)
	if err != nil {
		return StepNone, "", err
	}
	if len(fs) > 0 {
		if deviceToken != "" {
			if id, err := mfa.DeviceTokenID(deviceToken); err == nil {
				if _, err := s.mfa.Store.TrustedDevice(ctx, id, acct.ID, s.now()); err == nil {
					return StepTrusted, "", nil
				} else if !errors.Is(err, storage.ErrNotFound) {
					return StepNone, "", err
				}
			}
		}
		return StepVerify, fs[0].Kind, nil
	}
	if wantMFA {
		return StepEnrol, "", nil
	}
	return StepNone, "", nil
}

// Pending is a half-done sign-in with its account.
type Pending struct {
	Row     *storage.PendingLogin
	Account *storage.Account
}

// AMR is the methods the pending sign-in proved so far.
func (p *Pending) AMR() []string { return strings.Fields(p.Row.AMR) }

// BeginPending records a first factor proved and returns the cookie value
// (shown once, stored only hashed) that carries the sign-in to its second.
func (s *Service) BeginPending(ctx context.Context, acct *storage.Account, amr []string, remember bool, clientID string, step SecondStep) (string, error) {
	cfg, err := s.factors()
	if err != nil {
		return "", err
	}
	token := randomToken(32)
	now := s.now().UTC()
	ttl := cfg.PendingTTL
	if ttl == 0 {
		ttl = 10 * time.Minute
	}
	err = cfg.Store.CreatePending(ctx, &storage.PendingLogin{ID: hashToken(token), AccountID: acct.ID, AMR: strings.Join(amr, " "),
		Remember: remember, ClientID: clientID, Enrol: step == StepEnrol, CreatedAt: now, ExpiresAt: now.Add(ttl)})
	if err != nil {
		return "", err
	}
	return token, nil
}

// PendingSignIn resolves a pending cookie value: ErrNoPending when it is unknown or over.
func (s *Service) PendingSignIn(ctx context.Context, token string) (*Pending, error) {
	cfg, err := s.factors()
	if err != nil {
		return nil, err
	}
	if token == "" || len(token) > 100 {
		return nil, ErrNoPending
	}
	row, err := cfg.Store.Pending(ctx, hashToken(token), s.now())
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrNoPending
	}
	if err != nil {
		return nil, err
	}
	a, err := s.accounts.AccountByID(ctx, row.AccountID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrNoPending
	}
	if err != nil {
		return nil, err
	}
	return &Pending{Row: row, Account: a}, nil
}

// SendFactorCode sends a code to the account's SMS factor (at sign-in, or
// to prove it before removing a factor or renewing recovery codes): once a
// minute, five times a day (quietly nothing beyond that, or without an SMS
// factor).
func (s *Service) SendFactorCode(ctx context.Context, accountID string, links Links) error {
	cfg, err := s.factors()
	if err != nil {
		return err
	}
	if s.life == nil || len(s.life.CodeKey) == 0 {
		return errors.New("idp: SMS codes are not configured")
	}
	f, err := cfg.Store.Factor(ctx, accountID, FactorSMS)
	if errors.Is(err, storage.ErrNotFound) || err == nil && !f.Confirmed {
		return nil
	}
	if err != nil {
		return err
	}
	if over, err := s.overLimit(ctx, accountID, purposeLoginSMS); err != nil || over {
		return err
	}
	links = s.forTenant(ctx, links)
	if err := s.life.InTx(ctx, func(ctx context.Context) error {
		return s.smsCode(ctx, accountID, f.Phone, purposeLoginSMS, loginCodeTTL,
			func(code string) string {
				return i18n.T(links.Lang, "Your %s sign-in code is %s. It works for 5 minutes. Do not share it.", links.Product, code)
			})
	}); err != nil {
		return err
	}
	s.notify()
	return nil
}

// smsCode stores a new code of a purpose and queues its SMS.
func (s *Service) smsCode(ctx context.Context, accountID, phone, purpose string, ttl time.Duration, text func(code string) string) error {
	code, err := sixDigits()
	if err != nil {
		return err
	}
	now := s.now().UTC()
	if err := s.life.Store.CreateConfirmation(ctx, &storage.Confirmation{ID: hashToken(randomToken(16)), AccountID: accountID, Purpose: purpose,
		Target: phone, CodeHash: s.codeHash(accountID, code), CreatedAt: now, ExpiresAt: now.Add(ttl)}); err != nil {
		return err
	}
	return s.sms(ctx, phone, text(code))
}

// CompletePending proves a pending sign-in's second factor with method
// ("totp", "sms" or "recovery") and code, once. It returns the account
// and the methods of the whole sign-in (for the session). A wrong code
// counts against the sign-in (five drop it: ErrNoPending), the account's
// lockout (like a wrong password; from an unknown source) and the budget
// of its source (as a sign-in's); a locked account's right code is
// refused too. A pending sign-in that must enrol cannot complete here
// (ErrFactorState).
func (s *Service) CompletePending(ctx context.Context, token, method, code string, src Source) (*storage.Account, []string, error) {
	cfg, err := s.factors()
	if err != nil {
		return nil, nil, err
	}
	p, err := s.PendingSignIn(ctx, token)
	if err != nil {
		return nil, nil, err
	}
	g := s.signInGuard(src, p.Account, "")
	if err := g.take(ctx); err != nil {
		return nil, nil, err
	}
	wrong := false // a wrong code keeps the attempt spent
	defer func() {
		if !wrong {
			s.refund(ctx, g)
		}
	}()
	if p.Row.Enrol {
		return nil, nil, ErrFactorState
	}
	got, err := s.proveFactor(ctx, p.Account, method, code, g)
	if errors.Is(err, ErrBadCode) {
		wrong = true
		if ferr := cfg.Store.PendingFailed(ctx, p.Row.ID, s.cfg.CodeAttempts); errors.Is(ferr, storage.ErrUsed) {
			return nil, nil, ErrNoPending
		} else if ferr != nil {
			return nil, nil, ferr
		}
		return nil, nil, ErrBadCode
	}
	if err != nil {
		return nil, nil, err
	}
	if err := cfg.Store.TakePending(ctx, p.Row.ID); errors.Is(err, storage.ErrNotFound) {
		return nil, nil, ErrNoPending // finished concurrently: one of the two wins
	} else if err != nil {
		return nil, nil, err
	}
	return p.Account, withMethod(p.AMR(), got), nil
}

// withMethod adds a proved second-factor method (and "mfa", RFC 8176) to a
// sign-in's methods.
func withMethod(amr []string, method string) []string {
	out := slices.Clone(amr)
	if method != "" && !slices.Contains(out, method) {
		out = append(out, method)
	}
	if !slices.Contains(out, "mfa") {
		out = append(out, "mfa")
	}
	return out
}

// proveFactor checks a code of a confirmed factor or a recovery code, and
// returns the method to record in amr ("otp", "sms", or "" for a
// recovery code). A wrong code is ErrBadCode and counts towards the
// account's lockout (from an unknown source, g); while locked, every code
// from an unknown source is ErrBadCode.
func (s *Service) proveFactor(ctx context.Context, a *storage.Account, method, code string, g guard) (string, error) {
	cfg, err := s.factors()
	if err != nil {
		return "", err
	}
	if s.lockedOut(a, g) {
		return "", ErrBadCode
	}
	amr, err := s.checkFactorCode(ctx, cfg, a, method, code)
	if errors.Is(err, ErrBadCode) {
		if err := s.countFailure(ctx, a, g, "wrong codes"); err != nil {
			return "", err
		}
		return "", ErrBadCode
	}
	if err != nil {
		return "", err
	}
	if err := s.clearFailures(ctx, a, g); err != nil {
		return "", err
	}
	return amr, nil
}

func (s *Service) checkFactorCode(ctx context.Context, cfg *FactorsConfig, a *storage.Account, method, code string) (string, error) {
	switch method {
	case FactorTOTP:
		f, err := cfg.Store.Factor(ctx, a.ID, FactorTOTP)
		if errors.Is(err, storage.ErrNotFound) || err == nil && !f.Confirmed {
			return "", ErrBadCode
		}
		if err != nil {
			return "", err
		}
		secret, err := cfg.Sealer.Open(f.Secret, a.ID)
		if err != nil {
			return "", fmt.Errorf("idp: TOTP seed of %s: %w", a.ID, err)
		}
		step, err := mfa.ValidateTOTP(string(secret), code, s.now(), f.LastStep)
		if err != nil {
			return "", ErrBadCode
		}
		// Of two concurrent uses of one code, one wins.
		if err := cfg.Store.AdvanceStep(ctx, f.ID, step); errors.Is(err, storage.ErrConflict) {
			return "", ErrBadCode
		} else if err != nil {
			return "", err
		}
		return "otp", nil
	case FactorSMS:
		return "sms", s.checkSMS(ctx, a.ID, purposeLoginSMS, code)
	case MethodRecovery:
		norm, err := mfa.NormalizeRecoveryCode(code)
		if err != nil {
			return "", ErrBadCode
		}
		if err := cfg.Store.UseRecoveryCode(ctx, a.ID, mfa.HashCode(cfg.CodeKey, a.ID, norm), s.now()); errors.Is(err, storage.ErrNotFound) {
			return "", ErrBadCode
		} else if err != nil {
			return "", err
		}
		return "", nil
	default:
		return "", ErrBadCode
	}
}

// checkSMS checks a code of a purpose sent by SMS (five tries a code).
func (s *Service) checkSMS(ctx context.Context, accountID, purpose, code string) error {
	cs, ok := s.life.Store.(CodeStore)
	if !ok || len(s.life.CodeKey) == 0 {
		return errors.New("idp: SMS codes are not configured")
	}
	code = toASCIIDigits(strings.TrimSpace(code))
	if len(code) != 6 {
		return ErrBadCode
	}
	want := s.codeHash(accountID, code)
	_, err := cs.CheckCode(ctx, accountID, purpose, s.now(), s.cfg.CodeAttempts, func(stored string) bool {
		return hmac.Equal([]byte(stored), []byte(want))
	})
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrUsed) {
		return ErrBadCode
	}
	return err
}

// TOTPEnrolment is what a person scans: the otpauth:// URI and its QR code.
type TOTPEnrolment struct {
	Secret string // base32, for typing in by hand
	URI    string
	PNG    []byte
}

// BeginTOTP starts (or restarts) enrolling an authenticator app: a new
// secret, stored sealed and unconfirmed until ConfirmTOTP. An account
// that has one already gets ErrFactorState.
func (s *Service) BeginTOTP(ctx context.Context, accountID string) (*TOTPEnrolment, error) {
	cfg, err := s.factors()
	if err != nil {
		return nil, err
	}
	a, err := s.accounts.AccountByID(ctx, accountID)
	if err != nil {
		return nil, err
	}
	key, err := mfa.NewTOTP(cfg.issuer(), accountLabel(a), rand.Reader)
	if err != nil {
		return nil, err
	}
	sealed, err := cfg.Sealer.Seal([]byte(key.Secret()), a.ID)
	if err != nil {
		return nil, err
	}
	err = cfg.Store.PutFactor(ctx, &storage.Factor{ID: newID(), AccountID: a.ID, Kind: FactorTOTP, Secret: sealed, CreatedAt: s.now()})
	if errors.Is(err, storage.ErrDuplicate) {
		return nil, ErrFactorState
	}
	if err != nil {
		return nil, err
	}
	return enrolmentOf(key)
}

// PendingTOTP shows an enrolment in progress again (after a wrong code):
// ErrFactorState when there is none.
func (s *Service) PendingTOTP(ctx context.Context, accountID string) (*TOTPEnrolment, error) {
	cfg, err := s.factors()
	if err != nil {
		return nil, err
	}
	a, err := s.accounts.AccountByID(ctx, accountID)
	if err != nil {
		return nil, err
	}
	f, err := s.enrolment(ctx, cfg, accountID, FactorTOTP)
	if err != nil {
		return nil, err
	}
	secret, err := cfg.Sealer.Open(f.Secret, a.ID)
	if err != nil {
		return nil, fmt.Errorf("idp: TOTP seed of %s: %w", a.ID, err)
	}
	key, err := mfa.TOTPKeyFromSecret(cfg.issuer(), accountLabel(a), string(secret))
	if err != nil {
		return nil, err
	}
	return enrolmentOf(key)
}

func enrolmentOf(key *mfa.TOTPKey) (*TOTPEnrolment, error) {
	png, err := key.PNG(256)
	if err != nil {
		return nil, err
	}
	return &TOTPEnrolment{Secret: key.Secret(), URI: key.URI(), PNG: png}, nil
}

func (c *FactorsConfig) issuer() string {
	if c.Issuer == "" || strings.Contains(c.Issuer, ":") {
		return "Manam"
	}
	return c.Issuer
}

// accountLabel names the account in an authenticator app.
func accountLabel(a *storage.Account) string {
	switch {
	case a.Email != nil:
		return *a.Email
	case a.Mobile != nil:
		return *a.Mobile
	}
	return a.ID
}

// ConfirmTOTP completes an authenticator enrolment with a current code
// and returns a new set of recovery codes (shown once; the old ones stop
// working). A wrong code is ErrBadCode (the enrolment stays, to try again);
// nothing to confirm is ErrFactorState.
func (s *Service) ConfirmTOTP(ctx context.Context, accountID, code string) ([]string, error) {
	cfg, err := s.factors()
	if err != nil {
		return nil, err
	}
	f, err := s.enrolment(ctx, cfg, accountID, FactorTOTP)
	if err != nil {
		return nil, err
	}
	secret, err := cfg.Sealer.Open(f.Secret, accountID)
	if err != nil {
		return nil, fmt.Errorf("idp: TOTP seed of %s: %w", accountID, err)
	}
	step, err := mfa.ValidateTOTP(string(secret), code, s.now(), 0)
	if err != nil {
		return nil, ErrBadCode
	}
	return s.confirmFactor(ctx, cfg, f, step)
}

// confirmFactor marks an enrolment done and issues recovery codes, atomically.
func (s *Service) confirmFactor(ctx context.Context, cfg *FactorsConfig, f *storage.Factor, step int64) ([]string, error) {
	codes, hashes, err := s.newRecoveryCodes(cfg, f.AccountID)
	if err != nil {
		return nil, err
	}
	err = s.inTx(ctx, func(ctx context.Context) error {
		if err := cfg.Store.ConfirmFactor(ctx, f.ID, step, s.now()); errors.Is(err, storage.ErrConflict) {
			return ErrFactorState
		} else if err != nil {
			return err
		}
		return cfg.Store.ReplaceRecoveryCodes(ctx, f.AccountID, hashes, s.now())
	})
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "second factor enrolled", "account", f.AccountID, "kind", f.Kind)
	return codes, nil
}

func (s *Service) newRecoveryCodes(cfg *FactorsConfig, accountID string) ([]string, []string, error) {
	codes, err := mfa.NewRecoveryCodes(mfa.RecoveryCodeCount, rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	hashes := make([]string, len(codes))
	for i, c := range codes {
		hashes[i] = mfa.HashCode(cfg.CodeKey, accountID, c)
	}
	return codes, hashes, nil
}

// inTx runs fn in the lifecycle's transaction when there is one.
func (s *Service) inTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if s.life != nil && s.life.InTx != nil {
		return s.life.InTx(ctx, fn)
	}
	return fn(ctx)
}

// BeginSMSFactor starts enrolling a phone (international, or national with
// the default country code) as a second factor: a code goes to it, for
// ConfirmSMSFactor. Codes can be sent once a minute.
func (s *Service) BeginSMSFactor(ctx context.Context, accountID, phone string, links Links) (string, error) {
	cfg, err := s.factors()
	if err != nil {
		return "", err
	}
	if s.life == nil || len(s.life.CodeKey) == 0 {
		return "", errors.New("idp: SMS codes are not configured")
	}
	m, err := NormalizeMobile(phone, s.cfg.DefaultCountryCode)
	if err != nil {
		return "", FieldErrors{"phone": "Enter a valid mobile number, with its country code (+98…)."}
	}
	if over, err := s.overLimit(ctx, accountID, purposeEnrolSMS); err != nil || over {
		if err == nil {
			err = ErrThrottled
		}
		return "", err
	}
	links = s.forTenant(ctx, links)
	err = s.inTx(ctx, func(ctx context.Context) error {
		if err := cfg.Store.PutFactor(ctx, &storage.Factor{ID: newID(), AccountID: accountID, Kind: FactorSMS, Phone: m, CreatedAt: s.now()}); err != nil {
			if errors.Is(err, storage.ErrDuplicate) {
				return ErrFactorState
			}
			return err
		}
		return s.smsCode(ctx, accountID, m, purposeEnrolSMS, smsCodeTTL, func(code string) string {
			return i18n.T(links.Lang, "Your %s code is %s. It works for 10 minutes. Do not share it.", links.Product, code)
		})
	})
	if err != nil {
		return "", err
	}
	s.notify()
	return m, nil
}

// ConfirmSMSFactor completes a phone enrolment with its code and returns
// a new set of recovery codes.
func (s *Service) ConfirmSMSFactor(ctx context.Context, accountID, code string) ([]string, error) {
	cfg, err := s.factors()
	if err != nil {
		return nil, err
	}
	f, err := s.enrolment(ctx, cfg, accountID, FactorSMS)
	if err != nil {
		return nil, err
	}
	if err := s.checkSMS(ctx, accountID, purposeEnrolSMS, code); err != nil {
		return nil, err
	}
	return s.confirmFactor(ctx, cfg, f, 0)
}

// ProveFactor checks a signed-in account's second factor (a TOTP code, an
// SMS code sent with SendFactorCode, or a recovery code) before a
// sensitive change; wrong codes count towards the lockout.
func (s *Service) ProveFactor(ctx context.Context, accountID, method, code string) error {
	a, err := s.accounts.AccountByID(ctx, accountID)
	if err != nil {
		return err
	}
	_, err = s.proveFactor(ctx, a, method, code, guard{}) // a session's own guess: as from an unknown source
	return err
}

// RemoveFactor removes a factor after proof (see ProveFactor). Removing
// the last one also ends the recovery codes and trusted devices.
func (s *Service) RemoveFactor(ctx context.Context, accountID, kind, method, code string) error {
	cfg, err := s.factors()
	if err != nil {
		return err
	}
	if _, err := cfg.Store.Factor(ctx, accountID, kind); errors.Is(err, storage.ErrNotFound) {
		return ErrFactorState
	} else if err != nil {
		return err
	}
	if err := s.ProveFactor(ctx, accountID, method, code); err != nil {
		return err
	}
	if err := cfg.Store.DeleteFactor(ctx, accountID, kind); errors.Is(err, storage.ErrNotFound) {
		return ErrFactorState
	} else if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "second factor removed", "account", accountID, "kind", kind)
	return nil
}

// RegenerateRecoveryCodes replaces the recovery codes after proof.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, accountID, method, code string) ([]string, error) {
	cfg, err := s.factors()
	if err != nil {
		return nil, err
	}
	if fs, err := cfg.Store.ConfirmedFactors(ctx, accountID); err != nil {
		return nil, err
	} else if len(fs) == 0 {
		return nil, ErrFactorState
	}
	if err := s.ProveFactor(ctx, accountID, method, code); err != nil {
		return nil, err
	}
	codes, hashes, err := s.newRecoveryCodes(cfg, accountID)
	if err != nil {
		return nil, err
	}
	if err := cfg.Store.ReplaceRecoveryCodes(ctx, accountID, hashes, s.now()); err != nil {
		return nil, err
	}
	return codes, nil
}

// RecoveryCodesLeft counts the unused recovery codes.
func (s *Service) RecoveryCodesLeft(ctx context.Context, accountID string) (int64, error) {
	cfg, err := s.factors()
	if err != nil {
		return 0, err
	}
	return cfg.Store.RecoveryCodesLeft(ctx, accountID)
}

// TrustDevice remembers this browser for the account ("remember this
// device"), and returns the cookie value (stored only hashed).
func (s *Service) TrustDevice(ctx context.Context, accountID, name string) (string, time.Duration, error) {
	cfg, err := s.factors()
	if err != nil {
		return "", 0, err
	}
	token, id, err := mfa.NewDeviceToken(rand.Reader)
	if err != nil {
		return "", 0, err
	}
	ttl := cfg.DeviceTTL
	if ttl == 0 {
		ttl = 30 * 24 * time.Hour
	}
	if r := []rune(strings.TrimSpace(name)); len(r) > 200 {
		name = string(r[:200])
	}
	now := s.now().UTC()
	if err := cfg.Store.CreateTrustedDevice(ctx, &storage.TrustedDevice{ID: id, AccountID: accountID, Name: name, CreatedAt: now,
		ExpiresAt: now.Add(ttl), LastUsedAt: now}); err != nil {
		return "", 0, err
	}
	return token, ttl, nil
}

// TrustedDevices lists the devices an account remembers.
func (s *Service) TrustedDevices(ctx context.Context, accountID string) ([]storage.TrustedDevice, error) {
	cfg, err := s.factors()
	if err != nil {
		return nil, err
	}
	return cfg.Store.TrustedDevices(ctx, accountID, s.now())
}

// ForgetDevice revokes a remembered device ("" for all of them).
func (s *Service) ForgetDevice(ctx context.Context, accountID, id string) error {
	cfg, err := s.factors()
	if err != nil {
		return err
	}
	return cfg.Store.DeleteTrustedDevice(ctx, accountID, id)
}

// RaiseSession records in a session that a second factor was just proved
// in it (an enrolment): it then counts as a second-factor sign-in.
func (s *Service) RaiseSession(ctx context.Context, sess *Session, method string) error {
	setter, ok := s.sessions.(SessionAMRSetter)
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

// CompleteEnrolment finishes a pending sign-in that had to enrol a second
// factor, once the account has one: its code was proved while enrolling,
// and amr names that factor's method (RFC 8176: "otp" for an authenticator
// app, "sms"), the one confirmed last, never what the form says. Without a
// confirmed factor it is ErrFactorState.
func (s *Service) CompleteEnrolment(ctx context.Context, token string) (*storage.Account, []string, error) {
	cfg, err := s.factors()
	if err != nil {
		return nil, nil, err
	}
	p, err := s.PendingSignIn(ctx, token)
	if err != nil {
		return nil, nil, err
	}
	fs, err := cfg.Store.ConfirmedFactors(ctx, p.Account.ID)
	if err != nil {
		return nil, nil, err
	}
	if !p.Row.Enrol || len(fs) == 0 {
		return nil, nil, ErrFactorState
	}
	if err := cfg.Store.TakePending(ctx, p.Row.ID); errors.Is(err, storage.ErrNotFound) {
		return nil, nil, ErrNoPending
	} else if err != nil {
		return nil, nil, err
	}
	latest := fs[0]
	for _, f := range fs[1:] {
		if f.ConfirmedAt != nil && (latest.ConfirmedAt == nil || f.ConfirmedAt.After(*latest.ConfirmedAt)) {
			latest = f
		}
	}
	method := "otp"
	if latest.Kind == FactorSMS {
		method = "sms"
	}
	return p.Account, withMethod(p.AMR(), method), nil
}

// EndOtherSessions ends every session of the account but this one (after
// a second factor is set up: the others were signed in without it).
func (s *Service) EndOtherSessions(ctx context.Context, sess *Session) error {
	if s.life == nil || s.life.Sessions == nil {
		return errors.New("idp: sessions cannot be ended")
	}
	return s.life.Sessions.DeleteSessionsOf(ctx, sess.Account.ID, sess.Row.ID)
}

// enrolment is an account's factor of a kind being enrolled:
// ErrFactorState when there is none (or it is already confirmed).
func (s *Service) enrolment(ctx context.Context, cfg *FactorsConfig, accountID, kind string) (*storage.Factor, error) {
	f, err := cfg.Store.Factor(ctx, accountID, kind)
	if errors.Is(err, storage.ErrNotFound) || err == nil && f.Confirmed {
		return nil, ErrFactorState
	}
	return f, err
}
