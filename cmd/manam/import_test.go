package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/oauth2"

	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

func TestUserImport(t *testing.T) {
	dsn := "sqlite:" + t.TempDir() + "/imp.db"
	srv := startServer(t, dsn, nil)
	bc, _ := bcrypt.GenerateFromPassword([]byte("legacy password 1"), 10)
	lines := []string{
		`{"email":"Old.User@Example.com","email_verified":true,"password_hash":"` + string(bc) + `","name":"Old User"}`,
		`{"email":"argon@example.com","email_verified":false,"password_hash":"$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHRzYWx0$c3Vtc3Vtc3Vtc3Vtc3Vtc3Vtc3Vtc3Vtc3Vtc3U"}`,
		``,
		`{"email":"not-an-address","password_hash":"` + string(bc) + `"}`,
		`{"email":"x@example.com","password_hash":"` + string(bc) + `","mobile":"09111087815"}`,
		`{"email":"old.user@example.com","password_hash":"` + string(bc) + `"}`,
		`{"email":"md5@example.com","password_hash":"5f4dcc3b5aa765d61d8327deb882cf99"}`,
		`{"email": broken`,
	}
	file := filepath.Join(t.TempDir(), "users.jsonl")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code, _ := srv.cliCode("user", "import", file, "--json")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (some lines failed)", code)
	}
	var res struct {
		Imported int `json:"imported"`
		Failed   []struct {
			Line  int    `json:"line"`
			Error string `json:"error"`
		} `json:"failed"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	want := map[int]string{4: "email", 5: "mobile", 6: "already exists", 7: "bcrypt", 8: "JSON"}
	if res.Imported != 2 || len(res.Failed) != len(want) {
		t.Fatalf("imported %d, failed %+v", res.Imported, res.Failed)
	}
	for _, f := range res.Failed {
		if !strings.Contains(f.Error, want[f.Line]) {
			t.Errorf("line %d: %q, want it to mention %q", f.Line, f.Error, want[f.Line])
		}
	}
	// Nothing partial: exactly the two good accounts exist.
	db := storagetest.OpenDSN(t, dsn)
	if c, _ := db.RowCounts(context.Background()); c["accounts"] != 2 {
		t.Fatalf("%d accounts after the import, want 2", c["accounts"])
	}
	// The imported bcrypt user signs in with the old password; the hash becomes argon2id.
	app := srv.createTenant(t, "--name", "App", "--redirect-uri", rpRedirect, "--first-party")
	conf := oauth2.Config{ClientID: app.ClientID, RedirectURL: rpRedirect, Scopes: []string{"openid"}, Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/oauth2/auth"}}
	loc := newBrowser(t, srv.URL).signIn(conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "old.user@example.com", "legacy password 1")
	if loc.Query().Get("code") == "" {
		t.Fatalf("imported bcrypt user: %s", loc)
	}
	a, err := storage.NewAccounts(db).AccountByEmail(context.Background(), "old.user@example.com")
	if err != nil || !strings.HasPrefix(a.PasswordHash, "$argon2id$") {
		t.Fatalf("hash after sign-in: %v %.12s", err, a.PasswordHash)
	}
}
