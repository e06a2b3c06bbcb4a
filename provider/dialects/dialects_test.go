package dialects

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/manam-id/manam/storage"
)

// downTenants is a database that does not answer.
type downTenants struct{}

func (downTenants) Get(context.Context, string) (*storage.Tenant, error) {
	return nil, errors.New("dial tcp 10.0.0.9:3306: connection refused")
}

// TestDatabaseTrouble: when the database fails, every dialect answers 503
// in its own shape, with no detail, and logs the detail once.
func TestDatabaseTrouble(t *testing.T) {
	tests := []struct {
		name, dialect, path, want string
	}{
		{"002", string(VendorAuthorization), "/v1/authorization", `{"error":503,"messages":{"message":"The service is unavailable right now. Please try again in a moment.","status":false},"status":503}`},
		{"003", string(AuthorizationAPI), "/api/authorization/login", `{"errors":["The service is unavailable right now. Please try again in a moment."]}`},
		{"004", string(JWTAuthAPI), "/api/login", `{"message":"The service is unavailable right now. Please try again in a moment.","status":"error"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			m, err := New(Config{Dialect: Dialect(tc.dialect), Tenant: "t1", Prefix: "/x"}, Deps{Accounts: struct{ Accounts }{}, Tokens: struct{ Tokens }{},
				Tenants: downTenants{}, MemberKey: bytes.Repeat([]byte("k"), 32), Issuer: "https://id.example", Logger: slog.New(slog.NewTextHandler(&log, nil))})
			if err != nil {
				t.Fatal(err)
			}
			r := mux.NewRouter()
			m(r)
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/x"+tc.path, strings.NewReader(`{"email":"a@b.co","password":"pw"}`))
			req.Header.Set("Content-Type", "application/json")
			r.ServeHTTP(rec, req)
			if rec.Code != http.StatusServiceUnavailable || strings.TrimSpace(rec.Body.String()) != tc.want {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			if strings.Contains(rec.Body.String(), "10.0.0.9") || !strings.Contains(log.String(), "connection refused") ||
				strings.Count(log.String(), "level=ERROR") != 1 {
				t.Fatalf("detail: body %s, log %s", rec.Body, log.String())
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	ok := Deps{Accounts: struct{ Accounts }{}, Tokens: struct{ Tokens }{}, Tenants: downTenants{}, MemberKey: bytes.Repeat([]byte("k"), 32), Issuer: "https://id.example"}
	short := ok
	short.MemberKey = []byte("short")
	tests := []struct {
		name string
		cfg  Config
		d    Deps
	}{
		{"unknown dialect", Config{Dialect: "legacy", Tenant: "t", Prefix: "/x"}, ok},
		{"no tenant", Config{Dialect: JWTAuthAPI, Prefix: "/x"}, ok},
		{"prefix and host", Config{Dialect: JWTAuthAPI, Tenant: "t", Prefix: "/x", Host: "a.example"}, ok},
		{"a short member key", Config{Dialect: JWTAuthAPI, Tenant: "t", Prefix: "/x"}, short},
		{"no accounts", Config{Dialect: JWTAuthAPI, Tenant: "t", Prefix: "/x"}, Deps{Tokens: ok.Tokens, Tenants: ok.Tenants, MemberKey: ok.MemberKey, Issuer: ok.Issuer}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg, tc.d); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// TestHostMount: a Host mount answers for its host, with or without a
// port, and for no other; a prefix mount only under its prefix.
func TestHostMount(t *testing.T) {
	deps := Deps{Accounts: struct{ Accounts }{}, Tokens: struct{ Tokens }{}, Tenants: downTenants{}, MemberKey: bytes.Repeat([]byte("k"), 32),
		Issuer: "https://id.example", Logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))}
	r := mux.NewRouter()
	for _, cfg := range []Config{{Dialect: JWTAuthAPI, Tenant: "t1", Host: "api.shop.example"}, {Dialect: VendorAuthorization, Tenant: "t2", Prefix: "/vendor"}} {
		m, err := New(cfg, deps)
		if err != nil {
			t.Fatal(err)
		}
		m(r)
	}
	tests := []struct {
		name, host, path string
		served           bool
	}{
		{"its host", "api.shop.example", "/api/login", true},
		{"its host with a port", "api.shop.example:8443", "/api/login", true},
		{"another host", "id.example", "/api/login", false},
		{"the prefix", "id.example", "/vendor/v1/authorization", true},
		{"without the prefix", "id.example", "/v1/authorization", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader(`{}`))
			req.Host = tc.host
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			// Served: the mount answers (here 503: its tenant cannot be read).
			if got := rec.Code == http.StatusServiceUnavailable; got != tc.served {
				t.Fatalf("status %d", rec.Code)
			}
		})
	}
}
