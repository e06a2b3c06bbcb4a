package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/manam-id/manam/idp/mfa"
	"github.com/manam-id/manam/keys"
	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
	"github.com/manam-id/manam/upstream/upstreamtest"
)

// fedRP is a tenant's relying party for federation tests: x/oauth2 and go-oidc.
type fedRP struct {
	t        *testing.T
	srv      *testServer
	conf     oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func newFedRP(t *testing.T, srv *testServer, tn tenant) *fedRP {
	p, err := oidc.NewProvider(context.Background(), srv.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	return &fedRP{t: t, srv: srv, conf: oauth2.Config{ClientID: tn.ClientID, ClientSecret: tn.ClientSecret, Endpoint: ep, RedirectURL: rpRedirect,
		Scopes: []string{oidc.ScopeOpenID, "email", "profile"}}, verifier: p.Verifier(&oidc.Config{ClientID: tn.ClientID})}
}

// fedAttempt is one authorization request of the relying party.
type fedAttempt struct {
	url, state, nonce, pkce string
}

func (r *fedRP) attempt() fedAttempt {
	a := fedAttempt{state: "state-" + oauth2.GenerateVerifier()[:12], nonce: "nonce-" + oauth2.GenerateVerifier()[:12], pkce: oauth2.GenerateVerifier()}
	a.url = r.conf.AuthCodeURL(a.state, oauth2.S256ChallengeOption(a.pkce), oidc.Nonce(a.nonce))
	return a
}

type fedClaims struct {
	Sub           string   `json:"sub"`
	Email         string   `json:"email"`
	EmailVerified bool     `json:"email_verified"`
	Name          string   `json:"name"`
	GivenName     string   `json:"given_name"`
	AMR           []string `json:"amr"`
}

// finish exchanges the code the tenant received and verifies the ID token.
func (r *fedRP) finish(a fedAttempt, loc *url.URL) fedClaims {
	r.t.Helper()
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != rpRedirect || loc.Query().Get("state") != a.state || loc.Query().Get("code") == "" {
		r.t.Fatalf("tenant callback %s: want a code and state %s", loc, a.state)
	}
	tok, err := r.conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(a.pkce))
	if err != nil {
		r.t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.verifier.Verify(context.Background(), raw)
	if err != nil || idt.Nonce != a.nonce {
		r.t.Fatalf("ID token: %v (nonce %q)", err, idt.Nonce)
	}
	var c fedClaims
	if err := idt.Claims(&c); err != nil {
		r.t.Fatal(err)
	}
	return c
}

var upstreamButton = regexp.MustCompile(`href="(/upstream/[a-z0-9_-]+/start[^"]*)"`)

// toUpstream opens the tenant's authorization URL, takes the login page's
// "Sign in with" button of upstream id, and returns where Manam sends the
// browser: the upstream's authorization endpoint.
func toUpstream(t *testing.T, b *browser, srv *testServer, authURL, id string) *url.URL {
	t.Helper()
	p := b.get(authURL)
	if p.StatusCode != http.StatusOK || p.Request.URL.Path != "/login" {
		t.Fatalf("want the login page, got %d %s", p.StatusCode, p.Request.URL)
	}
	href := ""
	for _, m := range upstreamButton.FindAllStringSubmatch(p.Body, -1) {
		if strings.HasPrefix(m[1], "/upstream/"+id+"/") {
			href = html.UnescapeString(m[1])
		}
	}
	if href == "" {
		t.Fatalf("no Sign in with %s on the login page:\n%s", id, p.Body)
	}
	return startAt(t, b, srv.URL+href)
}

// startAt opens a start URL and returns the upstream authorization URL it redirects to.
func startAt(t *testing.T, b *browser, u string) *url.URL {
	t.Helper()
	p := b.get(u)
	loc, err := p.Location()
	if p.StatusCode != http.StatusFound || err != nil {
		t.Fatalf("start: want a redirect to the upstream, got %d: %s", p.StatusCode, p.Body)
	}
	return loc
}

// viaFake lets the fake Google answer the authorization request and
// returns Manam's callback URL.
func viaFake(t *testing.T, f *upstreamtest.Server, authURL *url.URL) string {
	t.Helper()
	cb, err := f.Authorize(authURL.String())
	if err != nil {
		t.Fatal(err)
	}
	return cb.String()
}

// location is where a page redirected to, or fails the test.
func location(t *testing.T, p page) *url.URL {
	t.Helper()
	loc, err := p.Location()
	if p.StatusCode < 300 || p.StatusCode > 399 || err != nil {
		t.Fatalf("want a redirect, got %d %s:\n%.800s", p.StatusCode, p.Request.URL, p.Body)
	}
	return loc
}

func noServerError(t *testing.T, p page) {
	t.Helper()
	if p.StatusCode >= 500 {
		t.Fatalf("%s: %d", p.Request.URL, p.StatusCode)
	}
}

// unchanged asserts a request wrote nothing.
func unchanged(t *testing.T, db *storage.DB, before map[string]int64) {
	t.Helper()
	after, err := db.RowCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range before {
		if k == "login_sessions" || k == "outbox" {
			continue
		}
		if after[k] != v {
			t.Errorf("%s: %d rows, was %d", k, after[k], v)
		}
	}
}

func TestFederationGoogle(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) { testFederationGoogle(t, be) })
	}
}

func testFederationGoogle(t *testing.T, be backend) {
	ctx := context.Background()
	f := upstreamtest.New(t, upstreamtest.Options{})
	dsn := be.dsn(t)
	srv := startServer(t, dsn, map[string]string{"MANAM_GOOGLE_CLIENT_ID": f.ClientID(), "MANAM_GOOGLE_CLIENT_SECRET": f.ClientSecret(),
		"MANAM_GOOGLE_ISSUER": f.URL()})
	srv.cli(t, "user", "create", "--email", alice, "--password", alicePass, "--name", "Alice Liddell")
	app := srv.createTenant(t, "--name", "Wonderland", "--redirect-uri", rpRedirect, "--first-party")
	rp := newFedRP(t, srv, app)
	db := storagetest.OpenDSN(t, dsn)
	accts := storage.NewAccounts(db)

	ada := upstreamtest.DefaultUser()
	var adaSub string
	adaBrowser := newBrowser(t, srv.URL)
	t.Run("a new account through a tenant's code flow", func(t *testing.T) {
		f.SetUser(ada)
		a := rp.attempt()
		p := adaBrowser.get(viaFake(t, f, toUpstream(t, adaBrowser, srv, a.url, "google")))
		c := rp.finish(a, location(t, p))
		if c.Email != ada.Email || !c.EmailVerified || c.Name != ada.Name || c.GivenName != "Ada" || !slices.Equal(c.AMR, []string{"fed"}) {
			t.Fatalf("ID token claims %+v", c)
		}
		adaSub = c.Sub
		m, err := accts.Membership(ctx, c.Sub, app.ClientID)
		if err != nil || m.JoinedVia != "upstream" {
			t.Fatalf("membership %+v %v", m, err)
		}
		// The same person again, from another browser: the same subject.
		b := newBrowser(t, srv.URL)
		a = rp.attempt()
		if c := rp.finish(a, location(t, b.get(viaFake(t, f, toUpstream(t, b, srv, a.url, "google"))))); c.Sub != adaSub {
			t.Fatalf("second sign-in sub %q, want %q", c.Sub, adaSub)
		}
	})

	t.Run("linking by verified e-mail needs the password once", func(t *testing.T) {
		f.SetUser(upstreamtest.User{Subject: "alice-at-google", Email: alice, EmailVerified: true, Name: "Alice G"})
		b := newBrowser(t, srv.URL)
		a := rp.attempt()
		p := b.get(viaFake(t, f, toUpstream(t, b, srv, a.url, "google")))
		if p.StatusCode != http.StatusOK || p.Request.URL.Path != "/upstream/link" || !strings.Contains(p.Body, alice) {
			t.Fatalf("want the password page, got %d %s:\n%.600s", p.StatusCode, p.Request.URL, p.Body)
		}
		form := formFields(p.Body)
		form.Set("password", "not the password")
		wrong := b.post(srv.URL+"/upstream/link", form)
		if wrong.StatusCode != http.StatusUnauthorized || !strings.Contains(wrong.Body, "Wrong password.") {
			t.Fatalf("wrong password: %d:\n%.600s", wrong.StatusCode, wrong.Body)
		}
		if acct, err := accts.AccountByEmail(ctx, alice); err != nil || acct.FailedLogins != 1 {
			t.Fatalf("the wrong password was not counted: %+v %v", acct, err)
		}
		if _, err := storage.NewLinks(db).LinkBySubject(ctx, "google", "alice-at-google"); err == nil {
			t.Fatal("linked after a wrong password")
		}
		form = formFields(wrong.Body)
		form.Set("password", alicePass)
		c := rp.finish(a, location(t, b.post(srv.URL+"/upstream/link", form)))
		acct, _ := accts.AccountByEmail(ctx, alice)
		if c.Sub != acct.ID || !slices.Equal(c.AMR, []string{"fed", "pwd"}) || acct.FailedLogins != 0 {
			t.Fatalf("linked sign-in %+v (account %s, failures %d)", c, acct.ID, acct.FailedLogins)
		}
		// The proof is single use.
		if p := b.post(srv.URL+"/upstream/link", form); p.StatusCode != http.StatusBadRequest {
			t.Fatalf("second use of the proof: %d", p.StatusCode)
		}
		// Next time, no proof.
		b2 := newBrowser(t, srv.URL)
		a = rp.attempt()
		if c := rp.finish(a, location(t, b2.get(viaFake(t, f, toUpstream(t, b2, srv, a.url, "google"))))); c.Sub != acct.ID {
			t.Fatalf("next sign-in %+v", c)
		}
	})

	t.Run("an unverified e-mail of an existing account is refused", func(t *testing.T) {
		before, _ := db.RowCounts(ctx)
		f.SetUser(upstreamtest.User{Subject: "impostor", Email: alice, EmailVerified: false})
		b := newBrowser(t, srv.URL)
		p := b.get(viaFake(t, f, toUpstream(t, b, srv, rp.attempt().url, "google")))
		if p.StatusCode != http.StatusForbidden || !strings.Contains(p.Body, "has not verified") {
			t.Fatalf("want a refusal, got %d:\n%.600s", p.StatusCode, p.Body)
		}
		unchanged(t, db, before)
	})

	t.Run("upstream failures", func(t *testing.T) {
		f.SetUser(ada)
		cases := []struct {
			name   string
			faults upstreamtest.Faults
			mangle func(cb string) string
			code   string // the tenant's error redirect; "" for a page
			status int
		}{
			{name: "consent denied", faults: upstreamtest.Faults{DenyConsent: true}, code: "access_denied"},
			{name: "token endpoint 500", faults: upstreamtest.Faults{TokenStatus: 500}, code: "temporarily_unavailable"},
			{name: "nonce mismatch", faults: upstreamtest.Faults{Nonce: "someone-elses-nonce"}, code: "server_error"},
			{name: "replayed ID token", faults: upstreamtest.Faults{ReplayIDToken: true}, code: "server_error"},
			{name: "ID token signed with another key", faults: upstreamtest.Faults{WrongKey: true}, code: "server_error"},
			{name: "tampered state", mangle: func(cb string) string { return strings.Replace(cb, "state=", "state=x", 1) }, status: http.StatusBadRequest},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before, _ := db.RowCounts(ctx)
				b := newBrowser(t, srv.URL)
				a := rp.attempt()
				authURL := toUpstream(t, b, srv, a.url, "google")
				f.SetFaults(tc.faults)
				defer f.SetFaults(upstreamtest.Faults{})
				cb := viaFake(t, f, authURL)
				if tc.mangle != nil {
					cb = tc.mangle(cb)
				}
				p := b.get(cb)
				noServerError(t, p)
				if tc.code != "" {
					loc := location(t, p)
					if !strings.HasPrefix(loc.String(), rpRedirect) || loc.Query().Get("error") != tc.code || loc.Query().Get("state") != a.state {
						t.Fatalf("want %s at the tenant, got %s", tc.code, loc)
					}
				} else if p.StatusCode != tc.status {
					t.Fatalf("status %d, want %d:\n%.600s", p.StatusCode, tc.status, p.Body)
				}
				unchanged(t, db, before)
			})
		}
		t.Run("callback without the state cookie", func(t *testing.T) {
			b := newBrowser(t, srv.URL)
			cb := viaFake(t, f, toUpstream(t, b, srv, rp.attempt().url, "google"))
			p := newBrowser(t, srv.URL).get(cb)
			if p.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, "not started in this browser") {
				t.Fatalf("%d:\n%.600s", p.StatusCode, p.Body)
			}
			// The state is single use: the first browser cannot come back twice.
			if p := b.get(cb); p.StatusCode != http.StatusFound && p.StatusCode != http.StatusSeeOther {
				t.Fatalf("first use: %d", p.StatusCode)
			}
			if p := b.get(cb); p.StatusCode != http.StatusBadRequest {
				t.Fatalf("replayed callback: %d", p.StatusCode)
			}
		})
		t.Run("expired state", func(t *testing.T) {
			b := newBrowser(t, srv.URL)
			authURL := toUpstream(t, b, srv, rp.attempt().url, "google")
			ageStateCookie(t, b, srv, "google", 11*time.Minute)
			p := b.get(viaFake(t, f, authURL))
			if p.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, "expired") {
				t.Fatalf("%d:\n%.600s", p.StatusCode, p.Body)
			}
		})
		t.Run("upstream down, no tenant waiting", func(t *testing.T) {
			f.SetFaults(upstreamtest.Faults{TokenStatus: 503})
			defer f.SetFaults(upstreamtest.Faults{})
			b := newBrowser(t, srv.URL)
			p := b.get(viaFake(t, f, startAt(t, b, srv.URL+"/upstream/google/start")))
			if p.StatusCode != http.StatusFailedDependency || !strings.Contains(p.Body, "Google is not answering") {
				t.Fatalf("%d:\n%.600s", p.StatusCode, p.Body)
			}
		})
		t.Run("unknown upstream", func(t *testing.T) {
			for _, path := range []string{"/upstream/nope/start", "/upstream/nope/callback?code=x&state=y"} {
				if p := newBrowser(t, srv.URL).get(srv.URL + path); p.StatusCode != http.StatusNotFound {
					t.Fatalf("%s: %d", path, p.StatusCode)
				}
			}
		})
	})

	t.Run("the account page lists and removes links, not the last way in", func(t *testing.T) {
		p := adaBrowser.get(srv.URL + "/account")
		if p.StatusCode != http.StatusOK || !strings.Contains(p.Body, "Linked accounts") || !strings.Contains(p.Body, ada.Email) {
			t.Fatalf("account page %d:\n%.600s", p.StatusCode, p.Body)
		}
		form := formFields(p.Body)
		if form.Get("upstream") != "google" || form.Get("subject") != ada.Subject {
			t.Fatalf("unlink form %v", form)
		}
		refused := adaBrowser.post(srv.URL+"/account/upstream/unlink", form)
		if refused.StatusCode != http.StatusConflict || !strings.Contains(refused.Body, "only way to sign in") {
			t.Fatalf("removing the last way in: %d", refused.StatusCode)
		}
		// Alice has a password: her link goes.
		b := newBrowser(t, srv.URL)
		b.signIn(rp.attempt().url, alice, alicePass)
		p = b.get(srv.URL + "/account")
		form = formFields(p.Body)
		if form.Get("subject") != "alice-at-google" {
			t.Fatalf("alice's links: %v", form)
		}
		if p := b.post(srv.URL+"/account/upstream/unlink", form); p.StatusCode != http.StatusOK || !strings.Contains(p.Body, "The linked account is removed.") {
			t.Fatalf("unlink: %d", p.StatusCode)
		}
		if ls, _ := storage.NewLinks(db).LinksOf(ctx, adaSub); len(ls) != 1 {
			t.Fatalf("ada's links %v", ls)
		}
		acct, _ := accts.AccountByEmail(ctx, alice)
		if ls, _ := storage.NewLinks(db).LinksOf(ctx, acct.ID); len(ls) != 0 {
			t.Fatalf("alice's links %v", ls)
		}
	})

	t.Run("a legacy Google finish link works only in its own browser", func(t *testing.T) {
		f.SetUser(ada)
		// Someone signs in with their Google account through the legacy
		// link, and keeps the finish link instead of following it.
		mallory := newBrowser(t, srv.URL)
		stop := mallory.c.CheckRedirect
		mallory.c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if req.URL.Path == "/upstream/legacy/done" {
				return http.ErrUseLastResponse
			}
			return stop(req, via)
		}
		done := location(t, mallory.get(viaFake(t, f, startAt(t, mallory, srv.URL+"/googlelogin/"+app.CustomerToken))))
		if done.Path != "/upstream/legacy/done" {
			t.Fatalf("finish link: %s", done)
		}
		// A victim signs in afterwards (their own legacy Google sign-in,
		// finished), then opens the kept link.
		victim := newBrowser(t, srv.URL)
		if p := victim.get(viaFake(t, f, startAt(t, victim, srv.URL+"/googlelogin/"+app.CustomerToken))); p.StatusCode != http.StatusOK {
			t.Fatalf("the victim's own sign-in: %d", p.StatusCode)
		}
		if p := victim.get(srv.URL + done.RequestURI()); p.StatusCode != http.StatusBadRequest || strings.Contains(p.Body, "access_token") {
			t.Fatalf("someone else's finish link in the victim's browser: %d %.300s", p.StatusCode, p.Body)
		}
		// In its own browser it still finishes.
		if p := mallory.get(srv.URL + done.RequestURI()); p.StatusCode != http.StatusOK || !strings.Contains(p.Body, "access_token") {
			t.Fatalf("the finish link in its own browser: %d %.300s", p.StatusCode, p.Body)
		}
	})

	t.Run("the legacy Google link", func(t *testing.T) {
		f.SetUser(ada)
		for _, prefix := range []string{"", "/manam"} {
			b := newBrowser(t, srv.URL)
			p := b.get(viaFake(t, f, startAt(t, b, srv.URL+prefix+"/googlelogin/"+app.CustomerToken)))
			if p.StatusCode != http.StatusOK || p.Request.URL.Path != "/upstream/legacy/done" {
				t.Fatalf("%s: %d %s:\n%.600s", prefix, p.StatusCode, p.Request.URL, p.Body)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(p.Body), &got); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"access_token", "username", "fullname", "email", "roles", "permissions"} {
				if _, ok := got[k]; !ok {
					t.Fatalf("answer lacks %s: %v", k, got)
				}
			}
			if got["email"] != ada.Email || got["fullname"] != ada.Name || got["oauth2_provider"] != "google" {
				t.Fatalf("answer %v", got)
			}
			if in := introspect(t, srv, app, got["access_token"].(string)); in["active"] != true || in["sub"] != adaSub {
				t.Fatalf("introspection of the legacy token: %v", in)
			}
		}
		for _, prefix := range []string{"", "/manam"} {
			resp, err := http.Get(srv.URL + prefix + "/googlelogin/no-such-key")
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]string
			_ = json.NewDecoder(resp.Body).Decode(&got)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || got["status"] != "unsuccess" || got["location"] != "/" || got["message"] == "" {
				t.Fatalf("unknown key: %d %v", resp.StatusCode, got)
			}
		}
	})

	t.Run("Login with Manam ends at its callback when the upstream fails", func(t *testing.T) {
		// The authorization request names the legacy API's callback (an
		// issuer redirect): its error redirect goes there too, and the
		// callback answers the documents' failure, not an error page.
		f.SetUser(ada)
		b := newBrowser(t, srv.URL)
		authURL := toUpstream(t, b, srv, srv.URL+"/manamlogin/"+app.CustomerToken, "google")
		f.SetFaults(upstreamtest.Faults{TokenStatus: 500})
		defer f.SetFaults(upstreamtest.Faults{})
		p := b.get(viaFake(t, f, authURL))
		var got map[string]any
		if err := json.Unmarshal([]byte(p.Body), &got); err != nil || p.Request.URL.Path != "/manamlogin/callback" ||
			p.StatusCode != http.StatusUnauthorized || got["status"] != "unsuccess" || p.Request.URL.Query().Get("error") != "temporarily_unavailable" {
			t.Fatalf("%d at %s:\n%.600s", p.StatusCode, p.Request.URL, p.Body)
		}
	})
}

// ageStateCookie rewrites the browser's sealed upstream state as if the
// login had started age ago (the test knows the server's secret).
func ageStateCookie(t *testing.T, b *browser, srv *testServer, id string, age time.Duration) {
	t.Helper()
	u, _ := url.Parse(srv.URL + "/upstream/" + id + "/callback")
	var value string
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "manam_upstream" {
			value = c.Value
		}
	}
	s, err := mfa.NewSealer(keys.Derive([]byte(testSecret), "upstream state"), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.Open(value, "upstream:"+id)
	if err != nil {
		t.Fatalf("state cookie: %v", err)
	}
	var st map[string]any
	_ = json.Unmarshal(raw, &st)
	inner := st["st"].(map[string]any)
	inner["t"] = time.Now().Add(-age).UTC().Format(time.RFC3339Nano)
	raw, _ = json.Marshal(st)
	sealed, err := s.Seal(raw, "upstream:"+id)
	if err != nil {
		t.Fatal(err)
	}
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "manam_upstream", Value: sealed, Path: "/upstream/" + id + "/"}})
}

// TestFederationManamUpstream: a second Manam server is the upstream, real
// OpenID Connect on both sides: a user of the second signs in to a tenant
// of the first.
func TestFederationManamUpstream(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) { testFederationManamUpstream(t, be) })
	}
}

func testFederationManamUpstream(t *testing.T, be backend) {
	const carol, carolPass = "carol@example.com", "carol's long passphrase"
	up := startServer(t, be.dsn(t), nil)
	up.cli(t, "user", "create", "--email", carol, "--password", carolPass, "--name", "Carol Corp")
	corp := up.createTenant(t, "--name", "Downstream Manam", "--redirect-uri", "http://127.0.0.1:1/placeholder", "--first-party")
	cfg, _ := json.Marshal([]map[string]any{{"id": "corp", "name": "Corp SSO", "issuer": up.URL, "client_id": corp.ClientID,
		"client_secret": corp.ClientSecret, "scopes": []string{"openid", "email", "profile"}}})
	srv := startServer(t, be.dsn(t), map[string]string{"MANAM_UPSTREAMS": string(cfg)})
	up.cli(t, "tenant", "update", corp.ClientID, "--redirect-uri", srv.URL+"/upstream/corp/callback")
	app := srv.createTenant(t, "--name", "Shop", "--redirect-uri", rpRedirect, "--first-party")
	rp := newFedRP(t, srv, app)

	// One person, one cookie jar, two servers.
	b := newBrowser(t, srv.URL)
	bUp := &browser{t: t, issuer: mustParse(t, up.URL)}
	bUp.c = &http.Client{Jar: b.c.Jar, Timeout: 30 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != bUp.issuer.Host || len(via) > 10 {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	a := rp.attempt()
	authURL := toUpstream(t, b, srv, a.url, "corp")
	if !strings.HasPrefix(authURL.String(), up.URL+"/oauth2/auth?") {
		t.Fatalf("sent to %s", authURL)
	}
	var cb *url.URL
	waitFor(t, "the upstream tenant's new redirect URI", func() bool {
		p := bUp.get(authURL.String())
		return p.StatusCode == http.StatusOK && p.Request.URL.Path == "/login"
	})
	cb = bUp.signIn(authURL.String(), carol, carolPass)
	if !strings.HasPrefix(cb.String(), srv.URL+"/upstream/corp/callback?") {
		t.Fatalf("upstream sent the browser to %s", cb)
	}
	c := rp.finish(a, location(t, b.get(cb.String())))
	if c.Email != carol || !c.EmailVerified || c.Name != "Carol Corp" || !slices.Equal(c.AMR, []string{"fed"}) {
		t.Fatalf("ID token claims %+v", c)
	}
	// The login page names the upstream by its configured name.
	if p := newBrowser(t, srv.URL).get(srv.URL + "/login"); !strings.Contains(p.Body, "Sign in with Corp SSO") {
		t.Fatalf("login page:\n%.800s", p.Body)
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestFederationConfig: bad upstream settings are reported together at start.
func TestFederationConfig(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"google without a secret", map[string]string{"MANAM_GOOGLE_CLIENT_ID": "x"}, []string{"client_secret: required"}},
		{"upstreams not JSON", map[string]string{"MANAM_UPSTREAMS": "corp"}, []string{"MANAM_UPSTREAMS: want a JSON array"}},
		{"unknown field", map[string]string{"MANAM_UPSTREAMS": `[{"id":"corp","isser":"https://x.example"}]`}, []string{"unknown field"}},
		{"every problem at once", map[string]string{"MANAM_UPSTREAMS": `[{"id":"Bad Id","issuer":"http://example.com","client_id":"c","client_secret":"s","scopes":["email"]}]`},
			[]string{"id: must be", "must use https", "must include openid"}},
		{"duplicate ids", map[string]string{"MANAM_GOOGLE_CLIENT_ID": "g", "MANAM_GOOGLE_CLIENT_SECRET": "s",
			"MANAM_UPSTREAMS": `[{"id":"google","issuer":"https://x.example","client_id":"c","client_secret":"s"}]`}, []string{"duplicate id"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"MANAM_DSN": "sqlite:" + t.TempDir() + "/m.db"}
			for k, v := range tc.env {
				env[k] = v
			}
			_, err := loadConfig(newFlags("serve"), func(k string) string { return env[k] })
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
	env := map[string]string{"MANAM_DSN": "sqlite:" + t.TempDir() + "/m.db", "MANAM_GOOGLE_CLIENT_ID": "g", "MANAM_GOOGLE_CLIENT_SECRET": "s",
		"MANAM_UPSTREAMS": `[{"id":"corp","name":"Corp","issuer":"https://sso.example.com","client_id":"c","client_secret":"s","scopes":["openid","email"]}]`}
	cfg, err := loadConfig(newFlags("serve"), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	set, err := cfg.upstreamSet(nil)
	if err != nil || set.Len() != 2 {
		t.Fatalf("set %v %v", set, err)
	}
	if c, ok := set.Get("google"); !ok || c.Name() != "Google" {
		t.Fatal("google missing")
	}
}
