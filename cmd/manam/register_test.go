package main

import (
	"context"
	"maps"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/manam-id/manam/idp/delivery/deliverytest"
	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

var confirmLink = regexp.MustCompile(`https?://\S+/confirm\?token=\S+`)

// TestRegistrationEndToEnd: a person registers on the hosted page during an
// authorization request, confirms through the link in the mail a real SMTP
// server received, signs in, and the relying party gets an ID token with a
// verified e-mail.
func TestRegistrationEndToEnd(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			mail := deliverytest.Start(t, deliverytest.Options{})
			dsn := be.dsn(t)
			srv := startServer(t, dsn, map[string]string{"MANAM_SMTP_URL": "smtp://" + mail.Addr, "MANAM_MAIL_FROM": "id@manam.example"})
			app := srv.createTenant(t, "--name", "Wonderland", "--redirect-uri", rpRedirect, "--first-party")
			r := newRP(t, srv, app, oidc.ScopeOpenID, "email", "profile")
			b := newBrowser(t, srv.URL)
			pkce, nonce := oauth2.GenerateVerifier(), "nonce-1234567890"
			authURL := r.conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(pkce), oidc.Nonce(nonce))

			// The login page offers registration within the same flow.
			p := b.get(authURL)
			reg := regexp.MustCompile(`href="(/register\?challenge=[^"]+)"`).FindStringSubmatch(p.Body)
			if p.Request.URL.Path != "/login" || reg == nil {
				t.Fatalf("no registration link on the login page: %s", p.Body)
			}
			p = b.get(srv.URL + strings.ReplaceAll(reg[1], "&amp;", "&"))
			f := formFields(p.Body)

			// Bad input: every problem is named, nothing is written.
			db := storagetest.OpenDSN(t, dsn)
			before, _ := db.RowCounts(context.Background())
			bad := maps.Clone(f)
			bad.Set("email", "not-an-address")
			bad.Set("password", "password1")
			bad.Set("password_confirm", "password1")
			p = b.post(srv.URL+"/register", bad)
			if p.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, "Enter a valid e-mail address or mobile number.") || !strings.Contains(p.Body, "too common") {
				t.Fatalf("bad registration: %d %s", p.StatusCode, p.Body)
			}
			if after, _ := db.RowCounts(context.Background()); !maps.Equal(before, after) {
				t.Fatalf("a refused registration wrote: %v → %v", before, after)
			}

			// The real registration.
			f.Set("name", "Reza Rad")
			f.Set("email", "Reza@Example.com")
			f.Set("password", "a long and unusual phrase")
			f.Set("password_confirm", "a long and unusual phrase")
			p = b.post(srv.URL+"/register", f)
			if p.StatusCode != 200 || !strings.Contains(p.Body, "Check your e-mail") {
				t.Fatalf("registration: %d %s", p.StatusCode, p.Body)
			}
			// Signing in before confirming is refused, with a way to get a new link.
			lp := b.get(authURL)
			lf := formFields(lp.Body)
			lf.Set("email", "reza@example.com")
			lf.Set("password", "a long and unusual phrase")
			if p := b.post(srv.URL+"/login", lf); p.StatusCode != http.StatusForbidden || !strings.Contains(p.Body, "Confirm your e-mail address first") {
				t.Fatalf("unconfirmed sign-in: %d %s", p.StatusCode, p.Body)
			}

			msgs := mail.Wait(t, 1)
			pm, err := deliverytest.Parse(msgs[0].Data)
			if err != nil || msgs[0].To != "reza@example.com" || !strings.Contains(pm.Subject, "Confirm") {
				t.Fatalf("confirmation mail: %+v %v", msgs[0], err)
			}
			link := confirmLink.FindString(pm.Text)
			if link == "" || !strings.Contains(pm.HTML, "Confirm my address") {
				t.Fatalf("no link in the mail: %s", pm.Text)
			}
			p = b.get(link)
			if p.StatusCode != 200 || !strings.Contains(p.Body, "is confirmed") {
				t.Fatalf("confirm: %d %s", p.StatusCode, p.Body)
			}
			// The link works once.
			if again := b.get(link); again.StatusCode != http.StatusBadRequest {
				t.Fatalf("a used link: %d", again.StatusCode)
			}
			// Continue to sign in, within the same authorization request.
			cont := regexp.MustCompile(`href="(/login\?challenge=[^"]+)"`).FindStringSubmatch(p.Body)
			if cont == nil {
				t.Fatalf("no way to continue: %s", p.Body)
			}
			lp = b.get(srv.URL + strings.ReplaceAll(cont[1], "&amp;", "&"))
			lf = formFields(lp.Body)
			lf.Set("email", "reza@example.com")
			lf.Set("password", "a long and unusual phrase")
			p = b.post(srv.URL+"/login", lf)
			loc, err := p.Location()
			if err != nil || loc.Query().Get("code") == "" {
				t.Fatalf("sign-in after confirming: %d %v %s", p.StatusCode, err, p.Body)
			}
			tok, err := r.conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(pkce))
			if err != nil {
				t.Fatal(err)
			}
			idt, err := r.verifier.Verify(context.Background(), tok.Extra("id_token").(string))
			if err != nil {
				t.Fatal(err)
			}
			var c struct {
				Email    string `json:"email"`
				Verified bool   `json:"email_verified"`
				Name     string `json:"name"`
			}
			_ = idt.Claims(&c)
			if c.Email != "reza@example.com" || !c.Verified || c.Name != "Reza Rad" || idt.Nonce != nonce {
				t.Fatalf("ID token claims %+v", c)
			}
			// Registering through the tenant made the account its member.
			if m, err := storage.NewAccounts(db).Membership(context.Background(), idt.Subject, app.ClientID); err != nil || m.JoinedVia != "registration" {
				t.Fatalf("membership %+v %v", m, err)
			}

			// Registering the same address again looks the same, creates
			// no account and no link, and mails the owner instead (the one
			// confirmations row is the notice's record, which limits
			// notices to one a minute and five a day).
			before, _ = db.RowCounts(context.Background())
			b3 := newBrowser(t, srv.URL)
			f2 := formFields(b3.get(srv.URL + "/register").Body)
			f2.Set("email", "reza@example.com")
			f2.Set("password", "another unusual phrase")
			f2.Set("password_confirm", "another unusual phrase")
			p2 := b3.post(srv.URL+"/register", f2)
			if p2.StatusCode != 200 || !strings.Contains(p2.Body, "Check your e-mail") {
				t.Fatalf("second registration: %d %s", p2.StatusCode, p2.Body)
			}
			after, _ := db.RowCounts(context.Background())
			if after[storage.Account{}.TableName()] != before[storage.Account{}.TableName()] || after["confirmations"] != before["confirmations"]+1 {
				t.Fatalf("a second registration of a known address created rows: %v → %v", before, after)
			}
			msgs = mail.Wait(t, 2)
			if pm, _ := deliverytest.Parse(msgs[1].Data); pm == nil || !strings.Contains(pm.Subject, "already have") {
				t.Fatalf("the owner was not told: %+v", msgs[1])
			}
		})
	}
}
