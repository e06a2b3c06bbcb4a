package idp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/manam-id/manam/idp/i18n"
	"github.com/manam-id/manam/idp/mfa"
	"github.com/manam-id/manam/storage"
)

// FactorReauthMaxAge is how recent a sign-in must be to set up a second
// factor from the account page, for an account that has no password to
// confirm (one made through an upstream provider).
const FactorReauthMaxAge = 10 * time.Minute

// ProveFactorChange is the re-authentication before a signed-in user sets
// up a second factor from the account page (NIST SP 800-63B §6.1.2.1): a
// stolen session cookie must not be enough to bind the attacker's
// authenticator to the account and, by ending the other sessions, lock the
// owner out. It takes the current password (a wrong one counts towards
// the lockout, like a sign-in) or, for an account without a password, a
// sign-in less than FactorReauthMaxAge old. Failures come back as
// FieldErrors{"current_password": …}.
func (s *SecondFactors) ProveFactorChange(ctx context.Context, sess *Session, password string) error {
	if sess == nil || sess.Row == nil || sess.Account == nil {
		return ErrNoSession
	}
	a, err := s.accounts.AccountByID(ctx, sess.Account.ID)
	if err != nil {
		return err
	}
	if HasPassword(a) {
		return s.proveOwner(ctx, a, password)
	}
	if age := s.now().Sub(sess.Row.AuthTime); age > FactorReauthMaxAge || age < -time.Minute {
		return FieldErrors{"current_password": "Sign in again to set up two-step verification."}
	}
	return nil
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
func (s *SecondFactors) BeginTOTP(ctx context.Context, accountID string) (*TOTPEnrolment, error) {
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
	err = s.rows.PutFactor(ctx, &storage.Factor{ID: newID(), AccountID: a.ID, Kind: FactorTOTP, Secret: sealed, CreatedAt: s.now()})
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
func (s *SecondFactors) PendingTOTP(ctx context.Context, accountID string) (*TOTPEnrolment, error) {
	cfg, err := s.factors()
	if err != nil {
		return nil, err
	}
	a, err := s.accounts.AccountByID(ctx, accountID)
	if err != nil {
		return nil, err
	}
	f, err := s.enrolment(ctx, accountID, FactorTOTP)
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
func (s *SecondFactors) ConfirmTOTP(ctx context.Context, accountID, code string) ([]string, error) {
	cfg, err := s.factors()
	if err != nil {
		return nil, err
	}
	f, err := s.enrolment(ctx, accountID, FactorTOTP)
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

// BeginSMSFactor starts enrolling a phone (international, or national with
// the default country code) as a second factor: a code goes to it, for
// ConfirmSMSFactor. Codes can be sent once a minute.
func (s *SecondFactors) BeginSMSFactor(ctx context.Context, accountID, phone string, links Links) (string, error) {
	if _, err := s.factors(); err != nil {
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
		if err := s.rows.PutFactor(ctx, &storage.Factor{ID: newID(), AccountID: accountID, Kind: FactorSMS, Phone: m, CreatedAt: s.now()}); err != nil {
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
func (s *SecondFactors) ConfirmSMSFactor(ctx context.Context, accountID, code string) ([]string, error) {
	cfg, err := s.factors()
	if err != nil {
		return nil, err
	}
	f, err := s.enrolment(ctx, accountID, FactorSMS)
	if err != nil {
		return nil, err
	}
	if err := s.checkSMS(ctx, accountID, purposeEnrolSMS, code); err != nil {
		return nil, err
	}
	return s.confirmFactor(ctx, cfg, f, 0)
}

// confirmFactor marks an enrolment done and issues recovery codes, atomically.
func (s *SecondFactors) confirmFactor(ctx context.Context, cfg *FactorsConfig, f *storage.Factor, step int64) ([]string, error) {
	codes, hashes, err := s.newRecoveryCodes(cfg, f.AccountID)
	if err != nil {
		return nil, err
	}
	err = s.inTx(ctx, func(ctx context.Context) error {
		if err := s.rows.ConfirmFactor(ctx, f.ID, step, s.now()); errors.Is(err, storage.ErrConflict) {
			return ErrFactorState
		} else if err != nil {
			return err
		}
		return s.codes.ReplaceRecoveryCodes(ctx, f.AccountID, hashes, s.now())
	})
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "second factor enrolled", "account", f.AccountID, "kind", f.Kind)
	return codes, nil
}

func (s *SecondFactors) newRecoveryCodes(cfg *FactorsConfig, accountID string) ([]string, []string, error) {
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

// enrolment is an account's factor of a kind being enrolled:
// ErrFactorState when there is none (or it is already confirmed).
func (s *SecondFactors) enrolment(ctx context.Context, accountID, kind string) (*storage.Factor, error) {
	f, err := s.rows.Factor(ctx, accountID, kind)
	if errors.Is(err, storage.ErrNotFound) || err == nil && f.Confirmed {
		return nil, ErrFactorState
	}
	return f, err
}
