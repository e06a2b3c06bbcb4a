package main

import (
	"context"
	"encoding/base64"
	"html"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"github.com/manam-id/manam/storage/storagetest"
	"github.com/manam-id/manam/upstream/upstreamtest"
)

var (
	qrImage      = regexp.MustCompile(`<img id="qr" src="data:image/png;base64,([^"]+)"`)
	shownSecret  = regexp.MustCompile(`<code id="secret" dir="ltr">([A-Z2-7]+)</code>`)
	recoveryList = regexp.MustCompile(`<li>([a-z0-9]{5}-[a-z0-9]{5})</li>`)
)

// idClaims are the claims of an ID token these tests look at.
type idClaims struct {
	AMR []string `json:"amr"`
	ACR string   `json:"acr"`
}

// authStart begins an authorization request in b and signs in with the
// password; it returns the page the server shows next.
func authStart(t *testing.T, b *browser, r *rp, login, password string, extra ...oauth2.AuthCodeOption) (page, string) {
	t.Helper()
	pkce := oauth2.GenerateVerifier()
	p := b.get(r.conf.AuthCodeURL("state-123456789", append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(pkce)}, extra...)...))
	if p.Request.URL.Path != "/login" {
		t.Fatalf("authorization went to %s", p.Request.URL)
	}
	f := formFields(p.Body)
	f.Set("email", login)
	f.Set("password", password)
	return b.post(b.issuer.String()+"/login", f), pkce
}

// finish exchanges the code of the client redirect p and verifies the ID token.
func finish(t *testing.T, r *rp, p page, pkce string) idClaims {
	t.Helper()
	if p.StatusCode != http.StatusSeeOther && p.StatusCode != http.StatusFound {
		t.Fatalf("no redirect to the client: %d at %s: %s", p.StatusCode, p.Request.URL, p.Body)
	}
	loc, _ := p.Location()
	tok, err := r.conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatalf("exchange (%s): %v", loc, err)
	}
	idt, err := r.verifier.Verify(context.Background(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var c idClaims
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTOTPEndToEnd: enrol an authenticator app from the account page (the
// QR code decodes to the otpauth URI of the shown key), then sign in to a
// tenant through x/oauth2 and go-oidc: no code, no session; the right code
// gives amr pwd+otp+mfa; a replayed code is refused; a remembered device
// skips the step; a recovery code works once; removal needs proof.
func TestTOTPEndToEnd(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			dsn := be.dsn(t)
			srv := startServer(t, dsn, nil)
			srv.cli(t, "user", "create", "--email", alice, "--password", alicePass)
			app := srv.createTenant(t, "--name", "App", "--redirect-uri", rpRedirect, "--first-party")
			r := newRP(t, srv, app, oidc.ScopeOpenID)

			// Enrol from the account page.
			b := newBrowser(t, srv.URL)
			f := formFields(b.get(srv.URL + "/login").Body)
			f.Set("email", alice)
			f.Set("password", alicePass)
			p := b.post(srv.URL+"/login", f)
			csrf := formFields(p.Body).Get("csrf_token")
			db := storagetest.OpenDSN(t, dsn)
			before, _ := db.RowCounts(context.Background())
			outOfOrder := []struct{ name, path string }{{"confirm before starting", "/2fa/totp/confirm"}, {"SMS confirm before starting", "/2fa/sms/confirm"}}
			for _, c := range outOfOrder {
				if p := b.post(srv.URL+c.path, url.Values{"csrf_token": {csrf}, "code": {"123456"}}); p.StatusCode != http.StatusConflict {
					t.Fatalf("%s: %d", c.name, p.StatusCode)
				}
			}
			if p := b.post(srv.URL+"/account/2fa/remove", url.Values{"csrf_token": {csrf}, "kind": {"totp"}, "method": {"recovery"}, "code": {"aaaaa-aaaaa"}}); p.StatusCode != http.StatusConflict {
				t.Fatalf("removing a factor never set up: %d", p.StatusCode)
			}
			// Setting up a factor from the account page needs the current
			// password: a stolen session cookie alone must not do it.
			for _, c := range []struct{ name, path, password, field string }{
				{"authenticator without the password", "/2fa/totp", "", "totp_password"},
				{"authenticator with a wrong password", "/2fa/totp", "not the password", "totp_password"},
				{"SMS without the password", "/2fa/sms", "", "sms_password"},
			} {
				form := url.Values{"csrf_token": {csrf}, "phone": {"+4915112345678"}}
				if c.password != "" {
					form.Set("current_password", c.password)
				}
				if p := b.post(srv.URL+c.path, form); p.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, `id="`+c.field+`-error"`) {
					t.Fatalf("%s: %d", c.name, p.StatusCode)
				}
			}
			if after, _ := db.RowCounts(context.Background()); !maps.Equal(before, after) {
				t.Fatalf("refused steps wrote: %v → %v", before, after)
			}
			p = b.post(srv.URL+"/2fa/totp", url.Values{"csrf_token": {csrf}, "current_password": {alicePass}})
			m, sm := qrImage.FindStringSubmatch(p.Body), shownSecret.FindStringSubmatch(p.Body)
			if p.StatusCode != 200 || m == nil || sm == nil {
				t.Fatalf("enrolment page: %d %s", p.StatusCode, p.Body)
			}
			uri := decodeQR(t, m[1])
			u, err := url.Parse(uri)
			if err != nil || u.Scheme != "otpauth" || u.Host != "totp" || u.Query().Get("secret") != sm[1] || u.Query().Get("issuer") != "Manam" ||
				u.Query().Get("digits") != "6" || u.Query().Get("period") != "30" || u.Query().Get("algorithm") != "SHA1" || !strings.Contains(u.Path, alice) {
				t.Fatalf("QR code says %q, page shows key %s", uri, sm[1])
			}
			secret := sm[1]
			now := func(d time.Duration) string {
				c, err := totp.GenerateCode(secret, time.Now().Add(d))
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			wrong := func(c string) string { return string("0123456789"[(int(c[0]-'0')+5)%10]) + c[1:] }
			if p := b.post(srv.URL+"/2fa/totp/confirm", url.Values{"csrf_token": {csrf}, "code": {wrong(now(0))}}); p.StatusCode != http.StatusBadRequest ||
				!strings.Contains(p.Body, `id="code-error"`) || shownSecret.FindStringSubmatch(p.Body)[1] != secret {
				t.Fatalf("wrong enrolment code: %d", p.StatusCode)
			}
			p = b.post(srv.URL+"/2fa/totp/confirm", url.Values{"csrf_token": {csrf}, "code": {now(0)}})
			codes := recoveryList.FindAllStringSubmatch(p.Body, -1)
			if p.StatusCode != 200 || len(codes) != 10 {
				t.Fatalf("recovery codes page: %d %s", p.StatusCode, p.Body)
			}
			if p := b.get(srv.URL + "/account"); !strings.Contains(p.Body, "Authenticator app") || !strings.Contains(p.Body, "Recovery codes left: 10") {
				t.Fatalf("account page after enrolment: %s", p.Body)
			}

			// Sign in to the tenant: the password alone gives nothing.
			b2 := newBrowser(t, srv.URL)
			p, pkce := authStart(t, b2, r, alice, alicePass)
			if p.StatusCode != 200 || p.Request.URL.Path != "/login/2fa" || !strings.Contains(p.Body, "authenticator app shows") {
				t.Fatalf("after the password: %d at %s", p.StatusCode, p.Request.URL)
			}
			if a := b2.get(srv.URL + "/account"); a.Request.URL.Path != "/login" {
				t.Fatalf("a session before the second factor: %s", a.Request.URL)
			}
			cf := formFields(p.Body)
			cf.Set("code", wrong(now(30*time.Second)))
			if p := b2.post(srv.URL+"/login/2fa", cf); p.StatusCode != http.StatusUnauthorized {
				t.Fatalf("wrong code: %d", p.StatusCode)
			}
			cf.Set("code", now(0)) // the enrolment's code, this step: already used
			if p := b2.post(srv.URL+"/login/2fa", cf); p.StatusCode != http.StatusUnauthorized {
				t.Fatalf("the enrolment's code again: %d", p.StatusCode)
			}
			next := now(30 * time.Second)
			cf.Set("code", next)
			cf.Set("remember_device", "1")
			c := finish(t, r, b2.post(srv.URL+"/login/2fa", cf), pkce)
			if !slices.Equal(c.AMR, []string{"pwd", "otp", "mfa"}) || c.ACR != "urn:manam:acr:mfa" {
				t.Fatalf("ID token amr %v acr %q", c.AMR, c.ACR)
			}

			// Another browser replays that code: refused.
			b3 := newBrowser(t, srv.URL)
			p, pkce = authStart(t, b3, r, alice, alicePass)
			rf := formFields(p.Body)
			rf.Set("code", next)
			if p := b3.post(srv.URL+"/login/2fa", rf); p.StatusCode != http.StatusUnauthorized {
				t.Fatalf("a replayed code: %d", p.StatusCode)
			}
			// A recovery code works once.
			rp := formFields(b3.get(srv.URL + "/login/2fa?method=recovery&challenge=" + url.QueryEscape(rf.Get("challenge"))).Body)
			rp.Set("code", strings.ToUpper(codes[0][1]))
			c = finish(t, r, b3.post(srv.URL+"/login/2fa", rp), pkce)
			if !slices.Equal(c.AMR, []string{"pwd", "mfa"}) || c.ACR != "urn:manam:acr:mfa" {
				t.Fatalf("recovery code amr %v acr %q", c.AMR, c.ACR)
			}
			b4 := newBrowser(t, srv.URL)
			p, _ = authStart(t, b4, r, alice, alicePass)
			rp = formFields(b4.get(srv.URL + "/login/2fa?method=recovery&challenge=" + url.QueryEscape(formFields(p.Body).Get("challenge"))).Body)
			rp.Set("code", codes[0][1])
			if p := b4.post(srv.URL+"/login/2fa", rp); p.StatusCode != http.StatusUnauthorized {
				t.Fatalf("a used recovery code: %d", p.StatusCode)
			}

			// The remembered browser signs in again (prompt=login) without the step.
			p, pkce = authStart(t, b2, r, alice, alicePass, oauth2.SetAuthURLParam("prompt", "login"))
			c = finish(t, r, p, pkce)
			if !slices.Equal(c.AMR, []string{"pwd", "mfa"}) {
				t.Fatalf("remembered device amr %v", c.AMR)
			}
			if p := b.get(srv.URL + "/account"); !strings.Contains(p.Body, `id="devices"`) {
				t.Fatal("the remembered device is not listed")
			}

			// Removal needs a code; a wrong one changes nothing.
			csrf = formFields(b.get(srv.URL + "/account").Body).Get("csrf_token")
			if p := b.post(srv.URL+"/account/2fa/remove", url.Values{"csrf_token": {csrf}, "kind": {"totp"}, "method": {"totp"}, "code": {wrong(now(0))}}); p.StatusCode != http.StatusBadRequest {
				t.Fatalf("removal with a wrong code: %d", p.StatusCode)
			}
			if p := b.post(srv.URL+"/account/2fa/remove", url.Values{"csrf_token": {csrf}, "kind": {"totp"}, "method": {"recovery"}, "code": {codes[1][1]}}); p.Request.URL.RawQuery != "done=2fa-removed" {
				t.Fatalf("removal with a recovery code: %d %s", p.StatusCode, p.Request.URL)
			}
			p, pkce = authStart(t, newBrowser(t, srv.URL), r, alice, alicePass)
			if c := finish(t, r, p, pkce); !slices.Equal(c.AMR, []string{"pwd"}) || c.ACR != "urn:manam:acr:pwd" {
				t.Fatalf("after removal: %v %q", c.AMR, c.ACR)
			}
		})
	}
}

// TestRequiredSecondFactor: a tenant that requires a second factor takes
// a user without one through enrolment (SMS through the gateway) before
// any token; acr_values asks for one on another tenant.
func TestRequiredSecondFactor(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			gw := &smsGateway{}
			gws := httptest.NewServer(gw)
			defer gws.Close()
			srv := startServer(t, be.dsn(t), map[string]string{"MANAM_DEFAULT_COUNTRY_CODE": "+98", "MANAM_SMS_URL": gws.URL + "/send",
				"MANAM_SMS_AUTH_HEADER": "Authorization: Bearer sms-key"})
			srv.cli(t, "user", "create", "--email", alice, "--password", alicePass)
			strict := srv.createTenant(t, "--name", "Bank", "--redirect-uri", rpRedirect, "--first-party", "--require-mfa")
			plain := srv.createTenant(t, "--name", "Blog", "--redirect-uri", rpRedirect, "--first-party")
			rPlain := newRP(t, srv, plain, oidc.ScopeOpenID)

			// A password session at the blog; acr_values asks for more: sign in again.
			b := newBrowser(t, srv.URL)
			p, pkce := authStart(t, b, rPlain, alice, alicePass)
			if c := finish(t, rPlain, p, pkce); !slices.Equal(c.AMR, []string{"pwd"}) {
				t.Fatalf("blog amr %v", c.AMR)
			}
			p = b.get(rPlain.conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("acr_values", "urn:manam:acr:mfa")))
			if p.Request.URL.Path != "/login" {
				t.Fatalf("acr_values mfa with a password session went to %s", p.Request.URL)
			}
			if p := b.get(rPlain.conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
				oauth2.SetAuthURLParam("acr_values", "urn:manam:acr:mfa"), oauth2.SetAuthURLParam("prompt", "none"))); p.StatusCode != http.StatusSeeOther ||
				!strings.Contains(p.Header.Get("Location"), "error=login_required") {
				t.Fatalf("prompt=none needing a second factor: %d %s", p.StatusCode, p.Header.Get("Location"))
			}

			// The bank: enrol a phone first.
			rBank := newRP(t, srv, strict, oidc.ScopeOpenID)
			p, pkce = authStart(t, b, rBank, alice, alicePass)
			if p.Request.URL.Path != "/login/2fa/enrol" {
				t.Fatalf("required factor: at %s", p.Request.URL)
			}
			ef := formFields(p.Body)
			ef.Set("phone", "12")
			if p := b.post(srv.URL+"/2fa/sms", ef); p.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, `id="phone-error"`) {
				t.Fatalf("bad phone: %d", p.StatusCode)
			}
			ef.Set("phone", "0912 345 6789")
			p = b.post(srv.URL+"/2fa/sms", ef)
			if p.StatusCode != 200 || !strings.Contains(p.Body, `action="/2fa/sms/confirm"`) {
				t.Fatalf("phone enrolment: %d %s", p.StatusCode, p.Body)
			}
			sms := gw.wait(t, 1)
			if sms[0].To != "+989123456789" {
				t.Fatalf("SMS to %s", sms[0].To)
			}
			cf := formFields(p.Body)
			cf.Set("code", smsCode.FindStringSubmatch(sms[0].Text)[1])
			p = b.post(srv.URL+"/2fa/sms/confirm", cf)
			if p.StatusCode != 200 || len(recoveryList.FindAllStringSubmatch(p.Body, -1)) != 10 {
				t.Fatalf("recovery codes: %d %s", p.StatusCode, p.Body)
			}
			// amr names the factor enrolled, whatever the form claims (a
			// client-side "otp" must not pass an SMS factor for an app).
			done := formFields(p.Body)
			done.Set("method", "otp")
			c := finish(t, rBank, b.post(srv.URL+"/login/2fa/enrolled", done), pkce)
			if !slices.Equal(c.AMR, []string{"pwd", "sms", "mfa"}) || c.ACR != "urn:manam:acr:mfa" {
				t.Fatalf("bank amr %v acr %q", c.AMR, c.ACR)
			}

			// Next time, in another browser: the code by SMS after the password.
			b2 := newBrowser(t, srv.URL)
			p, pkce = authStart(t, b2, rBank, alice, alicePass)
			if p.Request.URL.Path != "/login/2fa" || !strings.Contains(p.Body, "by SMS") {
				t.Fatalf("second sign-in: at %s", p.Request.URL)
			}
			sms = gw.wait(t, 2)
			lf := formFields(p.Body)
			lf.Set("code", smsCode.FindStringSubmatch(sms[1].Text)[1])
			if c := finish(t, rBank, b2.post(srv.URL+"/login/2fa", lf), pkce); !slices.Equal(c.AMR, []string{"pwd", "sms", "mfa"}) {
				t.Fatalf("SMS sign-in amr %v", c.AMR)
			}
			if p := b2.post(srv.URL+"/login/2fa", lf); p.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, "Sign in again") {
				t.Fatalf("the finished sign-in again: %d", p.StatusCode)
			}
		})
	}
}

// decodeQR reads a base64 PNG QR code back to its text.
func decodeQR(t *testing.T, b64 string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(b64))
	if err != nil {
		t.Fatal(err)
	}
	return qrText(t, raw)
}

// TestSecondFactorAfterUpstream: an account that signs in with Google and
// has an authenticator app gets no token, on the tenant's flow or on the
// legacy link, until the code; the ID token then says fed+otp+mfa.
func TestSecondFactorAfterUpstream(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			f := upstreamtest.New(t, upstreamtest.Options{})
			srv := startServer(t, be.dsn(t), map[string]string{"MANAM_GOOGLE_CLIENT_ID": f.ClientID(), "MANAM_GOOGLE_CLIENT_SECRET": f.ClientSecret(),
				"MANAM_GOOGLE_ISSUER": f.URL()})
			app := srv.createTenant(t, "--name", "Wonderland", "--redirect-uri", rpRedirect, "--first-party")
			rp := newFedRP(t, srv, app)
			f.SetUser(upstreamtest.DefaultUser())

			// A new account through Google, which then sets up an authenticator app.
			b := newBrowser(t, srv.URL)
			a := rp.attempt()
			rp.finish(a, location(t, b.get(viaFake(t, f, toUpstream(t, b, srv, a.url, "google")))))
			csrf := formFields(b.get(srv.URL + "/account").Body).Get("csrf_token")
			secret := shownSecret.FindStringSubmatch(b.post(srv.URL+"/2fa/totp", url.Values{"csrf_token": {csrf}}).Body)[1]
			code, _ := totp.GenerateCode(secret, time.Now())
			if p := b.post(srv.URL+"/2fa/totp/confirm", url.Values{"csrf_token": {csrf}, "code": {code}}); len(recoveryList.FindAllString(p.Body, -1)) != 10 {
				t.Fatalf("enrolment: %d %s", p.StatusCode, p.Body)
			}

			// Google again, in a new browser: the second step before any code.
			b2 := newBrowser(t, srv.URL)
			a = rp.attempt()
			p := b2.get(viaFake(t, f, toUpstream(t, b2, srv, a.url, "google")))
			if p.StatusCode != 200 || p.Request.URL.Path != "/login/2fa" {
				t.Fatalf("after Google: %d at %s", p.StatusCode, p.Request.URL)
			}
			next, _ := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
			cf := formFields(p.Body)
			cf.Set("code", next)
			if c := rp.finish(a, location(t, b2.post(srv.URL+"/login/2fa", cf))); !slices.Equal(c.AMR, []string{"fed", "otp", "mfa"}) {
				t.Fatalf("amr %v", c.AMR)
			}

			// The legacy link: the same step, no token in the answer before it.
			b3 := newBrowser(t, srv.URL)
			up := location(t, b3.get(srv.URL+"/googlelogin/"+app.CustomerToken))
			p = b3.get(viaFake(t, f, up))
			if p.Request.URL.Path != "/login/2fa" || strings.Contains(p.Body, "access_token") {
				t.Fatalf("legacy link after Google: %d at %s: %.300s", p.StatusCode, p.Request.URL, p.Body)
			}
		})
	}
}
