package storagetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/manam-id/manam/storage"
)

// The environment that configures the MySQL/MariaDB backend.
const (
	// EnvMySQLDSN names a MySQL or MariaDB server to test against, as a
	// storage DSN: mysql://root:@tcp(127.0.0.1:3306)/test. The user must be
	// allowed to create and drop databases: every test gets its own
	// database, named manam_t_<random>, dropped when the test ends.
	EnvMySQLDSN = "MANAM_TEST_MYSQL_DSN"
	// EnvRequireMySQL set to "1" makes a missing EnvMySQLDSN fail the
	// tests that want MySQL instead of skipping them (for CI).
	EnvRequireMySQL = "MANAM_TEST_REQUIRE_MYSQL"
)

// Backend is one database family the stores run on (get one from
// Backends, SQLite or MySQL). Each test gets a database of its own, so tests
// may run in parallel.
type Backend struct {
	// Name is "sqlite" or "mysql"; use it as the subtest name.
	Name string

	check  func(t testing.TB) string // returns the server DSN, or skips/fails t
	create func(t testing.TB, server string) string
}

// Backends lists every backend: SQLite (always available) and MySQL (skips
// its tests unless EnvMySQLDSN is set).
func Backends() []Backend { return []Backend{SQLite(), MySQL()} }

// SQLite is the embedded backend: a database file in t.TempDir().
func SQLite() Backend {
	return Backend{
		Name:  string(storage.SQLite),
		check: func(testing.TB) string { return "" }, // always available
		create: func(t testing.TB, _ string) string {
			return "sqlite:" + filepath.Join(t.TempDir(), "manam.db")
		},
	}
}

// MySQL is the MySQL/MariaDB backend named by EnvMySQLDSN.
func MySQL() Backend {
	return Backend{
		Name: string(storage.MySQL),
		check: func(t testing.TB) string {
			t.Helper()
			dsn := os.Getenv(EnvMySQLDSN)
			if dsn == "" {
				if os.Getenv(EnvRequireMySQL) == "1" {
					t.Fatalf("%s=1 but %s is not set", EnvRequireMySQL, EnvMySQLDSN)
				}
				t.Skipf("MySQL tests skipped: %s is not set", EnvMySQLDSN)
			}
			return dsn
		},
		create: createMySQLDatabase,
	}
}

// Check skips t when the backend is not configured (fails it instead when
// EnvRequireMySQL=1). NewDSN and Open call it themselves; call it directly
// to skip a whole group of subtests at once.
func (b Backend) Check(t testing.TB) {
	t.Helper()
	b.check(t)
}

// NewDSN creates a fresh, empty (unmigrated) database for t and returns its
// DSN, for storage.Open or for a server started by the test. The database
// is removed when t ends.
func (b Backend) NewDSN(t testing.TB) string {
	t.Helper()
	return b.create(t, b.check(t))
}

// Open creates a fresh database (NewDSN), opens and migrates it, and closes
// it when t ends.
func (b Backend) Open(t testing.TB) *storage.DB {
	t.Helper()
	return OpenDSN(t, b.NewDSN(t))
}

// OpenDSN opens the database dsn names, migrates it, and closes it when t
// ends: for a test that needs both the DSN and an open database.
func OpenDSN(t testing.TB, dsn string) *storage.DB {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("storage.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close %s database: %v", db.Dialect(), err)
		}
	})
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate %s database: %v", db.Dialect(), err)
	}
	return db
}

// createMySQLDatabase creates manam_t_<random> on the server of serverDSN,
// drops it when t ends, and returns serverDSN with its database replaced.
func createMySQLDatabase(t testing.TB, serverDSN string) string {
	t.Helper()
	name := "manam_t_" + randomHex(8)
	dsn, err := withDatabase(serverDSN, name)
	if err != nil {
		t.Fatalf("%s: %v", EnvMySQLDSN, err)
	}
	admin := func(stmt string) error {
		p, err := storage.ParseDSN(serverDSN)
		if err != nil {
			return err
		}
		g, err := gorm.Open(mysql.Open(p.MySQLDSN), &gorm.Config{Logger: logger.Discard})
		if err != nil {
			return err
		}
		s, err := g.DB()
		if err != nil {
			return err
		}
		defer s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return g.WithContext(ctx).Exec(stmt).Error
	}
	if err := admin("CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4"); err != nil {
		t.Fatalf("create MySQL database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := admin("DROP DATABASE IF EXISTS `" + name + "`"); err != nil {
			t.Errorf("drop MySQL database %s: %v", name, err)
		}
	})
	return dsn
}

// withDatabase replaces the database name of a mysql:// DSN.
func withDatabase(dsn, name string) (string, error) {
	rest, ok := strings.CutPrefix(dsn, "mysql://")
	if !ok {
		return "", errors.New("DSN does not start with mysql://")
	}
	base, query, hasQuery := strings.Cut(rest, "?")
	slash := strings.LastIndex(base, "/")
	if slash < 0 || !strings.Contains(base[:slash], "@") {
		return "", errors.New("want mysql://user:pass@tcp(host:port)/db")
	}
	out := "mysql://" + base[:slash+1] + name
	if hasQuery {
		out += "?" + query
	}
	return out, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
