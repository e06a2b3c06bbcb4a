package main

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/manam-id/manam/idp/delivery/deliverytest"
	"github.com/manam-id/manam/storage/storagetest"
)

// TestTenantMailAndSignInSettings: a tenant with its own confirmation page
// and sender gets them in its users' mail; a tenant that allows unconfirmed
// sign-in lets an unconfirmed member in, while another tenant does not.
func TestTenantMailAndSignInSettings(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			mail := deliverytest.Start(t, deliverytest.Options{})
			srv := startServer(t, be.dsn(t), map[string]string{"MANAM_SMTP_URL": "smtp://" + mail.Addr, "MANAM_MAIL_FROM": "id@manam.example"})
			// Bad settings are refused, every problem named.
			out, code, errOut := srv.cliCode("tenant", "create", "--name", "Bad", "--redirect-uri", rpRedirect,
				"--confirm-url", "ftp://tenant.example/confirm", "--sender", "not an address")
			if code != 2 && code != 1 || !strings.Contains(errOut, "confirm URL") || !strings.Contains(errOut, "mail sender") {
				t.Fatalf("bad settings: %d %s %s", code, out, errOut)
			}
			lax := srv.createTenant(t, "--name", "Lax", "--redirect-uri", rpRedirect, "--first-party",
				"--confirm-url", "https://tenant.example/confirm", "--sender", "Tenant <info@tenant.example>", "--allow-unconfirmed")
			strict := srv.createTenant(t, "--name", "Strict", "--redirect-uri", rpRedirect, "--first-party")
			if v := srv.cli(t, "tenant", "show", lax.ClientID, "--json"); !strings.Contains(v, `"allow_unconfirmed": true`) ||
				!strings.Contains(v, `"confirm_url": "https://tenant.example/confirm"`) {
				t.Fatalf("tenant show: %s", v)
			}

			// Register through the lax tenant.
			rLax := newRP(t, srv, lax, oidc.ScopeOpenID, "email")
			b := newBrowser(t, srv.URL)
			p := b.get(rLax.conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
			reg := regexp.MustCompile(`href="(/register\?challenge=[^"]+)"`).FindStringSubmatch(p.Body)
			f := formFields(b.get(srv.URL + strings.ReplaceAll(reg[1], "&amp;", "&")).Body)
			f.Set("email", "bob@example.com")
			f.Set("password", "bob has a long phrase")
			f.Set("password_confirm", "bob has a long phrase")
			if p := b.post(srv.URL+"/register", f); p.StatusCode != 200 {
				t.Fatalf("register: %d %s", p.StatusCode, p.Body)
			}
			msgs := mail.Wait(t, 1)
			pm, _ := deliverytest.Parse(msgs[0].Data)
			if msgs[0].From != "info@tenant.example" || !strings.Contains(pm.Header.Get("From"), "info@tenant.example") {
				t.Fatalf("sender: envelope %q, header %q", msgs[0].From, pm.Header.Get("From"))
			}
			link := regexp.MustCompile(`https://tenant\.example/confirm\?cnf=\S+`).FindString(pm.Text)
			if link == "" {
				t.Fatalf("no link to the tenant's page: %s", pm.Text)
			}

			// Unconfirmed: the lax tenant lets Bob in, the strict one does not.
			if loc := newBrowser(t, srv.URL).signIn(rLax.conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())),
				"bob@example.com", "bob has a long phrase"); loc.Query().Get("code") == "" {
				t.Fatalf("lax tenant refused an unconfirmed member: %s", loc)
			}
			rStrict := newRP(t, srv, strict, oidc.ScopeOpenID)
			sb := newBrowser(t, srv.URL)
			lp := formFields(sb.get(rStrict.conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))).Body)
			lp.Set("email", "bob@example.com")
			lp.Set("password", "bob has a long phrase")
			if p := sb.post(srv.URL+"/login", lp); p.Request.URL.Path != "/login" || !strings.Contains(p.Body, "confirm") {
				t.Fatalf("strict tenant let an unconfirmed account in: %d at %s", p.StatusCode, p.Request.URL)
			}

			// The tenant's page hands the token back: Manam's confirm page takes it.
			u, _ := url.Parse(link)
			if p := b.get(srv.URL + "/confirm?token=" + url.QueryEscape(u.Query().Get("cnf"))); p.StatusCode != 200 || !strings.Contains(p.Body, "is confirmed") {
				t.Fatalf("confirm with the tenant's token: %d %s", p.StatusCode, p.Body)
			}
			if loc := newBrowser(t, srv.URL).signIn(rStrict.conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())),
				"bob@example.com", "bob has a long phrase"); loc.Query().Get("code") == "" {
				t.Fatalf("confirmed account refused: %s", loc)
			}
		})
	}
}

// TestRecoveryByMobile: a reset code by SMS (wrong codes refused), a
// new password, every session and token ended; an unknown number gets the
// same page and no SMS.
func TestRecoveryByMobile(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			gw := &smsGateway{}
			gws := httptest.NewServer(gw)
			defer gws.Close()
			dsn := be.dsn(t)
			srv := startServer(t, dsn, map[string]string{"MANAM_DEFAULT_COUNTRY_CODE": "+98", "MANAM_SMS_URL": gws.URL + "/send",
				"MANAM_SMS_AUTH_HEADER": "Authorization: Bearer sms-key"})
			srv.cli(t, "user", "create", "--mobile", "09111087815", "--password", alicePass)
			app := srv.createTenant(t, "--name", "App", "--redirect-uri", rpRedirect, "--first-party")
			r := newRP(t, srv, app, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
			laptop := newBrowser(t, srv.URL)
			loc := laptop.signIn(r.conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption("verifier-0123456789012345678901234567890123")), "+989111087815", alicePass)
			tok, err := r.conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption("verifier-0123456789012345678901234567890123"))
			if err != nil {
				t.Fatal(err)
			}

			b := newBrowser(t, srv.URL)
			ask := func(number string) page {
				f := formFields(b.get(srv.URL + "/recover").Body)
				f.Set("email", number)
				return b.post(srv.URL+"/recover", f)
			}
			// An unknown number: the same code page, and no SMS.
			unknown := ask("09120000000")
			if unknown.StatusCode != 200 || !strings.Contains(unknown.Body, `action="/recover/code"`) {
				t.Fatalf("unknown number: %d %s", unknown.StatusCode, unknown.Body)
			}
			known := ask("0911 108 7815")
			if known.StatusCode != 200 || !strings.Contains(known.Body, `action="/recover/code"`) {
				t.Fatalf("known number: %d %s", known.StatusCode, known.Body)
			}
			sms := gw.wait(t, 1)
			if len(sms) != 1 || sms[0].To != "+989111087815" || !strings.Contains(sms[0].Text, "reset code") {
				t.Fatalf("SMS: %+v", sms)
			}
			code := smsCode.FindStringSubmatch(sms[0].Text)[1]
			wrong := "000000"
			if code == wrong {
				wrong = "111111"
			}
			cf := formFields(known.Body)
			post := func(code, pw, confirm string) page {
				v := maps.Clone(cf)
				v.Set("code", code)
				v.Set("password", pw)
				v.Set("password_confirm", confirm)
				return b.post(srv.URL+"/recover/code", v)
			}
			db := storagetest.OpenDSN(t, dsn)
			before, _ := db.RowCounts(context.Background())
			// A weak password is refused without using the code.
			if p := post(code, "12345678", "12345678"); p.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, "too common") {
				t.Fatalf("weak password: %d", p.StatusCode)
			}
			if after, _ := db.RowCounts(context.Background()); !maps.Equal(before, after) {
				t.Fatalf("a refused reset wrote: %v → %v", before, after)
			}
			if p := post(wrong, "a brand new long phrase", "a brand new long phrase"); p.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, "wrong or has expired") {
				t.Fatalf("wrong code: %d %s", p.StatusCode, p.Body)
			}
			if p := post(code, "a brand new long phrase", "a brand new long phrase"); p.StatusCode != 200 || !strings.Contains(p.Body, "signed out everywhere") {
				t.Fatalf("reset by code: %d %s", p.StatusCode, p.Body)
			}
			if p := post(code, "another new long phrase", "another new long phrase"); p.StatusCode != http.StatusBadRequest {
				t.Fatalf("a used code worked again: %d", p.StatusCode)
			}
			if _, err := r.conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
				t.Fatal("the refresh token survived the reset")
			}
			if p := laptop.get(srv.URL + "/account"); p.Request.URL.Path != "/login" {
				t.Fatalf("the other session survived the reset: %s", p.Request.URL)
			}
			if loc := newBrowser(t, srv.URL).signIn(r.conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())),
				"09111087815", "a brand new long phrase"); loc.Query().Get("code") == "" {
				t.Fatalf("new password refused: %s", loc)
			}

		})
	}
}

// TestChangeEmailAndMobile: a signed-in user changes the e-mail (link to
// the new address, notice to the old one) and adds a mobile number (SMS
// code), each with the current password; a taken address gets the same
// answer and a notice to its owner.
func TestChangeEmailAndMobile(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			mail := deliverytest.Start(t, deliverytest.Options{})
			gw := &smsGateway{}
			gws := httptest.NewServer(gw)
			defer gws.Close()
			dsn := be.dsn(t)
			srv := startServer(t, dsn, map[string]string{"MANAM_SMTP_URL": "smtp://" + mail.Addr, "MANAM_DEFAULT_COUNTRY_CODE": "+98",
				"MANAM_SMS_URL": gws.URL + "/send", "MANAM_SMS_AUTH_HEADER": "Authorization: Bearer sms-key"})
			srv.cli(t, "user", "create", "--email", alice, "--password", alicePass, "--name", "Alice")
			srv.cli(t, "user", "create", "--email", "carol@example.com", "--mobile", "09120000001", "--password", "carol has a long phrase")
			b := newBrowser(t, srv.URL)
			f := formFields(b.get(srv.URL + "/login").Body)
			f.Set("email", alice)
			f.Set("password", alicePass)
			p := b.post(srv.URL+"/login", f)
			if p.Request.URL.Path != "/account" {
				t.Fatalf("sign-in: %s", p.Request.URL)
			}
			csrf := formFields(p.Body).Get("csrf_token")
			post := func(path string, v url.Values) page {
				v.Set("csrf_token", csrf)
				return b.post(srv.URL+path, v)
			}
			db := storagetest.OpenDSN(t, dsn)
			before, _ := db.RowCounts(context.Background())
			bad := []struct {
				name, path string
				form       url.Values
				field      string
			}{
				{"e-mail: wrong password", "/account/email", url.Values{"new_email": {"alice@new.example"}, "current_password_email": {"nope"}}, "current_password_email"},
				{"e-mail: not an address", "/account/email", url.Values{"new_email": {"alice at new"}, "current_password_email": {alicePass}}, "new_email"},
				{"e-mail: the same", "/account/email", url.Values{"new_email": {"ALICE@example.com"}, "current_password_email": {alicePass}}, "new_email"},
				{"mobile: wrong password", "/account/mobile", url.Values{"new_mobile": {"09111087815"}, "current_password_mobile": {"nope"}}, "current_password_mobile"},
				{"mobile: not a number", "/account/mobile", url.Values{"new_mobile": {"12"}, "current_password_mobile": {alicePass}}, "new_mobile"},
			}
			for _, c := range bad {
				if p := post(c.path, c.form); p.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, `id="`+c.field+`-error"`) {
					t.Fatalf("%s: %d", c.name, p.StatusCode)
				}
			}
			// No row was added or removed (the wrong passwords only update the lockout counters).
			after, _ := db.RowCounts(context.Background())
			if !maps.Equal(before, after) {
				t.Fatalf("refused changes wrote: %v → %v", before, after)
			}

			// A new address: the link changes it, once; the old address is told.
			if p := post("/account/email", url.Values{"new_email": {"Alice@New.example"}, "current_password_email": {alicePass}}); p.StatusCode != 200 {
				t.Fatalf("change e-mail: %d", p.StatusCode)
			}
			if p := b.get(srv.URL + "/account"); !strings.Contains(p.Body, alice) {
				t.Fatal("the address changed before the link was opened")
			}
			msgs := mail.Wait(t, 1)
			pm, _ := deliverytest.Parse(msgs[0].Data)
			link := regexp.MustCompile(`https?://\S+/account/email/confirm\?token=\S+`).FindString(pm.Text)
			if msgs[0].To != "alice@new.example" || link == "" {
				t.Fatalf("confirmation mail to %s: %s", msgs[0].To, pm.Text)
			}
			if p := newBrowser(t, srv.URL).get(link); p.StatusCode != 200 || !strings.Contains(p.Body, "alice@new.example") {
				t.Fatalf("open link: %d %s", p.StatusCode, p.Body)
			}
			if p := newBrowser(t, srv.URL).get(link); p.StatusCode != http.StatusBadRequest {
				t.Fatalf("a used link worked again: %d", p.StatusCode)
			}
			msgs = mail.Wait(t, 2)
			if pm, _ := deliverytest.Parse(msgs[1].Data); msgs[1].To != alice || !strings.Contains(pm.Text, "is now alice@new.example") {
				t.Fatalf("notice to the old address: %s %s", msgs[1].To, pm.Text)
			}

			// A mobile number: a code by SMS, then it is confirmed.
			p = post("/account/mobile", url.Values{"new_mobile": {"0911 108 7815"}, "current_password_mobile": {alicePass}})
			if p.StatusCode != 200 || !strings.Contains(p.Body, `action="/account/mobile/confirm"`) {
				t.Fatalf("add mobile: %d %s", p.StatusCode, p.Body)
			}
			sms := gw.wait(t, 1)
			code := smsCode.FindStringSubmatch(sms[0].Text)[1]
			wrong := "000000"
			if code == wrong {
				wrong = "111111"
			}
			cf := formFields(p.Body)
			cf.Set("code", wrong)
			if p := post("/account/mobile/confirm", cf); p.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, `id="code-error"`) {
				t.Fatalf("wrong code: %d", p.StatusCode)
			}
			cf.Set("code", code)
			if p := post("/account/mobile/confirm", cf); p.StatusCode != 200 || !strings.Contains(p.Body, "989111087815") || !strings.Contains(p.Body, "mobile number is confirmed") {
				t.Fatalf("confirm mobile: %d %s", p.StatusCode, p.Body)
			}
			// Carol tries Alice's address and number: the same answers, a
			// notice to Alice, and no code that works.
			cb := newBrowser(t, srv.URL)
			cfm := formFields(cb.get(srv.URL + "/login").Body)
			cfm.Set("email", "carol@example.com")
			cfm.Set("password", "carol has a long phrase")
			ccsrf := formFields(cb.post(srv.URL+"/login", cfm).Body).Get("csrf_token")
			if p := cb.post(srv.URL+"/account/email", url.Values{"csrf_token": {ccsrf}, "new_email": {"alice@new.example"},
				"current_password_email": {"carol has a long phrase"}}); p.StatusCode != 200 || !strings.Contains(p.Body, "We sent a link to alice@new.example") {
				t.Fatalf("taken address: %d", p.StatusCode)
			}
			msgs = mail.Wait(t, 3)
			if pm, _ := deliverytest.Parse(msgs[2].Data); msgs[2].To != "alice@new.example" || !strings.Contains(pm.Text, "tried to add this e-mail address") ||
				strings.Contains(pm.Text, "/account/email/confirm") {
				t.Fatalf("notice to %s: %s", msgs[2].To, pm.Text)
			}
			p = cb.post(srv.URL+"/account/mobile", url.Values{"csrf_token": {ccsrf}, "new_mobile": {"09111087815"}, "current_password_mobile": {"carol has a long phrase"}})
			if p.StatusCode != 200 || !strings.Contains(p.Body, `action="/account/mobile/confirm"`) {
				t.Fatalf("taken number: %d", p.StatusCode)
			}
			sms = gw.wait(t, 2)
			if sms[1].To != "+989111087815" || !strings.Contains(sms[1].Text, "tried to add this number") || smsCode.MatchString(sms[1].Text) {
				t.Fatalf("taken number SMS: %+v", sms[1])
			}
			ccf := formFields(p.Body)
			ccf.Set("code", code)
			if p := cb.post(srv.URL+"/account/mobile/confirm", ccf); p.StatusCode != http.StatusBadRequest {
				t.Fatalf("a code for a taken number worked: %d", p.StatusCode)
			}
			// Alice signs in with her new address and with her number.
			app := srv.createTenant(t, "--name", "App", "--redirect-uri", rpRedirect, "--first-party")
			r := newRP(t, srv, app, oidc.ScopeOpenID)
			for _, login := range []string{"alice@new.example", "09111087815"} {
				if loc := newBrowser(t, srv.URL).signIn(r.conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), login, alicePass); loc.Query().Get("code") == "" {
					t.Fatalf("sign-in with %s: %s", login, loc)
				}
			}
		})
	}
}
