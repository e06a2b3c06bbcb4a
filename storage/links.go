package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// UpstreamLink ties an account to an identity at an upstream identity
// provider (Google, or any OpenID Connect provider): (Upstream, Subject)
// names the identity and is unique. The upstream's profile is kept as it
// was at the last sign-in, for the legacy user-info endpoints.
type UpstreamLink struct {
	Upstream   string   `gorm:"primaryKey;size:64"`
	Subject    string   `gorm:"primaryKey;size:255"`
	AccountID  string   `gorm:"size:36;not null;index"`
	Email      string   `gorm:"size:320;not null;default:''"`
	GivenName  string   `gorm:"size:200;not null;default:''"`
	FamilyName string   `gorm:"size:200;not null;default:''"`
	Name       string   `gorm:"size:200;not null;default:''"`
	Picture    string   `gorm:"size:2000;not null;default:''"`
	Locale     string   `gorm:"size:35;not null;default:''"`
	Birthdate  string   `gorm:"size:10;not null;default:''"` // as the upstream gave it (OIDC: YYYY-MM-DD, 0000-MM-DD or YYYY)
	RawClaims  string   `gorm:"type:text"`                   // the upstream's claims, a JSON object
	Account    *Account `gorm:"foreignKey:AccountID;constraint:OnDelete:CASCADE"`

	CreatedAt   time.Time `gorm:"not null"`
	LastLoginAt time.Time `gorm:"not null"`
}

// TableName implements gorm's tabler.
func (UpstreamLink) TableName() string { return "upstream_links" }

// Links stores upstream links: the narrow store package idp declares
// (idp.LinkStore).
type Links struct{ db *DB }

// NewLinks returns the link store over db.
func NewLinks(db *DB) *Links { return &Links{db: db} }

// CreateLink inserts a link (in the transaction in ctx, if any); an
// identity already linked is ErrDuplicate, an unknown account ErrNotFound.
func (s *Links) CreateLink(ctx context.Context, l *UpstreamLink) error {
	l.CreatedAt, l.LastLoginAt = utc(l.CreatedAt), utc(l.LastLoginAt)
	if err := s.db.writer(ctx).Create(l).Error; err != nil {
		if isDuplicate(err) {
			return fmt.Errorf("upstream link: %w", ErrDuplicate)
		}
		if isForeignKey(err) {
			return fmt.Errorf("upstream link: account: %w", ErrNotFound)
		}
		return fmt.Errorf("storage: create upstream link: %w", unavailableErr(err))
	}
	return nil
}

// LinkBySubject loads the link of an upstream identity.
func (s *Links) LinkBySubject(ctx context.Context, upstream, subject string) (*UpstreamLink, error) {
	return takeOne[UpstreamLink](s.db.reader(ctx).Where("upstream = ? AND subject = ?", upstream, subject), "upstream link")
}

// LinksOf lists an account's links, oldest first.
func (s *Links) LinksOf(ctx context.Context, accountID string) ([]UpstreamLink, error) {
	var ls []UpstreamLink
	if err := s.db.reader(ctx).Where("account_id = ?", accountID).Order("created_at, upstream, subject").Find(&ls).Error; err != nil {
		return nil, fmt.Errorf("storage: list upstream links: %w", unavailableErr(err))
	}
	return ls, nil
}

// DeleteLink removes one link of an account; a link that is not the
// account's (or does not exist) is ErrNotFound.
func (s *Links) DeleteLink(ctx context.Context, accountID, upstream, subject string) error {
	res := s.db.writer(ctx).Where("account_id = ? AND upstream = ? AND subject = ?", accountID, upstream, subject).Delete(&UpstreamLink{})
	if res.Error != nil {
		return fmt.Errorf("storage: delete upstream link: %w", unavailableErr(res.Error))
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// TouchLink records a sign-in through a link: the upstream's profile as it
// is now (every profile field and RawClaims of p) and LastLoginAt.
func (s *Links) TouchLink(ctx context.Context, upstream, subject string, p UpstreamLink) error {
	res := s.db.writer(ctx).Model(&UpstreamLink{}).Where("upstream = ? AND subject = ?", upstream, subject).Updates(map[string]any{
		"email": p.Email, "given_name": p.GivenName, "family_name": p.FamilyName, "name": p.Name, "picture": p.Picture,
		"locale": p.Locale, "birthdate": p.Birthdate, "raw_claims": p.RawClaims, "last_login_at": utc(p.LastLoginAt),
	})
	if res.Error != nil {
		return fmt.Errorf("storage: update upstream link: %w", unavailableErr(res.Error))
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// isForeignKey recognises a foreign-key violation (SQLite, MySQL 1452).
func isForeignKey(err error) bool {
	if errors.Is(err, gorm.ErrForeignKeyViolated) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "FOREIGN KEY constraint failed") || strings.Contains(msg, "Error 1452")
}

// PendingUpstreamLink is an upstream identity waiting for its owner to
// prove the password of the account it would be linked to (the account
// with the same verified e-mail). Only a hash of the token is stored; it
// is single use and short-lived.
type PendingUpstreamLink struct {
	ID        string    `gorm:"primaryKey;size:64"` // hex SHA-256 of the token
	AccountID string    `gorm:"size:36;not null;index"`
	Identity  string    `gorm:"type:text"` // the upstream identity, JSON (package idp's)
	Flow      string    `gorm:"type:text"` // the caller's opaque state (the authorization request waiting)
	CreatedAt time.Time `gorm:"not null"`
	ExpiresAt time.Time `gorm:"not null;index"`
	Account   *Account  `gorm:"foreignKey:AccountID;constraint:OnDelete:CASCADE"`
}

// TableName implements gorm's tabler.
func (PendingUpstreamLink) TableName() string { return "upstream_links_pending" }

// CreatePendingLink stores a pending link, and drops expired ones.
func (s *Links) CreatePendingLink(ctx context.Context, p *PendingUpstreamLink) error {
	p.CreatedAt, p.ExpiresAt = utc(p.CreatedAt), utc(p.ExpiresAt)
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		w := s.db.writer(ctx)
		if err := w.Where("expires_at <= ?", p.CreatedAt).Delete(&PendingUpstreamLink{}).Error; err != nil {
			return err
		}
		return w.Create(p).Error
	})
	if err != nil {
		return fmt.Errorf("storage: create pending upstream link: %w", unavailableErr(err))
	}
	return nil
}

// PendingLink loads a live pending link by the hash of its token.
func (s *Links) PendingLink(ctx context.Context, id string, now time.Time) (*PendingUpstreamLink, error) {
	return takeOne[PendingUpstreamLink](s.db.reader(ctx).Where("id = ? AND expires_at > ?", id, utc(now)), "pending upstream link")
}

// UsePendingLink consumes a live pending link, once: of concurrent calls
// exactly one succeeds; the others (and an unknown or expired link) get
// ErrNotFound.
func (s *Links) UsePendingLink(ctx context.Context, id string, now time.Time) error {
	res := s.db.writer(ctx).Where("id = ? AND expires_at > ?", id, utc(now)).Delete(&PendingUpstreamLink{})
	if res.Error != nil {
		return fmt.Errorf("storage: use pending upstream link: %w", unavailableErr(res.Error))
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// InTx runs fn in a transaction (see DB.InTx), for a caller that must
// consume a pending link and create the link together.
func (s *Links) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return s.db.InTx(ctx, fn)
}
