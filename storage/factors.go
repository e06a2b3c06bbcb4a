package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Factor is a second factor of an account: a TOTP authenticator (its seed
// sealed) or an SMS phone. An unconfirmed factor is an enrolment in
// progress and never counts at sign-in.
type Factor struct {
	ID        string `gorm:"primaryKey;size:36"`
	AccountID string `gorm:"size:36;not null;uniqueIndex:idx_factor_account_kind"`
	Kind      string `gorm:"size:8;not null;uniqueIndex:idx_factor_account_kind"` // "totp" or "sms"
	// Secret is the TOTP seed, sealed with the account id as associated data.
	Secret string `gorm:"size:500;not null;default:''"`
	Phone  string `gorm:"size:16;not null;default:''"` // E.164, for "sms"
	// LastStep is the TOTP time step last used: a code of that step or an
	// earlier one is refused (replay).
	LastStep    int64 `gorm:"not null;default:0"`
	Confirmed   bool  `gorm:"not null;default:false"`
	CreatedAt   time.Time
	ConfirmedAt *time.Time
	Account     *Account `gorm:"foreignKey:AccountID;constraint:OnDelete:CASCADE"`
}

// TableName implements gorm's tabler.
func (Factor) TableName() string { return "mfa_factors" }

// RecoveryCode is one single-use recovery code, stored as its keyed hash.
type RecoveryCode struct {
	ID        string `gorm:"primaryKey;size:64"` // keyed hash of the code, bound to the account
	AccountID string `gorm:"size:36;not null;index"`
	CreatedAt time.Time
	UsedAt    *time.Time
	Account   *Account `gorm:"foreignKey:AccountID;constraint:OnDelete:CASCADE"`
}

// TableName implements gorm's tabler.
func (RecoveryCode) TableName() string { return "mfa_recovery_codes" }

// TrustedDevice is a browser whose user chose "remember this device": it
// skips the second factor until it expires or is revoked. Its cookie is
// never stored, only a hash.
type TrustedDevice struct {
	ID         string    `gorm:"primaryKey;size:64"` // hex SHA-256 of the cookie value
	AccountID  string    `gorm:"size:36;not null;index"`
	Name       string    `gorm:"size:200;not null;default:''"` // what the browser said it was
	CreatedAt  time.Time `gorm:"not null"`
	ExpiresAt  time.Time `gorm:"not null;index"`
	LastUsedAt time.Time `gorm:"not null"`
	Account    *Account  `gorm:"foreignKey:AccountID;constraint:OnDelete:CASCADE"`
}

// TableName implements gorm's tabler.
func (TrustedDevice) TableName() string { return "mfa_trusted_devices" }

// PendingLogin is a sign-in half done: the first factor is proved, the
// second is awaited (or must be enrolled first). It gives no session and
// no token. Its cookie is never stored, only a hash.
type PendingLogin struct {
	ID        string `gorm:"primaryKey;size:64"` // hex SHA-256 of the cookie value
	AccountID string `gorm:"size:36;not null;index"`
	AMR       string `gorm:"size:100;not null"` // the first factor's methods
	Remember  bool   `gorm:"not null"`
	ClientID  string `gorm:"size:64;not null;default:''"`
	// Enrol: the account has no second factor but the sign-in needs one,
	// so it must enrol one before it gets a session.
	Enrol bool `gorm:"not null;default:false"`
	// Attempts counts wrong codes against this sign-in.
	Attempts  int       `gorm:"not null;default:0"`
	CreatedAt time.Time `gorm:"not null"`
	ExpiresAt time.Time `gorm:"not null;index"`
	Account   *Account  `gorm:"foreignKey:AccountID;constraint:OnDelete:CASCADE"`
}

// TableName implements gorm's tabler.
func (PendingLogin) TableName() string { return "mfa_pending_logins" }

// Factors stores second factors, recovery codes, trusted devices and
// pending sign-ins: the store idp's second factors declare.
type Factors struct{ db *DB }

// NewFactors returns the second-factor store over db.
func NewFactors(db *DB) *Factors { return &Factors{db: db} }

// PutFactor starts an enrolment: it replaces the account's unconfirmed
// factor of the kind, if any. A confirmed factor of the kind is ErrDuplicate.
func (s *Factors) PutFactor(ctx context.Context, f *Factor) error {
	f.CreatedAt = utc(f.CreatedAt)
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		w := s.db.writer(ctx)
		var old Factor
		err := w.Where("account_id = ? AND kind = ?", f.AccountID, f.Kind).Take(&old).Error
		switch {
		case err == nil && old.Confirmed:
			return ErrDuplicate
		case err == nil:
			if err := w.Delete(&Factor{}, "id = ?", old.ID).Error; err != nil {
				return err
			}
		case !errors.Is(err, gorm.ErrRecordNotFound):
			return err
		}
		return w.Create(f).Error
	})
	if errors.Is(err, ErrDuplicate) {
		return fmt.Errorf("factor %s: %w", f.Kind, ErrDuplicate)
	}
	if err != nil {
		if isDuplicate(err) {
			return fmt.Errorf("factor %s: %w", f.Kind, ErrDuplicate)
		}
		return fmt.Errorf("storage: put factor: %w", unavailableErr(err))
	}
	return nil
}

// Factor loads an account's factor of a kind, confirmed or not.
func (s *Factors) Factor(ctx context.Context, accountID, kind string) (*Factor, error) {
	return takeOne[Factor](s.db.reader(ctx).Where("account_id = ? AND kind = ?", accountID, kind), "factor")
}

// ConfirmedFactors lists an account's confirmed factors, TOTP first.
func (s *Factors) ConfirmedFactors(ctx context.Context, accountID string) ([]Factor, error) {
	var fs []Factor
	if err := s.db.reader(ctx).Where("account_id = ? AND confirmed = ?", accountID, true).Order("kind DESC").Find(&fs).Error; err != nil {
		return nil, fmt.Errorf("storage: list factors: %w", unavailableErr(err))
	}
	return fs, nil
}

// ConfirmFactor completes an enrolment; lastStep is the TOTP step its
// confirming code used (0 for SMS).
func (s *Factors) ConfirmFactor(ctx context.Context, id string, lastStep int64, now time.Time) error {
	now = utc(now)
	res := s.db.writer(ctx).Model(&Factor{}).Where("id = ? AND confirmed = ?", id, false).
		Updates(map[string]any{"confirmed": true, "confirmed_at": now, "last_step": lastStep})
	if res.Error != nil {
		return fmt.Errorf("storage: confirm factor: %w", unavailableErr(res.Error))
	}
	if res.RowsAffected == 0 {
		return ErrConflict
	}
	return nil
}

// AdvanceStep records that a TOTP code of step was used, only if no code
// of that step or a later one was: of two concurrent uses of one code,
// exactly one succeeds (the other gets ErrConflict).
func (s *Factors) AdvanceStep(ctx context.Context, id string, step int64) error {
	res := s.db.writer(ctx).Model(&Factor{}).Where("id = ? AND last_step < ?", id, step).Update("last_step", step)
	if res.Error != nil {
		return fmt.Errorf("storage: advance TOTP step: %w", unavailableErr(res.Error))
	}
	if res.RowsAffected == 0 {
		return ErrConflict
	}
	return nil
}

// DeleteFactor removes an account's factor of a kind. When none is left,
// the recovery codes and trusted devices go too.
func (s *Factors) DeleteFactor(ctx context.Context, accountID, kind string) error {
	return s.db.InTx(ctx, func(ctx context.Context) error {
		w := s.db.writer(ctx)
		res := w.Where("account_id = ? AND kind = ?", accountID, kind).Delete(&Factor{})
		if res.Error != nil {
			return fmt.Errorf("storage: delete factor: %w", unavailableErr(res.Error))
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		var left int64
		if err := w.Model(&Factor{}).Where("account_id = ? AND confirmed = ?", accountID, true).Count(&left).Error; err != nil {
			return fmt.Errorf("storage: delete factor: %w", unavailableErr(err))
		}
		if left > 0 {
			return nil
		}
		if err := w.Where("account_id = ?", accountID).Delete(&RecoveryCode{}).Error; err != nil {
			return fmt.Errorf("storage: delete recovery codes: %w", unavailableErr(err))
		}
		if err := w.Where("account_id = ?", accountID).Delete(&TrustedDevice{}).Error; err != nil {
			return fmt.Errorf("storage: delete trusted devices: %w", unavailableErr(err))
		}
		return nil
	})
}

// ReplaceRecoveryCodes stores a new set of recovery code hashes; the old
// codes stop working.
func (s *Factors) ReplaceRecoveryCodes(ctx context.Context, accountID string, hashes []string, now time.Time) error {
	now = utc(now)
	return s.db.InTx(ctx, func(ctx context.Context) error {
		w := s.db.writer(ctx)
		if err := w.Where("account_id = ?", accountID).Delete(&RecoveryCode{}).Error; err != nil {
			return fmt.Errorf("storage: replace recovery codes: %w", unavailableErr(err))
		}
		rows := make([]RecoveryCode, len(hashes))
		for i, h := range hashes {
			rows[i] = RecoveryCode{ID: h, AccountID: accountID, CreatedAt: now}
		}
		if len(rows) == 0 {
			return nil
		}
		if err := w.Create(&rows).Error; err != nil {
			return fmt.Errorf("storage: replace recovery codes: %w", unavailableErr(err))
		}
		return nil
	})
}

// UseRecoveryCode spends a recovery code once: ErrNotFound for an unknown
// one, or one already used.
func (s *Factors) UseRecoveryCode(ctx context.Context, accountID, hash string, now time.Time) error {
	res := s.db.writer(ctx).Model(&RecoveryCode{}).Where("id = ? AND account_id = ? AND used_at IS NULL", hash, accountID).Update("used_at", utc(now))
	if res.Error != nil {
		return fmt.Errorf("storage: use recovery code: %w", unavailableErr(res.Error))
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// RecoveryCodesLeft counts an account's unused recovery codes.
func (s *Factors) RecoveryCodesLeft(ctx context.Context, accountID string) (int64, error) {
	var n int64
	if err := s.db.reader(ctx).Model(&RecoveryCode{}).Where("account_id = ? AND used_at IS NULL", accountID).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("storage: count recovery codes: %w", unavailableErr(err))
	}
	return n, nil
}

// CreateTrustedDevice remembers a device.
func (s *Factors) CreateTrustedDevice(ctx context.Context, d *TrustedDevice) error {
	d.CreatedAt, d.ExpiresAt, d.LastUsedAt = utc(d.CreatedAt), utc(d.ExpiresAt), utc(d.LastUsedAt)
	if err := s.db.writer(ctx).Create(d).Error; err != nil {
		return fmt.Errorf("storage: trust device: %w", unavailableErr(err))
	}
	return nil
}

// TrustedDevice loads a live trusted device of an account and marks it used.
func (s *Factors) TrustedDevice(ctx context.Context, id, accountID string, now time.Time) (*TrustedDevice, error) {
	now = utc(now)
	var d TrustedDevice
	err := s.db.reader(ctx).Where("id = ? AND account_id = ? AND expires_at > ?", id, accountID, now).Take(&d).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: get trusted device: %w", unavailableErr(err))
	}
	if now.Sub(d.LastUsedAt) > time.Minute {
		if err := s.db.writer(ctx).Model(&TrustedDevice{}).Where("id = ?", id).Update("last_used_at", now).Error; err != nil {
			return nil, fmt.Errorf("storage: touch trusted device: %w", unavailableErr(err))
		}
		d.LastUsedAt = now
	}
	return &d, nil
}

// TrustedDevices lists an account's live trusted devices, newest first.
func (s *Factors) TrustedDevices(ctx context.Context, accountID string, now time.Time) ([]TrustedDevice, error) {
	var ds []TrustedDevice
	if err := s.db.reader(ctx).Where("account_id = ? AND expires_at > ?", accountID, utc(now)).Order("created_at DESC").Find(&ds).Error; err != nil {
		return nil, fmt.Errorf("storage: list trusted devices: %w", unavailableErr(err))
	}
	return ds, nil
}

// DeleteTrustedDevice forgets one device of an account ("" forgets them all).
func (s *Factors) DeleteTrustedDevice(ctx context.Context, accountID, id string) error {
	q := s.db.writer(ctx).Where("account_id = ?", accountID)
	if id != "" {
		q = q.Where("id = ?", id)
	}
	res := q.Delete(&TrustedDevice{})
	if res.Error != nil {
		return fmt.Errorf("storage: forget device: %w", unavailableErr(res.Error))
	}
	if id != "" && res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// CreatePending stores a half-done sign-in.
func (s *Factors) CreatePending(ctx context.Context, p *PendingLogin) error {
	p.CreatedAt, p.ExpiresAt = utc(p.CreatedAt), utc(p.ExpiresAt)
	if err := s.db.writer(ctx).Create(p).Error; err != nil {
		return fmt.Errorf("storage: create pending sign-in: %w", unavailableErr(err))
	}
	return nil
}

// Pending loads a live half-done sign-in.
func (s *Factors) Pending(ctx context.Context, id string, now time.Time) (*PendingLogin, error) {
	return takeOne[PendingLogin](s.db.reader(ctx).Where("id = ? AND expires_at > ?", id, utc(now)), "pending sign-in")
}

// PendingFailed counts a wrong code against a half-done sign-in; after
// max the sign-in is dropped (ErrUsed).
func (s *Factors) PendingFailed(ctx context.Context, id string, max int) error {
	res := s.db.writer(ctx).Model(&PendingLogin{}).Where("id = ? AND attempts < ?", id, max-1).Update("attempts", gorm.Expr("attempts + 1"))
	if res.Error != nil {
		return fmt.Errorf("storage: count a wrong code: %w", unavailableErr(res.Error))
	}
	if res.RowsAffected == 0 {
		if err := s.db.writer(ctx).Delete(&PendingLogin{}, "id = ?", id).Error; err != nil {
			return fmt.Errorf("storage: drop pending sign-in: %w", unavailableErr(err))
		}
		return ErrUsed
	}
	return nil
}

// TakePending ends a half-done sign-in, once: of two concurrent takes,
// one gets ErrNotFound.
func (s *Factors) TakePending(ctx context.Context, id string) error {
	res := s.db.writer(ctx).Delete(&PendingLogin{}, "id = ?", id)
	if res.Error != nil {
		return fmt.Errorf("storage: take pending sign-in: %w", unavailableErr(res.Error))
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}
