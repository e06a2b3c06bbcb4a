package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

// TestUpgradeKeepsData: a database an earlier release made with its own
// code (storage/testdata/upgrade), migrated with `manam migrate` and served
// by this release, still works for the people and clients in it. For every
// fixture, on SQLite and MariaDB: the account signs in with its password
// through the tenant (code flow with PKCE and ID token, real client
// libraries), and the tenant's secret gets a client-credentials token. For
// the previous release's fixture, which ran flows through its own server:
// the browser session it left signs in without a password (prompt=none),
// its refresh token refreshes, its access token is accepted at userinfo,
// its ID token verifies against this server's JWKS, and its refresh token
// that was already used once is refused as reuse. Its access token is a
// stored one (ory_at_…, from before sealed tokens): it is still read from
// its row, at userinfo and introspection.
//
// The fixture is moved forward in time by its age after loading
// (storagetest.ShiftTimes), so its refresh token and session are as live
// as when the release made them; its sealed access token was minted for a
// century (README in the fixtures' folder).
func TestUpgradeKeepsData(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			for _, r := range storagetest.Releases(t, be.name) {
				t.Run(r.Name, func(t *testing.T) {
					t.Parallel()
					testUpgradeKeepsData(t, be, r)
				})
			}
		})
	}
}

// upgraded is a release's database, migrated and served by this release,
// and a relying party of its tenant that reaches the server under the
// fixture's issuer.
type upgraded struct {
	ctx       context.Context // carries client, for go-oidc
	client    *http.Client
	transport *http.Transport
	provider  *oidc.Provider
	rp        *rp
	tn        tenant
}

func upgrade(t *testing.T, be backend, r storagetest.Release) *upgraded {
	m := r.Meta
	if m.Secret != testSecret || m.Email != alice || m.Password != alicePass || m.RedirectURI != rpRedirect {
		t.Fatalf("fixture %s was not made with the end-to-end tests' secret, account and redirect URI", r.Name)
	}
	dsn := be.dsn(t)
	r.Load(t, dsn)
	storagetest.ShiftTimes(t, dsn, time.Since(m.GeneratedAt).Truncate(time.Second))

	// The operator's upgrade: the migrate job, then the servers.
	var out, errb bytes.Buffer
	env := map[string]string{"MANAM_DSN": dsn, "MANAM_SECRET": testSecret, "MANAM_ISSUER": m.Issuer, "MANAM_LOG_LEVEL": "warn"}
	if code := run(context.Background(), []string{"migrate"}, func(k string) string { return env[k] }, &out, &errb); code != 0 {
		t.Fatalf("manam migrate: exit %d: %s", code, errb.String())
	}
	srv := startServer(t, dsn, map[string]string{"MANAM_ISSUER": m.Issuer})

	// Every request for the issuer's host goes to this server.
	addr := strings.TrimPrefix(srv.URL, "http://")
	dialer := &net.Dialer{}
	u := &upgraded{transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return dialer.DialContext(ctx, network, addr)
	}}}
	u.client = &http.Client{Transport: u.transport, Timeout: 30 * time.Second}
	u.ctx = oidc.ClientContext(context.Background(), u.client)
	p, err := oidc.NewProvider(u.ctx, m.Issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	u.provider = p
	u.tn = tenant{ClientID: m.ClientID, ClientSecret: m.ClientSecret, CustomerToken: m.CustomerToken}
	u.rp = &rp{t: t, ctx: u.ctx, provider: p, verifier: p.Verifier(&oidc.Config{ClientID: u.tn.ClientID}),
		conf: oauth2.Config{ClientID: u.tn.ClientID, ClientSecret: u.tn.ClientSecret, Endpoint: ep, RedirectURL: rpRedirect,
			Scopes: []string{oidc.ScopeOpenID, "email", oidc.ScopeOfflineAccess}}}
	return u
}

// browser is a fresh browser for the fixture's issuer.
func (u *upgraded) browser(t *testing.T, issuer string) *browser {
	b := newBrowser(t, issuer)
	b.c.Transport = u.transport
	return b
}

func testUpgradeKeepsData(t *testing.T, be backend, r storagetest.Release) {
	m := r.Meta
	u := upgrade(t, be, r)
	ctx, client, p, rp, tn := u.ctx, u.client, u.provider, u.rp, u.tn
	browserFor := func(t *testing.T) *browser { return u.browser(t, m.Issuer) }

	t.Run("the account signs in with its password", func(t *testing.T) {
		rp.t = t
		tok, idt := rp.flow(browserFor(t))
		var c struct {
			Email string `json:"email"`
		}
		if err := idt.Claims(&c); err != nil || c.Email != alice || tok.RefreshToken == "" {
			t.Fatalf("ID token claims %+v, %v; refresh token %q", c, err, tok.RefreshToken)
		}
	})
	t.Run("the tenant's secret still authenticates it", func(t *testing.T) {
		status, body := tokenPost(t, client, m.Issuer, tn, url.Values{"grant_type": {"client_credentials"}})
		if status != http.StatusOK || body["access_token"] == nil {
			t.Fatalf("client credentials: %d %v", status, body)
		}
	})
	if m.RefreshToken == "" {
		return // made without a flow: no live tokens
	}
	t.Run("the browser session signs in without a password", func(t *testing.T) {
		b := browserFor(t)
		iu, _ := url.Parse(m.Issuer)
		b.c.Jar.SetCookies(iu, []*http.Cookie{{Name: "manam_session", Value: m.SessionCookie}})
		auth := rp.conf.AuthCodeURL("state-upgrade-1", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "none"))
		if loc := b.signIn(auth, "", ""); loc.Query().Get("code") == "" {
			t.Fatalf("prompt=none with the release's session: %s", loc)
		}
	})
	t.Run("its access token is accepted", func(t *testing.T) {
		// Stored, in the format of before sealed tokens: read from its row.
		if !strings.HasPrefix(m.AccessToken, "ory_at_") {
			t.Fatalf("the fixture's access token %.10s… is not a stored one", m.AccessToken)
		}
		ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: m.AccessToken, TokenType: "Bearer"}))
		if err != nil || ui.Email != alice {
			t.Fatalf("userinfo %+v, %v", ui, err)
		}
		req, _ := http.NewRequest(http.MethodPost, m.Issuer+"/oauth2/introspect", strings.NewReader(url.Values{"token": {m.AccessToken}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(tn.ClientID, tn.ClientSecret)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var in map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&in); err != nil || in["active"] != true || in["client_id"] != tn.ClientID {
			t.Fatalf("introspection of the release's access token: %d %v %v", resp.StatusCode, in, err)
		}
	})
	t.Run("its ID token verifies against the JWKS", func(t *testing.T) {
		v := p.Verifier(&oidc.Config{ClientID: tn.ClientID, SkipExpiryCheck: true})
		if _, err := v.Verify(ctx, m.IDToken); err != nil {
			t.Fatalf("the release's ID token: %v", err)
		}
	})
	t.Run("its refresh token refreshes, signed with the same key", func(t *testing.T) {
		tok, err := rp.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: m.RefreshToken}).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		raw, _ := tok.Extra("id_token").(string)
		if _, err := rp.verifier.Verify(ctx, raw); err != nil {
			t.Fatalf("refreshed ID token: %v", err)
		}
		if got, want := jwtHeader(t, raw)["kid"], jwtHeader(t, m.IDToken)["kid"]; got != want {
			t.Errorf("refreshed ID token signed by %v, the release signed with %v", got, want)
		}
		if tok.RefreshToken == "" || tok.RefreshToken == m.RefreshToken {
			t.Errorf("refresh token not rotated: %q", tok.RefreshToken)
		}
	})
	t.Run("its used refresh token is refused as reuse", func(t *testing.T) {
		_, err := rp.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: m.UsedRefreshToken}).Token()
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.Response.StatusCode != http.StatusBadRequest || re.ErrorCode != "invalid_grant" {
			t.Fatalf("reused refresh token: %v", err)
		}
	})
}

// tokenPost posts a form to the token endpoint as the tenant.
func tokenPost(t *testing.T, c *http.Client, issuer string, tn tenant, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, issuer+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(tn.ClientID, tn.ClientSecret)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

// TestOlderReleaseOnNewerSchema: during a rolling upgrade (or after a
// rollback) a server finds a database that a newer release migrated
// further than it knows. It serves (ready, and issuing tokens), changes
// nothing in the schema, and says so in its log.
func TestOlderReleaseOnNewerSchema(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			dsn := be.dsn(t)
			newer := storage.SchemaVersion() + 1
			db := storagetest.OpenDSN(t, dsn)
			if err := storagetest.Raw(t, dsn).Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				newer, "a step of a newer release", time.Now().UTC()).Error; err != nil {
				t.Fatal(err)
			}
			before, err := db.Schema(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			srv := startServer(t, dsn, nil)
			tn := srv.createTenant(t, "--name", "Rolling", "--redirect-uri", rpRedirect, "--grant", "client_credentials")
			if status, body := tokenPost(t, http.DefaultClient, srv.URL, tn, url.Values{"grant_type": {"client_credentials"}}); status != http.StatusOK {
				t.Fatalf("client credentials on a newer schema: %d %v", status, body)
			}
			resp, err := http.Get(srv.URL + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("/readyz on a newer schema: %d", resp.StatusCode)
			}
			if v, err := db.CurrentVersion(context.Background()); err != nil || v != newer {
				t.Errorf("version %d, %v; want %d, untouched", v, err, newer)
			}
			after, err := db.Schema(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if d := after.Diff(before); len(d) > 0 {
				t.Errorf("the older release changed the schema:\n%s", strings.Join(d, "\n"))
			}
			if !strings.Contains(srv.log.String(), "the database schema is newer than this release's") {
				t.Errorf("no warning in the log:\n%s", srv.log.String())
			}
		})
	}
}
