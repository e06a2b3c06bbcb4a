package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/manam-id/manam/storage"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "manam.json")
	_ = os.WriteFile(file, []byte(`{"issuer":"https://file.example","addr":":7000","gc-interval":"1m","MANAM_KEY_ALG":"ES256"}`), 0o600)
	cases := []struct {
		name  string
		env   map[string]string
		flags []string
		check func(*testing.T, *Config)
	}{
		{"defaults", nil, nil, func(t *testing.T, c *Config) {
			if c.Issuer != "http://localhost:8080" || c.Addr != ":8080" || c.DSN != "sqlite:manam.db" || c.KeyAlg != "RS256" || c.AuthCodeTTL != 5*time.Minute {
				t.Fatalf("%+v", c)
			}
		}},
		{"file", map[string]string{"MANAM_CONFIG": file}, nil, func(t *testing.T, c *Config) {
			if c.Issuer != "https://file.example" || c.Addr != ":7000" || c.GCInterval != time.Minute || c.KeyAlg != "ES256" {
				t.Fatalf("%+v", c)
			}
		}},
		{"environment over file", map[string]string{"MANAM_CONFIG": file, "MANAM_ADDR": ":7001"}, nil, func(t *testing.T, c *Config) {
			if c.Addr != ":7001" || c.Issuer != "https://file.example" {
				t.Fatalf("%+v", c)
			}
		}},
		{"flag over environment", map[string]string{"MANAM_ADDR": ":7001"}, []string{"--addr", ":7002", "--config", file}, func(t *testing.T, c *Config) {
			if c.Addr != ":7002" || c.Issuer != "https://file.example" {
				t.Fatalf("%+v", c)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFlags("serve")
			if _, err := parse(fs, tc.flags); err != nil {
				t.Fatal(err)
			}
			c, err := loadConfig(fs, envOf(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestConfigReportsEveryProblem(t *testing.T) {
	env := map[string]string{
		"MANAM_ISSUER": "ftp://x/", "MANAM_DSN": "mysql://u:p@tcp(h:1)/d", "MANAM_LOG_LEVEL": "loud",
		"MANAM_KEY_ALG": "HS256", "MANAM_GC_INTERVAL": "soon", "MANAM_ARGON2_MEMORY_KIB": "10", "MANAM_SECRET": "",
		"MANAM_ADDR": "zz",
	}
	_, err := loadConfig(newFlags("serve"), envOf(env))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"MANAM_ISSUER", "MANAM_SECRET: required with MySQL", "MANAM_LOG_LEVEL", "MANAM_KEY_ALG", "MANAM_GC_INTERVAL", "argon2id", "MANAM_ADDR"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "u:p@") {
		t.Error("error leaks the DSN password")
	}
	// pprof only on loopback.
	for addr, ok := range map[string]bool{"127.0.0.1:6060": true, "localhost:6060": true, "[::1]:6060": true, ":6060": false, "0.0.0.0:6060": false, "10.0.0.5:6060": false} {
		_, err := loadConfig(newFlags("serve"), envOf(map[string]string{"MANAM_DEBUG_ADDR": addr}))
		if (err == nil) != ok {
			t.Errorf("MANAM_DEBUG_ADDR=%s: %v", addr, err)
		}
	}
	// The listen address is checked with the rest, before anything is
	// written (not only when serve finally listens).
	for _, tc := range []struct {
		name, addr string
		ok         bool
	}{
		{"port only", ":8080", true},
		{"host and port", "127.0.0.1:9000", true},
		{"IPv6", "[::1]:443", true},
		{"any free port", ":0", true},
		{"highest port", "0.0.0.0:65535", true},
		{"no port", "zz", false},
		{"bare host", "localhost", false},
		{"empty port", "localhost:", false},
		{"port name", ":http", false},
		{"port too large", ":65536", false},
		{"negative port", ":-1", false},
		{"signed port", ":+80", false},
		{"unbracketed IPv6", "::1:80:x", false},
	} {
		t.Run("MANAM_ADDR "+tc.name, func(t *testing.T) {
			_, err := loadConfig(newFlags("serve"), envOf(map[string]string{"MANAM_ADDR": tc.addr}))
			if (err == nil) != tc.ok || err != nil && !strings.Contains(err.Error(), "MANAM_ADDR") {
				t.Errorf("MANAM_ADDR=%q: %v", tc.addr, err)
			}
		})
	}
	t.Run("MANAM_ADDR serve writes nothing", func(t *testing.T) {
		dir := t.TempDir()
		var out, errb strings.Builder
		env := map[string]string{"MANAM_ADDR": "zz", "MANAM_DSN": "sqlite:" + filepath.Join(dir, "m.db")}
		if code := run(context.Background(), []string{"serve"}, envOf(env), &out, &errb); code != 2 || !strings.Contains(errb.String(), "MANAM_ADDR") {
			t.Fatalf("exit %d, stderr %q", code, errb.String())
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Fatalf("a refused configuration wrote %v", ents)
		}
	})
	// A config file with an unknown key is refused too.
	dir := t.TempDir()
	f := filepath.Join(dir, "c.json")
	_ = os.WriteFile(f, []byte(`{"isuer":"typo"}`), 0o600)
	if _, err := loadConfig(newFlags("serve"), envOf(map[string]string{"MANAM_CONFIG": f})); err == nil || !strings.Contains(err.Error(), "isuer") {
		t.Fatalf("unknown setting: %v", err)
	}
}

func TestSecretGeneratedOnceBesideSQLite(t *testing.T) {
	dir := t.TempDir()
	c := &Config{DSN: "sqlite:" + filepath.Join(dir, "m.db")}
	s1, err := c.resolveSecret()
	if err != nil || len(s1) < 32 || c.secretGenerated == "" {
		t.Fatalf("generate: %v", err)
	}
	st, _ := os.Stat(filepath.Join(dir, "m.db.secret"))
	if st == nil || st.Mode().Perm() != 0o600 {
		t.Fatal("secret file missing or readable by others")
	}
	c2 := &Config{DSN: c.DSN}
	s2, err := c2.resolveSecret()
	if err != nil || string(s1) != string(s2) || c2.secretGenerated != "" {
		t.Fatal("second start did not reuse the secret")
	}
}

func TestCLI(t *testing.T) {
	srv := &testServer{env: map[string]string{"MANAM_DSN": "sqlite:" + t.TempDir() + "/cli.db", "MANAM_SECRET": testSecret, "NEW_USER_PW": "long enough pw from env"}}
	var created tenant
	_ = json.Unmarshal([]byte(srv.cli(t, "tenant", "create", "--name", "CLI", "--redirect-uri", "https://a.example/cb", "--json")), &created)
	if created.ClientID == "" || len(created.ClientSecret) < 43 || created.CustomerToken == "" {
		t.Fatalf("create: %+v", created)
	}
	other := srv.createTenant(t, "--name", "Other", "--redirect-uri", "https://a.example/cb")
	importFile := filepath.Join(t.TempDir(), "users.jsonl")
	_ = os.WriteFile(importFile, []byte(`{"email":"imp@example.com","email_verified":true,"password_hash":"$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHRzYWx0$c3Vtc3Vtc3Vtc3Vtc3Vtc3Vtc3Vtc3Vtc3Vtc3U"}`+"\nnot json\n"), 0o600)
	cases := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"list json", []string{"tenant", "list", "--json"}, 0, created.ClientID},
		{"list table", []string{"tenant", "list"}, 0, "CLIENT_ID"},
		{"show", []string{"tenant", "show", created.ClientID, "--json"}, 0, `"first_party": false`},
		{"update", []string{"tenant", "update", created.ClientID, "--first-party", "--json"}, 0, `"updated": true`},
		{"update shows", []string{"tenant", "show", created.ClientID, "--json"}, 0, `"first_party": true`},
		{"update invalid", []string{"tenant", "update", created.ClientID, "--redirect-uri", "http://evil.example/"}, 2, ""},
		{"rotate secret", []string{"tenant", "rotate-secret", created.ClientID, "--json"}, 0, "client_secret"},
		{"show unknown", []string{"tenant", "show", "nope"}, 2, ""},
		{"create invalid", []string{"tenant", "create", "--name", "X"}, 2, ""},
		{"unknown command", []string{"frobnicate"}, 2, ""},
		{"unknown flag", []string{"tenant", "list", "--bogus"}, 2, ""},
		{"user create", []string{"user", "create", "--email", "U@Example.com", "--password", "long enough pw", "--json"}, 0, `"u@example.com"`},
		{"user duplicate", []string{"user", "create", "--email", "u@example.com", "--password", "long enough pw"}, 2, ""},
		{"user short password", []string{"user", "create", "--email", "v@example.com", "--password", "short"}, 2, ""},
		{"user password from the environment", []string{"user", "create", "--email", "env@example.com", "--password-env", "NEW_USER_PW", "--json"}, 0, `"env@example.com"`},
		{"user password from an unset variable", []string{"user", "create", "--email", "env2@example.com", "--password-env", "NO_SUCH_VAR"}, 2, ""},
		{"user password given twice", []string{"user", "create", "--email", "env3@example.com", "--password", "long enough pw", "--password-env", "NEW_USER_PW"}, 2, ""},
		{"keys list", []string{"keys", "list", "--json"}, 0, `"active": true`},
		{"keys rotate", []string{"keys", "rotate", "--json"}, 0, `"alg": "RS256"`},
		{"keys rotate bad alg", []string{"keys", "rotate", "--alg", "HS256"}, 2, ""},
		{"migrate", []string{"migrate"}, 0, fmt.Sprintf("version %d", storage.SchemaVersion())},
		{"gc", []string{"gc"}, 0, "deleted"},
		{"create public json", []string{"tenant", "create", "--name", "SPA", "--public", "--redirect-uri", "https://a.example/cb", "--json"}, 0, `"client_secret": ""`},
		{"create confidential json", []string{"tenant", "create", "--name", "Web", "--redirect-uri", "https://a.example/cb", "--json"}, 0, `"client_secret": "`},
		{"update to public json", []string{"tenant", "update", created.ClientID, "--public", "--json"}, 0, `"updated": true`},
		{"update back issues a secret json", []string{"tenant", "update", created.ClientID, "--confidential", "--json"}, 0, `"client_secret": "`},
		{"import json", []string{"user", "import", importFile, "--json"}, 1, `"imported": 1`},
		{"delete json", []string{"tenant", "delete", created.ClientID, "--json"}, 0, `"deleted": true`},
		{"delete", []string{"tenant", "delete", other.ClientID}, 0, "deleted"},
		{"delete again", []string{"tenant", "delete", created.ClientID}, 2, ""},
		{"delete again json", []string{"tenant", "delete", created.ClientID, "--json"}, 2, ""},
	}
	// The documented shapes, key for key.
	shapes := map[string][]string{
		"create public json":       {"client_id", "client_secret", "customer_token"},
		"create confidential json": {"client_id", "client_secret", "customer_token"},
		"delete json":              {"client_id", "deleted"},
		"rotate secret":            {"client_id", "client_secret"},
		"import json":              {"failed", "imported"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, code, errOut := srv.cliCode(tc.args...)
			if code != tc.code || !strings.Contains(out, tc.contains) {
				t.Fatalf("exit %d (want %d), out %q, err %q", code, tc.code, out, errOut)
			}
			// --json prints exactly one JSON value (on failure, nothing or that value).
			if slices.Contains(tc.args, "--json") && (code == 0 || out != "") && !json.Valid([]byte(out)) {
				t.Fatalf("--json did not print exactly one JSON value: %q", out)
			}
			if want, ok := shapes[tc.name]; ok {
				var m map[string]any
				if err := json.Unmarshal([]byte(out), &m); err != nil {
					t.Fatal(err)
				}
				if got := slices.Sorted(maps.Keys(m)); !slices.Equal(got, want) {
					t.Fatalf("keys %v, want %v: %s", got, want, out)
				}
			}
		})
	}
}
