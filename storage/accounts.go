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
	if a.Birthday != nil {
		b := utc(*a.Birthday)
		a.Birthday = &b
	}
	if a.Email != nil {
		e := strings.ToLower(*a.Email)
		a.Email = &e
	}
	if err := s.db.writer(ctx).Create(a).Error; err != nil {
		if isDuplicate(err) {
			return fmt.Errorf("account: %w", ErrDuplicate)
		}
		return fmt.Errorf("storage: create account: %w", unavailableErr(err))
	}
	return nil
}

// AccountByID loads an account.
func (s *Accounts) AccountByID(ctx context.Context, id string) (*Account, error) {
	return s.takeAccount(ctx, "id = ?", id)
}

// AccountByMobile loads an account by its E.164 mobile number.
func (s *Accounts) AccountByMobile(ctx context.Context, mobile string) (*Account, error) {
	return s.takeAccount(ctx, "mobile = ?", mobile)
}

// AccountByEmail loads an account by e-mail, case-insensitively.
func (s *Accounts) AccountByEmail(ctx context.Context, email string) (*Account, error) {
	return s.takeAccount(ctx, "email = ?", strings.ToLower(email))
}

func (s *Accounts) takeAccount(ctx context.Context, cond, arg string) (*Account, error) {
	return takeOne[Account](s.db.reader(ctx).Where(cond, arg), "account")
}

// SetPasswordHash replaces an account's password hash (an upgrade or a change).
func (s *Accounts) SetPasswordHash(ctx context.Context, id, hash string) error {
	res := s.db.writer(ctx).Model(&Account{}).Where("id = ?", id).
		Updates(map[string]any{"password_hash": hash, "updated_at": time.Now().UTC()})
	if res.Error != nil {
		return fmt.Errorf("storage: set password: %w", unavailableErr(res.Error))
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
		return fmt.Errorf("storage: create session: %w", unavailableErr(err))
	}
	return nil
}

// SessionByID loads an unexpired login session by the hash of its cookie.
func (s *Accounts) SessionByID(ctx context.Context, id string, now time.Time) (*LoginSession, error) {
	return takeOne[LoginSession](s.db.reader(ctx).Where("id = ? AND expires_at > ?", id, utc(now)), "session")
}

// DeleteSession ends a login session (by the hash of its cookie).
func (s *Accounts) DeleteSession(ctx context.Context, id string) error {
	if err := s.db.write(ctx, func(g *gorm.DB) error { return g.Where("id = ?", id).Delete(&LoginSession{}).Error }); err != nil {
		return fmt.Errorf("storage: delete session: %w", unavailableErr(err))
	}
	return nil
}

// DeleteSessionBySID ends a login session by its public sid.
func (s *Accounts) DeleteSessionBySID(ctx context.Context, sid string) error {
	if err := s.db.write(ctx, func(g *gorm.DB) error { return g.Where("sid = ?", sid).Delete(&LoginSession{}).Error }); err != nil {
		return fmt.Errorf("storage: delete session: %w", unavailableErr(err))
	}
	return nil
}

// DeleteSessionsOf ends every login session of an account but one (keep may be "").
func (s *Accounts) DeleteSessionsOf(ctx context.Context, accountID, keep string) error {
	if err := s.db.writer(ctx).Where("account_id = ? AND id <> ?", accountID, keep).Delete(&LoginSession{}).Error; err != nil {
		return fmt.Errorf("storage: delete sessions: %w", unavailableErr(err))
	}
	return nil
}

// Consent loads what an account granted a tenant.
func (s *Accounts) Consent(ctx context.Context, accountID, clientID string) (*Consent, error) {
	return takeOne[Consent](s.db.reader(ctx).Where("account_id = ? AND client_id = ?", accountID, clientID), "consent")
}

// SaveConsent records (or replaces) what an account granted a tenant.
func (s *Accounts) SaveConsent(ctx context.Context, c *Consent) error {
	c.GrantedAt = utc(c.GrantedAt)
	err := s.db.writer(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "account_id"}, {Name: "client_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"scopes", "granted_at"}),
	}).Create(c).Error
	if err != nil {
		return fmt.Errorf("storage: save consent: %w", unavailableErr(err))
	}
	return nil
}

// LockoutPolicy says when failures lock an account and for how long.
type LockoutPolicy struct {
	MaxFailures int           // failures within Window that lock the account
	Window      time.Duration // how long failures are counted together
	LockFor     func(lockouts int) time.Duration
}

// RecordLoginFailure counts a failed sign-in, atomically, and locks the
// account when the policy says so; it returns the lock's end (nil when not
// locked).
func (s *Accounts) RecordLoginFailure(ctx context.Context, id string, now time.Time, p LockoutPolicy) (*time.Time, error) {
	now = utc(now)
	var locked *time.Time
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		w := s.db.writer(ctx)
		var a Account
		if err := w.Select("id", "failed_logins", "failure_window_start", "lockouts").Where("id = ?", id).Take(&a).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return ErrNotFound
			}
			return err
		}
		n, start := a.FailedLogins+1, a.FailureWindowStart
		if start == nil || now.Sub(*start) > p.Window {
			n, start = 1, &now
		}
		set := map[string]any{"failed_logins": n, "failure_window_start": *start}
		if n >= p.MaxFailures {
			until := now.Add(p.LockFor(a.Lockouts))
			locked = &until
			set = map[string]any{"failed_logins": 0, "failure_window_start": nil, "locked_until": until, "lockouts": a.Lockouts + 1}
		}
		return w.Model(&Account{}).Where("id = ?", id).Updates(set).Error
	})
	if err != nil {
		return nil, fmt.Errorf("storage: record login failure: %w", unavailableErr(err))
	}
	return locked, nil
}

// ClearLoginFailures resets the failure count and lock after a success.
func (s *Accounts) ClearLoginFailures(ctx context.Context, id string) error {
	err := s.db.writer(ctx).Model(&Account{}).Where("id = ?", id).
		Updates(map[string]any{"failed_logins": 0, "failure_window_start": nil, "locked_until": nil, "lockouts": 0}).Error
	if err != nil {
		return fmt.Errorf("storage: clear login failures: %w", unavailableErr(err))
	}
	return nil
}

// UpdateName sets an account's display name.
func (s *Accounts) UpdateName(ctx context.Context, id, name string) error {
	res := s.db.writer(ctx).Model(&Account{}).Where("id = ?", id).Updates(map[string]any{"name": name, "updated_at": time.Now().UTC()})
	if res.Error != nil {
		return fmt.Errorf("storage: update name: %w", unavailableErr(res.Error))
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// UpdateProfile replaces an account's profile and display name.
func (s *Accounts) UpdateProfile(ctx context.Context, id, name string, p Profile) error {
	if p.Birthday != nil {
		b := utc(*p.Birthday)
		p.Birthday = &b
	}
	res := s.db.writer(ctx).Model(&Account{}).Where("id = ?", id).Select(append([]string{"Name", "UpdatedAt"}, ProfileColumns...)).
		Updates(&Account{Name: name, UpdatedAt: time.Now().UTC(), Profile: p})
	if res.Error != nil {
		return fmt.Errorf("storage: update profile: %w", unavailableErr(res.Error))
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// SetSessionAMR records the methods and class a session reached (a second
// factor proved within it).
func (s *Accounts) SetSessionAMR(ctx context.Context, id, amr, acr string) error {
	res := s.db.writer(ctx).Model(&LoginSession{}).Where("id = ?", id).Updates(map[string]any{"amr": amr, "acr": acr})
	if res.Error != nil {
		return fmt.Errorf("storage: raise session: %w", unavailableErr(res.Error))
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}
