package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Confirmation is a single-use proof sent to an address: an e-mail link
// token (or, later, an SMS code). Only a hash of the secret is stored.
type Confirmation struct {
	ID        string `gorm:"primaryKey;size:64"` // hex SHA-256 of the secret
	AccountID string `gorm:"size:36;not null;index"`
	Purpose   string `gorm:"size:16;not null"` // "email"
	Target    string `gorm:"size:320;not null"`
	// ClientID is the tenant the link was mailed for ("" for none): a
	// surface of another tenant must not take it as its own sign-in.
	ClientID  string     `gorm:"size:64;not null;default:''"`
	CreatedAt time.Time  `gorm:"not null;index"`
	ExpiresAt time.Time  `gorm:"not null;index"`
	UsedAt    *time.Time //
	// One-time codes (SMS): the keyed hash of the code, and the wrong
	// guesses so far. Links have neither: their ID is the hash.
	CodeHash string   `gorm:"size:64;not null;default:''"`
	Attempts int      `gorm:"not null;default:0"`
	Account  *Account `gorm:"foreignKey:AccountID;constraint:OnDelete:CASCADE"`
}

// TableName implements gorm's tabler.
func (Confirmation) TableName() string { return "confirmations" }

// ErrUsed reports a confirmation that was already used or has expired.
var ErrUsed = errors.New("storage: confirmation used or expired")

// CreateConfirmation stores a confirmation (in the transaction in ctx, if any).
func (s *Accounts) CreateConfirmation(ctx context.Context, c *Confirmation) error {
	c.CreatedAt, c.ExpiresAt = utc(c.CreatedAt), utc(c.ExpiresAt)
	if err := s.db.writer(ctx).Create(c).Error; err != nil {
		return fmt.Errorf("storage: create confirmation: %w", unavailableErr(err))
	}
	return nil
}

// UseConfirmation marks a confirmation used, once: it returns the row, or
// ErrNotFound for an unknown one and ErrUsed for one used or expired.
func (s *Accounts) UseConfirmation(ctx context.Context, id, purpose string, now time.Time) (*Confirmation, error) {
	now = utc(now)
	var c Confirmation
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		w := s.db.writer(ctx)
		if err := w.Where("id = ? AND purpose = ?", id, purpose).Take(&c).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return ErrNotFound
			}
			return err
		}
		res := w.Model(&Confirmation{}).Where("id = ? AND used_at IS NULL AND expires_at > ?", id, now).Update("used_at", now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrUsed
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrUsed) {
			return &c, err
		}
		return nil, fmt.Errorf("storage: use confirmation: %w", unavailableErr(err))
	}
	return &c, nil
}

// VoidConfirmations ends an account's unused confirmations of the
// purposes (in the transaction in ctx, if any): links and codes sent
// before a change of password or address must not outlive it.
func (s *Accounts) VoidConfirmations(ctx context.Context, accountID string, purposes []string, now time.Time) error {
	err := s.db.writer(ctx).Model(&Confirmation{}).Where("account_id = ? AND purpose IN ? AND used_at IS NULL", accountID, purposes).
		Update("used_at", utc(now)).Error
	if err != nil {
		return fmt.Errorf("storage: void confirmations: %w", unavailableErr(err))
	}
	return nil
}

// CountConfirmations counts an account's confirmations of a purpose created since.
func (s *Accounts) CountConfirmations(ctx context.Context, accountID, purpose string, since time.Time) (int64, error) {
	var n int64
	err := s.db.reader(ctx).Model(&Confirmation{}).Where("account_id = ? AND purpose = ? AND created_at > ?", accountID, purpose, utc(since)).Count(&n).Error
	if err != nil {
		return 0, fmt.Errorf("storage: count confirmations: %w", unavailableErr(err))
	}
	return n, nil
}

// MarkEmailVerified records that the account's current e-mail is verified
// (only if it is still the address confirmed).
func (s *Accounts) MarkEmailVerified(ctx context.Context, accountID, email string) error {
	res := s.db.writer(ctx).Model(&Account{}).Where("id = ? AND email = ?", accountID, email).
		Updates(map[string]any{"email_verified": true, "updated_at": time.Now().UTC()})
	if res.Error != nil {
		return fmt.Errorf("storage: verify e-mail: %w", unavailableErr(res.Error))
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// CheckCode tries a one-time code against an account's newest live
// confirmation of a purpose: equal(storedHash) decides. A right code marks
// the confirmation used and returns it; a wrong one counts an attempt (kept
// even though the caller is told no), and after maxAttempts the
// confirmation is dead. No live confirmation is ErrNotFound; a wrong or
// exhausted code is ErrUsed.
func (s *Accounts) CheckCode(ctx context.Context, accountID, purpose string, now time.Time, maxAttempts int, equal func(storedHash string) bool) (*Confirmation, error) {
	now = utc(now)
	var c Confirmation
	var wrong bool
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		w := s.db.writer(ctx)
		q := w
		if s.db.dialect == MySQL {
			// A locking read: InnoDB's plain SELECT reads a snapshot, and
			// concurrent tries of one code would all see it unused. (On
			// SQLite the transaction already holds the write lock.)
			q = w.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		err := q.Where("account_id = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?", accountID, purpose, now).
			Order("created_at DESC").Take(&c).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if c.Attempts >= maxAttempts {
			return ErrUsed
		}
		if !equal(c.CodeHash) {
			wrong = true
			return w.Model(&Confirmation{}).Where("id = ? AND attempts < ?", c.ID, maxAttempts).Update("attempts", gorm.Expr("attempts + 1")).Error
		}
		// Exactly one of concurrent right tries wins.
		res := w.Model(&Confirmation{}).Where("id = ? AND used_at IS NULL AND attempts < ?", c.ID, maxAttempts).Update("used_at", now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrUsed
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrUsed) {
			return nil, err
		}
		return nil, fmt.Errorf("storage: check code: %w", unavailableErr(err))
	}
	if wrong {
		return nil, ErrUsed
	}
	return &c, nil
}

// MarkMobileVerified records that the account's current mobile is verified.
func (s *Accounts) MarkMobileVerified(ctx context.Context, accountID, mobile string) error {
	res := s.db.writer(ctx).Model(&Account{}).Where("id = ? AND mobile = ?", accountID, mobile).
		Updates(map[string]any{"mobile_verified": true, "updated_at": time.Now().UTC()})
	if res.Error != nil {
		return fmt.Errorf("storage: verify mobile: %w", unavailableErr(res.Error))
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// ChangeEmail makes a confirmed address the account's e-mail (it is
// verified: the owner proved it); an address another account has is ErrDuplicate.
func (s *Accounts) ChangeEmail(ctx context.Context, accountID, email string) error {
	return s.changeIdentifier(ctx, accountID, map[string]any{"email": strings.ToLower(email), "email_verified": true})
}

// ChangeMobile makes a confirmed number the account's mobile; a number
// another account has is ErrDuplicate.
func (s *Accounts) ChangeMobile(ctx context.Context, accountID, mobile string) error {
	return s.changeIdentifier(ctx, accountID, map[string]any{"mobile": mobile, "mobile_verified": true})
}

func (s *Accounts) changeIdentifier(ctx context.Context, accountID string, set map[string]any) error {
	set["updated_at"] = time.Now().UTC()
	res := s.db.writer(ctx).Model(&Account{}).Where("id = ?", accountID).Updates(set)
	if res.Error != nil {
		if isDuplicate(res.Error) {
			return fmt.Errorf("account: %w", ErrDuplicate)
		}
		return fmt.Errorf("storage: change account identifier: %w", unavailableErr(res.Error))
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}
