package storage_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
	"gorm.io/gorm"

	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

// TestFositeMemoryStore runs the conformance suite on fosite's own
// MemoryStore: the suite must encode fosite's semantics, not ours.
func TestFositeMemoryStore(t *testing.T) {
	storagetest.RunFosite(t, storagetest.MemoryHarness())
}

// TestFositeStore runs the conformance suite, and the stricter promises of
// Manam's store, on every backend.
func TestFositeStore(t *testing.T) {
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			b.Check(t)
			h := storagetest.StoreHarness(b)
			t.Run("Conformance", func(t *testing.T) { storagetest.RunFosite(t, h) })
			t.Run("Strict", func(t *testing.T) { storagetest.RunFositeStrict(t, h) })
		})
	}
}

// --- running table tests on every backend ----------------------------------

// env is one subtest's database.
type env struct {
	db  *storage.DB
	dsn string
}

type dbCase struct {
	name string
	run  func(t *testing.T, e env)
}

// runOnBackends runs every case on every backend, each on a fresh,
// migrated database, in parallel.
func runOnBackends(t *testing.T, cases []dbCase) {
	t.Helper()
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			b.Check(t)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					dsn := b.NewDSN(t)
					c.run(t, env{db: storagetest.OpenDSN(t, dsn), dsn: dsn})
				})
			}
		})
	}
}

// --- DSNs -------------------------------------------------------------------------

func TestParseDSN(t *testing.T) {
	cases := []struct {
		name string
		dsn  string
		want storage.ParsedDSN
		bad  bool // want ErrBadDSN
	}{
		{name: "sqlite absolute path", dsn: "sqlite:/var/lib/manam/manam.db",
			want: storage.ParsedDSN{Dialect: storage.SQLite, Path: "/var/lib/manam/manam.db", Synchronous: "FULL"}},
		{name: "sqlite URL form", dsn: "sqlite:///var/lib/manam/manam.db",
			want: storage.ParsedDSN{Dialect: storage.SQLite, Path: "/var/lib/manam/manam.db", Synchronous: "FULL"}},
		{name: "sqlite relative path", dsn: "sqlite:manam.db",
			want: storage.ParsedDSN{Dialect: storage.SQLite, Path: "manam.db", Synchronous: "FULL"}},
		{name: "sqlite synchronous=normal", dsn: "sqlite:/tmp/m.db?synchronous=normal",
			want: storage.ParsedDSN{Dialect: storage.SQLite, Path: "/tmp/m.db", Synchronous: "NORMAL"}},
		{name: "sqlite synchronous=EXTRA", dsn: "sqlite:/tmp/m.db?synchronous=EXTRA",
			want: storage.ParsedDSN{Dialect: storage.SQLite, Path: "/tmp/m.db", Synchronous: "EXTRA"}},
		{name: "sqlite synchronous=off is refused", dsn: "sqlite:/tmp/m.db?synchronous=off", bad: true},
		{name: "sqlite unknown option", dsn: "sqlite:/tmp/m.db?cache=shared", bad: true},
		{name: "sqlite without path", dsn: "sqlite:", bad: true},
		{name: "sqlite bad query", dsn: "sqlite:/tmp/m.db?synchronous=%zz", bad: true},
		{name: "mysql", dsn: "mysql://root:@tcp(127.0.0.1:3306)/test",
			want: storage.ParsedDSN{Dialect: storage.MySQL, MySQLDSN: "root:@tcp(127.0.0.1:3306)/test?charset=utf8mb4&loc=UTC&parseTime=true"}},
		{name: "mysql keeps options but forces UTC times", dsn: "mysql://u:p@tcp(db:3306)/manam?charset=latin1&loc=Local&timeout=5s",
			want: storage.ParsedDSN{Dialect: storage.MySQL, MySQLDSN: "u:p@tcp(db:3306)/manam?charset=latin1&loc=UTC&parseTime=true&timeout=5s"}},
		{name: "mysql with password", dsn: "mysql://manam:s3cret@tcp(db.internal:3307)/idp",
			want: storage.ParsedDSN{Dialect: storage.MySQL, MySQLDSN: "manam:s3cret@tcp(db.internal:3307)/idp?charset=utf8mb4&loc=UTC&parseTime=true"}},
		{name: "mysql without database", dsn: "mysql://root@localhost", bad: true},
		{name: "mysql without user", dsn: "mysql://tcp(db:3306)/manam", bad: true},
		{name: "garbage", dsn: "not a dsn", bad: true},
		{name: "empty", dsn: "", bad: true},
		{name: "other database", dsn: "postgres://u:secret@db/manam", bad: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := storage.ParseDSN(c.dsn)
			if c.bad {
				if !errors.Is(err, storage.ErrBadDSN) {
					t.Fatalf("ParseDSN(%q) = %+v, %v; want ErrBadDSN", c.dsn, got, err)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error %q shows the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseDSN(%q): %v", c.dsn, err)
			}
			if c.want.Dialect == storage.MySQL {
				// The driver options may grow: compare the address and the
				// options the test names, not the whole string.
				gotBase, gotQuery, _ := strings.Cut(got.MySQLDSN, "?")
				wantBase, wantQuery, _ := strings.Cut(c.want.MySQLDSN, "?")
				gq, err := url.ParseQuery(gotQuery)
				if err != nil {
					t.Fatalf("MySQLDSN %q: %v", got.MySQLDSN, err)
				}
				wq, _ := url.ParseQuery(wantQuery)
				if gotBase != wantBase {
					t.Errorf("MySQL address = %q, want %q", gotBase, wantBase)
				}
				for k := range wq {
					if gq.Get(k) != wq.Get(k) {
						t.Errorf("MySQL option %s = %q, want %q (DSN %q)", k, gq.Get(k), wq.Get(k), got.MySQLDSN)
					}
				}
				got.MySQLDSN, c.want.MySQLDSN = "", ""
			}
			if got != c.want {
				t.Errorf("ParseDSN(%q) = %+v, want %+v", c.dsn, got, c.want)
			}
		})
	}
}

// --- migrations -------------------------------------------------------------------

func TestMigrate(t *testing.T) {
	all := make([]int, storage.SchemaVersion())
	for i := range all {
		all[i] = i + 1
	}
	open := func(t *testing.T, dsn string) *storage.DB {
		t.Helper()
		db, err := storage.Open(context.Background(), dsn)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	version := func(t *testing.T, db *storage.DB, want int) {
		t.Helper()
		v, err := db.CurrentVersion(context.Background())
		if err != nil || v != want {
			t.Errorf("CurrentVersion = %d, %v; want %d", v, err, want)
		}
	}
	cases := []struct {
		name string
		run  func(t *testing.T, dsn string)
	}{
		{"fresh database applies every migration", func(t *testing.T, dsn string) {
			db := open(t, dsn)
			version(t, db, 0)
			got, err := db.Migrate(context.Background())
			if err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			if !slices.Equal(got, all) {
				t.Errorf("Migrate applied %v, want %v", got, all)
			}
			version(t, db, storage.SchemaVersion())
		}},
		{"second run applies nothing", func(t *testing.T, dsn string) {
			db := open(t, dsn)
			if _, err := db.Migrate(context.Background()); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			got, err := db.Migrate(context.Background())
			if err != nil || len(got) != 0 {
				t.Errorf("second Migrate = %v, %v; want nothing applied", got, err)
			}
			version(t, db, storage.SchemaVersion())
		}},
		{"reopened database applies nothing", func(t *testing.T, dsn string) {
			db := open(t, dsn)
			if _, err := db.Migrate(context.Background()); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			if err := db.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			db = open(t, dsn)
			got, err := db.Migrate(context.Background())
			if err != nil || len(got) != 0 {
				t.Errorf("Migrate after reopen = %v, %v; want nothing applied", got, err)
			}
			version(t, db, storage.SchemaVersion())
		}},
		{"concurrent runs apply each migration once", func(t *testing.T, dsn string) {
			// Replicas starting together on one database (the MySQL lock in
			// migrate.go), or `manam migrate` beside a starting server on
			// SQLite (immediate transactions per step).
			dbs := []*storage.DB{open(t, dsn), open(t, dsn), open(t, dsn)}
			applied := make([][]int, len(dbs))
			errs := make([]error, len(dbs))
			var wg sync.WaitGroup
			for i, db := range dbs {
				wg.Go(func() { applied[i], errs[i] = db.Migrate(context.Background()) })
			}
			wg.Wait()
			var union []int
			for i := range dbs {
				if errs[i] != nil {
					t.Errorf("Migrate %d: %v", i, errs[i])
				}
				union = append(union, applied[i]...)
			}
			slices.Sort(union)
			if !slices.Equal(union, all) {
				t.Errorf("migrations applied %v in all, want %v once each", union, all)
			}
			version(t, dbs[0], storage.SchemaVersion())
		}},
	}
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			b.Check(t)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.run(t, b.NewDSN(t))
				})
			}
		})
	}
}

// --- helpers ----------------------------------------------------------------------

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// addTenant creates tenant (and OAuth client) id.
func addTenant(t *testing.T, db *storage.DB, id string) *storage.Tenant {
	t.Helper()
	tn := storagetest.TenantOf(&fosite.DefaultClient{
		ID:            id,
		Secret:        []byte("hash-" + id),
		RedirectURIs:  []string{"https://" + id + ".example.com/cb"},
		GrantTypes:    []string{"authorization_code", "refresh_token"},
		ResponseTypes: []string{"code"},
		Scopes:        []string{"openid", "offline_access"},
	})
	if err := storage.NewTenants(db).Create(context.Background(), tn); err != nil {
		t.Fatalf("create tenant %s: %v", id, err)
	}
	return tn
}

// addAccount creates an account with e-mail email ("" for none).
func addAccount(t *testing.T, db *storage.DB, email string) *storage.Account {
	t.Helper()
	a := &storage.Account{ID: "acct-" + randomHex(8), PasswordHash: "hash", Name: "Test User"}
	if email != "" {
		a.Email = &email
	}
	if err := storage.NewAccounts(db).CreateAccount(context.Background(), a); err != nil {
		t.Fatalf("create account %s: %v", email, err)
	}
	return a
}

func newFositeStore(db *storage.DB) *storage.FositeStore {
	return storage.NewFositeStore(db, func() fosite.Session { return new(openid.DefaultSession) })
}

// tokenRequest is a stored request of clientID for subject whose tokens all
// expire at exp (never, for a zero exp).
func tokenRequest(clientID, subject string, exp time.Time) *fosite.Request {
	sess := &openid.DefaultSession{Subject: subject, Claims: &jwt.IDTokenClaims{Subject: subject}, Headers: &jwt.Headers{}}
	if !exp.IsZero() {
		for _, tt := range []fosite.TokenType{fosite.AuthorizeCode, fosite.AccessToken, fosite.RefreshToken} {
			sess.SetExpiresAt(tt, exp)
		}
	}
	return &fosite.Request{
		ID:          "req-" + randomHex(8),
		RequestedAt: time.Now().UTC().Truncate(time.Second),
		Client:      &fosite.DefaultClient{ID: clientID},
		Form:        url.Values{},
		Session:     sess,
	}
}

func wantErrIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want errors.Is(err, %v)", what, err, target)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// count counts the rows of table matching where.
func count(t *testing.T, g *gorm.DB, table, where string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := g.Table(table).Where(where, args...).Count(&n).Error; err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}
