package provider

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/keys"
	"github.com/manam-id/manam/storage"
)

var testSecret = []byte("provider-test-secret-0123456789-abcdef")

// newTestProvider is a real provider over a fresh SQLite database.
func newTestProvider(tb testing.TB) (*Provider, *storage.DB) {
	tb.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, "sqlite:"+tb.TempDir()+"/p.db")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	return newTestProviderOn(tb, db), db
}

// newTestProviderOn is a real provider over a migrated database.
func newTestProviderOn(tb testing.TB, db *storage.DB) *Provider {
	tb.Helper()
	ctx := context.Background()
	km, err := keys.New(ctx, storage.NewSigningKeys(db), testSecret, keys.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	pw, err := idp.NewPasswords(idp.Argon2Params{MemoryKiB: 8192, Time: 1, Parallelism: 1}, 2)
	if err != nil {
		tb.Fatal(err)
	}
	a := storage.NewAccounts(db)
	svc, err := idp.New(idp.Config{}, idp.Deps{Accounts: a, Sessions: a, Consents: a, Passwords: pw})
	if err != nil {
		tb.Fatal(err)
	}
	p, err := New(Config{Issuer: "http://127.0.0.1:1"}, Deps{DB: db, Keys: km, IDP: svc, Secret: testSecret})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestValidateRedirectURI(t *testing.T) {
	cases := []struct {
		name string
		uri  string
		ok   bool
	}{
		{"https", "https://app.example.com/callback", true},
		{"https with port and query", "https://app.example.com:8443/cb?tenant=1", true},
		{"http localhost", "http://localhost:3000/cb", true},
		{"http loopback v4", "http://127.0.0.1:9999/cb", true},
		{"http loopback v6", "http://[::1]:9999/cb", true},
		{"native app scheme", "com.example.app:/oauth2redirect", true},
		{"http remote", "http://app.example.com/cb", false},
		{"fragment", "https://app.example.com/cb#frag", false},
		{"empty fragment", "https://app.example.com/cb#", false},
		{"relative", "/callback", false},
		{"user info", "https://user:pw@app.example.com/cb", false},
		{"javascript", "javascript:alert(1)", false},
		{"data", "data:text/html,hi", false},
		{"scheme without dot", "myapp:/cb", false},
		{"https without host", "https:///cb", false},
		{"space", "https://app.example.com/a b", false},
		{"newline", "https://app.example.com/cb\n", false},
		{"empty", "", false},
		{"too long", "https://app.example.com/" + strings.Repeat("a", 2001), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := ValidateRedirectURI(tc.uri); (err == nil) != tc.ok {
				t.Fatalf("ValidateRedirectURI(%q) = %v, want ok=%v", tc.uri, err, tc.ok)
			}
		})
	}
}

func FuzzValidateRedirectURI(f *testing.F) {
	for _, s := range []string{"https://a.example/cb", "http://127.0.0.1/x", "com.x.y:/z", "http://evil.example", "https://a#b", "javascript:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateRedirectURI(s) != nil {
			return
		}
		// Whatever passes is absolute, fragment-free, without user info, and
		// plain http only on loopback.
		u, err := url.Parse(s)
		if err != nil || !u.IsAbs() || u.Fragment != "" || strings.Contains(s, "#") || u.User != nil {
			t.Fatalf("accepted %q", s)
		}
		if u.Scheme == "http" && u.Hostname() != "localhost" && !strings.HasPrefix(u.Hostname(), "127.") && u.Hostname() != "::1" {
			t.Fatalf("accepted remote http %q", s)
		}
	})
}

func TestTenantSpecValidate(t *testing.T) {
	good := TenantSpec{Name: "A", RedirectURIs: []string{"https://a.example/cb"}}
	good.defaults()
	cases := []struct {
		name   string
		mod    func(*TenantSpec)
		wantIn []string // every problem must be named
	}{
		{"good", func(*TenantSpec) {}, nil},
		{"everything wrong at once", func(s *TenantSpec) {
			s.Name = ""
			s.GrantTypes = []string{"password"}
			s.AccessToken = "paseto"
			s.RedirectURIs = []string{"http://evil.example/"}
		}, []string{"name", "unknown grant", "access token format", "redirect URI"}},
		{"public with client credentials", func(s *TenantSpec) {
			s.Public = true
			s.GrantTypes = []string{"client_credentials"}
		}, []string{"public client"}},
		{"refresh without code", func(s *TenantSpec) { s.GrantTypes = []string{"refresh_token", "client_credentials"} }, []string{"refresh_token needs"}},
		{"code without redirect", func(s *TenantSpec) { s.RedirectURIs = nil }, []string{"at least one"}},
		{"bad scope", func(s *TenantSpec) { s.Scopes = []string{"a b"} }, []string{"bad scope"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			tc.mod(&s)
			err := s.Validate()
			if (err == nil) != (tc.wantIn == nil) {
				t.Fatalf("Validate() = %v", err)
			}
			if err != nil && !errors.Is(err, ErrInvalidTenant) {
				t.Fatalf("not ErrInvalidTenant: %v", err)
			}
			for _, w := range tc.wantIn {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestSecretHasher(t *testing.T) {
	ctx := context.Background()
	h := &secretHasher{key: []byte("k1")}
	hash, _ := h.Hash(ctx, []byte("s3cret"))
	cases := []struct {
		name   string
		hasher *secretHasher
		hash   []byte
		secret string
		ok     bool
	}{
		{"right", h, hash, "s3cret", true},
		{"wrong secret", h, hash, "s3creT", false},
		{"other server key", &secretHasher{key: []byte("k2")}, hash, "s3cret", false},
		{"bcrypt-looking hash", h, []byte("$2a$10$abcdefghijklmnopqrstuv"), "s3cret", false},
		{"empty hash (public client)", h, nil, "", false},
		{"corrupt base64", h, []byte(secretHashPrefix + "!!!"), "s3cret", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.hasher.Compare(ctx, tc.hash, []byte(tc.secret)); (err == nil) != tc.ok {
				t.Fatalf("Compare = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestChallenge(t *testing.T) {
	p, _ := newTestProvider(t)
	form := url.Values{"client_id": {"c"}, "scope": {"openid email"}, "state": {"s&t=u"}}
	at := time.Now().UTC().Truncate(time.Second)
	c := p.mintChallenge(form, at)
	got, gotAt, err := p.openChallenge(c)
	if err != nil || got.Encode() != form.Encode() || !gotAt.Equal(at) {
		t.Fatalf("round trip: %v %v %v", got, gotAt, err)
	}
	body, sig, _ := strings.Cut(c, ".")
	cases := []struct{ name, c string }{
		{"no signature", body},
		{"flipped signature", body + "." + strings.Repeat("A", len(sig))},
		{"other body", "eyJxIjoiY2xpZW50X2lkPWV2aWwiLCJ0IjoxfQ." + sig},
		{"expired", p.mintChallenge(form, at.Add(-time.Hour))},
		{"from the future", p.mintChallenge(form, at.Add(time.Hour))},
		{"empty", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := p.openChallenge(tc.c); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func FuzzOpenChallenge(f *testing.F) {
	p, _ := newTestProvider(f)
	f.Add(p.mintChallenge(url.Values{"a": {"b"}}, time.Now()))
	f.Add("x.y")
	f.Fuzz(func(t *testing.T, s string) {
		_, at, err := p.openChallenge(s)
		if err != nil {
			return
		}
		// Only a challenge we signed opens, and only inside its lifetime.
		body, sig, _ := strings.Cut(s, ".")
		if want := p.mintChallenge(url.Values{}, at); want == "" || sig == "" || body == "" {
			t.Fatalf("opened %q", s)
		}
		if age := time.Since(at); age > p.cfg.ChallengeLifespan || age < -time.Minute {
			t.Fatalf("opened a challenge outside its lifetime: %v", at)
		}
	})
}

// FuzzTokenRequest throws arbitrary bodies, content types and
// authorization headers at the real token endpoint: the answer is always an
// RFC 6749 error or a token, never a 5xx.
func FuzzTokenRequest(f *testing.F) {
	p, _ := newTestProvider(f)
	h := p.Handler()
	f.Add("grant_type=client_credentials", "application/x-www-form-urlencoded", "Basic YTpi")
	f.Add("grant_type=authorization_code&code=x&redirect_uri=http%3A%2F%2Flocalhost", "application/x-www-form-urlencoded", "")
	f.Add("grant_type=refresh_token&refresh_token=ory_rt_a.b&client_id=x", "multipart/form-data; boundary=x", "Bearer x")
	f.Add(`{"grant_type":"client_credentials"}`, "application/json", "Basic %%%")
	f.Fuzz(func(t *testing.T, body, ctype, auth string) {
		req := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for body %q ctype %q auth %q: %s", rec.Code, body, ctype, auth, rec.Body)
		}
		if rec.Code != 200 && !strings.Contains(rec.Body.String(), `"error"`) {
			t.Fatalf("status %d without an error body: %s", rec.Code, rec.Body)
		}
	})
}

// FuzzAuthorizeRequest does the same for the authorization endpoint's query.
func FuzzAuthorizeRequest(f *testing.F) {
	p, _ := newTestProvider(f)
	h := p.Handler()
	f.Add("client_id=x&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%2Fcb&state=abcdefghij")
	f.Add("prompt=none&max_age=-1&scope=openid")
	f.Fuzz(func(t *testing.T, q string) {
		req := httptest.NewRequest(http.MethodGet, "/oauth2/auth", nil)
		req.URL.RawQuery = q
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, q, rec.Body)
		}
	})
}

// FuzzTokenKID: reading the kid of an untrusted token never panics and
// returns a kid only from a well-formed header.
func FuzzTokenKID(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.e30.sig")
	f.Add("..")
	f.Fuzz(func(t *testing.T, tok string) {
		kid, err := tokenKID(tok)
		if err == nil && (kid == "" || !strings.Contains(tok, ".")) {
			t.Fatalf("kid %q from %q", kid, tok)
		}
	})
}
