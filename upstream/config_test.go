package upstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func validConfig() Config {
	return Config{ID: "corp", Issuer: "https://login.example.com", ClientID: "manam", ClientSecret: "s3cr3t"}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		// want lists the fields reported, one problem each.
		want []string
	}{
		{name: "valid oidc", mutate: func(*Config) {}},
		{name: "valid google without issuer", mutate: func(c *Config) { c.Type = TypeGoogle; c.Issuer = "" }},
		{name: "http on loopback", mutate: func(c *Config) { c.Issuer = "http://127.0.0.1:8080" }},
		{name: "http on localhost", mutate: func(c *Config) { c.Issuer = "http://localhost:8080/realms/x" }},
		{name: "full", mutate: func(c *Config) {
			c.Scopes = []string{"openid", "email", "groups"}
			c.HostedDomain = "example.com"
			c.AuthParams = map[string]string{"prompt": "select_account"}
			c.AuthMethod = AuthClientSecretPost
			c.MaxAge = 5 * time.Minute
		}},
		{name: "empty", mutate: func(c *Config) { *c = Config{} }, want: []string{"id", "issuer", "client_id", "client_secret"}},
		{name: "oidc without issuer", mutate: func(c *Config) { c.Issuer = "" }, want: []string{"issuer"}},
		{name: "upper-case id", mutate: func(c *Config) { c.ID = "Google" }, want: []string{"id"}},
		{name: "id with a slash", mutate: func(c *Config) { c.ID = "a/b" }, want: []string{"id"}},
		{name: "unknown type", mutate: func(c *Config) { c.Type = "saml" }, want: []string{"type"}},
		{name: "http issuer", mutate: func(c *Config) { c.Issuer = "http://login.example.com" }, want: []string{"issuer"}},
		{name: "relative issuer", mutate: func(c *Config) { c.Issuer = "login.example.com" }, want: []string{"issuer"}},
		{name: "issuer with query", mutate: func(c *Config) { c.Issuer = "https://login.example.com?tenant=1" }, want: []string{"issuer"}},
		{name: "scopes without openid", mutate: func(c *Config) { c.Scopes = []string{"email"} }, want: []string{"scopes"}},
		{name: "scope with a space", mutate: func(c *Config) { c.Scopes = []string{"openid", "a b"} }, want: []string{"scopes"}},
		{name: "hosted domain with scheme", mutate: func(c *Config) { c.HostedDomain = "https://example.com" }, want: []string{"hosted_domain"}},
		{name: "reserved auth param", mutate: func(c *Config) { c.AuthParams = map[string]string{"nonce": "1"} }, want: []string{"auth_params"}},
		{name: "unknown auth method", mutate: func(c *Config) { c.AuthMethod = "private_key_jwt" }, want: []string{"auth_method"}},
		{name: "negative max age", mutate: func(c *Config) { c.MaxAge = -time.Second }, want: []string{"max_age"}},
		{
			name: "every problem at once",
			mutate: func(c *Config) {
				*c = Config{ID: "X", Type: "saml", Issuer: "ftp://x", Scopes: []string{"email"},
					HostedDomain: "not a domain", AuthParams: map[string]string{"state": "x"},
					AuthMethod: "none", MaxAge: -1}
			},
			want: []string{"id", "type", "issuer", "client_id", "client_secret", "scopes", "hosted_domain", "auth_params", "auth_method", "max_age"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := validConfig()
			tc.mutate(&cfg)
			err := cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				if _, err := NewOIDC(cfg, Deps{}); err != nil {
					t.Fatalf("NewOIDC() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("Validate() = %v, want ErrConfig", err)
			}
			var joined interface{ Unwrap() []error }
			if !errors.As(err, &joined) || len(joined.Unwrap()) != len(tc.want) {
				t.Fatalf("Validate() = %v\nwant %d problems: %v", err, len(tc.want), tc.want)
			}
			for i, field := range tc.want {
				if p := joined.Unwrap()[i].Error(); !strings.Contains(p, ": "+field+": ") {
					t.Errorf("problem %d = %q, want one about %s", i, p, field)
				}
			}
			if _, err := NewOIDC(cfg, Deps{}); !errors.Is(err, ErrConfig) {
				t.Errorf("NewOIDC() = %v, want ErrConfig", err)
			}
		})
	}
}

func TestSecretDoesNotPrint(t *testing.T) {
	cfg := validConfig()
	cfg.ClientSecret = "super-s3cr3t-value"
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "upstream", cfg, "secret", cfg.ClientSecret)
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{
		"%v":   fmt.Sprintf("%v", cfg),
		"%+v":  fmt.Sprintf("%+v", cfg),
		"%#v":  fmt.Sprintf("%#v", cfg),
		"%s":   fmt.Sprintf("%s", cfg.ClientSecret),
		"slog": logged.String(),
		"json": string(js),
	} {
		if strings.Contains(out, "super-s3cr3t-value") {
			t.Errorf("%s prints the secret: %s", name, out)
		}
	}
	if !strings.Contains(fmt.Sprintf("%+v", cfg), "[redacted]") {
		t.Errorf("%%+v = %+v, want [redacted] in place of the secret", cfg)
	}
}

func TestSet(t *testing.T) {
	google := Config{ID: "google", Type: TypeGoogle, ClientID: "g", ClientSecret: "gs"}
	corp := validConfig()

	t.Run("config order", func(t *testing.T) {
		s, err := New([]Config{google, corp}, Deps{})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, c := range s.All() {
			ids = append(ids, c.ID()+"="+c.Name())
		}
		if got := strings.Join(ids, ","); got != "google=Google,corp=corp" || s.Len() != 2 {
			t.Errorf("All() = %s (Len %d), want google=Google,corp=corp", got, s.Len())
		}
		if c, ok := s.Get("corp"); !ok || c.ID() != "corp" {
			t.Errorf("Get(corp) = %v, %v", c, ok)
		}
		if _, ok := s.Get("github"); ok {
			t.Error("Get(github) found a connector")
		}
		s.All()[0] = nil
		if s.All()[0] == nil {
			t.Error("All() exposes the Set's slice")
		}
	})
	t.Run("empty", func(t *testing.T) {
		s, err := New(nil, Deps{})
		if err != nil || s.Len() != 0 || len(s.All()) != 0 {
			t.Errorf("New(nil) = %v, %v", s, err)
		}
	})
	t.Run("every problem together", func(t *testing.T) {
		bad := corp
		bad.ID, bad.ClientID = "bad", ""
		_, err := New([]Config{google, bad, corp, corp, {ID: "x"}}, Deps{})
		if !errors.Is(err, ErrConfig) {
			t.Fatalf("New() = %v, want ErrConfig", err)
		}
		for _, want := range []string{`"bad": client_id`, `"corp": duplicate id`, `"x": issuer`, `"x": client_id`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("New() = %v\nwant a problem %s", err, want)
			}
		}
	})
	t.Run("NewSet rejects duplicates", func(t *testing.T) {
		a, _ := NewOIDC(corp, Deps{})
		b, _ := NewOIDC(corp, Deps{})
		if _, err := NewSet(a, b); !errors.Is(err, ErrConfig) {
			t.Errorf("NewSet(dup) = %v, want ErrConfig", err)
		}
	})
}

func TestFlexBool(t *testing.T) {
	tests := []struct {
		name string
		json string
		want bool
	}{
		{"bool true", `true`, true},
		{"bool false", `false`, false},
		{"string true", `"true"`, true},
		{"string TRUE", `"TRUE"`, true},
		{"string false", `"false"`, false},
		{"null", `null`, false},
		{"number", `1`, false},
		{"other string", `"yes"`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := identityFromClaims(json.RawMessage(`{"email_verified":` + tc.json + `}`))
			if err != nil {
				t.Fatal(err)
			}
			if id.EmailVerified != tc.want {
				t.Errorf("email_verified %s → %v, want %v", tc.json, id.EmailVerified, tc.want)
			}
		})
	}
	t.Run("absent", func(t *testing.T) {
		id, err := identityFromClaims(json.RawMessage(`{"email":"a@example.com"}`))
		if err != nil || id.EmailVerified {
			t.Errorf("absent email_verified → %+v, %v; want unverified", id, err)
		}
	})
	t.Run("wrong type elsewhere", func(t *testing.T) {
		if _, err := identityFromClaims(json.RawMessage(`{"email":42}`)); err == nil {
			t.Error("a numeric email decoded without error")
		}
	})
}

func TestAuthStyle(t *testing.T) {
	tests := []struct {
		name       string
		configured string
		advertised []string
		want       oauth2.AuthStyle
	}{
		{"nothing advertised: the OIDC default", "", nil, oauth2.AuthStyleInHeader},
		{"both advertised", "", []string{AuthClientSecretPost, AuthClientSecretBasic}, oauth2.AuthStyleInHeader},
		{"post only", "", []string{AuthClientSecretPost}, oauth2.AuthStyleInParams},
		{"configured post", AuthClientSecretPost, []string{AuthClientSecretBasic}, oauth2.AuthStyleInParams},
		{"configured basic", AuthClientSecretBasic, []string{AuthClientSecretPost}, oauth2.AuthStyleInHeader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := authStyle(tc.configured, tc.advertised); got != tc.want {
				t.Errorf("authStyle(%q, %v) = %v, want %v", tc.configured, tc.advertised, got, tc.want)
			}
		})
	}
}
