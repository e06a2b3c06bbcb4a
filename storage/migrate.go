package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// migration is one step of the schema. The first creates the schema from
// the models as they stood then; every later one is an explicit step.
type migration struct {
	version int
	name    string
	up      func(tx *gorm.DB) error
}

var migrations = []migration{
	{1, "initial schema", func(tx *gorm.DB) error {
		return tableOptions(tx).AutoMigrate(
			&Tenant{},
			&authorizeCodeRow{}, &pkceRow{}, &oidcSessionRow{}, &accessTokenRow{}, &refreshTokenRow{},
			&Account{}, &LoginSession{}, &Consent{},
			&SigningKey{},
		)
	}},
	{2, "outbox for mail and SMS", func(tx *gorm.DB) error {
		return tableOptions(tx).AutoMigrate(&OutboxMessage{})
	}},
	{3, "sign-in failures and lockout", func(tx *gorm.DB) error {
		// Idempotent: a database created after this step was written got
		// the columns from step 1 already.
		for _, col := range []string{"FailedLogins", "FailureWindowStart", "LockedUntil", "Lockouts"} {
			if !tx.Migrator().HasColumn(&Account{}, col) {
				if err := tx.Migrator().AddColumn(&Account{}, col); err != nil {
					return err
				}
			}
		}
		return nil
	}},
	{4, "confirmations", func(tx *gorm.DB) error {
		return tableOptions(tx).AutoMigrate(&Confirmation{})
	}},
	{5, "profile fields", func(tx *gorm.DB) error {
		for _, col := range ProfileColumns {
			if !tx.Migrator().HasColumn(&Account{}, col) {
				if err := tx.Migrator().AddColumn(&Account{}, col); err != nil {
					return err
				}
			}
		}
		return nil
	}},
	{6, "memberships", func(tx *gorm.DB) error {
		return tableOptions(tx).AutoMigrate(&Membership{})
	}},
	{7, "mobile numbers", func(tx *gorm.DB) error {
		for _, col := range []string{"Mobile", "MobileVerified"} {
			if !tx.Migrator().HasColumn(&Account{}, col) {
				if err := tx.Migrator().AddColumn(&Account{}, col); err != nil {
					return err
				}
			}
		}
		if !tx.Migrator().HasIndex(&Account{}, "Mobile") {
			return tx.Migrator().CreateIndex(&Account{}, "Mobile")
		}
		return nil
	}},
	{8, "one-time codes", func(tx *gorm.DB) error {
		for _, col := range []string{"CodeHash", "Attempts"} {
			if !tx.Migrator().HasColumn(&Confirmation{}, col) {
				if err := tx.Migrator().AddColumn(&Confirmation{}, col); err != nil {
					return err
				}
			}
		}
		return nil
	}},
	{9, "tenant settings", func(tx *gorm.DB) error {
		for _, col := range TenantSettingsColumns {
			if !tx.Migrator().HasColumn(&Tenant{}, col) {
				if err := tx.Migrator().AddColumn(&Tenant{}, col); err != nil {
					return err
				}
			}
		}
		return nil
	}},
	{10, "second factors", func(tx *gorm.DB) error {
		return tableOptions(tx).AutoMigrate(&Factor{}, &RecoveryCode{}, &TrustedDevice{}, &PendingLogin{})
	}},
	{11, "upstream links", func(tx *gorm.DB) error {
		return tableOptions(tx).AutoMigrate(&UpstreamLink{}, &PendingUpstreamLink{})
	}},
	{12, "the tenant of a confirmation", func(tx *gorm.DB) error {
		if tx.Migrator().HasColumn(&Confirmation{}, "ClientID") {
			return nil
		}
		return tx.Migrator().AddColumn(&Confirmation{}, "ClientID")
	}},
	{13, "signing key activation time", func(tx *gorm.DB) error {
		// A rotation publishes a key at once and signs with it only from
		// activates_at (package keys). Keys made before are active since
		// their creation. Idempotent: the backfill touches only NULLs.
		if !tx.Migrator().HasColumn(&SigningKey{}, "ActivatesAt") {
			if err := tx.Migrator().AddColumn(&SigningKey{}, "ActivatesAt"); err != nil {
				return err
			}
		}
		return tx.Model(&SigningKey{}).Where("activates_at IS NULL").Update("activates_at", gorm.Expr("created_at")).Error
	}},
	{14, "refresh-token grace", migrateRefreshGrace},
	{15, "shared throttles and tenants' back ends", migrateThrottles},
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
	// A database created since this step was written has the column from
	// step 1 (the tenant model as it is now).
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
	// each step is written to be safe to re-run after a failure.
	if err := g.Transaction(func(tx *gorm.DB) error { return tableOptions(tx).AutoMigrate(&schemaMigration{}) }); err != nil {
		return nil, fmt.Errorf("storage: migrate: %w", err)
	}
	var applied []int
	for _, m := range migrations {
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

// tableOptions makes MySQL tables compare text byte for byte: identifiers,
// token keys and (already lower-cased) e-mail addresses must not match
// case- or accent-insensitively, as MySQL's default collations would.
func tableOptions(g *gorm.DB) *gorm.DB {
	if g.Dialector.Name() == "mysql" {
		return g.Set("gorm:table_options", "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin")
	}
	return g
}
