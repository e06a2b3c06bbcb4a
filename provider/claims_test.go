package provider

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/manam-id/manam/idp"
)

// signIn creates an account and a session for it.
func (e *reviewEnv) signIn(in idp.NewAccount) *http.Cookie {
	e.t.Helper()
	ctx := context.Background()
	in.Password = "a long enough password"
	a, err := e.p.idp.CreateAccount(ctx, in)
	if err != nil {
		e.t.Fatal(err)
	}
	tok, _, err := e.p.idp.StartSession(ctx, a, []string{"pwd"}, false)
	if err != nil {
		e.t.Fatal(err)
	}
	return &http.Cookie{Name: "manam_session", Value: tok}
}

// jwtPayload is the raw JSON payload of a compact JWT.
func jwtPayload(t *testing.T, token string) []byte {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestScopeClaims: the phone scope yields phone_number and
// phone_number_verified (OIDC Core §5.4) in the ID token and at userinfo,
// and numeric claims such as updated_at are signed as integers, not in
// exponent form (the session makes a round trip through the database
// between the authorization and the token request).
func TestScopeClaims(t *testing.T) {
	e := newReviewEnv(t)
	app := e.tenant(TenantSpec{Name: "App", RedirectURIs: []string{reviewRedirect}, FirstParty: true})
	verifier := testVerifier
	integer := regexp.MustCompile(`"updated_at":\d+[,}]`)

	tests := []struct {
		name      string
		account   idp.NewAccount
		scope     string
		wantPhone any // nil: no phone claims
	}{
		{name: "phone scope, verified mobile", account: idp.NewAccount{Email: "phone@example.com", EmailVerified: true, Mobile: "+4915112345678", MobileVerified: true},
			scope: "openid profile email phone", wantPhone: "+4915112345678"},
		{name: "phone scope, account without mobile", account: idp.NewAccount{Email: "nophone@example.com", EmailVerified: true},
			scope: "openid profile email phone"},
		{name: "mobile but no phone scope", account: idp.NewAccount{Email: "noscope@example.com", EmailVerified: true, Mobile: "+4915187654321", MobileVerified: true},
			scope: "openid profile email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cookie := e.signIn(tt.account)
			toks := e.exchange(app, reviewRedirect, e.code(app.ClientID, reviewRedirect, tt.scope, verifier, cookie), verifier)
			raw := jwtPayload(t, toks["id_token"].(string))
			if !integer.Match(raw) {
				t.Errorf("ID token updated_at is not an integer: %s", raw)
			}
			var claims struct {
				UpdatedAt     int64   `json:"updated_at"`
				PhoneNumber   *string `json:"phone_number"`
				PhoneVerified *bool   `json:"phone_number_verified"`
			}
			if err := json.Unmarshal(raw, &claims); err != nil {
				t.Fatalf("ID token claims into typed fields: %v", err)
			}

			req := httptest.NewRequest(http.MethodGet, "/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+toks["access_token"].(string))
			rec := e.do(req)
			if rec.Code != http.StatusOK {
				t.Fatalf("userinfo: %d %s", rec.Code, rec.Body)
			}
			info := map[string]any{}
			dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
			if err := dec.Decode(&info); err != nil {
				t.Fatal(err)
			}

			if tt.wantPhone == nil {
				if claims.PhoneNumber != nil || info["phone_number"] != nil {
					t.Errorf("phone_number given without the phone scope or a mobile: ID token %v, userinfo %v", claims.PhoneNumber, info["phone_number"])
				}
				return
			}
			if claims.PhoneNumber == nil || *claims.PhoneNumber != tt.wantPhone || claims.PhoneVerified == nil || !*claims.PhoneVerified {
				t.Errorf("ID token phone claims = %v, %v; want %v, true", claims.PhoneNumber, claims.PhoneVerified, tt.wantPhone)
			}
			if info["phone_number"] != tt.wantPhone || info["phone_number_verified"] != true {
				t.Errorf("userinfo phone claims = %v, %v; want %v, true", info["phone_number"], info["phone_number_verified"], tt.wantPhone)
			}
		})
	}
}
