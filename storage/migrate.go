package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// migration is one step of the schema: explicit DDL for each dialect
// (migrations.go), never gorm's AutoMigrate of today's models, so a fresh
// database and an upgraded one take the same steps. The rules for adding
// one are in doc.go ("Schema migrations").
type migration struct {
	version int
	name    string
	up      func(tx *gorm.DB) error
}

// migrations are the steps, in order, numbered from 1 without gaps. Append
// only: a step that has shipped is frozen.
var migrations = []migration{
	{1, "initial schema", migrateInitial},
	{2, "outbox for mail and SMS", migrateOutbox},
	{3, "sign-in failures and lockout", migrateLockout},
	{4, "confirmations", migrateConfirmations},
	{5, "profile fields", migrateProfile},
	{6, "memberships", migrateMemberships},
	{7, "mobile numbers", migrateMobile},
	{8, "one-time codes", migrateCodes},
	{9, "tenant settings", migrateTenantSettings},
	{10, "second factors", migrateFactors},
	{11, "upstream links", migrateUpstreamLinks},
	{12, "the tenant of a confirmation", migrateConfirmationTenant},
	{13, "signing key activation time", migrateKeyActivation},
	{14, "refresh-token grace", migrateRefreshGrace},
	{15, "shared throttles and tenants' back ends", migrateThrottles},
	{16, "ID-token algorithm per tenant", migrateIDTokenAlg},
	{17, "access-token revocations", migrateRevocations},
}

// migrateIDTokenAlg is migration 16: the tenant's ID-token algorithm.
// NOT NULL with a DEFAULT, so the previous release's INSERTs, which do not
// name it, still work while servers are replaced one by one; guarded, so
// a step cut short on MySQL runs again.
func migrateIDTokenAlg(tx *gorm.DB) error {
	return addColumns(tx, []column{
		{"tenants", "id_token_alg", "text NOT NULL DEFAULT 'RS256'", "varchar(8) NOT NULL DEFAULT 'RS256'"},
	})
}

// migrateThrottles adds the throttles' buckets (throttle.go) and the
// tenants' back-end addresses. Idempotent: MySQL commits DDL at once, so
// a step cut short runs again.
func migrateThrottles(tx *gorm.DB) error {
	ddl := []string{
		"CREATE TABLE IF NOT EXISTS throttle_buckets (id text NOT NULL, tat integer NOT NULL, PRIMARY KEY (id))",
		"CREATE INDEX IF NOT EXISTS idx_throttle_buckets_tat ON throttle_buckets (tat)",
	}
	addColumn := "ALTER TABLE tenants ADD COLUMN backend_cidrs text"
	if tx.Dialector.Name() == "mysql" {
		ddl = []string{"CREATE TABLE IF NOT EXISTS throttle_buckets (id varchar(64) NOT NULL, tat bigint NOT NULL, PRIMARY KEY (id), " +
			"KEY idx_throttle_buckets_tat (tat)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"}
		addColumn = "ALTER TABLE tenants ADD COLUMN backend_cidrs text NULL"
	}
	// Guarded: a step cut short on MySQL runs again.
	if !tx.Migrator().HasColumn("tenants", "backend_cidrs") {
		ddl = append(ddl, addColumn)
	}
	for _, q := range ddl {
		if err := tx.Exec(q).Error; err != nil {
			return err
		}
	}
	return nil
}

// SchemaVersion is the version the code expects.
func SchemaVersion() int { return migrations[len(migrations)-1].version }

// Migrate applies every migration not yet applied, in order, and returns
// the versions it applied. Re-running is a no-op. On MySQL a named lock
// keeps replicas starting together from migrating at once.
func (db *DB) Migrate(ctx context.Context) ([]int, error) {
	return db.migrateTo(ctx, SchemaVersion())
}

// migrateTo applies the migrations up to version target.
func (db *DB) migrateTo(ctx context.Context, target int) ([]int, error) {
	g := db.w.WithContext(ctx)
	if db.dialect == MySQL {
		conn, err := db.lockMySQL(ctx)
		if err != nil {
			return nil, err
		}
		defer conn()
	}
	// On SQLite every step runs in a BEGIN IMMEDIATE transaction (DDL is
	// transactional there), so a second process migrating the same file
	// waits, then finds the step done. MySQL commits DDL implicitly, so its
	// steps are not atomic; the named lock above serialises processes and
	// each statement of a step is guarded, so a step cut short runs again.
	if err := g.Transaction(createMigrationsTable); err != nil {
		return nil, fmt.Errorf("storage: migrate: %w", err)
	}
	var applied []int
	for _, m := range migrations {
		if m.version > target {
			break
		}
		ran := false
		err := g.Transaction(func(tx *gorm.DB) error {
			var n int64
			if err := tx.Model(&schemaMigration{}).Where("version = ?", m.version).Count(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if err := m.up(tx); err != nil {
				return err
			}
			ran = true
			return tx.Create(&schemaMigration{Version: m.version, Name: m.name, AppliedAt: time.Now().UTC()}).Error
		})
		if err != nil {
			return applied, fmt.Errorf("storage: migration %d (%s): %w", m.version, m.name, err)
		}
		if ran {
			applied = append(applied, m.version)
		}
	}
	return applied, nil
}

// CurrentVersion is the newest applied migration (0 for an empty database).
func (db *DB) CurrentVersion(ctx context.Context) (int, error) {
	g := db.r.WithContext(ctx)
	if !g.Migrator().HasTable(&schemaMigration{}) {
		return 0, nil
	}
	var v *int
	if err := g.Model(&schemaMigration{}).Select("MAX(version)").Scan(&v).Error; err != nil {
		return 0, fmt.Errorf("storage: schema version: %w", err)
	}
	if v == nil {
		return 0, nil
	}
	return *v, nil
}

// lockMySQL takes the migration lock on a dedicated connection and returns its release.
func (db *DB) lockMySQL(ctx context.Context) (func(), error) {
	sqlDB, err := db.w.DB()
	if err != nil {
		return nil, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("storage: migrate lock: %w", err)
	}
	var got *int
	// The lock is per database: other databases on the server migrate independently.
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(CONCAT('manam_migrate.', DATABASE()), 60)").Scan(&got); err != nil {
		conn.Close()
		return nil, fmt.Errorf("storage: migrate lock: %w", err)
	}
	if got == nil || *got != 1 {
		conn.Close()
		return nil, errors.New("storage: migrate lock: another process held it for 60 s")
	}
	return func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT RELEASE_LOCK(CONCAT('manam_migrate.', DATABASE()))")
		conn.Close()
	}, nil
}
