package storage

import (
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// The steps of the schema (the list is in migrate.go), each in explicit,
// frozen DDL for both dialects: the schema as the step defined it when it
// was written, never derived from today's models. A fresh database and one
// created by any earlier release go through the same statements, so they
// end with the same schema (TestUpgrade* prove it, and that the models
// still fit: TestModelsFitSchema).
//
// Steps 1–13 were gorm AutoMigrate / AddColumn calls until the migrations
// were frozen; their statements below are exactly what gorm generated for
// them (captured from each release's own run), so a database those
// releases created, which recorded the step as done, is the schema these
// statements make. Every statement is guarded (the table, column or index
// is made only when missing): a MySQL step is not atomic (DDL commits at
// once), so a step cut short runs again; and a database made by a release
// whose step 1 created today's columns at once recorded every step, so
// it never runs them.
//
// Types, for a new step: string with a size → SQLite text / MySQL
// varchar(n); text → text / text; bool → numeric / boolean; int → integer /
// bigint; time → datetime / datetime(3) (NULL when optional); []byte →
// blob / longblob (varbinary(n) with a size). Index names are global on
// SQLite: idx_<table>_<column>. MySQL tables end with
// "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin": identifiers,
// token keys and (lower-cased) e-mail addresses must compare byte for
// byte, not case- or accent-insensitively as MySQL's default collations
// would. (Written out in each statement, not a shared constant: a step's
// text must never change.)

// table is one CREATE TABLE in each dialect's words: on SQLite the table
// then its indexes, on MySQL one statement with its indexes inline.
type table struct {
	name   string
	sqlite []string
	mysql  string
}

// column is one ALTER TABLE … ADD: the column's definition in each dialect.
type column struct {
	table, name   string
	sqlite, mysql string
}

// index is one CREATE INDEX, the same in both dialects.
type index struct {
	table, name, ddl string
}

func isMySQL(tx *gorm.DB) bool { return tx.Dialector.Name() == "mysql" }

// createTables creates each table that does not exist yet.
func createTables(tx *gorm.DB, ts []table) error {
	for _, t := range ts {
		ok, err := hasTable(tx, t.name)
		if err != nil {
			return err
		}
		if ok {
			continue
		}
		stmts := t.sqlite
		if isMySQL(tx) {
			stmts = []string{t.mysql}
		}
		for _, s := range stmts {
			if err := tx.Exec(s).Error; err != nil {
				return fmt.Errorf("create table %s: %w", t.name, err)
			}
		}
	}
	return nil
}

// addColumns adds each column that does not exist yet.
func addColumns(tx *gorm.DB, cs []column) error {
	for _, c := range cs {
		ok, err := hasColumn(tx, c.table, c.name)
		if err != nil {
			return err
		}
		if ok {
			continue
		}
		def := c.sqlite
		if isMySQL(tx) {
			def = c.mysql
		}
		if err := tx.Exec("ALTER TABLE `" + c.table + "` ADD `" + c.name + "` " + def).Error; err != nil {
			return fmt.Errorf("add column %s.%s: %w", c.table, c.name, err)
		}
	}
	return nil
}

// createIndexes creates each index that does not exist yet.
func createIndexes(tx *gorm.DB, ixs []index) error {
	for _, ix := range ixs {
		ok, err := hasIndex(tx, ix.table, ix.name)
		if err != nil {
			return err
		}
		if ok {
			continue
		}
		if err := tx.Exec(ix.ddl).Error; err != nil {
			return fmt.Errorf("create index %s: %w", ix.name, err)
		}
	}
	return nil
}

func hasTable(tx *gorm.DB, name string) (bool, error) {
	q := "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
	if isMySQL(tx) {
		q = "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?"
	}
	return exists(tx, q, name)
}

func hasColumn(tx *gorm.DB, table, name string) (bool, error) {
	q := "SELECT COUNT(*) FROM pragma_table_info(?) WHERE name = ?"
	if isMySQL(tx) {
		q = "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = ?"
	}
	return exists(tx, q, table, name)
}

func hasIndex(tx *gorm.DB, table, name string) (bool, error) {
	q := "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND name = ?"
	if isMySQL(tx) {
		q = "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME = ?"
	}
	return exists(tx, q, table, name)
}

func exists(tx *gorm.DB, q string, args ...any) (bool, error) {
	var n int64
	if err := tx.Raw(q, args...).Scan(&n).Error; err != nil {
		return false, err
	}
	return n > 0, nil
}

// createMigrationsTable makes schema_migrations, the record of applied
// steps (frozen like the steps: gorm's DDL for schemaMigration).
func createMigrationsTable(tx *gorm.DB) error {
	return createTables(tx, []table{
		{"schema_migrations",
			[]string{
				"CREATE TABLE `schema_migrations` (`version` integer,`name` text NOT NULL,`applied_at` datetime NOT NULL,PRIMARY KEY (`version`))",
			},
			"CREATE TABLE `schema_migrations` (`version` bigint,`name` varchar(200) NOT NULL,`applied_at` datetime(3) NOT NULL,PRIMARY KEY (`version`))ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"},
	})
}

// 1 (5f622dc; MySQL's table options since 958b5fa, see binaryCollation).
func migrateInitial(tx *gorm.DB) error {
	return createTables(tx, []table{
		{"tenants",
			[]string{
				"CREATE TABLE `tenants` (`id` text,`name` text NOT NULL,`secret_hash` blob,`redirect_uris` text,`post_logout_redirect_uris` text,`grant_types` text,`response_types` text,`scopes` text,`public` numeric NOT NULL,`first_party` numeric NOT NULL,`access_token_format` text NOT NULL,`customer_token` text NOT NULL,`created_at` datetime NOT NULL,`updated_at` datetime NOT NULL,PRIMARY KEY (`id`))",
				"CREATE UNIQUE INDEX `idx_tenants_customer_token` ON `tenants`(`customer_token`)",
			},
			"CREATE TABLE `tenants` (`id` varchar(64),`name` varchar(200) NOT NULL,`secret_hash` varbinary(255),`redirect_uris` text,`post_logout_redirect_uris` text,`grant_types` text,`response_types` text,`scopes` text,`public` boolean NOT NULL,`first_party` boolean NOT NULL,`access_token_format` varchar(16) NOT NULL,`customer_token` varchar(64) NOT NULL,`created_at` datetime(3) NOT NULL,`updated_at` datetime(3) NOT NULL,PRIMARY KEY (`id`),UNIQUE INDEX `idx_tenants_customer_token` (`customer_token`))ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"},
		tokenTable("oauth2_authorize_codes"),
		tokenTable("oauth2_pkce_requests"),
		tokenTable("oauth2_oidc_sessions"),
		tokenTable("oauth2_access_tokens"),
		tokenTable("oauth2_refresh_tokens"),
		{"accounts",
			[]string{
				"CREATE TABLE `accounts` (`id` text,`email` text,`email_verified` numeric NOT NULL,`password_hash` text NOT NULL,`name` text NOT NULL,`created_at` datetime NOT NULL,`updated_at` datetime NOT NULL,PRIMARY KEY (`id`))",
				"CREATE UNIQUE INDEX `idx_accounts_email` ON `accounts`(`email`)",
			},
			"CREATE TABLE `accounts` (`id` varchar(36),`email` varchar(320),`email_verified` boolean NOT NULL,`password_hash` varchar(255) NOT NULL,`name` varchar(200) NOT NULL,`created_at` datetime(3) NOT NULL,`updated_at` datetime(3) NOT NULL,PRIMARY KEY (`id`),UNIQUE INDEX `idx_accounts_email` (`email`))ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"},
		{"login_sessions",
			[]string{
				"CREATE TABLE `login_sessions` (`id` text,`sid` text NOT NULL,`account_id` text NOT NULL,`auth_time` datetime NOT NULL,`amr` text NOT NULL,`acr` text NOT NULL,`remember` numeric NOT NULL,`created_at` datetime NOT NULL,`expires_at` datetime NOT NULL,`last_seen_at` datetime NOT NULL,PRIMARY KEY (`id`),CONSTRAINT `fk_login_sessions_account` FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON DELETE CASCADE)",
				"CREATE INDEX `idx_login_sessions_expires_at` ON `login_sessions`(`expires_at`)",
				"CREATE INDEX `idx_login_sessions_account_id` ON `login_sessions`(`account_id`)",
				"CREATE UNIQUE INDEX `idx_login_sessions_s_id` ON `login_sessions`(`sid`)",
			},
			"CREATE TABLE `login_sessions` (`id` varchar(64),`sid` varchar(64) NOT NULL,`account_id` varchar(36) NOT NULL,`auth_time` datetime(3) NOT NULL,`amr` varchar(100) NOT NULL,`acr` varchar(100) NOT NULL,`remember` boolean NOT NULL,`created_at` datetime(3) NOT NULL,`expires_at` datetime(3) NOT NULL,`last_seen_at` datetime(3) NOT NULL,PRIMARY KEY (`id`),UNIQUE INDEX `idx_login_sessions_s_id` (`sid`),INDEX `idx_login_sessions_account_id` (`account_id`),INDEX `idx_login_sessions_expires_at` (`expires_at`),CONSTRAINT `fk_login_sessions_account` FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON DELETE CASCADE)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"},
		{"consents",
			[]string{
				"CREATE TABLE `consents` (`account_id` text,`client_id` text,`scopes` text,`granted_at` datetime NOT NULL,PRIMARY KEY (`account_id`,`client_id`),CONSTRAINT `fk_consents_account` FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON DELETE CASCADE,CONSTRAINT `fk_consents_tenant` FOREIGN KEY (`client_id`) REFERENCES `tenants`(`id`) ON DELETE CASCADE)",
			},
			"CREATE TABLE `consents` (`account_id` varchar(36),`client_id` varchar(64),`scopes` text,`granted_at` datetime(3) NOT NULL,PRIMARY KEY (`account_id`,`client_id`),CONSTRAINT `fk_consents_account` FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON DELETE CASCADE,CONSTRAINT `fk_consents_tenant` FOREIGN KEY (`client_id`) REFERENCES `tenants`(`id`) ON DELETE CASCADE)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"},
		{"signing_keys",
			[]string{
				"CREATE TABLE `signing_keys` (`kid` text,`alg` text NOT NULL,`private_key` blob NOT NULL,`created_at` datetime NOT NULL,`retired_at` datetime,`publish_until` datetime,PRIMARY KEY (`kid`))",
				"CREATE INDEX `idx_signing_keys_created_at` ON `signing_keys`(`created_at`)",
			},
			"CREATE TABLE `signing_keys` (`kid` varchar(64),`alg` varchar(16) NOT NULL,`private_key` longblob NOT NULL,`created_at` datetime(3) NOT NULL,`retired_at` datetime(3) NULL,`publish_until` datetime(3) NULL,PRIMARY KEY (`kid`),INDEX `idx_signing_keys_created_at` (`created_at`))ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"},
	})
}

// tokenTable is one of the five token tables of step 1 (one shape, each
// with its own index names).
func tokenTable(name string) table {
	r := strings.NewReplacer("@", name)
	return table{name,
		[]string{
			r.Replace("CREATE TABLE `@` (`id` text,`request_id` text NOT NULL,`requested_at` datetime NOT NULL,`client_id` text NOT NULL,`subject` text NOT NULL,`scopes` text,`granted_scopes` text,`requested_audience` text,`granted_audience` text,`form` text,`session` blob,`active` numeric NOT NULL,`access_id` text NOT NULL,`expires_at` datetime NOT NULL,PRIMARY KEY (`id`))"),
			r.Replace("CREATE INDEX `idx_@_expires_at` ON `@`(`expires_at`)"),
			r.Replace("CREATE INDEX `idx_@_subject` ON `@`(`subject`)"),
			r.Replace("CREATE INDEX `idx_@_client_id` ON `@`(`client_id`)"),
			r.Replace("CREATE INDEX `idx_@_request_id` ON `@`(`request_id`)"),
		},
		r.Replace("CREATE TABLE `@` (`id` varchar(64),`request_id` varchar(64) NOT NULL,`requested_at` datetime(3) NOT NULL,`client_id` varchar(64) NOT NULL,`subject` varchar(255) NOT NULL,`scopes` text,`granted_scopes` text,`requested_audience` text,`granted_audience` text,`form` text,`session` longblob,`active` boolean NOT NULL,`access_id` varchar(64) NOT NULL,`expires_at` datetime(3) NOT NULL,PRIMARY KEY (`id`),INDEX `idx_@_request_id` (`request_id`),INDEX `idx_@_client_id` (`client_id`),INDEX `idx_@_subject` (`subject`),INDEX `idx_@_expires_at` (`expires_at`))ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"),
	}
}

// 2 (cf4b68c).
func migrateOutbox(tx *gorm.DB) error {
	return createTables(tx, []table{
		{"outbox",
			[]string{
				"CREATE TABLE `outbox` (`id` text,`channel` text NOT NULL,`recipient` text NOT NULL,`subject` text NOT NULL,`text` text NOT NULL,`html` text NOT NULL,`from` text NOT NULL,`created_at` datetime NOT NULL,`next_attempt_at` datetime NOT NULL,`attempts` integer NOT NULL,`last_error` text NOT NULL,`sent_at` datetime,`gave_up_at` datetime,`claimed_by` text NOT NULL,`claimed_until` datetime,PRIMARY KEY (`id`))",
				"CREATE INDEX `idx_outbox_sent_at` ON `outbox`(`sent_at`)",
				"CREATE INDEX `idx_outbox_next_attempt_at` ON `outbox`(`next_attempt_at`)",
			},
			"CREATE TABLE `outbox` (`id` varchar(36),`channel` varchar(8) NOT NULL,`recipient` varchar(320) NOT NULL,`subject` varchar(400) NOT NULL,`text` text NOT NULL,`html` text NOT NULL,`from` varchar(320) NOT NULL,`created_at` datetime(3) NOT NULL,`next_attempt_at` datetime(3) NOT NULL,`attempts` bigint NOT NULL,`last_error` varchar(1000) NOT NULL,`sent_at` datetime(3) NULL,`gave_up_at` datetime(3) NULL,`claimed_by` varchar(64) NOT NULL,`claimed_until` datetime(3) NULL,PRIMARY KEY (`id`),INDEX `idx_outbox_next_attempt_at` (`next_attempt_at`),INDEX `idx_outbox_sent_at` (`sent_at`))ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"},
	})
}

// 3 (6bfd5a1).
func migrateLockout(tx *gorm.DB) error {
	return addColumns(tx, []column{
		{"accounts", "failed_logins", "integer NOT NULL DEFAULT 0", "bigint NOT NULL DEFAULT 0"},
		{"accounts", "failure_window_start", "datetime", "datetime(3) NULL"},
		{"accounts", "locked_until", "datetime", "datetime(3) NULL"},
		{"accounts", "lockouts", "integer NOT NULL DEFAULT 0", "bigint NOT NULL DEFAULT 0"},
	})
}

// 4 (30639c6), after binaryCollation.
func migrateConfirmations(tx *gorm.DB) error {
	if err := binaryCollation(tx); err != nil {
		return err
	}
	return createTables(tx, []table{
		{"confirmations",
			[]string{
				"CREATE TABLE `confirmations` (`id` text,`account_id` text NOT NULL,`purpose` text NOT NULL,`target` text NOT NULL,`created_at` datetime NOT NULL,`expires_at` datetime NOT NULL,`used_at` datetime,PRIMARY KEY (`id`),CONSTRAINT `fk_confirmations_account` FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON DELETE CASCADE)",
				"CREATE INDEX `idx_confirmations_expires_at` ON `confirmations`(`expires_at`)",
				"CREATE INDEX `idx_confirmations_created_at` ON `confirmations`(`created_at`)",
				"CREATE INDEX `idx_confirmations_account_id` ON `confirmations`(`account_id`)",
			},
			"CREATE TABLE `confirmations` (`id` varchar(64),`account_id` varchar(36) NOT NULL,`purpose` varchar(16) NOT NULL,`target` varchar(320) NOT NULL,`created_at` datetime(3) NOT NULL,`expires_at` datetime(3) NOT NULL,`used_at` datetime(3) NULL,PRIMARY KEY (`id`),INDEX `idx_confirmations_account_id` (`account_id`),INDEX `idx_confirmations_created_at` (`created_at`),INDEX `idx_confirmations_expires_at` (`expires_at`),CONSTRAINT `fk_confirmations_account` FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON DELETE CASCADE)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"},
	})
}

// binaryCollation repairs a MySQL database made by the first release
// (5f622dc), whose tables took the database's default collation (the
// table options came with 958b5fa): it converts every table that is not
// utf8mb4_bin. Those tables compared client ids, token keys and e-mail
// addresses case- and accent-insensitively, and no release could take
// such a database past step 3: step 4's foreign key from a utf8mb4_bin
// column to accounts.id of another collation is refused ("Foreign key
// constraint is incorrectly formed"). A database made since has nothing
// to convert.
//
// MySQL will not change the collation of a column a foreign key uses, so
// step 1's foreign keys (the only ones at this level) are dropped first
// and made again after, each guarded: a run cut short is completed by the
// next one.
func binaryCollation(tx *gorm.DB) error {
	if !isMySQL(tx) {
		return nil
	}
	var tables []string
	if err := tx.Raw("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' " +
		"AND TABLE_COLLATION <> 'utf8mb4_bin' ORDER BY TABLE_NAME").Scan(&tables).Error; err != nil {
		return err
	}
	if len(tables) > 0 {
		for _, fk := range step1ForeignKeys {
			ok, err := hasForeignKey(tx, fk.table, fk.name)
			if err != nil {
				return err
			}
			if ok {
				if err := tx.Exec("ALTER TABLE `" + fk.table + "` DROP FOREIGN KEY `" + fk.name + "`").Error; err != nil {
					return fmt.Errorf("drop foreign key %s: %w", fk.name, err)
				}
			}
		}
		for _, t := range tables {
			if err := tx.Exec("ALTER TABLE `" + t + "` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin").Error; err != nil {
				return fmt.Errorf("convert %s to utf8mb4_bin: %w", t, err)
			}
		}
	}
	for _, fk := range step1ForeignKeys {
		ok, err := hasForeignKey(tx, fk.table, fk.name)
		if err != nil {
			return err
		}
		if !ok {
			if err := tx.Exec(fk.ddl).Error; err != nil {
				return fmt.Errorf("add foreign key %s: %w", fk.name, err)
			}
		}
	}
	return nil
}

// step1ForeignKeys are the foreign keys step 1 makes (inline in its
// CREATE TABLEs), as MySQL statements of their own.
var step1ForeignKeys = []index{
	{"login_sessions", "fk_login_sessions_account",
		"ALTER TABLE `login_sessions` ADD CONSTRAINT `fk_login_sessions_account` FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON DELETE CASCADE"},
	{"consents", "fk_consents_account",
		"ALTER TABLE `consents` ADD CONSTRAINT `fk_consents_account` FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON DELETE CASCADE"},
	{"consents", "fk_consents_tenant",
		"ALTER TABLE `consents` ADD CONSTRAINT `fk_consents_tenant` FOREIGN KEY (`client_id`) REFERENCES `tenants`(`id`) ON DELETE CASCADE"},
}

func hasForeignKey(tx *gorm.DB, table, name string) (bool, error) {
	return exists(tx, "SELECT COUNT(*) FROM information_schema.TABLE_CONSTRAINTS WHERE TABLE_SCHEMA = DATABASE() "+
		"AND TABLE_NAME = ? AND CONSTRAINT_NAME = ? AND CONSTRAINT_TYPE = 'FOREIGN KEY'", table, name)
}

// 5 (a2fb2b8).
func migrateProfile(tx *gorm.DB) error {
	return addColumns(tx, []column{
		{"accounts", "first_name", "text NOT NULL DEFAULT \"\"", "varchar(100) NOT NULL DEFAULT ''"},
		{"accounts", "last_name", "text NOT NULL DEFAULT \"\"", "varchar(100) NOT NULL DEFAULT ''"},
		{"accounts", "national_code", "text NOT NULL DEFAULT \"\"", "varchar(10) NOT NULL DEFAULT ''"},
		{"accounts", "birthday", "date", "date"},
		{"accounts", "birthday_calendar", "text NOT NULL DEFAULT \"\"", "varchar(16) NOT NULL DEFAULT ''"},
		{"accounts", "picture_url", "text NOT NULL DEFAULT \"\"", "varchar(2000) NOT NULL DEFAULT ''"},
		{"accounts", "address", "text NOT NULL DEFAULT \"\"", "varchar(500) NOT NULL DEFAULT ''"},
		{"accounts", "postal_code", "text NOT NULL DEFAULT \"\"", "varchar(12) NOT NULL DEFAULT ''"},
		{"accounts", "marital_status", "text NOT NULL DEFAULT \"\"", "varchar(16) NOT NULL DEFAULT ''"},
		{"accounts", "facebook_id", "text NOT NULL DEFAULT \"\"", "varchar(100) NOT NULL DEFAULT ''"},
		{"accounts", "instagram_id", "text NOT NULL DEFAULT \"\"", "varchar(100) NOT NULL DEFAULT ''"},
		{"accounts", "twitter_id", "text NOT NULL DEFAULT \"\"", "varchar(100) NOT NULL DEFAULT ''"},
		{"accounts", "linkedin_id", "text NOT NULL DEFAULT \"\"", "varchar(100) NOT NULL DEFAULT ''"},
		{"accounts", "document", "text NOT NULL DEFAULT \"\"", "varchar(200) NOT NULL DEFAULT ''"},
		{"accounts", "telephone", "text NOT NULL DEFAULT \"\"", "varchar(20) NOT NULL DEFAULT ''"},
	})
}

// 6 (f723eb1).
func migrateMemberships(tx *gorm.DB) error {
	return createTables(tx, []table{
		{"memberships",
			[]string{
				"CREATE TABLE `memberships` (`account_id` text,`client_id` text,`role` text NOT NULL DEFAULT \"\",`custom_fields` text,`joined_via` text NOT NULL,`created_at` datetime NOT NULL,PRIMARY KEY (`account_id`,`client_id`),CONSTRAINT `fk_memberships_account` FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON DELETE CASCADE,CONSTRAINT `fk_memberships_tenant` FOREIGN KEY (`client_id`) REFERENCES `tenants`(`id`) ON DELETE CASCADE)",
				"CREATE INDEX `idx_memberships_client_id` ON `memberships`(`client_id`)",
			},
			"CREATE TABLE `memberships` (`account_id` varchar(36),`client_id` varchar(64),`role` varchar(100) NOT NULL DEFAULT '',`custom_fields` text,`joined_via` varchar(16) NOT NULL,`created_at` datetime(3) NOT NULL,PRIMARY KEY (`account_id`,`client_id`),INDEX `idx_memberships_client_id` (`client_id`),CONSTRAINT `fk_memberships_account` FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON DELETE CASCADE,CONSTRAINT `fk_memberships_tenant` FOREIGN KEY (`client_id`) REFERENCES `tenants`(`id`) ON DELETE CASCADE)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"},
	})
}

// 7 (86bdd8a).
func migrateMobile(tx *gorm.DB) error {
	if err := addColumns(tx, []column{
		{"accounts", "mobile", "text", "varchar(16)"},
		{"accounts", "mobile_verified", "numeric NOT NULL DEFAULT false", "boolean NOT NULL DEFAULT false"},
	}); err != nil {
		return err
	}
	return createIndexes(tx, []index{
		{"accounts", "idx_accounts_mobile", "CREATE UNIQUE INDEX `idx_accounts_mobile` ON `accounts`(`mobile`)"},
	})
}

// 8 (488513f).
func migrateCodes(tx *gorm.DB) error {
	return addColumns(tx, []column{
		{"confirmations", "code_hash", "text NOT NULL DEFAULT \"\"", "varchar(64) NOT NULL DEFAULT ''"},
		{"confirmations", "attempts", "integer NOT NULL DEFAULT 0", "bigint NOT NULL DEFAULT 0"},
	})
}

// 9 (0443eef).
func migrateTenantSettings(tx *gorm.DB) error {
	return addColumns(tx, []column{
		{"tenants", "confirm_url", "text NOT NULL DEFAULT \"\"", "varchar(2000) NOT NULL DEFAULT ''"},
		{"tenants", "mail_from", "text NOT NULL DEFAULT \"\"", "varchar(320) NOT NULL DEFAULT ''"},
		{"tenants", "allow_unconfirmed", "numeric NOT NULL DEFAULT false", "boolean NOT NULL DEFAULT false"},
		{"tenants", "require_mfa", "numeric NOT NULL DEFAULT false", "boolean NOT NULL DEFAULT false"},
		{"tenants", "mfa_confirm_email", "numeric NOT NULL DEFAULT false", "boolean NOT NULL DEFAULT false"},
	})
}

// 10 (0b9529b).
func migrateFactors(tx *gorm.DB) error {
	return createTables(tx, []table{
		{"mfa_factors",
			[]string{
				"CREATE TABLE `mfa_factors` (`id` text,`account_id` text NOT NULL,`kind` text NOT NULL,`secret` text NOT NULL DEFAULT \"\",`phone` text NOT NULL DEFAULT \"\",`last_step` integer NOT NULL DEFAULT 0,`confirmed` numeric NOT NULL DEFAULT false,`created_at` datetime,`confirmed_at` datetime,PRIMARY KEY (`id`),CONSTRAINT `fk_mfa_factors_account` FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON DELETE CASCADE)",
				"CREATE UNIQUE INDEX `idx_factor_account_kind` ON `mfa_factors`(`account_id`,`kind`)",
			},
			"CREATE TABLE `mfa_factors` (`id` varchar(36),`account_id` varchar(36) NOT NULL,`kind` varchar(8) NOT NULL,`secret` varchar(500) NOT NULL DEFAULT '',`phone` varchar(16) NOT NULL DEFAULT '',`last_step` bigint NOT NULL DEFAULT 0,`confirmed` boolean NOT NULL DEFAULT false,`created_at` datetime(3) NULL,`confirmed_at` datetime(3) NULL,PRIMARY KEY (`id`),UNIQUE INDEX `idx_factor_account_kind` (`account_id`,`kind`),CONSTRAINT `fk_mfa_factors_account` FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON DELETE CASCADE)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"},
		{"mfa_recovery_codes",
			[]string{
				"CREATE TABLE `mfa_recovery_codes` (`id` text,`account_id` text NOT NULL,`created_at` datetime,`used_at` datetime,PRIMARY KEY (`id`),CONSTRAINT `fk_mfa_recovery_codes_account` FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON DELETE CASCADE)",
				"CREATE INDEX `idx_mfa_recovery_codes_account_id` ON `mfa_recovery_codes`(`account_id`)",
			},
			"CREATE TABLE `mfa_recovery_codes` (`id` varchar(64),`account_id` varchar(36) NOT NULL,`created_at` datetime(3) NULL,`used_at` datetime(3) NULL,PRIMARY KEY (`id`),INDEX `idx_mfa_recovery_codes_account_id` (`account_id`),CONSTRAINT `fk_mfa_recovery_codes_account` FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON DELETE CASCADE)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"},
		{"mfa_trusted_devices",
			[]string{
				"CREATE TABLE `mfa_trusted_devices` (`id` text,`account_id` text NOT NULL,`name` text NOT NULL DEFAULT \"\",`created_at` datetime NOT NULL,`expires_at` datetime NOT NULL,`last_used_at` datetime NOT NULL,PRIMARY KEY (`id`),CONSTRAINT `fk_mfa_trusted_devices_account` FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON DELETE CASCADE)",
				"CREATE INDEX `idx_mfa_trusted_devices_expires_at` ON `mfa_trusted_devices`(`expires_at`)",
				"CREATE INDEX `idx_mfa_trusted_devices_account_id` ON `mfa_trusted_devices`(`account_id`)",
			},
			"CREATE TABLE `mfa_trusted_devices` (`id` varchar(64),`account_id` varchar(36) NOT NULL,`name` varchar(200) NOT NULL DEFAULT '',`created_at` datetime(3) NOT NULL,`expires_at` datetime(3) NOT NULL,`last_used_at` datetime(3) NOT NULL,PRIMARY KEY (`id`),INDEX `idx_mfa_trusted_devices_account_id` (`account_id`),INDEX `idx_mfa_trusted_devices_expires_at` (`expires_at`),CONSTRAINT `fk_mfa_trusted_devices_account` FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON DELETE CASCADE)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"},
		{"mfa_pending_logins",
			[]string{
				"CREATE TABLE `mfa_pending_logins` (`id` text,`account_id` text NOT NULL,`amr` text NOT NULL,`remember` numeric NOT NULL,`client_id` text NOT NULL DEFAULT \"\",`enrol` numeric NOT NULL DEFAULT false,`attempts` integer NOT NULL DEFAULT 0,`created_at` datetime NOT NULL,`expires_at` datetime NOT NULL,PRIMARY KEY (`id`),CONSTRAINT `fk_mfa_pending_logins_account` FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON DELETE CASCADE)",
				"CREATE INDEX `idx_mfa_pending_logins_expires_at` ON `mfa_pending_logins`(`expires_at`)",
				"CREATE INDEX `idx_mfa_pending_logins_account_id` ON `mfa_pending_logins`(`account_id`)",
			},
			"CREATE TABLE `mfa_pending_logins` (`id` varchar(64),`account_id` varchar(36) NOT NULL,`amr` varchar(100) NOT NULL,`remember` boolean NOT NULL,`client_id` varchar(64) NOT NULL DEFAULT '',`enrol` boolean NOT NULL DEFAULT false,`attempts` bigint NOT NULL DEFAULT 0,`created_at` datetime(3) NOT NULL,`expires_at` datetime(3) NOT NULL,PRIMARY KEY (`id`),INDEX `idx_mfa_pending_logins_account_id` (`account_id`),INDEX `idx_mfa_pending_logins_expires_at` (`expires_at`),CONSTRAINT `fk_mfa_pending_logins_account` FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON DELETE CASCADE)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"},
	})
}

// 11 (7d839db).
func migrateUpstreamLinks(tx *gorm.DB) error {
	return createTables(tx, []table{
		{"upstream_links",
			[]string{
				"CREATE TABLE `upstream_links` (`upstream` text,`subject` text,`account_id` text NOT NULL,`email` text NOT NULL DEFAULT \"\",`given_name` text NOT NULL DEFAULT \"\",`family_name` text NOT NULL DEFAULT \"\",`name` text NOT NULL DEFAULT \"\",`picture` text NOT NULL DEFAULT \"\",`locale` text NOT NULL DEFAULT \"\",`birthdate` text NOT NULL DEFAULT \"\",`raw_claims` text,`created_at` datetime NOT NULL,`last_login_at` datetime NOT NULL,PRIMARY KEY (`upstream`,`subject`),CONSTRAINT `fk_upstream_links_account` FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON DELETE CASCADE)",
				"CREATE INDEX `idx_upstream_links_account_id` ON `upstream_links`(`account_id`)",
			},
			"CREATE TABLE `upstream_links` (`upstream` varchar(64),`subject` varchar(255),`account_id` varchar(36) NOT NULL,`email` varchar(320) NOT NULL DEFAULT '',`given_name` varchar(200) NOT NULL DEFAULT '',`family_name` varchar(200) NOT NULL DEFAULT '',`name` varchar(200) NOT NULL DEFAULT '',`picture` varchar(2000) NOT NULL DEFAULT '',`locale` varchar(35) NOT NULL DEFAULT '',`birthdate` varchar(10) NOT NULL DEFAULT '',`raw_claims` text,`created_at` datetime(3) NOT NULL,`last_login_at` datetime(3) NOT NULL,PRIMARY KEY (`upstream`,`subject`),INDEX `idx_upstream_links_account_id` (`account_id`),CONSTRAINT `fk_upstream_links_account` FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON DELETE CASCADE)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"},
		{"upstream_links_pending",
			[]string{
				"CREATE TABLE `upstream_links_pending` (`id` text,`account_id` text NOT NULL,`identity` text,`flow` text,`created_at` datetime NOT NULL,`expires_at` datetime NOT NULL,PRIMARY KEY (`id`),CONSTRAINT `fk_upstream_links_pending_account` FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON DELETE CASCADE)",
				"CREATE INDEX `idx_upstream_links_pending_expires_at` ON `upstream_links_pending`(`expires_at`)",
				"CREATE INDEX `idx_upstream_links_pending_account_id` ON `upstream_links_pending`(`account_id`)",
			},
			"CREATE TABLE `upstream_links_pending` (`id` varchar(64),`account_id` varchar(36) NOT NULL,`identity` text,`flow` text,`created_at` datetime(3) NOT NULL,`expires_at` datetime(3) NOT NULL,PRIMARY KEY (`id`),INDEX `idx_upstream_links_pending_account_id` (`account_id`),INDEX `idx_upstream_links_pending_expires_at` (`expires_at`),CONSTRAINT `fk_upstream_links_pending_account` FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON DELETE CASCADE)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"},
	})
}

// 12 (14409d9).
func migrateConfirmationTenant(tx *gorm.DB) error {
	return addColumns(tx, []column{
		{"confirmations", "client_id", "text NOT NULL DEFAULT \"\"", "varchar(64) NOT NULL DEFAULT ''"},
	})
}

// 13 (c00cf10). A rotation publishes a key at once and signs with it only
// from activates_at (package keys). Keys made before are active since
// their creation: the backfill touches only NULLs, so it re-runs safely.
func migrateKeyActivation(tx *gorm.DB) error {
	if err := addColumns(tx, []column{
		{"signing_keys", "activates_at", "datetime", "datetime(3) NULL"},
	}); err != nil {
		return err
	}
	return tx.Exec("UPDATE `signing_keys` SET `activates_at` = `created_at` WHERE `activates_at` IS NULL").Error
}
