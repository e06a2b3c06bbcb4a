package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

const (
	rpRedirect = "http://localhost:9999/cb"
	rpLogout   = "http://localhost:9999/bye"
	alice      = "alice@example.com"
	alicePass  = "correct horse battery staple"
)

// rp is a relying party built from the real client libraries.
type rp struct {
	t        *testing.T
	ctx      context.Context
	provider *oidc.Provider
	conf     oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func newRP(t *testing.T, srv *testServer, tn tenant, scopes ...string) *rp {
	ctx := context.Background()
	p, err := oidc.NewProvider(ctx, srv.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	return &rp{t: t, ctx: ctx, provider: p,
		conf:     oauth2.Config{ClientID: tn.ClientID, ClientSecret: tn.ClientSecret, Endpoint: ep, RedirectURL: rpRedirect, Scopes: scopes},
		verifier: p.Verifier(&oidc.Config{ClientID: tn.ClientID}),
	}
}

// flow runs a full authorization-code + PKCE flow in b and returns the tokens and verified ID token.
func (r *rp) flow(b *browser, extra ...oauth2.AuthCodeOption) (*oauth2.Token, *oidc.IDToken) {
	r.t.Helper()
	pkce := oauth2.GenerateVerifier()
	state, nonce := "state-"+oauth2.GenerateVerifier()[:12], "nonce-"+oauth2.GenerateVerifier()[:12]
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(pkce), oidc.Nonce(nonce)}, extra...)
	loc := b.signIn(r.conf.AuthCodeURL(state, opts...), alice, alicePass)
	q := loc.Query()
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != rpRedirect {
		r.t.Fatalf("redirected to %s, want %s", loc, rpRedirect)
	}
	if q.Get("state") != state || q.Get("code") == "" {
		r.t.Fatalf("callback %s: want code and state %s", loc, state)
	}
	tok, err := r.conf.Exchange(r.ctx, q.Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		r.t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.verifier.Verify(r.ctx, raw)
	if err != nil {
		r.t.Fatalf("ID token: %v", err)
	}
	if idt.Nonce != nonce {
		r.t.Fatalf("nonce %q, want %q", idt.Nonce, nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		r.t.Fatalf("at_hash: %v", err)
	}
	return tok, idt
}

// jwtHeader decodes a compact JWS header.
func jwtHeader(t *testing.T, tok string) map[string]any {
	t.Helper()
	seg, _, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("token header: %v", err)
	}
	var h map[string]any
	_ = json.Unmarshal(b, &h)
	return h
}

// introspect calls /oauth2/introspect as a tenant.
func introspect(t *testing.T, srv *testServer, tn tenant, token string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/oauth2/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(tn.ClientID, tn.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("introspect: status %d, %v", resp.StatusCode, err)
	}
	return out
}

func TestEndToEnd(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) { testEndToEnd(t, be) })
	}
}

func testEndToEnd(t *testing.T, be backend) {
	srv := startServer(t, be.dsn(t), nil)
	srv.cli(t, "user", "create", "--email", alice, "--password", alicePass, "--name", "Alice Liddell")
	app := srv.createTenant(t, "--name", "Wonderland", "--redirect-uri", rpRedirect, "--post-logout-redirect-uri", rpLogout,
		"--grant", "authorization_code,refresh_token,client_credentials")
	other := srv.createTenant(t, "--name", "Other", "--redirect-uri", rpRedirect, "--grant", "authorization_code,client_credentials")
	r := newRP(t, srv, app, oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess)
	b := newBrowser(t, srv.URL)

	var tok *oauth2.Token
	t.Run("code flow with PKCE, consent and ID token", func(t *testing.T) {
		r.t = t
		var idt *oidc.IDToken
		tok, idt = r.flow(b)
		var c struct {
			Email    string   `json:"email"`
			Verified bool     `json:"email_verified"`
			Name     string   `json:"name"`
			AMR      []string `json:"amr"`
			ACR      string   `json:"acr"`
			SID      string   `json:"sid"`
			AuthTime int64    `json:"auth_time"`
		}
		if err := idt.Claims(&c); err != nil {
			t.Fatal(err)
		}
		if c.Email != alice || !c.Verified || c.Name != "Alice Liddell" || !slices.Equal(c.AMR, []string{"pwd"}) || c.SID == "" || c.AuthTime == 0 || c.ACR == "" {
			t.Fatalf("ID token claims %+v", c)
		}
		if tok.RefreshToken == "" {
			t.Fatal("offline_access granted but no refresh token")
		}
		if kid := jwtHeader(t, tok.Extra("id_token").(string))["kid"]; kid == nil || kid == "" {
			t.Fatal("ID token has no kid")
		}
		// The first sign-in through the tenant made the account its member.
		db := storagetest.OpenDSN(t, srv.env["MANAM_DSN"])
		if m, err := storage.NewAccounts(db).Membership(context.Background(), idt.Subject, app.ClientID); err != nil || m.JoinedVia != "sign-in" {
			t.Fatalf("membership %+v %v", m, err)
		}
	})

	t.Run("second flow reuses the session and the remembered consent", func(t *testing.T) {
		r.t = t
		loc := b.signIn(r.conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "none")), "", "")
		if loc.Query().Get("code") == "" {
			t.Fatalf("prompt=none with a session and consent: %s", loc)
		}
	})

	t.Run("userinfo", func(t *testing.T) {
		ui, err := r.provider.UserInfo(r.ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatal(err)
		}
		if ui.Email != alice || !ui.EmailVerified || ui.Subject == "" {
			t.Fatalf("userinfo %+v", ui)
		}
		// POST with the token in the body (OIDC Core §5.3.1, RFC 6750 §2.2).
		resp, err := http.PostForm(srv.URL+"/userinfo", url.Values{"access_token": {tok.AccessToken}})
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if resp.StatusCode != 200 || got["sub"] != ui.Subject || got["name"] != "Alice Liddell" {
			t.Fatalf("POST userinfo: %d %v", resp.StatusCode, got)
		}
	})

	t.Run("introspection is limited to the token's tenant", func(t *testing.T) {
		got := introspect(t, srv, app, tok.AccessToken)
		if got["active"] != true || got["client_id"] != app.ClientID || !strings.Contains(got["scope"].(string), "email") {
			t.Fatalf("own token: %v", got)
		}
		if got := introspect(t, srv, other, tok.AccessToken); got["active"] != false || len(got) != 1 {
			t.Fatalf("other tenant's view: %v", got)
		}
	})

	t.Run("refresh rotates and reuse revokes the family", func(t *testing.T) {
		old := tok.RefreshToken
		stale := *tok
		stale.Expiry = stale.Expiry.Add(-24 * 3600e9)
		next, err := r.conf.TokenSource(r.ctx, &stale).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if next.RefreshToken == "" || next.RefreshToken == old || next.AccessToken == tok.AccessToken {
			t.Fatal("refresh did not rotate both tokens")
		}
		if introspect(t, srv, app, tok.AccessToken)["active"] != false {
			t.Fatal("access token of the rotated refresh token is still active")
		}
		if introspect(t, srv, app, next.AccessToken)["active"] != true {
			t.Fatal("new access token inactive")
		}
		// Replaying the rotated token fails and takes the new ones with it.
		if _, err := r.conf.TokenSource(r.ctx, &oauth2.Token{RefreshToken: old}).Token(); err == nil || !strings.Contains(err.Error(), "invalid") {
			t.Fatalf("reuse of a rotated refresh token: %v", err)
		}
		if introspect(t, srv, app, next.AccessToken)["active"] != false {
			t.Fatal("reuse did not revoke the new access token")
		}
		if _, err := r.conf.TokenSource(r.ctx, &oauth2.Token{RefreshToken: next.RefreshToken}).Token(); err == nil {
			t.Fatal("reuse did not revoke the new refresh token")
		}
	})

	t.Run("client credentials, opaque and JWT", func(t *testing.T) {
		cc := clientcredentials.Config{ClientID: app.ClientID, ClientSecret: app.ClientSecret, TokenURL: r.provider.Endpoint().TokenURL,
			Scopes: []string{"profile"}, AuthStyle: oauth2.AuthStyleInHeader}
		ct, err := cc.Token(r.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(ct.AccessToken, ".") == 2 {
			t.Fatal("opaque tenant got a JWT")
		}
		if got := introspect(t, srv, app, ct.AccessToken); got["active"] != true || got["sub"] != app.ClientID {
			t.Fatalf("introspect client-credentials token: %v", got)
		}
		// client_secret_post works too.
		cc.AuthStyle = oauth2.AuthStyleInParams
		if _, err := cc.Token(r.ctx); err != nil {
			t.Fatalf("client_secret_post: %v", err)
		}

		jt := srv.createTenant(t, "--name", "API", "--grant", "client_credentials", "--scope", "read,write", "--access-token", "jwt")
		jc := clientcredentials.Config{ClientID: jt.ClientID, ClientSecret: jt.ClientSecret, TokenURL: cc.TokenURL, Scopes: []string{"read"}, AuthStyle: oauth2.AuthStyleInHeader}
		at, err := jc.Token(r.ctx)
		if err != nil {
			t.Fatal(err)
		}
		h := jwtHeader(t, at.AccessToken)
		if h["typ"] != "at+jwt" || h["kid"] == nil {
			t.Fatalf("RFC 9068 header: %v", h)
		}
		claims := verifyWithJWKS(t, srv, at.AccessToken)
		if claims["client_id"] != jt.ClientID || claims["scope"] != "read" || claims["sub"] != jt.ClientID || claims["iss"] != srv.URL || claims["jti"] == nil {
			t.Fatalf("RFC 9068 claims: %v", claims)
		}
		if aud, _ := claims["aud"].([]any); len(aud) != 1 || aud[0] != jt.ClientID {
			t.Fatalf("aud %v", claims["aud"])
		}
		if got := introspect(t, srv, jt, at.AccessToken); got["active"] != true {
			t.Fatalf("introspect JWT: %v", got)
		}
		if _, err := jc.Token(context.WithValue(r.ctx, oauth2.HTTPClient, http.DefaultClient)); err != nil {
			t.Fatal(err)
		}
		jc.Scopes = []string{"admin"}
		if _, err := jc.Token(r.ctx); err == nil || !strings.Contains(err.Error(), "invalid_scope") {
			t.Fatalf("unregistered scope: %v", err)
		}
	})

	t.Run("revocation", func(t *testing.T) {
		r.t = t
		b2 := newBrowser(t, srv.URL)
		tok2, _ := r.flow(b2)
		form := url.Values{"token": {tok2.AccessToken}}
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/oauth2/revoke", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(app.ClientID, app.ClientSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("revoke: %v %v", resp.StatusCode, err)
		}
		resp.Body.Close()
		if introspect(t, srv, app, tok2.AccessToken)["active"] != false {
			t.Fatal("revoked token still active")
		}
		if _, err := r.provider.UserInfo(r.ctx, oauth2.StaticTokenSource(tok2)); err == nil {
			t.Fatal("userinfo accepted a revoked token")
		}
	})

	t.Run("key rotation between two flows", func(t *testing.T) {
		r.t = t
		before, beforeIDT := r.flow(newBrowser(t, srv.URL))
		oldKID := jwtHeader(t, before.Extra("id_token").(string))["kid"]
		var rot struct {
			KID         string
			ActivatesAt time.Time `json:"activates_at"`
		}
		_ = json.Unmarshal([]byte(srv.cli(t, "keys", "rotate", "--alg", "RS256", "--json")), &rot)
		waitFor(t, "the server to publish the new key", func() bool { return strings.Contains(string(get(t, srv.URL+"/.well-known/jwks.json")), rot.KID) })
		// It signs from its activation, 2 × MANAM_KEY_REFRESH (here 2 s) after the rotation.
		waitFor(t, "the new key to activate", func() bool { return time.Now().After(rot.ActivatesAt) })
		r2 := newRP(t, srv, app, oidc.ScopeOpenID, "email")
		after, _ := r2.flow(newBrowser(t, srv.URL))
		if kid := jwtHeader(t, after.Extra("id_token").(string))["kid"]; kid != rot.KID || kid == oldKID {
			t.Fatalf("new ID token kid %v, want %s (old %v)", kid, rot.KID, oldKID)
		}
		// The old key stays published: the earlier ID token still verifies.
		if _, err := r2.verifier.Verify(r.ctx, before.Extra("id_token").(string)); err != nil || beforeIDT == nil {
			t.Fatalf("token signed before rotation: %v", err)
		}
		// go-oidc pins the algorithms discovery listed: relying parties
		// must re-read discovery after a change of algorithm.
		r = r2
		r.conf.Scopes = []string{oidc.ScopeOpenID, "email", "profile", oidc.ScopeOfflineAccess}
	})

	t.Run("logout ends the session and redirects with state", func(t *testing.T) {
		r.t = t
		tok3, _ := r.flow(b)
		u := srv.URL + "/oauth2/logout?" + url.Values{"id_token_hint": {tok3.Extra("id_token").(string)},
			"post_logout_redirect_uri": {rpLogout}, "state": {"bye-state"}}.Encode()
		p := b.get(u)
		loc, err := p.Location()
		if p.StatusCode != http.StatusSeeOther || err != nil || loc.String() != rpLogout+"?state=bye-state" {
			t.Fatalf("logout: %d %v %s", p.StatusCode, loc, p.Body)
		}
		loc = b.signIn(r.conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "none")), "", "")
		if loc.Query().Get("error") != "login_required" {
			t.Fatalf("after logout, prompt=none: %s", loc)
		}
		// An unregistered post-logout URI is refused with a page, not a redirect.
		p = b.get(srv.URL + "/oauth2/logout?" + url.Values{"id_token_hint": {tok3.Extra("id_token").(string)}, "post_logout_redirect_uri": {"https://evil.example/"}}.Encode())
		if p.StatusCode != http.StatusBadRequest || p.Header.Get("Location") != "" {
			t.Fatalf("unregistered post-logout URI: %d", p.StatusCode)
		}
	})

	t.Run("prompt=login forces a new sign-in", func(t *testing.T) {
		b3 := newBrowser(t, srv.URL)
		r.t = t
		r.flow(b3)
		p := b3.get(r.conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "login")))
		if p.Request.URL.Path != "/login" {
			t.Fatalf("prompt=login with a session went to %s", p.Request.URL)
		}
	})
}

func get(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}

// verifyWithJWKS checks a JWT's signature against the published key set and returns its claims.
func verifyWithJWKS(t *testing.T, srv *testServer, tok string) map[string]any {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(get(t, srv.URL+"/.well-known/jwks.json"), &set); err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in JWKS", jws.Signatures[0].Header.KeyID)
	}
	if keys[0].IsPublic() == false {
		t.Fatal("JWKS publishes a private key")
	}
	payload, err := jws.Verify(keys[0].Key)
	if err != nil {
		t.Fatalf("JWT signature: %v", err)
	}
	var claims map[string]any
	_ = json.Unmarshal(payload, &claims)
	return claims
}
