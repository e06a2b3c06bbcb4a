package storagetest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/manam-id/manam/storage"
)

// Release is a database an earlier release of Manam made with its own
// code, dumped as SQL in storage/testdata/upgrade (how they are made:
// the README there), with what a test needs to use its data.
type Release struct {
	// Name is the fixture's name ("v13-798a2b6"); Dialect is "sqlite" or "mysql".
	Name, Dialect string
	// File is the SQL dump.
	File string
	Meta ReleaseMeta
}

// ReleaseMeta is the JSON file beside a dump.
type ReleaseMeta struct {
	Release       string    `json:"release"`
	Path          []string  `json:"path"`
	SchemaVersion int       `json:"schema_version"`
	GeneratedAt   time.Time `json:"generated_at"`
	Issuer        string    `json:"issuer"`
	Secret        string    `json:"secret"`
	RedirectURI   string    `json:"redirect_uri"`
	ClientID      string    `json:"client_id"`
	ClientSecret  string    `json:"client_secret"`
	CustomerToken string    `json:"customer_token"`
	Email         string    `json:"email"`
	Password      string    `json:"password"`
	// Live tokens and the browser session, when the release ran a flow.
	AccessToken      string `json:"access_token,omitempty"`
	RefreshToken     string `json:"refresh_token,omitempty"`
	IDToken          string `json:"id_token,omitempty"`
	UsedRefreshToken string `json:"used_refresh_token,omitempty"`
	SessionCookie    string `json:"session_cookie,omitempty"`
}

// Releases lists the fixtures of one dialect ("sqlite" or "mysql").
func Releases(t testing.TB, dialect string) []Release {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(self), "..", "testdata", "upgrade")
	files, err := filepath.Glob(filepath.Join(dir, "*."+dialect+".sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no %s upgrade fixtures in %s: %v", dialect, dir, err)
	}
	var out []Release
	for _, f := range files {
		base := strings.TrimSuffix(f, ".sql")
		r := Release{Name: strings.TrimSuffix(filepath.Base(base), "."+dialect), Dialect: dialect, File: f}
		js, err := os.ReadFile(base + ".json")
		if err != nil {
			t.Fatalf("fixture %s: %v", f, err)
		}
		if err := json.Unmarshal(js, &r.Meta); err != nil {
			t.Fatalf("fixture %s.json: %v", base, err)
		}
		out = append(out, r)
	}
	return out
}

// Load runs the release's dump into the empty database dsn names.
func (r Release) Load(t testing.TB, dsn string) {
	t.Helper()
	script, err := os.ReadFile(r.File)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := storage.ParseDSN(dsn); err == nil && p.Dialect == storage.SQLite {
		// Private, as storage.Open would make it.
		f, err := os.OpenFile(p.Path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if err := Raw(t, dsn).Exec(string(script)).Error; err != nil {
		t.Fatalf("load %s: %v", r.File, err)
	}
}

// Raw opens the database dsn names with no Manam code in between (the
// pure-Go SQLite driver, whichever driver the stores use; MySQL with
// multiple statements per Exec), for a test to read or write what the
// stores would not. It is closed when t ends.
func Raw(t testing.TB, dsn string) *gorm.DB {
	t.Helper()
	p, err := storage.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("ParseDSN: %v", err)
	}
	var d gorm.Dialector
	switch p.Dialect {
	case storage.SQLite:
		d = sqlite.Open("file:" + p.Path + "?_pragma=busy_timeout(10000)")
	case storage.MySQL:
		d = mysql.Open(p.MySQLDSN + "&multiStatements=true")
	}
	g, err := gorm.Open(d, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("raw open: %v", err)
	}
	s, err := g.DB()
	if err != nil {
		t.Fatalf("raw open: %v", err)
	}
	s.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = s.Close() })
	return g
}

// ShiftTimes moves every moment stored in the database by d, as if its
// whole history had happened d later: every datetime column of every row,
// and every time inside the JSON of the token tables' session column
// (fosite's expiry of each token, the ID token's claims). A fixture
// loaded long after it was made so keeps its tokens and sessions as live
// as they were then. Sealed access tokens carry their expiry inside and
// are not moved (the fixtures mint them for a century).
func ShiftTimes(t testing.TB, dsn string, d time.Duration) {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema, err := db.Schema(ctx)
	_ = db.Close()
	if err != nil {
		t.Fatal(err)
	}
	raw := Raw(t, dsn)
	for name, tbl := range schema {
		var times []string
		for c, col := range tbl.Columns {
			if strings.HasPrefix(col.Type, "datetime") {
				times = append(times, c)
			}
		}
		_, hasSession := tbl.Columns["session"]
		if len(times) == 0 && !hasSession {
			continue
		}
		if len(tbl.PrimaryKey) == 0 {
			t.Fatalf("shift %s: no primary key", name)
		}
		slices.Sort(times)
		if err := shiftTable(raw, name, tbl.PrimaryKey, times, hasSession, d); err != nil {
			t.Fatalf("shift %s: %v", name, err)
		}
	}
}

func shiftTable(raw *gorm.DB, table string, pk, times []string, session bool, d time.Duration) error {
	cols := append(slices.Clone(pk), times...)
	if session {
		cols = append(cols, "session")
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = "`" + c + "`"
	}
	rows, err := raw.Raw("SELECT " + strings.Join(quoted, ", ") + " FROM `" + table + "`").Rows()
	if err != nil {
		return err
	}
	type update struct{ set, where []any }
	var updates []update
	for rows.Next() {
		keys := make([]any, len(pk))
		ts := make([]sql.NullTime, len(times))
		var sess []byte
		dest := make([]any, 0, len(cols))
		for i := range keys {
			dest = append(dest, &keys[i])
		}
		for i := range ts {
			dest = append(dest, &ts[i])
		}
		if session {
			dest = append(dest, &sess)
		}
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return err
		}
		var u update
		for _, v := range ts {
			if v.Valid {
				u.set = append(u.set, v.Time.Add(d).UTC())
			} else {
				u.set = append(u.set, nil)
			}
		}
		if session {
			moved, err := shiftJSON(sess, d)
			if err != nil {
				rows.Close()
				return err
			}
			u.set = append(u.set, moved)
		}
		u.where = keys
		updates = append(updates, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	set := make([]string, 0, len(cols))
	for _, c := range quoted[len(pk):] {
		set = append(set, c+" = ?")
	}
	where := make([]string, len(pk))
	for i, c := range quoted[:len(pk)] {
		where[i] = c + " = ?"
	}
	q := "UPDATE `" + table + "` SET " + strings.Join(set, ", ") + " WHERE " + strings.Join(where, " AND ")
	for _, u := range updates {
		if err := raw.Exec(q, append(u.set, u.where...)...).Error; err != nil {
			return err
		}
	}
	return nil
}

// shiftJSON moves every non-zero RFC 3339 time in a JSON document by d.
func shiftJSON(doc []byte, d time.Duration) ([]byte, error) {
	if len(bytes.TrimSpace(doc)) == 0 {
		return doc, nil
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("session JSON: %w", err)
	}
	var walk func(any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				x[k] = walk(e)
			}
		case []any:
			for i, e := range x {
				x[i] = walk(e)
			}
		case string:
			if tm, err := time.Parse(time.RFC3339Nano, x); err == nil && !tm.IsZero() {
				return tm.Add(d).Format(time.RFC3339Nano)
			}
		}
		return v
	}
	return json.Marshal(walk(v))
}
