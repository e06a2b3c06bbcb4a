package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/manam-id/manam/storage"
)

// TestIDTokenAlgPerTenant: one server, two tenants, one choosing ES256
// and one left at RS256; go-oidc verifies each one's ID tokens (code
// exchange and refresh), and a rotation of ES256 leaves the RS256 key
// signing. On SQLite and MariaDB.
func TestIDTokenAlgPerTenant(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) { testIDTokenAlgPerTenant(t, be) })
	}
}

func testIDTokenAlgPerTenant(t *testing.T, be backend) {
	srv := startServer(t, be.dsn(t), nil)
	srv.cli(t, "user", "create", "--email", alice, "--password", alicePass)
	ec := srv.createTenant(t, "--name", "Elliptic", "--redirect-uri", rpRedirect, "--post-logout-redirect-uri", rpLogout, "--first-party", "--id-token-alg", "ES256")
	rs := srv.createTenant(t, "--name", "Classic", "--redirect-uri", rpRedirect, "--first-party")
	for _, c := range []struct {
		name string
		tn   tenant
		want string
	}{{"the ES256 tenant", ec, "ES256"}, {"the default tenant", rs, "RS256"}} {
		var v map[string]any
		if err := json.Unmarshal([]byte(srv.cli(t, "tenant", "show", c.tn.ClientID, "--json")), &v); err != nil || v["id_token_alg"] != c.want {
			t.Fatalf("%s: tenant show: id_token_alg %v (%v), want %s", c.name, v["id_token_alg"], err, c.want)
		}
	}

	t.Run("discovery and the JWKS list both algorithms", func(t *testing.T) {
		var d struct {
			Algs []string `json:"id_token_signing_alg_values_supported"`
		}
		if err := json.Unmarshal(get(t, srv.URL+"/.well-known/openid-configuration"), &d); err != nil || !slices.Equal(d.Algs, []string{"ES256", "RS256"}) {
			t.Fatalf("id_token_signing_alg_values_supported %v (%v), want ES256 and RS256", d.Algs, err)
		}
		if algs := jwksAlgs(t, srv); !slices.Equal(algs, []string{"ES256", "RS256"}) {
			t.Fatalf("JWKS algorithms %v, want one key of each", algs)
		}
	})

	// signIn runs a flow for tn and returns its ID token's alg and kid
	// (go-oidc verified it in flow).
	signIn := func(t *testing.T, tn tenant) (string, string, *rp, *oauth2.Token) {
		t.Helper()
		r := newRP(t, srv, tn, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
		tok, _ := r.flow(newBrowser(t, srv.URL))
		h := jwtHeader(t, tok.Extra("id_token").(string))
		alg, _ := h["alg"].(string)
		kid, _ := h["kid"].(string)
		return alg, kid, r, tok
	}
	var kidEC, kidRS string
	t.Run("each tenant's ID tokens carry its algorithm", func(t *testing.T) {
		var alg string
		var r *rp
		var tok *oauth2.Token
		alg, kidEC, r, tok = signIn(t, ec)
		if alg != "ES256" {
			t.Fatalf("ES256 tenant's ID token alg %s", alg)
		}
		if alg, kidRS, _, _ = signIn(t, rs); alg != "RS256" || kidRS == kidEC {
			t.Fatalf("RS256 tenant's ID token alg %s kid %s (ES256 kid %s)", alg, kidRS, kidEC)
		}
		// The refresh's ID token too.
		fresh, err := r.conf.TokenSource(r.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		raw, _ := fresh.Extra("id_token").(string)
		if _, err := r.verifier.Verify(r.ctx, raw); err != nil || jwtHeader(t, raw)["alg"] != "ES256" {
			t.Fatalf("refreshed ID token: %v, alg %v", err, jwtHeader(t, raw)["alg"])
		}
		// Logout verifies an ES256 id_token_hint.
		u := srv.URL + "/oauth2/logout?" + url.Values{"id_token_hint": {raw}, "post_logout_redirect_uri": {rpLogout}}.Encode()
		if p := newBrowser(t, srv.URL).get(u); p.StatusCode != http.StatusSeeOther || !strings.HasPrefix(p.Header.Get("Location"), rpLogout) {
			t.Fatalf("logout with an ES256 id_token_hint: %d %s", p.StatusCode, p.Header.Get("Location"))
		}
	})

	t.Run("keys rotate --alg ES256 leaves the RS256 key signing", func(t *testing.T) {
		var rot struct {
			KID         string    `json:"kid"`
			Alg         string    `json:"alg"`
			ActivatesAt time.Time `json:"activates_at"`
		}
		if err := json.Unmarshal([]byte(srv.cli(t, "keys", "rotate", "--alg", "ES256", "--json")), &rot); err != nil || rot.Alg != "ES256" {
			t.Fatalf("rotate: %+v, %v", rot, err)
		}
		waitFor(t, "the new key to activate on the server", func() bool {
			return time.Now().After(rot.ActivatesAt) && strings.Contains(string(get(t, srv.URL+"/.well-known/jwks.json")), rot.KID)
		})
		if alg, kid, _, _ := signIn(t, ec); alg != "ES256" || kid != rot.KID {
			t.Fatalf("ES256 tenant after the rotation: %s %s, want ES256 %s", alg, kid, rot.KID)
		}
		if alg, kid, _, _ := signIn(t, rs); alg != "RS256" || kid != kidRS {
			t.Fatalf("RS256 tenant after an ES256 rotation: %s %s, want the unchanged %s", alg, kid, kidRS)
		}
	})

	t.Run("tenant update switches the algorithm", func(t *testing.T) {
		srv.cli(t, "tenant", "update", rs.ClientID, "--id-token-alg", "ES256")
		// A server sees a tenant's change within storage.ClientCacheTTL.
		time.Sleep(storage.ClientCacheTTL)
		if alg, _, _, _ := signIn(t, rs); alg != "ES256" {
			t.Fatalf("after update, ID token alg %s, want ES256", alg)
		}
	})
}

// jwksAlgs lists the algorithms of the published keys, sorted.
func jwksAlgs(t *testing.T, srv *testServer) []string {
	t.Helper()
	var set struct {
		Keys []struct {
			Alg string `json:"alg"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(get(t, srv.URL+"/.well-known/jwks.json"), &set); err != nil {
		t.Fatal(err)
	}
	var algs []string
	for _, k := range set.Keys {
		algs = append(algs, k.Alg)
	}
	slices.Sort(algs)
	return algs
}

// TestIDTokenAlgCLI: a bad --id-token-alg is refused with a clear error,
// on create and on update, and changes nothing.
func TestIDTokenAlgCLI(t *testing.T) {
	srv := &testServer{env: map[string]string{"MANAM_DSN": "sqlite:" + t.TempDir() + "/alg.db", "MANAM_SECRET": testSecret}}
	tn := srv.createTenant(t, "--name", "A", "--redirect-uri", rpRedirect)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"create with HS256", []string{"tenant", "create", "--name", "B", "--redirect-uri", rpRedirect, "--id-token-alg", "HS256"}},
		{"create with none", []string{"tenant", "create", "--name", "B", "--redirect-uri", rpRedirect, "--id-token-alg", "none"}},
		{"update with lower case", []string{"tenant", "update", tn.ClientID, "--id-token-alg", "es256"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, code, errOut := srv.cliCode(c.args...)
			if code == 0 || !strings.Contains(errOut, "ID-token algorithm") || !strings.Contains(errOut, "RS256 or ES256") {
				t.Fatalf("exit %d, stderr %q; want a refusal naming RS256 or ES256", code, errOut)
			}
		})
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(srv.cli(t, "tenant", "show", tn.ClientID, "--json")), &v); err != nil || v["id_token_alg"] != "RS256" {
		t.Fatalf("after refused updates: id_token_alg %v (%v), want RS256", v["id_token_alg"], err)
	}
	if out := srv.cli(t, "tenant", "list", "--json"); strings.Count(out, `"client_id"`) != 1 {
		t.Fatalf("a refused create stored a tenant: %s", out)
	}
}
