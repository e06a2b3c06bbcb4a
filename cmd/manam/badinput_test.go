package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/manam-id/manam/storage"
)

// badCase is one malformed request and exactly how it must be answered.
type badCase struct {
	name    string
	method  string
	path    string // with query
	body    string
	ctype   string // default form
	auth    [2]string
	bearer  string
	status  int
	errCode string // RFC 6749 "error" in the JSON body, or in the redirect's query
	page    bool   // an HTML error page (no redirect)
	redir   bool   // a redirect to the client carrying errCode
	// revokes marks a request whose refusal must revoke tokens (a replayed
	// code, a reused refresh token): rows may only disappear or deactivate.
	revokes bool
}

// issuedCode runs a flow up to the callback and returns a fresh code and its PKCE verifier.
func issuedCode(t *testing.T, b *browser, conf oauth2.Config) (code, verifier string) {
	t.Helper()
	verifier = oauth2.GenerateVerifier()
	loc := b.signIn(conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(verifier)), alice, alicePass)
	code = loc.Query().Get("code")
	if code == "" {
		t.Fatalf("no code: %s", loc)
	}
	return code, verifier
}

func TestBadInput(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) { testBadInput(t, be) })
	}
}

func testBadInput(t *testing.T, be backend) {
	dsn := be.dsn(t)
	srv := startServer(t, dsn, nil)
	srv.cli(t, "user", "create", "--email", alice, "--password", alicePass)
	app := srv.createTenant(t, "--name", "App", "--redirect-uri", rpRedirect, "--first-party",
		"--grant", "authorization_code,refresh_token,client_credentials")
	pub := srv.createTenant(t, "--name", "SPA", "--public", "--redirect-uri", rpRedirect, "--first-party")
	conf := oauth2.Config{ClientID: app.ClientID, ClientSecret: app.ClientSecret, RedirectURL: rpRedirect, Scopes: []string{"openid", "offline_access"},
		Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/oauth2/auth", TokenURL: srv.URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}}
	b := newBrowser(t, srv.URL)

	// Material for the cases: a used code, an expired code, a revoked refresh token, a client-credentials token.
	usedCode, usedVerifier := issuedCode(t, b, conf)
	tok, err := conf.Exchange(context.Background(), usedCode, oauth2.VerifierOption(usedVerifier))
	if err != nil {
		t.Fatal(err)
	}
	// The expired code comes from a second server on the same database
	// whose codes live 1 s: the live code below, issued by the first, must
	// outlive every case (on a loaded machine the cases take seconds).
	short := startServer(t, dsn, map[string]string{"MANAM_AUTH_CODE_TTL": "1s"})
	shortConf := conf
	shortConf.Endpoint = oauth2.Endpoint{AuthURL: short.URL + "/oauth2/auth", TokenURL: short.URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}
	expiredCode, expiredVerifier := issuedCode(t, newBrowser(t, short.URL), shortConf)
	time.Sleep(2100 * time.Millisecond) // MANAM_AUTH_CODE_TTL=1s: let it expire
	liveCode, liveVerifier := issuedCode(t, b, conf)
	revoke := url.Values{"token": {tok.RefreshToken}}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/oauth2/revoke", strings.NewReader(revoke.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(app.ClientID, app.ClientSecret)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("revoke refresh token: %v", err)
	}
	ccResp := struct {
		AccessToken string `json:"access_token"`
	}{}
	{
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/oauth2/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(app.ClientID, app.ClientSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = json.NewDecoder(resp.Body).Decode(&ccResp)
		resp.Body.Close()
	}

	ok := [2]string{app.ClientID, app.ClientSecret}
	authQ := func(mod func(url.Values)) string {
		q := url.Values{"client_id": {app.ClientID}, "response_type": {"code"}, "redirect_uri": {rpRedirect}, "scope": {"openid"},
			"state": {"state-123456789"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
		mod(q)
		return "/oauth2/auth?" + q.Encode()
	}
	codeBody := func(code, verifier, redirect string) string {
		return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {redirect}}.Encode()
	}
	cases := []badCase{
		// token endpoint
		{name: "token: GET", method: "GET", path: "/oauth2/token?grant_type=client_credentials", auth: ok, status: 400, errCode: "invalid_request"},
		{name: "token: no grant_type", method: "POST", path: "/oauth2/token", body: "scope=openid", auth: ok, status: 400, errCode: "invalid_request"},
		{name: "token: unsupported grant", method: "POST", path: "/oauth2/token", body: "grant_type=password&username=a&password=b", auth: ok, status: 400, errCode: "unsupported_grant_type"},
		{name: "token: repeated grant_type", method: "POST", path: "/oauth2/token", body: "grant_type=client_credentials&grant_type=client_credentials", auth: ok, status: 400, errCode: "invalid_request"},
		{name: "token: JSON body", method: "POST", path: "/oauth2/token", body: `{"grant_type":"client_credentials"}`, ctype: "application/json", auth: ok, status: 400, errCode: "invalid_request"},
		{name: "token: oversized body", method: "POST", path: "/oauth2/token", body: "grant_type=client_credentials&pad=" + strings.Repeat("x", 200<<10), auth: ok, status: 400, errCode: "invalid_request"},
		{name: "token: unknown client", method: "POST", path: "/oauth2/token", body: "grant_type=client_credentials", auth: [2]string{"nobody", "x"}, status: 401, errCode: "invalid_client"},
		{name: "token: wrong secret", method: "POST", path: "/oauth2/token", body: "grant_type=client_credentials", auth: [2]string{app.ClientID, "wrong"}, status: 401, errCode: "invalid_client"},
		{name: "token: no client authentication", method: "POST", path: "/oauth2/token", body: "grant_type=client_credentials", status: 401, errCode: "invalid_client"},
		{name: "token: public client cannot use client_credentials", method: "POST", path: "/oauth2/token", body: "grant_type=client_credentials&client_id=" + pub.ClientID, status: 400, errCode: "invalid_grant"},
		{name: "token: unknown scope", method: "POST", path: "/oauth2/token", body: "grant_type=client_credentials&scope=admin", auth: ok, status: 400, errCode: "invalid_scope"},
		{name: "token: mismatched redirect_uri", method: "POST", path: "/oauth2/token", body: codeBody(liveCode, liveVerifier, "http://localhost:9999/other"), auth: ok, status: 400, errCode: "invalid_grant"},
		{name: "token: wrong PKCE verifier", method: "POST", path: "/oauth2/token", body: codeBody(liveCode, oauth2.GenerateVerifier(), rpRedirect), auth: ok, status: 400, errCode: "invalid_grant"},
		{name: "token: missing PKCE verifier", method: "POST", path: "/oauth2/token", body: codeBody(liveCode, "", rpRedirect), auth: ok, status: 400, errCode: "invalid_grant"},
		{name: "token: replayed code", method: "POST", path: "/oauth2/token", body: codeBody(usedCode, usedVerifier, rpRedirect), auth: ok, status: 400, errCode: "invalid_grant", revokes: true},
		{name: "token: expired code", method: "POST", path: "/oauth2/token", body: codeBody(expiredCode, expiredVerifier, rpRedirect), auth: ok, status: 400, errCode: "invalid_grant"},
		{name: "token: forged code", method: "POST", path: "/oauth2/token", body: codeBody("ory_ac_forged.forged", liveVerifier, rpRedirect), auth: ok, status: 400, errCode: "invalid_grant"},
		{name: "token: code of another client", method: "POST", path: "/oauth2/token", body: codeBody(liveCode, liveVerifier, rpRedirect) + "&client_id=" + pub.ClientID, status: 400, errCode: "invalid_grant"},
		{name: "token: revoked refresh token", method: "POST", path: "/oauth2/token", body: "grant_type=refresh_token&refresh_token=" + url.QueryEscape(tok.RefreshToken), auth: ok, status: 400, errCode: "invalid_grant", revokes: true},
		{name: "token: garbage refresh token", method: "POST", path: "/oauth2/token", body: "grant_type=refresh_token&refresh_token=%00%ff", auth: ok, status: 400, errCode: "invalid_grant"},
		// authorize endpoint
		{name: "authorize: unknown client", method: "GET", path: authQ(func(q url.Values) { q.Set("client_id", "nobody") }), status: 401, page: true},
		{name: "authorize: mismatched redirect URI", method: "GET", path: authQ(func(q url.Values) { q.Set("redirect_uri", "http://localhost:9999/cb/evil") }), status: 400, page: true},
		{name: "authorize: redirect URI with extra query", method: "GET", path: authQ(func(q url.Values) { q.Set("redirect_uri", rpRedirect+"?x=1") }), status: 400, page: true},
		{name: "authorize: repeated parameter", method: "GET", path: authQ(func(q url.Values) { q.Add("scope", "email") }), status: 400, page: true},
		{name: "authorize: unsupported response_type", method: "GET", path: authQ(func(q url.Values) { q.Set("response_type", "token") }), status: 303, redir: true, errCode: "unsupported_response_type"},
		{name: "authorize: unknown scope", method: "GET", path: authQ(func(q url.Values) { q.Set("scope", "openid admin") }), status: 303, redir: true, errCode: "invalid_scope"},
		{name: "authorize: short state", method: "GET", path: authQ(func(q url.Values) { q.Set("state", "abc") }), status: 303, redir: true, errCode: "invalid_state"},
		{name: "authorize: plain PKCE", method: "GET", path: authQ(func(q url.Values) { q.Set("code_challenge_method", "plain") }), status: 303, redir: true, errCode: "invalid_request"},
		{name: "authorize: public client without PKCE", method: "GET", path: authQ(func(q url.Values) {
			q.Set("client_id", pub.ClientID)
			q.Del("code_challenge")
			q.Del("code_challenge_method")
		}), status: 303, redir: true, errCode: "invalid_request"},
		{name: "authorize: bad max_age", method: "GET", path: authQ(func(q url.Values) { q.Set("max_age", "-5") }), status: 303, redir: true, errCode: "invalid_request"},
		{name: "authorize: missing client_id", method: "GET", path: authQ(func(q url.Values) { q.Del("client_id") }), status: 401, page: true},
		{name: "authorize: missing response_type", method: "GET", path: authQ(func(q url.Values) { q.Del("response_type") }), status: 303, redir: true, errCode: "unsupported_response_type"},
		{name: "authorize: forged resume challenge", method: "GET", path: "/oauth2/auth/resume?challenge=eyJxIjoiIn0.AAAA", status: 400, page: true},
		// introspection
		{name: "introspect: no client authentication", method: "POST", path: "/oauth2/introspect", body: "token=x", status: 401, errCode: "request_unauthorized"},
		{name: "introspect: wrong secret", method: "POST", path: "/oauth2/introspect", body: "token=x", auth: [2]string{app.ClientID, "nope"}, status: 401, errCode: "request_unauthorized"},
		{name: "introspect: bearer instead of client", method: "POST", path: "/oauth2/introspect", body: "token=x", bearer: ccResp.AccessToken, status: 401, errCode: "request_unauthorized"},
		{name: "introspect: GET", method: "GET", path: "/oauth2/introspect?token=x", auth: ok, status: 400, errCode: "invalid_request"},
		{name: "introspect: empty body", method: "POST", path: "/oauth2/introspect", auth: ok, status: 400, errCode: "invalid_request"},
		{name: "introspect: missing token", method: "POST", path: "/oauth2/introspect", body: "token_type_hint=access_token", auth: ok, status: 400, errCode: "invalid_request"},
		{name: "introspect: repeated parameter", method: "POST", path: "/oauth2/introspect", body: "token=" + url.QueryEscape(ccResp.AccessToken) + "&token=x", auth: ok, status: 400, errCode: "invalid_request"},
		{name: "introspect: oversized body", method: "POST", path: "/oauth2/introspect", body: "token=x&pad=" + strings.Repeat("x", 200<<10), auth: ok, status: 400, errCode: "invalid_request"},
		{name: "introspect: JSON body", method: "POST", path: "/oauth2/introspect", body: `{"token":"x"}`, ctype: "application/json", auth: ok, status: 400, errCode: "invalid_request"},
		// revocation
		{name: "revoke: no client authentication", method: "POST", path: "/oauth2/revoke", body: "token=x", status: 401, errCode: "invalid_client"},
		{name: "revoke: GET", method: "GET", path: "/oauth2/revoke?token=x", auth: ok, status: 400, errCode: "invalid_request"},
		{name: "revoke: missing token", method: "POST", path: "/oauth2/revoke", body: "token_type_hint=access_token", auth: ok, status: 400, errCode: "invalid_request"},
		{name: "revoke: empty body", method: "POST", path: "/oauth2/revoke", auth: ok, status: 400, errCode: "invalid_request"},
		{name: "revoke: repeated token", method: "POST", path: "/oauth2/revoke", body: "token=" + url.QueryEscape(ccResp.AccessToken) + "&token=x", auth: ok, status: 400, errCode: "invalid_request"},
		{name: "revoke: oversized body", method: "POST", path: "/oauth2/revoke", body: "token=" + url.QueryEscape(ccResp.AccessToken) + "&pad=" + strings.Repeat("x", 200<<10), auth: ok, status: 400, errCode: "invalid_request"},
		{name: "revoke: JSON body", method: "POST", path: "/oauth2/revoke", body: `{"token":"` + ccResp.AccessToken + `"}`, ctype: "application/json", auth: ok, status: 400, errCode: "invalid_request"},
		// userinfo
		{name: "userinfo: no token", method: "GET", path: "/userinfo", status: 401, errCode: "invalid_request"},
		{name: "userinfo: forged token", method: "GET", path: "/userinfo", bearer: "ory_at_forged.forged", status: 401, errCode: "invalid_token"},
		{name: "userinfo: token without openid", method: "GET", path: "/userinfo", bearer: ccResp.AccessToken, status: 403, errCode: "insufficient_scope"},
		{name: "userinfo: wrong method", method: "PUT", path: "/userinfo", status: 405, errCode: "invalid_request"},
		{name: "userinfo: oversized body", method: "POST", path: "/userinfo", body: "access_token=x&pad=" + strings.Repeat("x", 200<<10), status: 400, errCode: "invalid_request"},
		// logout
		{name: "logout: forged id_token_hint", method: "GET", path: "/oauth2/logout?id_token_hint=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", status: 400, page: true},
		{name: "logout: repeated parameter", method: "GET", path: "/oauth2/logout?client_id=" + app.ClientID + "&client_id=" + app.ClientID, status: 400, page: true},
		{name: "logout: unregistered post_logout_redirect_uri", method: "GET", path: "/oauth2/logout?client_id=" + app.ClientID + "&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F", status: 400, page: true},
		// login page
		{name: "login: forged challenge", method: "GET", path: "/login?challenge=eyJxIjoiIn0.AAAA", status: 400, page: true},
		{name: "login: POST without CSRF", method: "POST", path: "/login", body: "challenge=x&email=a&password=b", status: 400, page: true},
	}

	db, err := storage.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	counts := func() map[string]int64 {
		c, err := db.RowCounts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// fingerprint is the content of every table: a refused request must
	// not UPDATE either (invalidate a code, deactivate a token), which row
	// counts cannot see. No table is excluded: none of these requests
	// writes by design (nothing here records a failure or a last-seen time).
	fingerprint := func() map[string]string {
		f, err := db.Fingerprint(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, beforeFP := counts(), fingerprint()
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			if tc.body != "" || tc.method == "POST" {
				ct := tc.ctype
				if ct == "" {
					ct = "application/x-www-form-urlencoded"
				}
				req.Header.Set("Content-Type", ct)
			}
			if tc.auth[0] != "" {
				req.SetBasicAuth(tc.auth[0], tc.auth[1])
			}
			if tc.bearer != "" {
				req.Header.Set("Authorization", "Bearer "+tc.bearer)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; body %.300s", resp.StatusCode, tc.status, body)
			}
			switch {
			case tc.page:
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || resp.Header.Get("Location") != "" {
					t.Fatalf("want an HTML error page, got %q, Location %q", ct, resp.Header.Get("Location"))
				}
			case tc.redir:
				loc, err := resp.Location()
				if err != nil || !strings.HasPrefix(loc.String(), rpRedirect) || loc.Query().Get("error") != tc.errCode {
					t.Fatalf("want redirect to the client with error=%s, got %v", tc.errCode, loc)
				}
			default:
				var e struct {
					Error string `json:"error"`
				}
				if err := json.Unmarshal(body, &e); err != nil || e.Error != tc.errCode {
					t.Fatalf("error %q, want %q; body %.300s", e.Error, tc.errCode, body)
				}
			}
			if strings.Contains(string(body), "goroutine ") || strings.Contains(string(body), ".go:") {
				t.Fatalf("response leaks debug detail: %.300s", body)
			}
			after, afterFP := counts(), fingerprint()
			if tc.revokes {
				for k, v := range after {
					if v > before[k] {
						t.Fatalf("a refused replay added rows: before %v, after %v", before, after)
					}
				}
				// Only the grant's tokens may change (deactivated, or
				// revoked by a row of the revocation table).
				for _, k := range changedTables(beforeFP, afterFP) {
					if k != "oauth2_revocations" && k != "oauth2_refresh_tokens" {
						t.Fatalf("a refused replay wrote to %s", k)
					}
				}
			} else if ch := changedTables(beforeFP, afterFP); len(ch) > 0 {
				t.Fatalf("a rejected request wrote to %v: before %v, after %v", ch, before, after)
			}
		})
	}
	// Control: the fingerprint sees the server's UPDATEs. Redeeming the
	// live code (which every refusal above left usable) only invalidates
	// its row: the same count, new content.
	const codes = "oauth2_authorize_codes"
	before, beforeFP := counts(), fingerprint()
	if _, err := conf.Exchange(context.Background(), liveCode, oauth2.VerifierOption(liveVerifier)); err != nil {
		t.Fatalf("the live code no longer works after the refusals: %v", err)
	}
	after, afterFP := counts(), fingerprint()
	if before[codes] != after[codes] || beforeFP[codes] == afterFP[codes] {
		t.Fatalf("redeeming a code: %s count %d → %d, fingerprint %s → %s", codes, before[codes], after[codes], beforeFP[codes], afterFP[codes])
	}
}

// changedTables names the tables whose fingerprint differs.
func changedTables(before, after map[string]string) []string {
	var out []string
	for k, v := range after {
		if before[k] != v {
			out = append(out, k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// TestPKCEDowngrade: a wrong verifier must not erase the challenge, so a
// later request without any verifier cannot pass as "no PKCE" (fosite
// v0.49.0 deleted the challenge first; see provider/pkce.go).
func TestPKCEDowngrade(t *testing.T) {
	srv := startServer(t, "sqlite:"+t.TempDir()+"/m.db", nil)
	srv.cli(t, "user", "create", "--email", alice, "--password", alicePass)
	app := srv.createTenant(t, "--name", "App", "--redirect-uri", rpRedirect, "--first-party")
	conf := oauth2.Config{ClientID: app.ClientID, ClientSecret: app.ClientSecret, RedirectURL: rpRedirect, Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/oauth2/auth", TokenURL: srv.URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}}
	code, verifier := issuedCode(t, newBrowser(t, srv.URL), conf)
	ctx := context.Background()
	steps := []struct {
		name    string
		opts    []oauth2.AuthCodeOption
		wantErr bool
	}{
		{"wrong verifier", []oauth2.AuthCodeOption{oauth2.VerifierOption(oauth2.GenerateVerifier())}, true},
		{"no verifier after a wrong one", nil, true},
		{"the right verifier still works", []oauth2.AuthCodeOption{oauth2.VerifierOption(verifier)}, false},
		{"the code is then used up", []oauth2.AuthCodeOption{oauth2.VerifierOption(verifier)}, true},
	}
	for _, st := range steps {
		_, err := conf.Exchange(ctx, code, st.opts...)
		if (err != nil) != st.wantErr {
			t.Fatalf("%s: err = %v, want error %v", st.name, err, st.wantErr)
		}
	}
}
