package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/manam-id/manam/storage"
)

// Adversarial regression tests of the surfaces that sign people in
// outside the standard OAuth endpoints (the legacy API, the client
// dialects, Login with Manam). Each test names the guarantee it keeps.

// sxBasic is an HTTP Basic header with a tenant's client credentials.
func sxBasic(tn tenant) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(tn.ClientID)+":"+url.QueryEscape(tn.ClientSecret)))
}

// sxFields is a tenant's custom fields about the account with this
// address (nil when it is not a member).
func sxFields(t *testing.T, dsn, email, clientID string) map[string]any {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := storage.NewAccounts(db)
	a, err := st.AccountByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.Membership(ctx, a.ID, clientID)
	if err != nil {
		return nil
	}
	if m.CustomFields == nil {
		return map[string]any{}
	}
	return m.CustomFields
}

// sxErrors are the field names of a legacy failure's errors.
func sxErrors(a legacyAnswer) []string {
	var out []string
	if m, ok := a.m["errors"].(map[string]any); ok {
		for k := range m {
			out = append(out, k)
		}
	}
	return out
}

// TestSxCustomFieldsNeedTenantSecret: a tenant's custom fields about a
// member are the tenant's own attributes (002 answers them as the
// vendor's user_info: vendor_id, product_limit, API keys…), so, like the
// role, only the tenant itself (its client secret) edits them. Before the
// fix a member rewrote its own with its access token at /edit_user, and
// 002 then answered them as the tenant's.
func TestSxCustomFieldsNeedTenantSecret(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			e := startDialects(t, be)
			e.setFields(t, e.aliceID, e.vend.ClientID, map[string]any{"store_name": "Zaza", "product_limit": "10"})
			lc := newLegacyClient(t, e.srv.URL, map[string]string{"customer_token": e.vend.CustomerToken})
			a := lc.call("POST", "/auth/login", `{"email":"`+alice+`","password":"`+alicePass+`"}`)
			lc.expect("login", a, 200, nil)
			at := a.str("access_token")

			// The member's own token: custom fields refused, nothing written.
			for _, body := range []string{
				`{"email":"` + alice + `","custome_fields":[{"vendor_id":"43","product_limit":"100000"}]}`,
				`{"email":"` + alice + `","custom_fields":{"product_limit":"100000"}}`,
				`{"custome_fields":{"mashkor_secret_key":"mine"}}`,
			} {
				a = lc.call("POST", "/edit_user", body, "auth_token", at)
				lc.expect("edit_user custom fields with the member's token", a, 401, map[string]any{"status": "unsuccess"})
				if errs := sxErrors(a); len(errs) != 1 || errs[0] != "custome_fields" {
					t.Fatalf("errors %v: %s", errs, a.raw)
				}
			}
			if f := sxFields(t, e.dsn, alice, e.vend.ClientID); f["product_limit"] != "10" || f["vendor_id"] != nil || f["mashkor_secret_key"] != nil {
				t.Fatalf("the member rewrote the tenant's fields: %v", f)
			}
			v := newDialectClient(t, e.srv.URL, "").json("POST", "/v1/authorization", `{"email":"`+alice+`","password":"`+alicePass+`"}`)
			info, _ := v.m()["user_info"].(map[string]any)
			if id, _ := info["vendor_id"].(string); !uuidShape.MatchString(id) || info["product_limit"] != "10" {
				t.Fatalf("002 user_info after the member's edit: %s", v.raw)
			}
			// The profile itself stays the member's to edit.
			a = lc.call("POST", "/edit_user", `{"email":"`+alice+`","address":"Tehran"}`, "auth_token", at)
			lc.expect("edit_user profile with the member's token", a, 200, map[string]any{"status": "success"})

			// A token of another tenant is not this tenant's.
			lc2 := newLegacyClient(t, e.srv.URL, map[string]string{"customer_token": e.vend2.CustomerToken})
			lc2.expect("edit_user with another tenant's token", lc2.call("POST", "/edit_user", `{"email":"`+alice+`","address":"Shiraz"}`, "auth_token", at), 401, nil)
			lc2.expect("view_user with another tenant's token", lc2.call("GET", "/view_user/"+alice, "", "auth_token", at), 401, nil)

			// The tenant, with its secret, sets them.
			a = lc.call("POST", "/edit_user", `{"email":"`+alice+`","custome_fields":{"product_limit":"20"}}`, "Authorization", sxBasic(e.vend))
			lc.expect("edit_user custom fields with the secret", a, 200, nil)
			if f := sxFields(t, e.dsn, alice, e.vend.ClientID); f["product_limit"] != "20" {
				t.Fatalf("the tenant's edit: %v", f)
			}

			// Not covered here: registration with the public key alone still
			// stores the custom fields it sends (the documents' jQuery example
			// does, and TestLegacyExamples asserts it); see docs/legacy-api.md.
		})
	}
}

// TestSxRegisterHonoursRequireMFA: a tenant that allows sign-in before
// confirmation hands tokens out at registration; a tenant that also
// requires a second factor must not (the new account has none: it enrols
// one first, as /auth/login says). Before the fix registration answered a
// pwd-only access and refresh token and an ab_blog session.
func TestSxRegisterHonoursRequireMFA(t *testing.T) {
	srv := startServer(t, "sqlite:"+t.TempDir()+"/m.db", nil)
	strict := srv.createTenant(t, legacyTenantArgs("--allow-unconfirmed", "--require-mfa")...)
	lc := newLegacyClient(t, srv.URL, map[string]string{"customer_token": strict.CustomerToken})
	const mallory = "mallory@example.com"
	a := lc.call("POST", "/auth/register", `{"name":"M","email":"`+mallory+`","password":"`+alicePass+`","confirm_password":"`+alicePass+`"}`)
	if a.status != http.StatusOK || a.str("status") != "success" {
		t.Fatalf("register: %d %s", a.status, a.raw)
	}
	if a.str("access_token") != "" || a.str("refresh_token") != "" || strings.Contains(strings.Join(a.header.Values("Set-Cookie"), ";"), "ab_blog=") {
		t.Fatalf("registration with a tenant that requires a second factor: tokens or a session without one: %s %v", a.raw, a.header.Values("Set-Cookie"))
	}
	// Signing in asks for the enrolment, as before.
	lc.expect("login", lc.call("POST", "/auth/login", `{"email":"`+mallory+`","password":"`+alicePass+`"}`), 401, map[string]any{"account_url": srv.URL + "/account"})
	// Without the requirement, registration still signs in.
	easy := srv.createTenant(t, legacyTenantArgs("--allow-unconfirmed")...)
	lc2 := newLegacyClient(t, srv.URL, map[string]string{"customer_token": easy.CustomerToken})
	a = lc2.call("POST", "/auth/register", `{"name":"B","email":"bob@example.com","password":"`+alicePass+`","confirm_password":"`+alicePass+`"}`)
	if a.status != http.StatusOK || a.str("access_token") == "" {
		t.Fatalf("register with an easy tenant: %d %s", a.status, a.raw)
	}
}

// TestSxVerifyLinkIsTheTenants: 004's verify-email signs in the owner of
// a confirmation link; a link mailed for another tenant's registration
// (whose confirmation page that tenant serves) confirms the address but
// must not mint this tenant's tokens for the account nor make it this
// tenant's member. Before the fix, any tenant that saw a confirmation
// token got another tenant's userToken and vaultToken for the account.
func TestSxVerifyLinkIsTheTenants(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			e := startDialects(t, be)
			const carol, carolPass = "carol@example.com", "carol's long passphrase"
			d := newDialectClient(t, e.srv.URL, jwtHost)
			expectJSON(t, "register at jwt.test", d.json("POST", "/api/register", `{"email":"`+carol+`","password":"`+carolPass+`","name":"Carol"}`),
				200, `{"userToken":"","vaultToken":""}`)
			link := mailLinkTo(t, e.mail, 1, carol, "/api/verify-email/")
			token := link[strings.LastIndex(link, "/")+1:]

			// The link at the other 004 mount (tenant jwt2).
			other := newDialectClient(t, e.srv.URL+"/jwt2", "")
			a := other.send("GET", "/api/verify-email/"+token, noCT, "")
			if a.str("userToken") != "" || a.str("vaultToken") != "" {
				t.Fatalf("another tenant's confirmation link minted this tenant's tokens: %d %s", a.status, a.raw)
			}
			if f := sxFields(t, e.dsn, carol, e.jwt2.ClientID); f != nil {
				t.Fatalf("another tenant's confirmation link made the account this tenant's member")
			}
			// The address is confirmed all the same: the owner signs in with
			// the password, at either tenant.
			for name, c := range map[string]*dialectClient{"jwt.test": d, "jwt2": other} {
				if a := c.json("POST", "/api/login", `{"email":"`+carol+`","password":"`+carolPass+`"}`); a.status != 200 || a.str("userToken") == "" {
					t.Fatalf("login at %s after the confirmation: %d %s", name, a.status, a.raw)
				}
			}

			// The tenant's own link signs in, as documented.
			const dave, davePass = "dave@example.com", "dave's long passphrase"
			expectJSON(t, "register dave at jwt2", other.json("POST", "/api/register", `{"email":"`+dave+`","password":"`+davePass+`","name":"Dave"}`),
				200, `{"userToken":"","vaultToken":""}`)
			link = mailLinkTo(t, e.mail, 2, dave, "/api/verify-email/")
			a = other.send("GET", "/api/verify-email/"+link[strings.LastIndex(link, "/")+1:], noCT, "")
			if a.status != 200 || a.str("userToken") == "" || a.str("vaultToken") == "" {
				t.Fatalf("the tenant's own link: %d %s", a.status, a.raw)
			}
		})
	}
}

// TestSxTokenEndpointNeedsClientAuth: the on-behalf grant (a tenant the
// legacy surface identified, no client secret) is reachable only inside
// the provider. At /oauth2/token a refresh token issued by the legacy API
// still needs the confidential tenant's secret, whatever the request
// carries (the tenant key in a header or the form, a client_id alone, a
// wrong secret).
func TestSxTokenEndpointNeedsClientAuth(t *testing.T) {
	srv := startServer(t, "sqlite:"+t.TempDir()+"/m.db", nil)
	srv.cli(t, "user", "create", "--email", alice, "--password", alicePass)
	app := srv.createTenant(t, legacyTenantArgs()...)
	lc := newLegacyClient(t, srv.URL, map[string]string{"customer_token": app.CustomerToken})
	a := lc.call("POST", "/auth/login", `{"email":"`+alice+`","password":"`+alicePass+`"}`)
	lc.expect("login", a, 200, nil)
	rt := a.str("refresh_token")
	if rt == "" {
		t.Fatalf("no refresh token: %s", a.raw)
	}
	for _, c := range []struct {
		name    string
		form    url.Values
		headers []string
	}{
		{"nothing", url.Values{}, nil},
		{"the tenant key in headers", url.Values{}, []string{"customer_token", app.CustomerToken, "apieco_key", app.CustomerToken, "X-Consumer-ID", app.ClientID}},
		{"the tenant key in the form", url.Values{"customer_token": {app.CustomerToken}}, nil},
		{"client_id alone", url.Values{"client_id": {app.ClientID}}, nil},
		{"a wrong secret", url.Values{"client_id": {app.ClientID}, "client_secret": {"not-the-secret"}}, nil},
		{"the refresh token as a bearer", url.Values{}, []string{"Authorization", "Bearer " + rt}},
	} {
		f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		for k, v := range c.form {
			f[k] = v
		}
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/oauth2/token", strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(c.headers); i += 2 {
			req.Header[c.headers[i]] = []string{c.headers[i+1]}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		refused := (resp.StatusCode == http.StatusUnauthorized && m["error"] == "invalid_client") || (resp.StatusCode == http.StatusBadRequest && m["error"] == "invalid_request")
		if !refused || m["access_token"] != nil {
			t.Fatalf("%s: %d %v", c.name, resp.StatusCode, m)
		}
	}
	// The refresh token was not spent by any of those: the tenant's own
	// refresh still works.
	if tok := oauthRefresh(t, srv, app, rt); tok["access_token"] == "" {
		t.Fatalf("refresh with the secret: %v", tok)
	}
}

// TestSxManamLoginCallbackNotStartedHere: the issuer's /manamlogin/callback
// is a redirect URI only for an authorization request that names it; one
// that /manamlogin did not start in this browser (a link someone else
// built, with their state and PKCE) ends at the callback without any
// token shown, and a near miss of the callback URI is no redirect URI at
// all (an error page, no redirect: no open redirect, no code).
func TestSxManamLoginCallbackNotStartedHere(t *testing.T) {
	srv := startServer(t, "sqlite:"+t.TempDir()+"/m.db", nil)
	srv.cli(t, "user", "create", "--email", alice, "--password", alicePass)
	app := srv.createTenant(t, legacyTenantArgs()...)
	// An attacker starts Login with Manam in their own client and keeps
	// the authorization URL it is sent to.
	atk := newLegacyClient(t, srv.URL, map[string]string{"customer_token": app.CustomerToken})
	start := atk.call("GET", "/manamlogin", "")
	authURL := start.header.Get("Location")
	if start.status != http.StatusFound || !strings.Contains(authURL, url.QueryEscape(srv.URL+"/manamlogin/callback")) {
		t.Fatalf("/manamlogin: %d %q", start.status, authURL)
	}
	// The victim opens it and signs in.
	b := newBrowser(t, srv.URL)
	p := b.get(authURL)
	f := formFields(p.Body)
	f.Set("email", alice)
	f.Set("password", alicePass)
	p = b.post(srv.URL+"/login", f)
	if p.Request.URL.Path != "/manamlogin/callback" || p.StatusCode != http.StatusUnauthorized || strings.Contains(p.Body, "access_token") {
		t.Fatalf("the victim's callback: %s %d %s", p.Request.URL, p.StatusCode, p.Body)
	}
	// Near misses of the callback URI.
	for _, ru := range []string{srv.URL + "/manamlogin/callback?x=1", srv.URL + "/manamlogin/callback/", srv.URL + "/Manamlogin/callback", "http://evil.example/manamlogin/callback"} {
		q := url.Values{"client_id": {app.ClientID}, "response_type": {"code"}, "redirect_uri": {ru}, "scope": {"openid"}, "state": {"state-0123456789"},
			"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
		p = b.get(srv.URL + "/oauth2/auth?" + q.Encode())
		if p.StatusCode < 400 || p.Request.URL.Host != strings.TrimPrefix(srv.URL, "http://") || strings.Contains(p.Request.URL.RawQuery, "code=") {
			t.Fatalf("redirect_uri %s: %d at %s", ru, p.StatusCode, p.Request.URL)
		}
	}
}
