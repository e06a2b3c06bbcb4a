package provider

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/manam-id/manam/storage/storagetest"
)

// TestSealRoundTripAndRotation: a sealed token opens to its claims; a
// sealer with the next key id opens it too and seals under its own id; a
// sealer two ids further, or over another secret, does not open it.
func TestSealRoundTripAndRotation(t *testing.T) {
	s1, err := newAccessSealer([]byte(testSecret), 1)
	if err != nil {
		t.Fatal(err)
	}
	c := &sealedClaims{ID: "jti", RequestID: "req", ClientID: "client", Subject: "sub", Scopes: []string{"openid"},
		IssuedMS: time.Now().UnixMilli(), RequestedAt: time.Now().Unix(), Expires: time.Now().Add(time.Hour).Unix()}
	tok, err := s1.sealAccess(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "mnm_at_1_") || strings.Contains(tok, "client") {
		t.Fatalf("token %q: want prefix mnm_at_1_ and nothing in clear", tok)
	}
	if got, err := s1.openAccess(tok); err != nil || got.RequestID != "req" || got.Subject != "sub" || got.Scopes[0] != "openid" {
		t.Fatalf("open: %+v, %v", got, err)
	}
	s2, _ := newAccessSealer([]byte(testSecret), 2)
	if _, err := s2.openAccess(tok); err != nil {
		t.Fatalf("the next key id refuses a token of the previous one: %v", err)
	}
	tok2, _ := s2.sealAccess(c)
	if !strings.HasPrefix(tok2, "mnm_at_2_") {
		t.Fatalf("rotated sealer sealed %q", tok2)
	}
	if _, err := s1.openAccess(tok2); err != nil {
		t.Fatalf("a server not yet rotated refuses the next id's token: %v", err)
	}
	s3, _ := newAccessSealer([]byte(testSecret), 3)
	if _, err := s3.openAccess(tok); err == nil {
		t.Fatal("a token two key ids old still opens")
	}
	other, _ := newAccessSealer([]byte("another-secret-0123456789-0123456789-abc"), 1)
	if _, err := other.openAccess(tok); err == nil {
		t.Fatal("a token opens under another secret")
	}
}

// TestBadAccessTokensInactive: a flipped bit, a truncated token, a token
// sealed under another secret, an expired one, one whose key id is
// retired, another tenant's token and a revoked one are inactive at
// introspection and refused at userinfo and by AccessTokenInfo (the legacy
// and dialect endpoints' check): never a 500. A valid token is active (the control).
func TestBadAccessTokensInactive(t *testing.T) {
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			e := newReviewEnvOn(t, b)
			app := e.tenant(TenantSpec{Name: "App", RedirectURIs: []string{reviewRedirect}, FirstParty: true})
			other := e.tenant(TenantSpec{Name: "Other", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
			_, cookie := e.user("bad-tokens@example.com")
			toks := e.exchange(app, reviewRedirect, e.code(app.ClientID, reviewRedirect, "openid", testVerifier, cookie), testVerifier)
			valid := toks["access_token"].(string)
			revoked := e.exchange(app, reviewRedirect, e.code(app.ClientID, reviewRedirect, "openid", testVerifier, cookie), testVerifier)["access_token"].(string)
			if rec := e.postForm("/oauth2/revoke", url.Values{"token": {revoked}},
				func(r *http.Request) { r.SetBasicAuth(app.ClientID, app.ClientSecret) }); rec.Code != http.StatusOK {
				t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
			}
			claims, err := e.p.sealer.openAccess(valid)
			if err != nil {
				t.Fatal(err)
			}
			reseal := func(s *accessSealer, mutate func(*sealedClaims)) string {
				c := *claims
				mutate(&c)
				tok, err := s.sealAccess(&c)
				if err != nil {
					t.Fatal(err)
				}
				return tok
			}
			otherSecret, _ := newAccessSealer([]byte("another-secret-0123456789-0123456789-abc"), 1)
			retired, _ := newAccessSealer([]byte(testSecret), 5)
			flip := []byte(valid)
			flip[len(flip)/2] ^= 0x01
			cases := []struct {
				name, token string
				caller      *Created
				active      bool
			}{
				{"valid (control)", valid, app, true},
				{"one flipped bit", string(flip), app, false},
				{"truncated", valid[:len(valid)-3], app, false},
				{"prefix only", "mnm_at_1_", app, false},
				{"another MANAM_SECRET", reseal(otherSecret, func(*sealedClaims) {}), app, false},
				{"expired", reseal(e.p.sealer, func(c *sealedClaims) { c.Expires = time.Now().Add(-time.Second).Unix() }), app, false},
				{"retired key id", reseal(retired, func(*sealedClaims) {}), app, false},
				{"another tenant's token", valid, other, false},
				{"revoked (RFC 7009)", revoked, app, false},
				{"ID token as access token", toks["id_token"].(string), app, false},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					rec := e.postForm("/oauth2/introspect", url.Values{"token": {tc.token}},
						func(r *http.Request) { r.SetBasicAuth(tc.caller.ClientID, tc.caller.ClientSecret) })
					if rec.Code != http.StatusOK {
						t.Fatalf("introspection: %d %s", rec.Code, rec.Body)
					}
					if m := decodeJSON(t, rec); m["active"] != tc.active {
						t.Fatalf("introspection: %v, want active %v", m, tc.active)
					}
					if tc.caller != app {
						return
					}
					req := httptest.NewRequest(http.MethodGet, "/userinfo", nil)
					req.Header.Set("Authorization", "Bearer "+tc.token)
					want := http.StatusUnauthorized
					if tc.active {
						want = http.StatusOK
					}
					if rec := e.do(req); rec.Code != want {
						t.Fatalf("userinfo: %d %s, want %d", rec.Code, rec.Body, want)
					}
					if _, err := e.p.AccessTokenInfo(context.Background(), tc.token); (err == nil) != tc.active {
						t.Fatalf("AccessTokenInfo: %v, want active %v", err, tc.active)
					}
				})
			}
		})
	}
}

// FuzzOpenSealed: the parser never panics, and whatever opens carries
// exactly the claims sealed (an envelope is authenticated: a mutation
// never opens to other claims).
func FuzzOpenSealed(f *testing.F) {
	s, err := newAccessSealer([]byte(testSecret), 1)
	if err != nil {
		f.Fatal(err)
	}
	want := sealedClaims{ID: "j", RequestID: "r", ClientID: "c", Subject: "s", IssuedMS: 1, Expires: 2}
	valid, err := s.sealAccess(&want)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{valid, valid[:len(valid)-1], valid + "A", "mnm_at_", "mnm_at_1_", "mnm_at_01_AAAA", "mnm_at_2_" + valid[9:],
		"mnm_at_-1_x", "mnm_at_999999999_x", "mnm_g_1_AAAA", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		if c, err := s.openAccess(tok); err == nil && (c.ID != want.ID || c.RequestID != want.RequestID || c.ClientID != want.ClientID ||
			c.Subject != want.Subject || c.IssuedMS != want.IssuedMS || c.Expires != want.Expires || len(c.Scopes)+len(c.Audience) != 0) {
			t.Fatalf("%q opened to claims never sealed: %+v", tok, c)
		}
		_, _ = s.openGrant(tok)
	})
}
