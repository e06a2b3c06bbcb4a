package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Membership is an account's place in one tenant: how it joined, its role
// there, and the tenant's own fields about it. A tenant sees only its members.
type Membership struct {
	AccountID    string         `gorm:"primaryKey;size:36"`
	ClientID     string         `gorm:"primaryKey;size:64;index"`
	Role         string         `gorm:"size:100;not null;default:''"`
	CustomFields map[string]any `gorm:"serializer:json;type:text"`
	JoinedVia    string         `gorm:"size:16;not null"` // registration, sign-in, import, upstream
	CreatedAt    time.Time      `gorm:"not null"`
	Account      *Account       `gorm:"foreignKey:AccountID;constraint:OnDelete:CASCADE"`
	Tenant       *Tenant        `gorm:"foreignKey:ClientID;constraint:OnDelete:CASCADE"`
}

// TableName implements gorm's tabler.
func (Membership) TableName() string { return "memberships" }

// EnsureMembership makes the account a member of the tenant if it is not
// one yet (an existing membership is left as it is) and reports whether it
// joined now.
func (s *Accounts) EnsureMembership(ctx context.Context, accountID, clientID, via string, now time.Time) (bool, error) {
	if _, err := s.Membership(ctx, accountID, clientID); err == nil {
		return false, nil // the common case: a read, no write
	} else if !errors.Is(err, ErrNotFound) {
		return false, err
	}
	// INSERT IGNORE (OR IGNORE on SQLite) reports 0 rows for a duplicate on
	// both backends; MySQL's ON DUPLICATE KEY would count the matched row.
	ignore := clause.Insert{Modifier: "OR IGNORE"}
	if s.db.dialect == MySQL {
		ignore = clause.Insert{Modifier: "IGNORE"}
	}
	res := s.db.writer(ctx).Clauses(ignore).
		Create(&Membership{AccountID: accountID, ClientID: clientID, JoinedVia: via, CustomFields: map[string]any{}, CreatedAt: utc(now)})
	if res.Error != nil {
		return false, fmt.Errorf("storage: join tenant: %w", unavailableErr(res.Error))
	}
	return res.RowsAffected == 1, nil
}

// Membership loads an account's membership of a tenant.
func (s *Accounts) Membership(ctx context.Context, accountID, clientID string) (*Membership, error) {
	var m Membership
	err := s.db.reader(ctx).Where("account_id = ? AND client_id = ?", accountID, clientID).Take(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: membership: %w", unavailableErr(err))
	}
	return &m, nil
}

// Members lists a tenant's members, oldest first, at most limit after the
// account id after (for paging; "" starts at the beginning).
func (s *Accounts) Members(ctx context.Context, clientID, after string, limit int) ([]Membership, error) {
	var ms []Membership
	err := s.db.reader(ctx).Where("client_id = ? AND account_id > ?", clientID, after).Order("account_id").Limit(limit).Find(&ms).Error
	if err != nil {
		return nil, fmt.Errorf("storage: members: %w", unavailableErr(err))
	}
	return ms, nil
}

// UpdateMembership sets a member's role (when role is not nil) and merges
// fields into its custom fields (a nil value removes a field), in one
// statement-level update of the row read in the caller's transaction.
func (s *Accounts) UpdateMembership(ctx context.Context, accountID, clientID string, role *string, fields map[string]any) error {
	m, err := s.Membership(ctx, accountID, clientID)
	if err != nil {
		return err
	}
	set := map[string]any{}
	if role != nil {
		set["role"] = *role
	}
	if len(fields) > 0 {
		merged := map[string]any{}
		for k, v := range m.CustomFields {
			merged[k] = v
		}
		for k, v := range fields {
			if v == nil {
				delete(merged, k)
			} else {
				merged[k] = v
			}
		}
		b, err := json.Marshal(merged)
		if err != nil {
			return fmt.Errorf("storage: custom fields: %w", unavailableErr(err))
		}
		set["custom_fields"] = string(b)
	}
	if len(set) == 0 {
		return nil
	}
	res := s.db.writer(ctx).Model(&Membership{}).Where("account_id = ? AND client_id = ?", accountID, clientID).Updates(set)
	if res.Error != nil {
		return fmt.Errorf("storage: update membership: %w", unavailableErr(res.Error))
	}
	return nil
}
