package idp

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

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

// The second factors' stores, one per capability (storage.Factors has
// them all): the factors themselves, recovery codes, remembered devices,
// and half-done sign-ins waiting for their second step.

// FactorRowStore keeps an account's second factors.
type FactorRowStore interface {
	PutFactor(ctx context.Context, f *storage.Factor) error
	Factor(ctx context.Context, accountID, kind string) (*storage.Factor, error)
	ConfirmedFactors(ctx context.Context, accountID string) ([]storage.Factor, error)
	ConfirmFactor(ctx context.Context, id string, lastStep int64, now time.Time) error
	AdvanceStep(ctx context.Context, id string, step int64) error
	DeleteFactor(ctx context.Context, accountID, kind string) error
}

// RecoveryCodeStore keeps an account's recovery codes (hashed).
type RecoveryCodeStore interface {
	ReplaceRecoveryCodes(ctx context.Context, accountID string, hashes []string, now time.Time) error
	UseRecoveryCode(ctx context.Context, accountID, hash string, now time.Time) error
	RecoveryCodesLeft(ctx context.Context, accountID string) (int64, error)
}

// TrustedDeviceStore keeps the devices an account remembers.
type TrustedDeviceStore interface {
	CreateTrustedDevice(ctx context.Context, d *storage.TrustedDevice) error
	TrustedDevice(ctx context.Context, id, accountID string, now time.Time) (*storage.TrustedDevice, error)
	TrustedDevices(ctx context.Context, accountID string, now time.Time) ([]storage.TrustedDevice, error)
	DeleteTrustedDevice(ctx context.Context, accountID, id string) error
}

// PendingLoginStore keeps half-done sign-ins.
type PendingLoginStore interface {
	CreatePending(ctx context.Context, p *storage.PendingLogin) error
	Pending(ctx context.Context, id string, now time.Time) (*storage.PendingLogin, error)
	PendingFailed(ctx context.Context, id string, max int) error
	TakePending(ctx context.Context, id string) error
}

// FactorStore keeps everything of second factors (storage.Factors).
type FactorStore interface {
	FactorRowStore
	RecoveryCodeStore
	TrustedDeviceStore
	PendingLoginStore
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

// SecondFactors enrols and proves second factors (TOTP, SMS, recovery
// codes), carries a sign-in from its first factor to its second
// (pending.go), and remembers devices. It owns the factor stores; SMS
// codes and the optional e-mail step go through the shared mail and SMS.
type SecondFactors struct {
	*core
	mfa     *FactorsConfig // nil: second factors are not offered
	rows    FactorRowStore
	codes   RecoveryCodeStore
	trusted TrustedDeviceStore
	pending PendingLoginStore
}

func newSecondFactors(c *core, cfg *FactorsConfig) *SecondFactors {
	s := &SecondFactors{core: c, mfa: cfg}
	if cfg != nil && cfg.Store != nil {
		s.rows, s.codes, s.trusted, s.pending = cfg.Store, cfg.Store, cfg.Store, cfg.Store
	}
	return s
}

// factors is the second factors' configuration: an error when they are
// not configured completely.
func (s *SecondFactors) factors() (*FactorsConfig, error) {
	if s.mfa == nil || s.mfa.Store == nil || s.mfa.Sealer == nil || len(s.mfa.CodeKey) < mfa.MinCodeKeySize {
		return nil, errors.New("idp: second factors are not configured")
	}
	return s.mfa, nil
}

// Factors lists an account's confirmed second factors (none when second
// factors are not configured).
func (s *SecondFactors) Factors(ctx context.Context, accountID string) ([]storage.Factor, error) {
	if s.mfa == nil {
		return nil, nil
	}
	return s.rows.ConfirmedFactors(ctx, accountID)
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
