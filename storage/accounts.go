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

// Accounts stores accounts, login sessions and consents: the narrow stores
// package idp declares.
type Accounts struct{ db *DB }

// NewAccounts returns the account store over db.
func NewAccounts(db *DB) *Accounts { return &Accounts{db: db} }

// CreateAccount inserts an account; a taken e-mail is ErrDuplicate.
func (s *Accounts) CreateAccount(ctx context.Context, a *Account) error {
	a.CreatedAt, a.UpdatedAt = utc(a.CreatedAt), utc(a.UpdatedAt)
	if a.Email != nil {
		e := strings.ToLower(*a.Email)
		a.Email = &e
	}
	if err := s.db.writer(ctx).Create(a).Error; err != nil {
		if isDuplicate(err) {
			return fmt.Errorf("account: %w", ErrDuplicate)
		}
		return fmt.Errorf("storage: create account: %w", err)
	}
	return nil
}

// AccountByID loads an account.
func (s *Accounts) AccountByID(ctx context.Context, id string) (*Account, error) {
	return s.takeAccount(ctx, "id = ?", id)
}

// AccountByEmail loads an account by e-mail, case-insensitively.
func (s *Accounts) AccountByEmail(ctx context.Context, email string) (*Account, error) {
	return s.takeAccount(ctx, "email = ?", strings.ToLower(email))
}

func (s *Accounts) takeAccount(ctx context.Context, cond, arg string) (*Account, error) {
	var a Account
	err := s.db.reader(ctx).Where(cond, arg).Take(&a).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: get account: %w", err)
	}
	return &a, nil
}

// SetPasswordHash replaces an account's password hash (an upgrade or a change).
func (s *Accounts) SetPasswordHash(ctx context.Context, id, hash string) error {
	res := s.db.writer(ctx).Model(&Account{}).Where("id = ?", id).
		Updates(map[string]any{"password_hash": hash, "updated_at": time.Now().UTC()})
	if res.Error != nil {
		return fmt.Errorf("storage: set password: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// CreateSession inserts a login session.
func (s *Accounts) CreateSession(ctx context.Context, ls *LoginSession) error {
	ls.AuthTime, ls.CreatedAt, ls.ExpiresAt, ls.LastSeenAt = utc(ls.AuthTime), utc(ls.CreatedAt), utc(ls.ExpiresAt), utc(ls.LastSeenAt)
	if err := s.db.write(ctx, func(g *gorm.DB) error { return g.Create(ls).Error }); err != nil {
		return fmt.Errorf("storage: create session: %w", err)
	}
	return nil
}

// SessionByID loads an unexpired login session by the hash of its cookie.
func (s *Accounts) SessionByID(ctx context.Context, id string, now time.Time) (*LoginSession, error) {
	var ls LoginSession
	err := s.db.reader(ctx).Where("id = ? AND expires_at > ?", id, utc(now)).Take(&ls).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: get session: %w", err)
	}
	return &ls, nil
}

// DeleteSession ends a login session (by the hash of its cookie).
func (s *Accounts) DeleteSession(ctx context.Context, id string) error {
	if err := s.db.write(ctx, func(g *gorm.DB) error { return g.Where("id = ?", id).Delete(&LoginSession{}).Error }); err != nil {
		return fmt.Errorf("storage: delete session: %w", err)
	}
	return nil
}

// DeleteSessionBySID ends a login session by its public sid.
func (s *Accounts) DeleteSessionBySID(ctx context.Context, sid string) error {
	if err := s.db.write(ctx, func(g *gorm.DB) error { return g.Where("sid = ?", sid).Delete(&LoginSession{}).Error }); err != nil {
		return fmt.Errorf("storage: delete session: %w", err)
	}
	return nil
}

// DeleteSessionsOf ends every login session of an account but one (keep may be "").
func (s *Accounts) DeleteSessionsOf(ctx context.Context, accountID, keep string) error {
	if err := s.db.writer(ctx).Where("account_id = ? AND id <> ?", accountID, keep).Delete(&LoginSession{}).Error; err != nil {
		return fmt.Errorf("storage: delete sessions: %w", err)
	}
	return nil
}

// Consent loads what an account granted a tenant.
func (s *Accounts) Consent(ctx context.Context, accountID, clientID string) (*Consent, error) {
	var c Consent
	err := s.db.reader(ctx).Where("account_id = ? AND client_id = ?", accountID, clientID).Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: get consent: %w", err)
	}
	return &c, nil
}

// SaveConsent records (or replaces) what an account granted a tenant.
func (s *Accounts) SaveConsent(ctx context.Context, c *Consent) error {
	c.GrantedAt = utc(c.GrantedAt)
	err := s.db.writer(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "account_id"}, {Name: "client_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"scopes", "granted_at"}),
	}).Create(c).Error
	if err != nil {
		return fmt.Errorf("storage: save consent: %w", err)
	}
	return nil
}
