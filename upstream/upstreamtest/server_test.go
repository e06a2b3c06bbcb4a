package upstreamtest_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/manam-id/manam/upstream/upstreamtest"
)

const redirectURI = "https://rp.example/callback"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// authorize gets a code for params (client_id, redirect_uri, response_type
// and scope filled in when absent).
func authorize(t *testing.T, f *upstreamtest.Server, params url.Values) url.Values {
	t.Helper()
	for k, v := range map[string]string{
		"client_id": f.ClientID(), "redirect_uri": redirectURI, "response_type": "code",
		"scope": "openid email profile", "state": "st-1",
	} {
		if !params.Has(k) {
			params.Set(k, v)
		}
	}
	u, err := f.Authorize(f.URL() + upstreamtest.PathAuth + "?" + params.Encode())
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	return u.Query()
}

type tokenReply struct {
	status int
	body   map[string]any
}

func postToken(t *testing.T, f *upstreamtest.Server, form url.Values, basicID, basicSecret string) tokenReply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.URL()+upstreamtest.PathToken, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	resp, err := f.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("token response: %v", err)
	}
	return tokenReply{resp.StatusCode, body}
}

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// TestBrowserCompletesLogin drives the fake as a browser would (an HTTP
// client following redirects), then as a relying party, and verifies the ID
// token with go-oidc against the fake's own discovery and JWKS.
func TestBrowserCompletesLogin(t *testing.T) {
	got := make(chan url.Values, 1)
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.Query()
		_, _ = io.WriteString(w, "signed in")
	}))
	defer rp.Close()
	u := upstreamtest.DefaultUser()
	u.HostedDomain = "example.com"
	f := upstreamtest.New(t, upstreamtest.Options{User: &u, RedirectURIs: []string{rp.URL + "/cb"}})

	verifier := strings.Repeat("v", 43)
	q := url.Values{
		"client_id": {f.ClientID()}, "redirect_uri": {rp.URL + "/cb"}, "response_type": {"code"},
		"scope": {"openid email profile"}, "state": {"xyz"}, "nonce": {"n-0S6"},
		"code_challenge": {s256(verifier)}, "code_challenge_method": {"S256"},
	}
	resp, err := http.Get(f.URL() + upstreamtest.PathAuth + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("browser ended with %s", resp.Status)
	}
	cb := <-got
	if cb.Get("state") != "xyz" || cb.Get("code") == "" || cb.Get("hd") != "example.com" {
		t.Fatalf("callback query = %v, want code, state=xyz, hd", cb)
	}

	tok := postToken(t, f, url.Values{
		"grant_type": {"authorization_code"}, "code": {cb.Get("code")},
		"redirect_uri": {rp.URL + "/cb"}, "code_verifier": {verifier},
	}, f.ClientID(), f.ClientSecret())
	if tok.status != http.StatusOK || tok.body["token_type"] != "Bearer" {
		t.Fatalf("token response = %d %v", tok.status, tok.body)
	}

	ctx := oidc.ClientContext(context.Background(), f.Client())
	p, err := oidc.NewProvider(ctx, f.URL())
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: f.ClientID()}).Verify(ctx, tok.body["id_token"].(string))
	if err != nil {
		t.Fatalf("go-oidc rejects the ID token: %v", err)
	}
	if err := idt.VerifyAccessToken(tok.body["access_token"].(string)); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"iss": f.URL(), "azp": f.ClientID(), "aud": f.ClientID(), "sub": u.Subject,
		"email": u.Email, "email_verified": true, "name": u.Name, "picture": u.Picture,
		"given_name": u.GivenName, "family_name": u.FamilyName, "locale": u.Locale,
		"hd": "example.com", "nonce": "n-0S6",
	} {
		if claims[k] != want {
			t.Errorf("ID token %s = %v, want %v", k, claims[k], want)
		}
	}
	if _, ok := claims["iat"].(float64); !ok {
		t.Errorf("ID token iat = %v, want a number", claims["iat"])
	}

	ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok.body["access_token"].(string), TokenType: "Bearer"}))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if ui.Subject != u.Subject || ui.Email != u.Email || !ui.EmailVerified {
		t.Errorf("userinfo = %+v", ui)
	}
	var uc map[string]any
	if err := ui.Claims(&uc); err != nil {
		t.Fatal(err)
	}
	if uc["hd"] != "example.com" || uc["given_name"] != u.GivenName {
		t.Errorf("userinfo claims = %v, want Google's fields", uc)
	}
}

func TestTokenEndpoint(t *testing.T) {
	verifier := strings.Repeat("k", 50)
	tests := []struct {
		name string
		// auth are the authorization parameters (challenge, …).
		auth url.Values
		// form builds the token request from the code; basic uses
		// client_secret_basic with these credentials.
		form      func(code string) url.Values
		basic     [2]string
		before    func(t *testing.T, f *upstreamtest.Server, clk *clock, code string)
		wantCode  int
		wantError string
		wantAuth  string
	}{
		{
			name:     "client_secret_basic",
			basic:    [2]string{upstreamtest.DefaultClientID, upstreamtest.DefaultClientSecret},
			wantCode: http.StatusOK, wantAuth: "client_secret_basic",
		},
		{
			name: "client_secret_post",
			form: func(code string) url.Values {
				return url.Values{"client_id": {upstreamtest.DefaultClientID}, "client_secret": {upstreamtest.DefaultClientSecret}}
			},
			wantCode: http.StatusOK, wantAuth: "client_secret_post",
		},
		{
			name:     "wrong secret",
			basic:    [2]string{upstreamtest.DefaultClientID, "nope"},
			wantCode: http.StatusUnauthorized, wantError: "invalid_client",
		},
		{
			name:     "no client authentication",
			wantCode: http.StatusUnauthorized, wantError: "invalid_client",
		},
		{
			name:  "two client authentication methods",
			basic: [2]string{upstreamtest.DefaultClientID, upstreamtest.DefaultClientSecret},
			form: func(string) url.Values {
				return url.Values{"client_secret": {upstreamtest.DefaultClientSecret}}
			},
			wantCode: http.StatusBadRequest, wantError: "invalid_request",
		},
		{
			name:     "unknown code",
			basic:    [2]string{upstreamtest.DefaultClientID, upstreamtest.DefaultClientSecret},
			form:     func(string) url.Values { return url.Values{"code": {"4/0forged"}} },
			wantCode: http.StatusBadRequest, wantError: "invalid_grant",
		},
		{
			name:  "code used twice",
			basic: [2]string{upstreamtest.DefaultClientID, upstreamtest.DefaultClientSecret},
			before: func(t *testing.T, f *upstreamtest.Server, _ *clock, code string) {
				r := postToken(t, f, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}},
					f.ClientID(), f.ClientSecret())
				if r.status != http.StatusOK {
					t.Fatalf("first use: %d %v", r.status, r.body)
				}
			},
			wantCode: http.StatusBadRequest, wantError: "invalid_grant",
		},
		{
			name:     "expired code",
			basic:    [2]string{upstreamtest.DefaultClientID, upstreamtest.DefaultClientSecret},
			before:   func(_ *testing.T, _ *upstreamtest.Server, clk *clock, _ string) { clk.Advance(11 * time.Minute) },
			wantCode: http.StatusBadRequest, wantError: "invalid_grant",
		},
		{
			name:     "other redirect_uri",
			basic:    [2]string{upstreamtest.DefaultClientID, upstreamtest.DefaultClientSecret},
			form:     func(string) url.Values { return url.Values{"redirect_uri": {"https://evil.example/cb"}} },
			wantCode: http.StatusBadRequest, wantError: "redirect_uri_mismatch",
		},
		{
			name:     "wrong grant_type",
			basic:    [2]string{upstreamtest.DefaultClientID, upstreamtest.DefaultClientSecret},
			form:     func(string) url.Values { return url.Values{"grant_type": {"password"}} },
			wantCode: http.StatusBadRequest, wantError: "unsupported_grant_type",
		},
		{
			name:     "S256 verifier",
			auth:     url.Values{"code_challenge": {s256(verifier)}, "code_challenge_method": {"S256"}},
			basic:    [2]string{upstreamtest.DefaultClientID, upstreamtest.DefaultClientSecret},
			form:     func(string) url.Values { return url.Values{"code_verifier": {verifier}} },
			wantCode: http.StatusOK,
		},
		{
			name:     "S256 wrong verifier",
			auth:     url.Values{"code_challenge": {s256(verifier)}, "code_challenge_method": {"S256"}},
			basic:    [2]string{upstreamtest.DefaultClientID, upstreamtest.DefaultClientSecret},
			form:     func(string) url.Values { return url.Values{"code_verifier": {verifier + "x"}} },
			wantCode: http.StatusBadRequest, wantError: "invalid_grant",
		},
		{
			name:     "S256 verifier missing",
			auth:     url.Values{"code_challenge": {s256(verifier)}, "code_challenge_method": {"S256"}},
			basic:    [2]string{upstreamtest.DefaultClientID, upstreamtest.DefaultClientSecret},
			wantCode: http.StatusBadRequest, wantError: "invalid_grant",
		},
		{
			name:     "plain verifier",
			auth:     url.Values{"code_challenge": {verifier}},
			basic:    [2]string{upstreamtest.DefaultClientID, upstreamtest.DefaultClientSecret},
			form:     func(string) url.Values { return url.Values{"code_verifier": {verifier}} },
			wantCode: http.StatusOK,
		},
		{
			name:     "verifier without challenge",
			basic:    [2]string{upstreamtest.DefaultClientID, upstreamtest.DefaultClientSecret},
			form:     func(string) url.Values { return url.Values{"code_verifier": {verifier}} },
			wantCode: http.StatusBadRequest, wantError: "invalid_grant",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{t: time.Now()}
			f := upstreamtest.New(t, upstreamtest.Options{Now: clk.Now})
			auth := url.Values{}
			for k, v := range tc.auth {
				auth[k] = v
			}
			code := authorize(t, f, auth).Get("code")
			if code == "" {
				t.Fatal("no code")
			}
			if tc.before != nil {
				tc.before(t, f, clk, code)
			}
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}}
			if tc.form != nil {
				for k, v := range tc.form(code) {
					form[k] = v
				}
			}
			r := postToken(t, f, form, tc.basic[0], tc.basic[1])
			if r.status != tc.wantCode || (tc.wantError != "" && r.body["error"] != tc.wantError) {
				t.Fatalf("token response = %d %v, want %d %q", r.status, r.body, tc.wantCode, tc.wantError)
			}
			if tc.wantCode == http.StatusOK && (r.body["id_token"] == nil || r.body["access_token"] == nil) {
				t.Errorf("token response %v lacks id_token or access_token", r.body)
			}
			reqs := f.RequestsTo(upstreamtest.EndpointToken)
			last := reqs[len(reqs)-1]
			if last.Status != tc.wantCode || (tc.wantAuth != "" && last.ClientAuth != tc.wantAuth) {
				t.Errorf("recorded %+v, want status %d auth %q", last, tc.wantCode, tc.wantAuth)
			}
		})
	}
}

func TestAuthorizeErrors(t *testing.T) {
	f := upstreamtest.New(t, upstreamtest.Options{RedirectURIs: []string{redirectURI}})
	noFollow := *f.Client()
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	get := func(q url.Values) *http.Response {
		t.Helper()
		resp, err := noFollow.Get(f.URL() + upstreamtest.PathAuth + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	base := func() url.Values {
		return url.Values{"client_id": {f.ClientID()}, "redirect_uri": {redirectURI}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s1"}}
	}
	tests := []struct {
		name       string
		mutate     func(url.Values)
		faults     upstreamtest.Faults
		wantStatus int
		wantError  string // in the redirect
	}{
		{name: "unknown client", mutate: func(q url.Values) { q.Set("client_id", "x") }, wantStatus: http.StatusBadRequest},
		{name: "unregistered redirect_uri", mutate: func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") }, wantStatus: http.StatusBadRequest},
		{name: "implicit flow", mutate: func(q url.Values) { q.Set("response_type", "token") }, wantStatus: http.StatusFound, wantError: "unsupported_response_type"},
		{name: "no scope", mutate: func(q url.Values) { q.Del("scope") }, wantStatus: http.StatusFound, wantError: "invalid_request"},
		{name: "unknown challenge method", mutate: func(q url.Values) { q.Set("code_challenge", "c"); q.Set("code_challenge_method", "S512") }, wantStatus: http.StatusFound, wantError: "invalid_request"},
		{name: "denied", faults: upstreamtest.Faults{DenyConsent: true}, wantStatus: http.StatusFound, wantError: "access_denied"},
		{name: "down", faults: upstreamtest.Faults{Down: true}, wantStatus: http.StatusServiceUnavailable},
		{name: "signed in", wantStatus: http.StatusFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.SetFaults(tc.faults)
			q := base()
			if tc.mutate != nil {
				tc.mutate(q)
			}
			resp := get(q)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if resp.StatusCode != http.StatusFound {
				return
			}
			loc, err := resp.Location()
			if err != nil {
				t.Fatal(err)
			}
			back := loc.Query()
			if back.Get("state") != "s1" || back.Get("error") != tc.wantError || (tc.wantError == "") != back.Has("code") {
				t.Errorf("redirect query %v, want state=s1 error=%q", back, tc.wantError)
			}
		})
	}
}

func TestDiscoveryDocument(t *testing.T) {
	f := upstreamtest.New(t, upstreamtest.Options{TLS: true})
	if !strings.HasPrefix(f.URL(), "https://") {
		t.Fatalf("URL %q, want https with TLS", f.URL())
	}
	resp, err := f.Client().Get(f.URL() + upstreamtest.PathDiscovery)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{
		"issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
		"response_types_supported", "subject_types_supported", "id_token_signing_alg_values_supported",
		"scopes_supported", "claims_supported", "code_challenge_methods_supported",
		"token_endpoint_auth_methods_supported",
	} {
		if doc[k] == nil {
			t.Errorf("discovery lacks %s", k)
		}
	}
	if doc["issuer"] != f.URL() || doc["token_endpoint"] != f.URL()+upstreamtest.PathToken {
		t.Errorf("issuer, token_endpoint = %v, %v", doc["issuer"], doc["token_endpoint"])
	}
	if algs, _ := doc["id_token_signing_alg_values_supported"].([]any); len(algs) != 1 || algs[0] != "RS256" {
		t.Errorf("id_token_signing_alg_values_supported = %v, want [RS256]", algs)
	}
}

func TestUserInfoRequiresAValidBearer(t *testing.T) {
	f := upstreamtest.New(t, upstreamtest.Options{})
	for _, h := range []string{"", "Bearer ya29.forged", "Basic eDp5"} {
		req, _ := http.NewRequest(http.MethodGet, f.URL()+upstreamtest.PathUserInfo, nil)
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		resp, err := f.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("Authorization %q: %s, want 401 with WWW-Authenticate", h, resp.Status)
		}
	}
}
