package idp

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"time"

	"github.com/manam-id/manam/idp/mfa"
	"github.com/manam-id/manam/storage"
)

// RemoveFactor removes a factor after proof (see ProveFactor). Removing
// the last one also ends the recovery codes and trusted devices.
func (s *SecondFactors) RemoveFactor(ctx context.Context, accountID, kind, method, code string) error {
	if _, err := s.factors(); err != nil {
		return err
	}
	if _, err := s.rows.Factor(ctx, accountID, kind); errors.Is(err, storage.ErrNotFound) {
		return ErrFactorState
	} else if err != nil {
		return err
	}
	if err := s.ProveFactor(ctx, accountID, method, code); err != nil {
		return err
	}
	if err := s.rows.DeleteFactor(ctx, accountID, kind); errors.Is(err, storage.ErrNotFound) {
		return ErrFactorState
	} else if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "second factor removed", "account", accountID, "kind", kind)
	return nil
}

// RegenerateRecoveryCodes replaces the recovery codes after proof.
func (s *SecondFactors) RegenerateRecoveryCodes(ctx context.Context, accountID, method, code string) ([]string, error) {
	cfg, err := s.factors()
	if err != nil {
		return nil, err
	}
	if fs, err := s.rows.ConfirmedFactors(ctx, accountID); err != nil {
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
	if err := s.codes.ReplaceRecoveryCodes(ctx, accountID, hashes, s.now()); err != nil {
		return nil, err
	}
	return codes, nil
}

// RecoveryCodesLeft counts the unused recovery codes.
func (s *SecondFactors) RecoveryCodesLeft(ctx context.Context, accountID string) (int64, error) {
	if _, err := s.factors(); err != nil {
		return 0, err
	}
	return s.codes.RecoveryCodesLeft(ctx, accountID)
}

// TrustDevice remembers this browser for the account ("remember this
// device"), and returns the cookie value (stored only hashed).
func (s *SecondFactors) TrustDevice(ctx context.Context, accountID, name string) (string, time.Duration, error) {
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
	if err := s.trusted.CreateTrustedDevice(ctx, &storage.TrustedDevice{ID: id, AccountID: accountID, Name: name, CreatedAt: now,
		ExpiresAt: now.Add(ttl), LastUsedAt: now}); err != nil {
		return "", 0, err
	}
	return token, ttl, nil
}

// TrustedDevices lists the devices an account remembers.
func (s *SecondFactors) TrustedDevices(ctx context.Context, accountID string) ([]storage.TrustedDevice, error) {
	if _, err := s.factors(); err != nil {
		return nil, err
	}
	return s.trusted.TrustedDevices(ctx, accountID, s.now())
}

// ForgetDevice revokes a remembered device ("" for all of them).
func (s *SecondFactors) ForgetDevice(ctx context.Context, accountID, id string) error {
	if _, err := s.factors(); err != nil {
		return err
	}
	return s.trusted.DeleteTrustedDevice(ctx, accountID, id)
}
