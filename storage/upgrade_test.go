package storage_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

// freshSchema is the schema of a database this code makes from nothing.
func freshSchema(t *testing.T, b storagetest.Backend) storage.Schema {
	t.Helper()
	s, err := b.Open(t).Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(s) < 20 {
		t.Fatalf("fresh schema has %d tables: %v", len(s), s.Lines())
	}
	return s
}

// sameSchema fails t when db's schema differs from want.
func sameSchema(t *testing.T, db *storage.DB, want storage.Schema) {
	t.Helper()
	got, err := db.Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d := got.Diff(want); len(d) > 0 {
		t.Errorf("schema differs from a fresh database's (- fresh only, + upgraded only):\n%s", strings.Join(d, "\n"))
	}
}

// versions is from+1 … to.
func versions(from, to int) []int {
	var v []int
	for i := from + 1; i <= to; i++ {
		v = append(v, i)
	}
	return v
}

// TestMigrationsNumbered: the steps are numbered 1, 2, … without a gap or a
// repeat (two branches each appending the same number merge cleanly in
// git but not here), and each has a name.
func TestMigrationsNumbered(t *testing.T) {
	versions, names := storage.Migrations()
	seen := map[string]bool{}
	for i, v := range versions {
		if v != i+1 {
			t.Errorf("migration %d (%q) is number %d in the list", v, names[i], i+1)
		}
		if names[i] == "" || seen[names[i]] {
			t.Errorf("migration %d: name %q empty or repeated", v, names[i])
		}
		seen[names[i]] = true
	}
	if storage.SchemaVersion() != len(versions) {
		t.Errorf("SchemaVersion %d, %d migrations", storage.SchemaVersion(), len(versions))
	}
}

// TestUpgradeFromReleases loads databases that earlier releases made with
// their own code (storage/testdata/upgrade: the first release, the one
// before signing-key activation, the previous one with live tokens, and
// one created by the first and migrated by every release since), migrates
// them with this code, and requires the schema of a fresh database, every
// row kept, and the data readable through the stores.
func TestUpgradeFromReleases(t *testing.T) {
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			b.Check(t)
			fresh := freshSchema(t, b)
			for _, r := range storagetest.Releases(t, b.Name) {
				t.Run(r.Name, func(t *testing.T) {
					t.Parallel()
					ctx := context.Background()
					dsn := b.NewDSN(t)
					r.Load(t, dsn)
					db, err := storage.Open(ctx, dsn)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { _ = db.Close() })
					if v, err := db.CurrentVersion(ctx); err != nil || v != r.Meta.SchemaVersion {
						t.Fatalf("fixture at version %d, %v; its JSON says %d", v, err, r.Meta.SchemaVersion)
					}
					old, err := db.Schema(ctx)
					if err != nil {
						t.Fatal(err)
					}
					before := content(t, dsn, old)
					applied, err := db.Migrate(ctx)
					if err != nil {
						t.Fatalf("Migrate: %v", err)
					}
					if want := versions(r.Meta.SchemaVersion, storage.SchemaVersion()); !slices.Equal(applied, want) {
						t.Errorf("applied %v, want %v", applied, want)
					}
					sameSchema(t, db, fresh)
					after := content(t, dsn, old)
					for tbl, rows := range before {
						if tbl == "schema_migrations" {
							continue
						}
						if !slices.Equal(after[tbl], rows) {
							t.Errorf("%s changed:\n before %q\n after  %q", tbl, rows, after[tbl])
						}
					}
					readRelease(t, db, r.Meta)
					if again, err := db.Migrate(ctx); err != nil || len(again) != 0 {
						t.Errorf("second Migrate = %v, %v; want nothing", again, err)
					}
				})
			}
		})
	}
}

// content is every row of every table of s, in the columns s has, one
// string per row, sorted: what a migration must keep.
func content(t *testing.T, dsn string, s storage.Schema) map[string][]string {
	t.Helper()
	raw := storagetest.Raw(t, dsn)
	out := map[string][]string{}
	for name, tbl := range s {
		var cols []string
		for c := range tbl.Columns {
			cols = append(cols, "`"+c+"`")
		}
		slices.Sort(cols)
		rows, err := raw.Raw("SELECT " + strings.Join(cols, ", ") + " FROM `" + name + "`").Rows()
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for i, v := range vals {
				if tm, ok := v.(time.Time); ok {
					v = tm.UTC().Format(time.RFC3339Nano)
				}
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintf(&b, "%s=%v ", cols[i], v)
			}
			out[name] = append(out[name], b.String())
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		slices.Sort(out[name])
	}
	return out
}

// readRelease reads a release's rows through today's stores.
func readRelease(t *testing.T, db *storage.DB, m storagetest.ReleaseMeta) {
	t.Helper()
	ctx := context.Background()
	tn, err := storage.NewTenants(db).Get(ctx, m.ClientID)
	if err != nil || tn.CustomerToken != m.CustomerToken || !slices.Equal(tn.RedirectURIs, []string{m.RedirectURI}) ||
		len(tn.SecretHash) == 0 || tn.ConfirmURL != "" || tn.RequireMFA {
		t.Errorf("tenant %+v, %v", tn, err)
	}
	acct, err := storage.NewAccounts(db).AccountByEmail(ctx, m.Email)
	if err != nil || acct.PasswordHash == "" || !acct.EmailVerified || acct.Mobile != nil || acct.FailedLogins != 0 || acct.FirstName != "" {
		t.Errorf("account %+v, %v", acct, err)
	}
	keys, err := storage.NewSigningKeys(db).ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		// Keys made before migration 13 are active since their creation.
		if k.ActivatesAt == nil || k.ActivatesAt.After(k.CreatedAt) && k.RetiredAt == nil {
			t.Errorf("key %s: created %v, activates %v", k.KID, k.CreatedAt, k.ActivatesAt)
		}
	}
}

// TestUpgradeFromLevels migrates a database to an earlier level with this
// code's own steps, fills it with rows written with only the columns the
// first step made, migrates it to the latest, and requires the schema of
// a fresh database and the rows readable. Level 1 runs every later step
// on tables that hold rows; 6 starts half-way, 12 one step short of 13's backfill.
// (Level 0, a fresh database, is what the others are compared with.)
func TestUpgradeFromLevels(t *testing.T) {
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			b.Check(t)
			fresh := freshSchema(t, b)
			for _, level := range []int{1, 6, 12} {
				t.Run("from "+strconv.Itoa(level), func(t *testing.T) {
					t.Parallel()
					ctx := context.Background()
					dsn := b.NewDSN(t)
					db, err := storage.Open(ctx, dsn)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { _ = db.Close() })
					if _, err := db.MigrateTo(ctx, level); err != nil {
						t.Fatalf("MigrateTo(%d): %v", level, err)
					}
					writeLevel1Rows(t, dsn)
					applied, err := db.Migrate(ctx)
					if err != nil {
						t.Fatalf("Migrate: %v", err)
					}
					if want := versions(level, storage.SchemaVersion()); !slices.Equal(applied, want) {
						t.Errorf("applied %v, want %v", applied, want)
					}
					sameSchema(t, db, fresh)
					readLevel1Rows(t, db)
				})
			}
		})
	}
}

var (
	lvlNow      = time.Now().UTC().Truncate(time.Second)
	lvlSig      = "refresh-signature"
	lvlAccount  = "00000000-0000-4000-8000-0000000000aa"
	lvlSession  = "session-id-hash"
	lvlKeyMade  = lvlNow.Add(-time.Hour)
	lvlTenantID = "level-tenant"
)

// writeLevel1Rows writes a row in each table of step 1 with only the
// columns step 1 made (every later step adds columns that are optional or
// have a default).
func writeLevel1Rows(t *testing.T, dsn string) {
	t.Helper()
	raw := storagetest.Raw(t, dsn)
	sum := sha256.Sum256([]byte(lvlSig))
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{"INSERT INTO tenants (id, name, secret_hash, redirect_uris, post_logout_redirect_uris, grant_types, response_types, scopes, " +
			"public, first_party, access_token_format, customer_token, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			[]any{lvlTenantID, "Level", []byte{1, 2, 3}, `["http://localhost:9999/cb"]`, `[]`, `["authorization_code","refresh_token"]`,
				`["code"]`, `["openid","offline_access"]`, false, false, "opaque", "level-customer-token", lvlNow, lvlNow}},
		{"INSERT INTO accounts (id, email, email_verified, password_hash, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
			[]any{lvlAccount, "level@example.com", true, "$argon2id$v=19$m=8192,t=1,p=1$c2FsdA$aGFzaA", "Level", lvlNow, lvlNow}},
		{"INSERT INTO login_sessions (id, sid, account_id, auth_time, amr, acr, remember, created_at, expires_at, last_seen_at) " +
			"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			[]any{lvlSession, "level-sid", lvlAccount, lvlNow, "pwd", "0", true, lvlNow, lvlNow.Add(24 * time.Hour), lvlNow}},
		{"INSERT INTO consents (account_id, client_id, scopes, granted_at) VALUES (?, ?, ?, ?)",
			[]any{lvlAccount, lvlTenantID, `["openid"]`, lvlNow}},
		{"INSERT INTO oauth2_refresh_tokens (id, request_id, requested_at, client_id, subject, scopes, granted_scopes, " +
			"requested_audience, granted_audience, form, session, active, access_id, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			[]any{hex.EncodeToString(sum[:]), "level-request", lvlNow, lvlTenantID, lvlAccount, "openid offline_access",
				"openid offline_access", "", "", "", []byte(`{"subject":"` + lvlAccount + `"}`), true, "", lvlNow.Add(24 * time.Hour)}},
		{"INSERT INTO signing_keys (kid, alg, private_key, created_at) VALUES (?, ?, ?, ?)",
			[]any{"level-key", "RS256", []byte{1}, lvlKeyMade}},
	} {
		if err := raw.Exec(q.sql, q.args...).Error; err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
}

// readLevel1Rows reads writeLevel1Rows' rows through the stores.
func readLevel1Rows(t *testing.T, db *storage.DB) {
	t.Helper()
	ctx := context.Background()
	tn, err := storage.NewTenants(db).Get(ctx, lvlTenantID)
	if err != nil || tn.CustomerToken != "level-customer-token" || tn.ConfirmURL != "" || tn.MailFrom != "" || tn.AllowUnconfirmed {
		t.Errorf("tenant %+v, %v", tn, err)
	}
	a := storage.NewAccounts(db)
	acct, err := a.AccountByEmail(ctx, "level@example.com")
	if err != nil || acct.ID != lvlAccount || acct.Mobile != nil || acct.MobileVerified || acct.Lockouts != 0 || acct.Birthday != nil {
		t.Errorf("account %+v, %v", acct, err)
	}
	if s, err := a.SessionByID(ctx, lvlSession, time.Now()); err != nil || s.AccountID != lvlAccount {
		t.Errorf("session %+v, %v", s, err)
	}
	if c, err := a.Consent(ctx, lvlAccount, lvlTenantID); err != nil || !slices.Equal(c.Scopes, []string{"openid"}) {
		t.Errorf("consent %+v, %v", c, err)
	}
	fs := storage.NewFositeStore(db, func() fosite.Session { return &openid.DefaultSession{} })
	req, err := fs.GetRefreshTokenSession(ctx, lvlSig, &openid.DefaultSession{})
	if err != nil || req.GetClient().GetID() != lvlTenantID || req.GetSession().GetSubject() != lvlAccount {
		t.Errorf("refresh token %+v, %v", req, err)
	}
	keys, err := storage.NewSigningKeys(db).ListKeys(ctx)
	if err != nil || len(keys) != 1 || keys[0].ActivatesAt == nil || !keys[0].ActivatesAt.Equal(lvlKeyMade) {
		t.Errorf("keys %+v, %v; want level-key active since its creation", keys, err)
	}
}

// TestShiftTimes: storagetest.ShiftTimes, which keeps a fixture's tokens
// and sessions live however old the fixture is, moves every stored moment
// by the same amount: the rows' expiries and the expiries inside the
// stored fosite sessions (which fosite checks on refresh), and no zero
// time.
func TestShiftTimes(t *testing.T) {
	const d = 90 * 24 * time.Hour
	type moments struct {
		rows    map[string]time.Time
		session map[string]string
	}
	read := func(t *testing.T, dsn string) moments {
		raw := storagetest.Raw(t, dsn)
		m := moments{rows: map[string]time.Time{}, session: map[string]string{}}
		for _, q := range []string{"SELECT id, expires_at, session FROM oauth2_refresh_tokens", "SELECT id, expires_at, NULL FROM login_sessions"} {
			rows, err := raw.Raw(q).Rows()
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var (
					id   string
					exp  time.Time
					sess []byte
				)
				if err := rows.Scan(&id, &exp, &sess); err != nil {
					t.Fatal(err)
				}
				m.rows[id] = exp
				if sess != nil {
					var s struct {
						OIDC struct {
							Claims    map[string]any    `json:"id_token_claims"`
							ExpiresAt map[string]string `json:"expires_at"`
						} `json:"oidc"`
					}
					if err := json.Unmarshal(sess, &s); err != nil {
						t.Fatal(err)
					}
					m.session[id+" refresh"] = s.OIDC.ExpiresAt["refresh_token"]
					m.session[id+" exp"], _ = s.OIDC.Claims["exp"].(string)
				}
			}
			rows.Close()
		}
		return m
	}
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			b.Check(t)
			var r storagetest.Release
			for _, f := range storagetest.Releases(t, b.Name) {
				if f.Meta.RefreshToken != "" {
					r = f
				}
			}
			dsn := b.NewDSN(t)
			r.Load(t, dsn)
			before := read(t, dsn)
			storagetest.ShiftTimes(t, dsn, d)
			after := read(t, dsn)
			if len(before.rows) < 4 || len(before.session) < 6 {
				t.Fatalf("fixture %s: %d rows, %d session times", r.Name, len(before.rows), len(before.session))
			}
			for id, tm := range before.rows {
				if !after.rows[id].Equal(tm.Add(d)) {
					t.Errorf("row %s: expires %v, then %v", id, tm, after.rows[id])
				}
			}
			for k, v := range before.session {
				tm, err := time.Parse(time.RFC3339Nano, v)
				if err != nil {
					t.Fatalf("%s: %q: %v", k, v, err)
				}
				want := tm.Add(d).Format(time.RFC3339Nano)
				if tm.IsZero() {
					want = v
				}
				if after.session[k] != want {
					t.Errorf("session %s: %s, then %s; want %s", k, v, after.session[k], want)
				}
			}
		})
	}
}
