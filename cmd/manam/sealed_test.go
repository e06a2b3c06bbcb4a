package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/manam-id/manam/storage/storagetest"
)

// Access tokens are sealed (or signed), not stored; revocation is a row of
// the revocation table that every server reads on every check. These tests
// run two servers on one database: what one server revokes, the other
// refuses at once.

// activeAt reports whether introspection on srv, by the token's tenant,
// says the token is active.
func activeAt(t *testing.T, srv *testServer, tn tenant, token string) bool {
	t.Helper()
	return introspect(t, srv, tn, token)["active"] == true
}

// liveEverywhere checks a token at introspection and userinfo on every server.
func liveEverywhere(t *testing.T, what string, tn tenant, token string, want bool, servers ...*testServer) {
	t.Helper()
	for i, srv := range servers {
		if got := activeAt(t, srv, tn, token); got != want {
			t.Fatalf("%s: introspection on server %d says active=%v, want %v", what, i+1, got, want)
		}
		if got := bearerUserinfo(t, srv, token) != nil; got != want {
			t.Fatalf("%s: userinfo on server %d accepted=%v, want %v", what, i+1, got, want)
		}
	}
}

// codeFor signs alice in with b on srv and returns an authorization code
// and its PKCE verifier.
func codeFor(t *testing.T, srv *testServer, r *rp, b *browser) (code, verifier string) {
	t.Helper()
	verifier = oauth2.GenerateVerifier()
	loc := b.signIn(r.conf.AuthCodeURL("state-"+verifier[:12], oauth2.S256ChallengeOption(verifier)), alice, alicePass)
	if code = loc.Query().Get("code"); code == "" {
		t.Fatalf("no code: %s", loc)
	}
	return code, verifier
}

func TestAccessTokensRevokedAcrossServers(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			dsn := be.dsn(t)
			a, b := startServer(t, dsn, nil), startServer(t, dsn, nil)
			a.cli(t, "user", "create", "--email", alice, "--password", alicePass)
			grants := "authorization_code,refresh_token,client_credentials"
			opaque := a.createTenant(t, "--name", "Opaque", "--redirect-uri", rpRedirect, "--grant", grants, "--first-party")
			jwtTn := a.createTenant(t, "--name", "JWT", "--redirect-uri", rpRedirect, "--grant", grants, "--first-party", "--access-token", "jwt")
			scopes := []string{oidc.ScopeOpenID, "email", oidc.ScopeOfflineAccess}

			for _, f := range []struct {
				name   string
				tn     tenant
				prefix string
			}{{"sealed", opaque, "mnm_at_"}, {"jwt", jwtTn, "ey"}} {
				r := newRP(t, a, f.tn, scopes...)
				t.Run(f.name+": revoked on one server, inactive on the other at once", func(t *testing.T) {
					r.t = t
					tok, _ := r.flow(newBrowser(t, a.URL))
					if !strings.HasPrefix(tok.AccessToken, f.prefix) {
						t.Fatalf("access token %.20s…, want %s…", tok.AccessToken, f.prefix)
					}
					liveEverywhere(t, "before", f.tn, tok.AccessToken, true, a, b)
					if status := revokeAt(t, a, f.tn, tok.AccessToken); status != http.StatusOK {
						t.Fatalf("revoke: %d", status)
					}
					liveEverywhere(t, "revoked", f.tn, tok.AccessToken, false, b, a)
				})
				t.Run(f.name+": refresh ends the previous access token, reuse the family's", func(t *testing.T) {
					r.t = t
					tok1, _ := r.flow(newBrowser(t, a.URL))
					status, body := tokenPost(t, http.DefaultClient, b.URL, f.tn, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok1.RefreshToken}})
					if status != http.StatusOK {
						t.Fatalf("refresh on the second server: %d %v", status, body)
					}
					at2 := body["access_token"].(string)
					liveEverywhere(t, "the previous access token after the rotation", f.tn, tok1.AccessToken, false, a, b)
					liveEverywhere(t, "the new access token of the same grant", f.tn, at2, true, a, b)
					status, body = tokenPost(t, http.DefaultClient, a.URL, f.tn, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok1.RefreshToken}})
					if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
						t.Fatalf("reused refresh token: %d %v", status, body)
					}
					liveEverywhere(t, "the family's access token after reuse", f.tn, at2, false, a, b)
				})
				t.Run(f.name+": code replay ends that code's tokens", func(t *testing.T) {
					code, verifier := codeFor(t, a, r, newBrowser(t, a.URL))
					form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {rpRedirect}}
					status, body := tokenPost(t, http.DefaultClient, a.URL, f.tn, form)
					if status != http.StatusOK {
						t.Fatalf("exchange: %d %v", status, body)
					}
					at := body["access_token"].(string)
					liveEverywhere(t, "before the replay", f.tn, at, true, a, b)
					if status, body := tokenPost(t, http.DefaultClient, b.URL, f.tn, form); status != http.StatusBadRequest {
						t.Fatalf("replayed code: %d %v", status, body)
					}
					liveEverywhere(t, "after the replay", f.tn, at, false, a, b)
				})
			}

			t.Run("tenant deleted: its tokens are refused", func(t *testing.T) {
				gone := a.createTenant(t, "--name", "Gone", "--redirect-uri", rpRedirect, "--grant", grants, "--first-party")
				r := newRP(t, a, gone, scopes...)
				r.t = t
				tok, _ := r.flow(newBrowser(t, a.URL))
				liveEverywhere(t, "before", gone, tok.AccessToken, true, a, b)
				a.cli(t, "tenant", "delete", gone.ClientID)
				for i, srv := range []*testServer{a, b} {
					if bearerUserinfo(t, srv, tok.AccessToken) != nil {
						t.Fatalf("server %d: a deleted tenant's token accepted at userinfo", i+1)
					}
				}
			})

			t.Run("password change ends every access token of the account on both servers", func(t *testing.T) {
				ra, rj := newRP(t, a, opaque, scopes...), newRP(t, a, jwtTn, scopes...)
				ra.t, rj.t = t, t
				t1, _ := ra.flow(newBrowser(t, a.URL))
				t2, _ := rj.flow(newBrowser(t, a.URL))
				_, cc := tokenPost(t, http.DefaultClient, a.URL, opaque, url.Values{"grant_type": {"client_credentials"}})
				service := cc["access_token"].(string)
				liveEverywhere(t, "before", opaque, t1.AccessToken, true, a, b)
				liveEverywhere(t, "before", jwtTn, t2.AccessToken, true, a, b)

				changer := newBrowser(t, b.URL)
				p := changer.get(b.URL + "/login")
				f := formFields(p.Body)
				f.Set("email", alice)
				f.Set("password", alicePass)
				p = changer.post(b.URL+"/login", f)
				p = changer.get(b.URL + "/account")
				f = url.Values{"csrf_token": {formFields(p.Body).Get("csrf_token")}, "current_password": {alicePass},
					"password": {"a new long phrase"}, "password_confirm": {"a new long phrase"}}
				if p = changer.post(b.URL+"/account/password", f); p.Request.URL.RawQuery != "done=password" {
					t.Fatalf("change password: %d at %s", p.StatusCode, p.Request.URL)
				}
				liveEverywhere(t, "the sealed token after the password change", opaque, t1.AccessToken, false, a, b)
				liveEverywhere(t, "the JWT access token after the password change", jwtTn, t2.AccessToken, false, a, b)
				if !activeAt(t, a, opaque, service) || !activeAt(t, b, opaque, service) {
					t.Fatal("the tenant's own client-credentials token ended with the account's")
				}
				// Tokens issued after the change are live: the row ends only those before it.
				rb := newRP(t, b, opaque, scopes...)
				rb.t = t
				code, verifier := codeFor(t, b, rb, changer) // signed in already: no password asked
				status, body := tokenPost(t, http.DefaultClient, b.URL, opaque, url.Values{"grant_type": {"authorization_code"}, "code": {code},
					"code_verifier": {verifier}, "redirect_uri": {rpRedirect}})
				if status != http.StatusOK {
					t.Fatalf("exchange after the change: %d %v", status, body)
				}
				liveEverywhere(t, "a token issued after the change", opaque, body["access_token"].(string), true, a, b)
			})

			t.Run("client credentials write no row", func(t *testing.T) {
				raw := storagetest.Raw(t, dsn)
				count := func(table string) int64 {
					var n int64
					if err := raw.Table(table).Count(&n).Error; err != nil {
						t.Fatal(err)
					}
					return n
				}
				tables := []string{"oauth2_access_tokens", "oauth2_refresh_tokens", "oauth2_authorize_codes", "oauth2_revocations"}
				before := map[string]int64{}
				for _, tbl := range tables {
					before[tbl] = count(tbl)
				}
				for range 5 {
					if status, body := tokenPost(t, http.DefaultClient, a.URL, opaque, url.Values{"grant_type": {"client_credentials"}}); status != http.StatusOK {
						t.Fatalf("client credentials: %d %v", status, body)
					}
				}
				for _, tbl := range tables {
					if n := count(tbl); n != before[tbl] {
						t.Errorf("%s: %d rows before 5 client-credentials tokens, %d after; want 0 new rows", tbl, before[tbl], n)
					}
				}
			})
		})
	}
}

// revokeAt revokes a token at srv's RFC 7009 endpoint as tn.
func revokeAt(t *testing.T, srv *testServer, tn tenant, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/oauth2/revoke", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(tn.ClientID, tn.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestSealKeyRotation: servers sealing under key ids 1, 2 and 3 on one
// database. A token of id 1 opens where the id is current or previous
// (servers 1 and 2), not two ids later (server 3); a token of id 2 opens
// on all three (a server still on id 1 opens the next id: a rolling
// rotation refuses nothing).
func TestSealKeyRotation(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			dsn := be.dsn(t)
			s1 := startServer(t, dsn, map[string]string{"MANAM_ACCESS_TOKEN_KEY_ID": "1"})
			s2 := startServer(t, dsn, map[string]string{"MANAM_ACCESS_TOKEN_KEY_ID": "2"})
			s3 := startServer(t, dsn, map[string]string{"MANAM_ACCESS_TOKEN_KEY_ID": "3"})
			tn := s1.createTenant(t, "--name", "Rotating", "--redirect-uri", rpRedirect, "--grant", "client_credentials")
			issue := func(srv *testServer) string {
				t.Helper()
				status, body := tokenPost(t, http.DefaultClient, srv.URL, tn, url.Values{"grant_type": {"client_credentials"}})
				if status != http.StatusOK {
					t.Fatalf("client credentials: %d %v", status, body)
				}
				return body["access_token"].(string)
			}
			old, rotated := issue(s1), issue(s2)
			if !strings.HasPrefix(old, "mnm_at_1_") || !strings.HasPrefix(rotated, "mnm_at_2_") {
				t.Fatalf("tokens %.12s… and %.12s…, want key ids 1 and 2", old, rotated)
			}
			for _, c := range []struct {
				name  string
				srv   *testServer
				token string
				want  bool
			}{
				{"id 1 on server 1", s1, old, true}, {"id 1 on server 2", s2, old, true}, {"id 1 on server 3", s3, old, false},
				{"id 2 on server 1", s1, rotated, true}, {"id 2 on server 2", s2, rotated, true}, {"id 2 on server 3", s3, rotated, true},
			} {
				if got := activeAt(t, c.srv, tn, c.token); got != c.want {
					t.Errorf("%s: active=%v, want %v", c.name, got, c.want)
				}
			}
		})
	}
}
