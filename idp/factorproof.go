package idp

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"strings"

	"github.com/manam-id/manam/idp/i18n"
	"github.com/manam-id/manam/idp/mfa"
	"github.com/manam-id/manam/storage"
)

// SendFactorCode sends a code to the account's SMS factor (at sign-in, or
// to prove it before removing a factor or renewing recovery codes): once a
// minute, five times a day (quietly nothing beyond that, or without an SMS
// factor).
func (s *SecondFactors) SendFactorCode(ctx context.Context, accountID string, links Links) error {
	if _, err := s.factors(); err != nil {
		return err
	}
	if s.life == nil || len(s.life.CodeKey) == 0 {
		return errors.New("idp: SMS codes are not configured")
	}
	f, err := s.rows.Factor(ctx, accountID, FactorSMS)
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

// ProveFactor checks a signed-in account's second factor (a TOTP code, an
// SMS code sent with SendFactorCode, or a recovery code) before a
// sensitive change; wrong codes count towards the lockout.
func (s *SecondFactors) ProveFactor(ctx context.Context, accountID, method, code string) error {
	a, err := s.accounts.AccountByID(ctx, accountID)
	if err != nil {
		return err
	}
	_, err = s.proveFactor(ctx, a, method, code, guard{}) // a session's own guess: as from an unknown source
	return err
}

// proveFactor checks a code of a confirmed factor or a recovery code, and
// returns the method to record in amr ("otp", "sms", or "" for a
// recovery code). A wrong code is ErrBadCode and counts towards the
// account's lockout (from an unknown source, g); while locked, every code
// from an unknown source is ErrBadCode.
func (s *SecondFactors) proveFactor(ctx context.Context, a *storage.Account, method, code string, g guard) (string, error) {
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

func (s *SecondFactors) checkFactorCode(ctx context.Context, cfg *FactorsConfig, a *storage.Account, method, code string) (string, error) {
	switch method {
	case FactorTOTP:
		f, err := s.rows.Factor(ctx, a.ID, FactorTOTP)
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
		if err := s.rows.AdvanceStep(ctx, f.ID, step); errors.Is(err, storage.ErrConflict) {
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
		if err := s.codes.UseRecoveryCode(ctx, a.ID, mfa.HashCode(cfg.CodeKey, a.ID, norm), s.now()); errors.Is(err, storage.ErrNotFound) {
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
func (s *SecondFactors) checkSMS(ctx context.Context, accountID, purpose, code string) error {
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
