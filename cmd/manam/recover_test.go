package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/manam-id/manam/idp/delivery/deliverytest"
)

var resetLink = regexp.MustCompile(`https?://\S+/recover/reset\?token=\S+`)

func TestRecoveryEndToEnd(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			mail := deliverytest.Start(t, deliverytest.Options{})
			dsn := be.dsn(t)
			srv := startServer(t, dsn, map[string]string{"MANAM_SMTP_URL": "smtp://" + mail.Addr})
			second := startServer(t, dsn, nil) // another replica on the same database
			srv.cli(t, "user", "create", "--email", alice, "--password", alicePass)
			app := srv.createTenant(t, "--name", "App", "--redirect-uri", rpRedirect, "--first-party")
			r := newRP(t, srv, app, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
			b := newBrowser(t, srv.URL)
			before, _ := r.flow(b) // signed in, with a refresh token
			if !activeAt(t, second, app, before.AccessToken) {
				t.Fatal("the access token is not active on the second server")
			}

			// Asking for an unknown address looks the same and sends nothing.
			other := newBrowser(t, srv.URL)
			f := formFields(other.get(srv.URL + "/recover").Body)
			f.Set("email", "nobody@example.com")
			if p := other.post(srv.URL+"/recover", f); p.StatusCode != 200 || !strings.Contains(p.Body, "Check your e-mail") {
				t.Fatalf("unknown address: %d %s", p.StatusCode, p.Body)
			}
			f = formFields(other.get(srv.URL + "/recover").Body)
			f.Set("email", alice)
			if p := other.post(srv.URL+"/recover", f); p.StatusCode != 200 {
				t.Fatalf("recover: %d %s", p.StatusCode, p.Body)
			}
			msgs := mail.Wait(t, 1)
			if len(msgs) != 1 || msgs[0].To != alice {
				t.Fatalf("mails: %+v", msgs)
			}
			pm, _ := deliverytest.Parse(msgs[0].Data)
			link := resetLink.FindString(pm.Text)
			if link == "" {
				t.Fatalf("no reset link: %s", pm.Text)
			}
			// Opening the link changes nothing (mail scanners may open it).
			page := other.get(link)
			if page.StatusCode != 200 || !strings.Contains(page.Body, "Choose a new password") {
				t.Fatalf("reset page: %d", page.StatusCode)
			}
			rf := formFields(page.Body)
			// A weak password is refused and the link still works.
			rf.Set("password", "12345678")
			rf.Set("password_confirm", "12345678")
			if p := other.post(srv.URL+"/recover/reset", rf); p.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, "too common") {
				t.Fatalf("weak password: %d", p.StatusCode)
			}
			rf.Set("password", "a brand new long phrase")
			rf.Set("password_confirm", "a brand new long phrase")
			if p := other.post(srv.URL+"/recover/reset", rf); p.StatusCode != 200 || !strings.Contains(p.Body, "signed out everywhere") {
				t.Fatalf("reset: %d %s", p.StatusCode, p.Body)
			}
			if p := other.post(srv.URL+"/recover/reset", rf); p.StatusCode != http.StatusBadRequest {
				t.Fatalf("a used link worked again: %d", p.StatusCode)
			}

			// Everything issued before the reset is gone.
			if _, err := r.conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: before.RefreshToken}).Token(); err == nil {
				t.Fatal("a refresh token from before the reset still works")
			}
			for i, s := range []*testServer{srv, second} {
				if got := introspect(t, s, app, before.AccessToken); got["active"] != false {
					t.Fatalf("server %d: an access token from before the reset is still active", i+1)
				}
				if bearerUserinfo(t, s, before.AccessToken) != nil {
					t.Fatalf("server %d: an access token from before the reset is accepted at userinfo", i+1)
				}
			}
			loc := b.signIn(r.conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "none")), "", "")
			if loc.Query().Get("error") != "login_required" {
				t.Fatalf("the session from before the reset survived: %s", loc)
			}
			// The old password fails; the new one works.
			b4 := newBrowser(t, srv.URL)
			lf := formFields(b4.get(r.conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))).Body)
			lf.Set("email", alice)
			lf.Set("password", alicePass)
			if p := b4.post(srv.URL+"/login", lf); p.StatusCode != http.StatusUnauthorized {
				t.Fatalf("old password: %d", p.StatusCode)
			}
			if loc := newBrowser(t, srv.URL).signIn(r.conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), alice, "a brand new long phrase"); loc.Query().Get("code") == "" {
				t.Fatalf("new password: %s", loc)
			}
		})
	}
}
