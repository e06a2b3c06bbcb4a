package storage

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
)

// Access tokens are not stored (they are sealed or signed, see the
// provider's strategy): what ends one before its expiry is a row of the
// revocation table, read by one indexed query on every check that accepts
// an access token. A row names one token, one grant (request id), or a
// subject or client whose tokens issued up to a time are over. It is kept
// until every token it can match has expired: the longest access-token
// lifetime after it was written.

const tableRevocations = "oauth2_revocations"

// Revocation kinds: the first letter of a row's id.
const (
	revokeToken   = "t:" // one token: the key of its signature
	revokeGrant   = "g:" // every access token of a grant (request id)
	revokeSubject = "s:" // a subject's tokens issued up to BeforeMS
	revokeClient  = "c:" // a client's tokens issued up to BeforeMS
)

// revocationRow is a row of oauth2_revocations (written and read with
// plain SQL; the model documents the table and is checked against it).
type revocationRow struct {
	ID        string `gorm:"primaryKey;size:191"`
	BeforeMS  int64  `gorm:"not null"`       // tokens issued at or before this (unix ms) are revoked
	ExpiresMS int64  `gorm:"not null;index"` // when gc may drop the row (unix ms)
}

func (revocationRow) TableName() string { return tableRevocations }

// DefaultMaxAccessTokenLifetime is how long a revocation row is kept when
// nothing said how long access tokens live (SetMaxAccessTokenLifetime).
const DefaultMaxAccessTokenLifetime = 24 * time.Hour

// SetMaxAccessTokenLifetime says how long the longest access token lives:
// a revocation row is kept that long after it is written. Every process
// that revokes (the servers, the CLI) sets it from its configuration;
// until then DefaultMaxAccessTokenLifetime applies.
func (db *DB) SetMaxAccessTokenLifetime(d time.Duration) {
	if d > 0 {
		db.maxAccessLifetime.Store(int64(d))
	}
}

func (db *DB) revocationTTL() time.Duration {
	if d := db.maxAccessLifetime.Load(); d > 0 {
		return time.Duration(d)
	}
	return DefaultMaxAccessTokenLifetime
}

// maxLifetime is an atomic duration (zero: the default).
type maxLifetime = atomic.Int64

// TokenRef is what a revocation check needs of an access token.
type TokenRef struct {
	// SignatureKey is the token's own revocation key (RevocationKey of
	// the signature the token was stored under in a refresh row).
	SignatureKey string
	RequestID    string
	Subject      string
	ClientID     string
	IssuedAt     time.Time
}

// RevocationKey is the key a single token is revoked under: the hash of
// the signature fosite handles it by (for sealed and JWT access tokens,
// the token itself), as a refresh row's access_id holds it.
func RevocationKey(signature string) string { return key(signature) }

// IsRevoked reports whether any revocation row matches the token: one
// query on the primary key. An error is a failure of the database
// (ErrUnavailable), never an answer about the token.
func (s *FositeStore) IsRevoked(ctx context.Context, t TokenRef) (bool, error) {
	ids := []any{revokeToken + t.SignatureKey, revokeGrant + t.RequestID, revokeSubject + t.Subject, revokeClient + t.ClientID}
	var rows []revocationRow
	err := s.db.reader(ctx).Raw("SELECT id, before_ms FROM "+tableRevocations+" WHERE id IN (?, ?, ?, ?)", ids...).Scan(&rows).Error
	if err != nil {
		return false, fmt.Errorf("storage: revocation check: %w: %w", ErrUnavailable, err)
	}
	iat := t.IssuedAt.UnixMilli()
	for _, r := range rows {
		if r.BeforeMS >= iat {
			return true, nil
		}
	}
	return false, nil
}

// revoke writes (or widens) one revocation row.
func (s *FositeStore) revoke(ctx context.Context, id string, before int64) error {
	return s.db.write(ctx, func(g *gorm.DB) error { return revokeRow(g, id, before, s.now(), s.db.revocationTTL()) })
}

// revokeRow upserts a row: a second revocation of the same key keeps the
// later time and the later expiry.
func revokeRow(g *gorm.DB, id string, before int64, now time.Time, ttl time.Duration) error {
	exp := now.Add(ttl).UnixMilli()
	q := "INSERT INTO " + tableRevocations + " (id, before_ms, expires_ms) VALUES (?, ?, ?) " +
		"ON CONFLICT(id) DO UPDATE SET before_ms = MAX(before_ms, excluded.before_ms), expires_ms = MAX(expires_ms, excluded.expires_ms)"
	if g.Dialector.Name() == "mysql" {
		q = "INSERT INTO " + tableRevocations + " (id, before_ms, expires_ms) VALUES (?, ?, ?) " +
			"ON DUPLICATE KEY UPDATE before_ms = GREATEST(before_ms, VALUES(before_ms)), expires_ms = GREATEST(expires_ms, VALUES(expires_ms))"
	}
	return g.Exec(q, id, before, exp).Error
}

// RevokeToken ends one access token, by the signature fosite handles it by.
func (s *FositeStore) RevokeToken(ctx context.Context, signature string) error {
	if err := s.revoke(ctx, revokeToken+key(signature), math.MaxInt64); err != nil {
		return fmt.Errorf("storage: revoke token: %w", unavailableErr(err))
	}
	return nil
}

// migrateRevocations is migration 17: the revocation table of access
// tokens that are not stored. Explicit DDL per dialect; every statement
// can run again after a failure half-way (MySQL commits DDL at once).
func migrateRevocations(tx *gorm.DB) error {
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS oauth2_revocations (
			id text NOT NULL PRIMARY KEY,
			before_ms integer NOT NULL,
			expires_ms integer NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS idx_oauth2_revocations_expires_ms ON oauth2_revocations (expires_ms)`,
	}
	if tx.Dialector.Name() == "mysql" {
		stmts = []string{
			`CREATE TABLE IF NOT EXISTS oauth2_revocations (
				id varchar(191) NOT NULL,
				before_ms bigint NOT NULL,
				expires_ms bigint NOT NULL,
				PRIMARY KEY (id),
				KEY idx_oauth2_revocations_expires_ms (expires_ms)
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
