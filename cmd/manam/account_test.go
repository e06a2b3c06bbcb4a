package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestAccountPage: sign in without an application, edit the profile, and
// change the password: the current password is required, other devices and
// every token are signed out, this browser stays signed in.
func TestAccountPage(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			srv := startServer(t, be.dsn(t), nil)
			srv.cli(t, "user", "create", "--email", alice, "--password", alicePass, "--name", "Alice")
			app := srv.createTenant(t, "--name", "App", "--redirect-uri", rpRedirect, "--first-party")
			r := newRP(t, srv, app, oidc.ScopeOpenID, oidc.ScopeOfflineAccess, "profile")
			laptop := newBrowser(t, srv.URL)
			tokBefore, _ := r.flow(laptop) // another device, with a refresh token

			b := newBrowser(t, srv.URL)
			p := b.get(srv.URL + "/account")
			if p.Request.URL.Path != "/login" {
				t.Fatalf("signed-out /account went to %s", p.Request.URL)
			}
			f := formFields(p.Body)
			f.Set("email", alice)
			f.Set("password", alicePass)
			p = b.post(srv.URL+"/login", f) // the browser follows the redirect to /account
			if p.StatusCode != 200 || p.Request.URL.Path != "/account" {
				t.Fatalf("standalone sign-in: %d at %s", p.StatusCode, p.Request.URL)
			}
			if !strings.Contains(p.Body, alice) || !strings.Contains(p.Body, `value="Alice"`) {
				t.Fatalf("account page: %s", p.Body)
			}
			csrf := formFields(p.Body).Get("csrf_token")
			post := func(path string, v url.Values) page {
				v.Set("csrf_token", csrf)
				return b.post(srv.URL+path, v)
			}
			if p := post("/account/profile", url.Values{"name": {"Alice <script>"}, "national_code": {"0499370898"}}); p.StatusCode != http.StatusBadRequest ||
				!strings.Contains(p.Body, `id="name-error"`) || !strings.Contains(p.Body, `id="national_code-error"`) || !strings.Contains(p.Body, `value="0499370898"`) {
				t.Fatalf("bad profile: %d", p.StatusCode)
			}
			// The full profile, with a Solar Hijri birthday, reaches the ID token's standard claims.
			if p := post("/account/profile", url.Values{"name": {"Alice Liddell"}, "first_name": {"Alice"}, "last_name": {"Liddell"},
				"birthday": {"1370-01-03"}, "national_code": {"0499370899"}}); !strings.Contains(p.Body, `value="1370-01-03"`) {
				t.Fatalf("profile with a Solar Hijri birthday: %d", p.StatusCode)
			}
			_, idt := r.flow(newBrowser(t, srv.URL))
			var std struct {
				Given, Family, Birthdate string
			}
			var raw map[string]any
			_ = idt.Claims(&raw)
			std.Given, _ = raw["given_name"].(string)
			std.Family, _ = raw["family_name"].(string)
			std.Birthdate, _ = raw["birthdate"].(string)
			if std.Given != "Alice" || std.Family != "Liddell" || std.Birthdate != "1991-03-23" {
				t.Fatalf("ID token profile claims %v", raw)
			}
			if p := post("/account/profile", url.Values{"name": {"Alice Liddell"}}); p.Request.URL.RawQuery != "done=profile" ||
				!strings.Contains(p.Body, `value="Alice Liddell"`) || !strings.Contains(p.Body, "profile is saved") {
				t.Fatalf("profile: %d at %s", p.StatusCode, p.Request.URL)
			}
			cases := []struct {
				name                   string
				current, next, confirm string
				field                  string
			}{
				{"wrong current password", "not my password", "a new long phrase", "a new long phrase", "current_password"},
				{"common new password", alicePass, "password123", "password123", "password"},
				{"mismatch", alicePass, "a new long phrase", "a different phrase", "password_confirm"},
			}
			for _, tc := range cases {
				p := post("/account/password", url.Values{"current_password": {tc.current}, "password": {tc.next}, "password_confirm": {tc.confirm}})
				if p.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, `id="`+tc.field+`-error"`) {
					t.Fatalf("%s: %d", tc.name, p.StatusCode)
				}
			}
			sessionCookie := func() string {
				for _, c := range b.c.Jar.Cookies(b.issuer) {
					if c.Name == "manam_session" {
						return c.Value
					}
				}
				return ""
			}
			oldSession := sessionCookie()
			p = post("/account/password", url.Values{"current_password": {alicePass}, "password": {"a new long phrase"}, "password_confirm": {"a new long phrase"}})
			if p.Request.URL.RawQuery != "done=password" || !strings.Contains(p.Body, "password is changed") {
				t.Fatalf("change password: %d at %s", p.StatusCode, p.Request.URL)
			}
			// The session id is new: a copy of the old cookie is signed out.
			if now := sessionCookie(); now == "" || now == oldSession {
				t.Fatal("the session id was not renewed by the password change")
			}
			copyOf := newBrowser(t, srv.URL)
			copyOf.c.Jar.SetCookies(b.issuer, []*http.Cookie{{Name: "manam_session", Value: oldSession, Path: "/"}})
			if p := copyOf.get(srv.URL + "/account"); p.Request.URL.Path != "/login" {
				t.Fatalf("a copy of the old session cookie still opens %s", p.Request.URL.Path)
			}
			// This browser is still signed in; the laptop and its tokens are not.
			if p := b.get(srv.URL + "/account"); p.Request.URL.Path != "/account" {
				t.Fatal("the browser that changed the password was signed out")
			}
			loc := laptop.signIn(r.conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "none")), "", "")
			if loc.Query().Get("error") != "login_required" {
				t.Fatalf("the other device is still signed in: %s", loc)
			}
			if _, err := r.conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tokBefore.RefreshToken}).Token(); err == nil {
				t.Fatal("a refresh token from before the change still works")
			}
		})
	}
}
