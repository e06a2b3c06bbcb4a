package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// MaxRefreshGrace bounds a tenant's refresh-token grace period.
const MaxRefreshGrace = 60 * time.Second

// tableGrace holds, for a refresh token rotated by a tenant with a grace
// period, the sealed answer that rotation gave (its successor pair), so
// a client that lost the answer and presents the rotated token again
// gets the same answer instead of losing its grant. One row per family
// at most (the latest rotation); swept after MaxRefreshGrace.
const tableGrace = "oauth2_refresh_grace"

// refreshGraceRow is a row of oauth2_refresh_grace (written and read
// with plain SQL; the model documents the table and is checked against it).
type refreshGraceRow struct {
	ID          string    `gorm:"primaryKey;size:64"` // the rotated token's key
	RequestID   string    `gorm:"size:64;not null;index"`
	ClientID    string    `gorm:"size:64;not null"`
	SuccessorID string    `gorm:"size:64;not null"`
	Sealed      string    `gorm:"type:text;not null"`
	CreatedAt   time.Time `gorm:"not null;index"`
}

func (refreshGraceRow) TableName() string { return tableGrace }

// migrateRefreshGrace is migration 14: the tenant's grace period and the
// table of answers kept for it. Explicit DDL per dialect; every statement
// can run again after a failure half-way (MySQL commits DDL at once).
func migrateRefreshGrace(tx *gorm.DB) error {
	mysql := tx.Dialector.Name() == "mysql"
	if !tx.Migrator().HasColumn(&Tenant{}, "RefreshGraceSeconds") {
		col := "ALTER TABLE tenants ADD COLUMN refresh_grace integer NOT NULL DEFAULT 0"
		if mysql {
			col = "ALTER TABLE tenants ADD COLUMN refresh_grace bigint NOT NULL DEFAULT 0"
		}
		if err := tx.Exec(col).Error; err != nil {
			return err
		}
	}
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS oauth2_refresh_grace (
			id text NOT NULL PRIMARY KEY,
			request_id text NOT NULL,
			client_id text NOT NULL,
			successor_id text NOT NULL,
			sealed text NOT NULL,
			created_at datetime NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS idx_oauth2_refresh_grace_request_id ON oauth2_refresh_grace (request_id)`,
		`CREATE INDEX IF NOT EXISTS idx_oauth2_refresh_grace_created_at ON oauth2_refresh_grace (created_at)`,
	}
	if mysql {
		stmts = []string{
			`CREATE TABLE IF NOT EXISTS oauth2_refresh_grace (
				id varchar(64) NOT NULL,
				request_id varchar(64) NOT NULL,
				client_id varchar(64) NOT NULL,
				successor_id varchar(64) NOT NULL,
				sealed text NOT NULL,
				created_at datetime(3) NOT NULL,
				PRIMARY KEY (id),
				KEY idx_oauth2_refresh_grace_request_id (request_id),
				KEY idx_oauth2_refresh_grace_created_at (created_at)
			) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
		}
	}
	for _, q := range stmts {
		if err := tx.Exec(q).Error; err != nil {
			return err
		}
	}
	return nil
}

// RefreshGrace is what a rotation left behind for its grace period.
type RefreshGrace struct {
	ClientID  string
	RotatedAt time.Time
	// Sealed is the answer the rotation gave, as the provider sealed it.
	Sealed string
	// SuccessorActive: the successor refresh token is still the live one
	// (not rotated in turn, not revoked).
	SuccessorActive bool
}

// GetRefreshGrace returns what the rotation of the refresh token with
// this signature left behind, or nil if there is nothing (never rotated
// by a tenant with a grace period, swept, or its family revoked).
func (s *FositeStore) GetRefreshGrace(ctx context.Context, signature string) (*RefreshGrace, error) {
	var row struct {
		ClientID  string
		CreatedAt time.Time
		Sealed    string
		Active    bool
	}
	err := s.db.reader(ctx).Raw("SELECT g.client_id, g.created_at, g.sealed, r.active FROM "+tableGrace+" g JOIN "+tableRefresh+
		" r ON r.id = g.successor_id WHERE g.id = ?", key(signature)).Scan(&row).Error
	if err != nil {
		return nil, fmt.Errorf("storage: get refresh grace: %w", unavailableErr(err))
	}
	if row.Sealed == "" {
		return nil, nil
	}
	return &RefreshGrace{ClientID: row.ClientID, RotatedAt: row.CreatedAt, Sealed: row.Sealed, SuccessorActive: row.Active}, nil
}

// SetRefreshGrace records, in the transaction of the rotation (ctx must
// carry it), the sealed answer of rotating signature into successor.
// The family's earlier record goes: only the token just rotated has a
// grace period.
func (s *FositeStore) SetRefreshGrace(ctx context.Context, requestID, clientID, signature, successor, sealed string) error {
	if _, ok := ctx.Value(txKey{}).(*gorm.DB); !ok {
		return errors.New("storage: set refresh grace: not in the rotation's transaction")
	}
	w := s.db.writer(ctx)
	if err := w.Exec("DELETE FROM "+tableGrace+" WHERE request_id = ?", requestID).Error; err != nil {
		return fmt.Errorf("storage: set refresh grace: %w", unavailableErr(err))
	}
	if err := w.Exec("INSERT INTO "+tableGrace+" (id, request_id, client_id, successor_id, sealed, created_at) VALUES (?, ?, ?, ?, ?, ?)",
		key(signature), requestID, clientID, key(successor), sealed, s.now()).Error; err != nil {
		return fmt.Errorf("storage: set refresh grace: %w", unavailableErr(err))
	}
	return nil
}

// dropRefreshGrace forgets the grace record of a family (revoked).
func (s *FositeStore) dropRefreshGrace(ctx context.Context, requestID string) error {
	if err := s.db.write(ctx, func(g *gorm.DB) error {
		return g.Exec("DELETE FROM "+tableGrace+" WHERE request_id = ?", requestID).Error
	}); err != nil {
		return fmt.Errorf("storage: drop refresh grace: %w", unavailableErr(err))
	}
	return nil
}
