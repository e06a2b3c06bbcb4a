package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ory/fosite"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ErrNotFound is returned by the non-fosite stores for a missing row.
// It matches fosite.ErrNotFound too, so callers on either side can test it.
var ErrNotFound = fmt.Errorf("storage: not found: %w", fosite.ErrNotFound)

// ErrDuplicate reports a unique key already taken.
var ErrDuplicate = errors.New("storage: already exists")

// Client is the fosite client a tenant stands for.
type Client struct {
	fosite.DefaultClient
	Name                   string
	FirstParty             bool
	AccessTokenFormat      string // "opaque" or "jwt"
	PostLogoutRedirectURIs []string
	// RequireMFA: every sign-in through the tenant needs a second factor.
	RequireMFA bool
	// RefreshGrace: how long a rotated refresh token still returns its
	// successor (0: reuse at once revokes the family).
	RefreshGrace time.Duration
	// IDTokenAlg signs the tenant's ID tokens: "RS256" or "ES256".
	IDTokenAlg string
}

// ClientFromTenant builds the fosite client of a tenant row.
func ClientFromTenant(t *Tenant) *Client {
	return &Client{
		DefaultClient: fosite.DefaultClient{
			ID:            t.ID,
			Secret:        t.SecretHash,
			RedirectURIs:  t.RedirectURIs,
			GrantTypes:    t.GrantTypes,
			ResponseTypes: t.ResponseTypes,
			Scopes:        t.Scopes,
			Public:        t.Public,
			Audience:      []string{t.ID}, // a tenant is the default audience of its own tokens
		},
		Name:                   t.Name,
		FirstParty:             t.FirstParty,
		AccessTokenFormat:      t.AccessTokenFormat,
		PostLogoutRedirectURIs: t.PostLogoutRedirectURIs,
		RequireMFA:             t.RequireMFA,
		RefreshGrace:           time.Duration(t.RefreshGraceSeconds) * time.Second,
		IDTokenAlg:             t.IDTokenAlg,
	}
}

// Tenants stores tenants.
type Tenants struct{ db *DB }

// NewTenants returns the tenant store over db.
func NewTenants(db *DB) *Tenants { return &Tenants{db: db} }

// Create inserts a tenant; a taken id or customer token is ErrDuplicate.
func (s *Tenants) Create(ctx context.Context, t *Tenant) error {
	t.CreatedAt, t.UpdatedAt = utc(t.CreatedAt), utc(t.UpdatedAt)
	if err := s.db.writer(ctx).Create(t).Error; err != nil {
		if isDuplicate(err) {
			return fmt.Errorf("tenant %s: %w", t.ID, ErrDuplicate)
		}
		return fmt.Errorf("storage: create tenant: %w", err)
	}
	return nil
}

// Get loads a tenant by client id.
func (s *Tenants) Get(ctx context.Context, id string) (*Tenant, error) {
	return s.take(ctx, "id = ?", id)
}

// ByCustomerToken loads a tenant by its legacy tenant key.
func (s *Tenants) ByCustomerToken(ctx context.Context, token string) (*Tenant, error) {
	return s.take(ctx, "customer_token = ?", token)
}

func (s *Tenants) take(ctx context.Context, cond string, arg string) (*Tenant, error) {
	return takeOne[Tenant](s.db.reader(ctx).Where(cond, arg), "tenant")
}

// List returns every tenant, oldest first.
func (s *Tenants) List(ctx context.Context) ([]Tenant, error) {
	var ts []Tenant
	if err := s.db.reader(ctx).Order("created_at, id").Find(&ts).Error; err != nil {
		return nil, fmt.Errorf("storage: list tenants: %w", err)
	}
	return ts, nil
}

// Modify changes a tenant in one transaction: it is read with a lock,
// changed by fn, and saved, so two concurrent changes (a CLI update and a
// secret rotation, say) cannot write back each other's stale fields. An
// error from fn saves nothing.
func (s *Tenants) Modify(ctx context.Context, id string, fn func(*Tenant) error) error {
	defer s.db.clients.forget(id) // again after the commit: a read meanwhile may have cached the old row
	return s.db.InTx(ctx, func(ctx context.Context) error {
		q := s.db.writer(ctx)
		if s.db.dialect == MySQL {
			q = q.Clauses(clause.Locking{Strength: "UPDATE"}) // SQLite's transaction already holds the write lock
		}
		t, err := takeOne[Tenant](q.Where("id = ?", id), "tenant")
		if err != nil {
			return err
		}
		if err := fn(t); err != nil {
			return err
		}
		return s.Update(ctx, t)
	})
}

// Update saves every field of an existing tenant.
func (s *Tenants) Update(ctx context.Context, t *Tenant) error {
	t.UpdatedAt = time.Now().UTC()
	defer s.db.clients.forget(t.ID)
	res := s.db.writer(ctx).Model(&Tenant{}).Where("id = ?", t.ID).Select("*").Omit("created_at").Updates(t)
	if res.Error != nil {
		if isDuplicate(res.Error) {
			return fmt.Errorf("tenant %s: %w", t.ID, ErrDuplicate)
		}
		return fmt.Errorf("storage: update tenant: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// Delete removes a tenant with its tokens and consents, atomically.
func (s *Tenants) Delete(ctx context.Context, id string) error {
	defer s.db.clients.forget(id)
	return s.db.InTx(ctx, func(ctx context.Context) error {
		w := s.db.writer(ctx)
		for _, table := range []string{tableCodes, tablePKCE, tableOIDC, tableAccess, tableRefresh} {
			if err := w.Table(table).Where("client_id = ?", id).Delete(&TokenRow{}).Error; err != nil {
				return fmt.Errorf("storage: delete tenant tokens: %w", err)
			}
		}
		// Access tokens are not stored: a client row revokes those issued until now.
		if err := revokeRow(w, revokeClient+id, time.Now().UnixMilli(), time.Now(), s.db.revocationTTL()); err != nil {
			return fmt.Errorf("storage: delete tenant tokens: %w", err)
		}
		if err := w.Where("client_id = ?", id).Delete(&Consent{}).Error; err != nil {
			return fmt.Errorf("storage: delete tenant consents: %w", err)
		}
		if err := w.Where("client_id = ?", id).Delete(&Membership{}).Error; err != nil {
			return fmt.Errorf("storage: delete tenant memberships: %w", err)
		}
		res := w.Where("id = ?", id).Delete(&Tenant{})
		if res.Error != nil {
			return fmt.Errorf("storage: delete tenant: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// isDuplicate recognises a unique-key violation on both backends.
func isDuplicate(err error) bool {
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "Error 1062")
}

// utc is how every time reaches the database: SQLite compares stored times
// as text, which is only right when they share one zone.
func utc(t time.Time) time.Time { return t.UTC() }

// AnyRequiresFactorEmail tells whether some tenant asks for the e-mail
// step before a second factor is enrolled (MFAConfirmEmail).
func (s *Tenants) AnyRequiresFactorEmail(ctx context.Context) (bool, error) {
	var n int64
	if err := s.db.reader(ctx).Model(&Tenant{}).Where("mfa_confirm_email = ?", true).Limit(1).Count(&n).Error; err != nil {
		return false, fmt.Errorf("storage: tenants asking for the e-mail step: %w", err)
	}
	return n > 0, nil
}
