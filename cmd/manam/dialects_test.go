package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/manam-id/manam/idp/delivery/deliverytest"
	"github.com/manam-id/manam/storage"
)

// The client dialects (issue 7): seeds 002 (vendor authorization), 003
// (authorization API) and 004 (JWT auth API), each mounted for one tenant
// by MANAM_DIALECTS, replayed as their documents show them against the
// real server on loopback, on every backend.

const (
	jwtHost     = "jwt.test"
	captchaPass = "pass-the-captcha"
)

// dialectEnv is a server with dialect mounts, its database, mail and tenants.
type dialectEnv struct {
	srv                                *testServer
	dsn                                string
	mail                               *deliverytest.SMTP
	vend, vend2, authz, jwt, jwt2, mfa tenant
	aliceID                            string
}

// preCLI runs a manam command on a database before its server starts
// (a mount's tenant must exist at start).
func preCLI(t *testing.T, dsn string, args ...string) string {
	t.Helper()
	env := map[string]string{"MANAM_DSN": dsn, "MANAM_SECRET": testSecret, "MANAM_ARGON2_MEMORY_KIB": "8192", "MANAM_ARGON2_TIME": "1", "MANAM_LOG_LEVEL": "warn"}
	var out, errb bytes.Buffer
	if code := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errb); code != 0 {
		t.Fatalf("manam %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

func preTenant(t *testing.T, dsn, name string, extra ...string) tenant {
	t.Helper()
	args := append([]string{"tenant", "create", "--json", "--name", name, "--redirect-uri", rpRedirect, "--grant", "authorization_code,refresh_token",
		"--scope", "openid,profile,email,offline_access", "--first-party"}, extra...)
	var tn tenant
	if err := json.Unmarshal([]byte(preCLI(t, dsn, args...)), &tn); err != nil {
		t.Fatal(err)
	}
	return tn
}

// startDialects creates the tenants and alice, then serves these mounts:
// 002 at the root (the documented URL) and at /vendor for a second tenant,
// 003 at /authz, 004 on the Host jwt.test (exist-email and the test
// captcha on) and at /jwt2 (defaults), and all three at /strict for a
// tenant that requires a second factor.
func startDialects(t *testing.T, be backend) *dialectEnv {
	t.Helper()
	e := &dialectEnv{dsn: be.dsn(t), mail: deliverytest.Start(t, deliverytest.Options{})}
	e.vend, e.vend2 = preTenant(t, e.dsn, "Zaza Restaurant"), preTenant(t, e.dsn, "Second Store")
	e.authz, e.jwt, e.jwt2 = preTenant(t, e.dsn, "Authz"), preTenant(t, e.dsn, "JWT App"), preTenant(t, e.dsn, "JWT Two")
	e.mfa = preTenant(t, e.dsn, "Strict", "--require-mfa")
	var u struct{ ID string }
	_ = json.Unmarshal([]byte(preCLI(t, e.dsn, "user", "create", "--json", "--email", alice, "--password", alicePass, "--name", "Alice Liddell")), &u)
	e.aliceID = u.ID
	mounts := []map[string]any{
		{"dialect": "vendor-authorization", "tenant": e.vend.ClientID, "prefix": "/"},
		{"dialect": "vendor-authorization", "tenant": e.vend2.ClientID, "prefix": "/vendor"},
		{"dialect": "authorization-api", "tenant": e.authz.ClientID, "prefix": "/authz"},
		{"dialect": "jwt-auth-api", "tenant": e.jwt.ClientID, "host": jwtHost, "exist_email": true, "captcha_test_value": captchaPass},
		{"dialect": "jwt-auth-api", "tenant": e.jwt2.ClientID, "prefix": "/jwt2"},
		{"dialect": "vendor-authorization", "tenant": e.mfa.ClientID, "prefix": "/strict"},
		{"dialect": "authorization-api", "tenant": e.mfa.ClientID, "prefix": "/strict"},
		{"dialect": "jwt-auth-api", "tenant": e.mfa.ClientID, "prefix": "/strict"},
	}
	raw, _ := json.Marshal(mounts)
	e.srv = startServer(t, e.dsn, map[string]string{"MANAM_DIALECTS": string(raw), "MANAM_SMTP_URL": "smtp://" + e.mail.Addr})
	return e
}

// setFields stores a tenant's custom fields about a member, as the tenant
// keeps its own attributes (through the legacy API's edit_user, say).
func (e *dialectEnv) setFields(t *testing.T, accountID, clientID string, fields map[string]any) {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := storage.NewAccounts(db)
	if _, err := st.EnsureMembership(ctx, accountID, clientID, "import", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := st.UpdateMembership(ctx, accountID, clientID, nil, fields); err != nil {
		t.Fatal(err)
	}
}

func (e *dialectEnv) accountID(t *testing.T, email string) string {
	t.Helper()
	db, err := storage.Open(context.Background(), e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, err := storage.NewAccounts(db).AccountByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}

// dialectClient calls one mount as its documents' clients do: a cookie
// jar, no redirects followed, an optional Host header.
type dialectClient struct {
	t          *testing.T
	base, host string
	c          *http.Client
}

func newDialectClient(t *testing.T, base, host string) *dialectClient {
	return &dialectClient{t: t, base: base, host: host, c: apiClient()}
}

// dialectAnswer is a response with its body, decoded when it is JSON.
type dialectAnswer struct {
	status int
	header http.Header
	raw    []byte
	v      any
}

func (a dialectAnswer) m() map[string]any { m, _ := a.v.(map[string]any); return m }
func (a dialectAnswer) str(k string) string {
	s, _ := a.m()[k].(string)
	return s
}

// noCT marks a request sent without a Content-Type header.
const noCT = "\x00"

// send makes one call: ct is the Content-Type header as sent ("" sends an
// empty one, as several of 002's examples do; noCT sends none); headers
// are name, value pairs.
func (d *dialectClient) send(method, path, ct, body string, headers ...string) dialectAnswer {
	d.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, d.base+path, rd)
	if err != nil {
		d.t.Fatal(err)
	}
	if d.host != "" {
		req.Host = d.host
	}
	if ct != noCT {
		req.Header["Content-Type"] = []string{ct}
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := d.c.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := dialectAnswer{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(bytes.TrimSpace(raw)) > 0 {
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			d.t.Fatalf("%s %s: %d, not JSON (%s): %.300s", method, path, resp.StatusCode, resp.Header.Get("Content-Type"), raw)
		}
		if err := json.Unmarshal(raw, &a.v); err != nil {
			d.t.Fatalf("%s %s: bad JSON: %s", method, path, raw)
		}
	}
	return a
}

func (d *dialectClient) json(method, path, body string, headers ...string) dialectAnswer {
	d.t.Helper()
	return d.send(method, path, "application/json", body, headers...)
}

// expectJSON checks an answer's status and that its body is exactly want (JSON).
func expectJSON(t *testing.T, step string, a dialectAnswer, status int, want string) {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: bad want: %v", step, err)
	}
	if a.status != status || !reflect.DeepEqual(a.v, w) {
		t.Fatalf("%s: %d %s\nwant %d %s", step, a.status, a.raw, status, want)
	}
}

// expectKeys checks an answer's status and that its object has exactly keys.
func expectKeys(t *testing.T, step string, a dialectAnswer, status int, keys ...string) map[string]any {
	t.Helper()
	m := a.m()
	if a.status != status || m == nil || len(m) != len(keys) {
		t.Fatalf("%s: %d %s, want %d with %v", step, a.status, a.raw, status, keys)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Fatalf("%s: no %q in %s", step, k, a.raw)
		}
	}
	return m
}

// bearerUserinfo calls /userinfo with a bearer token (nil when refused).
func bearerUserinfo(t *testing.T, srv *testServer, token string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&m) != nil {
		return nil
	}
	return m
}

// mailLinkTo waits for n mails and returns the link containing s of the
// newest one to the address to.
func mailLinkTo(t *testing.T, mail *deliverytest.SMTP, n int, to, s string) string {
	t.Helper()
	msgs := mail.Wait(t, n)
	for i := len(msgs) - 1; i >= 0; i-- {
		if !strings.Contains(msgs[i].To, to) {
			continue
		}
		pm, err := deliverytest.Parse(msgs[i].Data)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range regexp.MustCompile(`https?://\S+`).FindAllString(pm.Text, -1) {
			if strings.Contains(l, s) {
				return l
			}
		}
	}
	t.Fatalf("no mail to %s with a link with %q in %d", to, s, len(msgs))
	return ""
}

var uuidShape = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// vendorInfoDocumented are 002's user_info fields, as its example lists them.
var vendorInfoDocumented = strings.Fields(`vendor_id email address1 web_page_title details phone country country_name store_name store_name_ar
	about_us about_us_ar address1_ar address2 address2_ar currency_title currency_title_ar multi_country_delivery delivery_countries
	store_type time_zone schedule_interval default_preparation_time payment_methods external_country_cash store_domain has_fundnumber
	conversion_rate country_tax sms_status_update_customer logo brand_limit category_limit catering_service celebrity_module
	change_all_delivery_status default_image digital_products dinein_booking dinein_booking_limit dinein_deposit_amount driver_module
	extras_inventory free_delivery_amount fundnumber_label fundnumber_label_ar fundnumber_mandatory has_pos has_tax invoice_link_on
	mashkor_auth_key mashkor_secret_key mashkor_status my_fatoorah_api_key products_inventory product_comment_label product_comment_label_ar
	product_limit product_preparation_time product_weight special_price_per_country sub_category suppliers_module tax_number template
	vendorapp_product_management default_image_url sub_user`)

const invalidAccess = `{"status":400,"error":400,"messages":{"status":false,"message":"Invalid Access!"}}`

// TestDialectVendorAuthorization replays every example of 002 (each
// client's body and Content-Type: JSON, text/plain, empty, none, and
// curl's and PHP's form type; the table's "Password") and checks the
// documented success and failure shapes, user_info from the profile and
// the tenant's custom fields, and the token at /userinfo and introspection.
func TestDialectVendorAuthorization(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			e := startDialects(t, be)
			e.setFields(t, e.aliceID, e.vend.ClientID, map[string]any{"vendor_id": "43", "store_name": "Zaza Restaurant", "store_name_ar": "مطعم 5",
				"currency_title": "QAR", "multi_country_delivery": "1", "sub_user": 0, "loyalty_tier": "gold"})
			d := newDialectClient(t, e.srv.URL, "")
			nl := "{\n\"email\":\"" + alice + "\",\n\"password\":\"" + alicePass + "\"\n}"
			indented := "{\n \"email\":\"" + alice + "\",\n \"password\":\"" + alicePass + "\"\n}"
			compact := `{"email":"` + alice + `","password":"` + alicePass + `"}`
			examples := []struct{ name, ct, body string }{
				{"curl --data-raw (form content type)", "application/x-www-form-urlencoded", nl},
				{"Python http.client (empty content type)", "", compact},
				{"PHP curl (form content type)", "application/x-www-form-urlencoded", nl},
				{"C# RestSharp (text/plain)", "text/plain", indented},
				{"Java OkHttp (text/plain)", "text/plain", indented},
				{"Ruby Net::HTTP (empty content type)", "", compact},
				{"Go net/http (no content type)", noCT, nl},
				{"Swift (empty content type)", "", `{"password":"` + alicePass + `","email":"` + alice + `"}`},
				{"jQuery (empty content type)", "", compact},
				{"JSON", "application/json", compact},
				{"the table's Password spelling", "application/json", `{"email":"` + alice + `","Password":"` + alicePass + `"}`},
				{"form fields", "application/x-www-form-urlencoded", url.Values{"email": {alice}, "password": {alicePass}}.Encode()},
			}
			var token string
			for _, ex := range examples {
				t.Run(ex.name, func(t *testing.T) {
					a := d.send("POST", "/v1/authorization", ex.ct, ex.body)
					m := expectKeys(t, ex.name, a, 200, "status", "message", "access_token", "expires_in", "user_info")
					if m["status"] != true || m["message"] != "Vendor autorization successfully." || a.str("access_token") == "" {
						t.Fatalf("%s", a.raw)
					}
					exp, _ := m["expires_in"].(float64)
					if now := float64(time.Now().Unix()); exp < now+3000 || exp > now+3700 {
						t.Fatalf("expires_in %v is not the absolute expiry (now %v)", exp, now)
					}
					info, _ := m["user_info"].(map[string]any)
					for _, k := range vendorInfoDocumented {
						if _, ok := info[k]; !ok {
							t.Fatalf("user_info lacks %q: %s", k, a.raw)
						}
					}
					if info["vendor_id"] != "43" || info["email"] != alice || info["store_name"] != "Zaza Restaurant" || info["store_name_ar"] != "مطعم 5" ||
						info["sub_user"] != float64(0) || info["loyalty_tier"] != "gold" || info["address2"] != nil {
						t.Fatalf("user_info: %s", a.raw)
					}
					token = a.str("access_token")
				})
			}
			if ui := bearerUserinfo(t, e.srv, token); ui == nil || ui["email"] != alice || ui["sub"] != e.aliceID {
				t.Fatalf("userinfo: %v", ui)
			}
			if in := introspect(t, e.srv, e.vend, token); in["active"] != true || in["client_id"] != e.vend.ClientID || in["sub"] != e.aliceID {
				t.Fatalf("introspection by the tenant: %v", in)
			}
			if in := introspect(t, e.srv, e.jwt, token); in["active"] != false {
				t.Fatalf("introspection by another tenant: %v", in)
			}

			// The second mount: another tenant, no custom fields.
			a := newDialectClient(t, e.srv.URL+"/vendor", "").json("POST", "/v1/authorization", compact)
			info, _ := a.m()["user_info"].(map[string]any)
			if a.status != 200 || !uuidShape.MatchString(info["vendor_id"].(string)) || info["store_name"] != nil || info["email"] != alice {
				t.Fatalf("second mount: %d %s", a.status, a.raw)
			}
			if in := introspect(t, e.srv, e.vend2, a.str("access_token")); in["client_id"] != e.vend2.ClientID {
				t.Fatalf("second mount's token: %v", in)
			}

			failures := []struct {
				name, ct, body string
				status         int
				want           string
			}{
				{"the document's example credentials (no such vendor)", "", `{"email":"qa1@uigtc.com","password":"Ni3@solanki"}`, 400, invalidAccess},
				{"the curl example's credentials", "application/x-www-form-urlencoded", "{\n\"email\":\"dania@mnasati.com\",\n\"password\":\"1234567Aa\"\n}", 400, invalidAccess},
				{"wrong password", "application/json", `{"email":"` + alice + `","password":"wrong password here"}`, 400, invalidAccess},
				{"no password", "application/json", `{"email":"` + alice + `"}`, 400, invalidAccess},
				{"empty body", "", "", 400, invalidAccess},
				{"a password that is not text", "application/json", `{"email":"` + alice + `","password":{"$ne":1}}`, 400, invalidAccess},
				{"broken JSON", "text/plain", `{"email":"` + alice + `",`, 400, `{"status":400,"error":400,"messages":{"status":false,"message":"The request body is not valid JSON."}}`},
			}
			for _, f := range failures {
				t.Run(f.name, func(t *testing.T) {
					expectJSON(t, f.name, d.send("POST", "/v1/authorization", f.ct, f.body), f.status, f.want)
				})
			}
			a = d.send("GET", "/v1/authorization", noCT, "")
			expectJSON(t, "GET", a, 405, `{"status":405,"error":405,"messages":{"status":false,"message":"Use the POST method for this address."}}`)
			if a.header.Get("Allow") != "POST" {
				t.Fatalf("Allow: %q", a.header.Get("Allow"))
			}
			expectJSON(t, "in Persian", d.send("POST", "/v1/authorization", "", `{"email":"x@y.co","password":"nope nope"}`, "Accept-Language", "fa-IR"),
				400, `{"status":400,"error":400,"messages":{"status":false,"message":"دسترسی نامعتبر!"}}`)

			// Throttling per address (last: it holds for this server's loopback).
			for i := 0; ; i++ {
				a := d.json("POST", "/v1/authorization", `{"email":"nobody@example.com","password":"guess number `+string(rune('a'+i%26))+`"}`)
				if a.status == 429 {
					expectJSON(t, "throttled", a, 429, `{"status":429,"error":429,"messages":{"status":false,"message":"Too many attempts. Wait a few minutes and try again."}}`)
					if a.header.Get("Retry-After") == "" {
						t.Fatal("no Retry-After")
					}
					break
				}
				if a.status != 400 || i > 40 {
					t.Fatalf("attempt %d: %d %s", i, a.status, a.raw)
				}
			}
		})
	}
}

// TestDialectAuthorizationAPI replays 003: every documented request
// (including its own invalid examples), the 422/401/403 bodies with one
// entry per failing rule, the remember-me session cookie, logout, and the
// password change; key is the stable per-member identifier.
func TestDialectAuthorizationAPI(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			e := startDialects(t, be)
			d := newDialectClient(t, e.srv.URL+"/authz", "")
			const bob, bobPass = "bob@example.com", "a long and unusual passphrase"

			// The documented signup example, as written (an address the
			// page's obfuscation left as "[email protected]", the password 123456).
			a := d.json("POST", "/api/authorization/signup", `{"email": "[email protected]","fullName": "Amir Movahedi","password": "123456","confirmPassword": "123456"}`)
			if a.status != 422 || len(a.m()) != 1 || len(a.m()["errors"].([]any)) != 1 || a.m()["errors"].([]any)[0] != "Enter a valid e-mail address." {
				t.Fatalf("documented signup example: %d %s", a.status, a.raw)
			}
			a = d.json("POST", "/api/authorization/signup", `{"email": "amir@example.com","fullName": "Amir Movahedi","password": "123456","confirmPassword": "123456"}`)
			if es, _ := a.m()["errors"].([]any); a.status != 422 || len(es) != 1 || es[0] != "Use at least 8 characters." {
				t.Fatalf("signup with the document's password: %d %s", a.status, a.raw)
			}
			signupFailures := []struct{ name, body, want string }{
				{"every field missing", `{}`, `{"errors":["Full name can't be null or empty.","Email can't be null or empty.","Password can't be null or empty.","Confirm password can't be null or empty."]}`},
				{"passwords differ", `{"email":"` + bob + `","fullName":"Bob","password":"` + bobPass + `","confirmPassword":"something else"}`, `{"errors":["Password and confirm password should be equal."]}`},
				{"name and confirmation missing", `{"email":"` + bob + `","password":"` + bobPass + `"}`, `{"errors":["Full name can't be null or empty.","Confirm password can't be null or empty."]}`},
			}
			for _, f := range signupFailures {
				t.Run("signup: "+f.name, func(t *testing.T) {
					expectJSON(t, f.name, d.json("POST", "/api/authorization/signup", f.body), 422, f.want)
				})
			}
			signup := `{"email":"` + bob + `","fullName":"Bob Builder","password":"` + bobPass + `","confirmPassword":"` + bobPass + `"}`
			a = d.json("POST", "/api/authorization/signup", signup)
			key := expectKeys(t, "signup", a, 200, "key")["key"].(string)
			if !uuidShape.MatchString(key) {
				t.Fatalf("key %q", key)
			}
			link := mailLinkTo(t, e.mail, 1, bob, "/confirm?token=")
			expectJSON(t, "login before confirming", d.json("POST", "/api/authorization/login", `{"email":"`+bob+`","password":"`+bobPass+`","isPersistent":"true"}`),
				401, `{"errors":["bob@example.com user user is inactive."]}`)
			// The same address again: the same answer, a key that is no one's.
			a = d.json("POST", "/api/authorization/signup", signup)
			if again := expectKeys(t, "signup again", a, 200, "key")["key"].(string); !uuidShape.MatchString(again) || again == key {
				t.Fatalf("second signup: %s", a.raw)
			}
			u, _ := url.Parse(link)
			if p := get(t, e.srv.URL+u.RequestURI()); !bytes.Contains(p, []byte("confirmed")) {
				t.Fatalf("confirmation page: %s", p)
			}
			e.setFields(t, e.accountID(t, bob), e.authz.ClientID, map[string]any{"tagLine": "Think positively"})

			// Login: the documented example's shape, the session cookie.
			a = d.json("POST", "/api/authorization/login", `{"email":"`+bob+`","password":"`+bobPass+`","isPersistent":"true"}`)
			expectJSON(t, "login", a, 200, `{"email":"`+bob+`","fullName":"Bob Builder","tagLine":"Think positively","key":"`+key+`"}`)
			ck := setCookie(t, a, "manam_authorization")
			if ck.MaxAge <= 0 || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/authz/api/authorization" || ck.Secure {
				t.Fatalf("persistent session cookie: %+v", ck)
			}
			other := newDialectClient(t, e.srv.URL+"/authz", "")
			a = other.json("POST", "/api/authorization/login", `{"email":"`+bob+`","password":"`+bobPass+`","isPersistent":false}`)
			if ck := setCookie(t, a, "manam_authorization"); a.status != 200 || ck.MaxAge != 0 || !ck.Expires.IsZero() {
				t.Fatalf("browser-session cookie: %d %+v", a.status, ck)
			}
			loginFailures := []struct {
				name, ct, body string
				status         int
				want           string
			}{
				{"nothing", "application/json", `{}`, 422, `{"errors":["Email address can't be null or empty.","Password can't be null or empty."]}`},
				{"no password", "application/json", `{"email":"` + bob + `"}`, 422, `{"errors":["Password can't be null or empty."]}`},
				{"not an address", "application/json", `{"email":"bob","password":"x"}`, 422, `{"errors":["Email address or password is wrong."]}`},
				{"wrong password", "application/json", `{"email":"` + bob + `","password":"not the password"}`, 401, `{"errors":["Email address or password is wrong."]}`},
				{"no such user", "application/json", `{"email":"nobody@example.com","password":"not the password"}`, 401, `{"errors":["Email address or password is wrong."]}`},
				{"JSON sent as text/plain (a cross-site form could)", "text/plain", `{"email":"` + bob + `","password":"` + bobPass + `"}`, 415, `{"errors":["Send the request body as JSON (Content-Type: application/json)."]}`},
				{"broken JSON", "application/json", `{"email":`, 400, `{"errors":["The request body is not valid JSON."]}`},
			}
			for _, f := range loginFailures {
				t.Run("login: "+f.name, func(t *testing.T) {
					a := newDialectClient(t, e.srv.URL+"/authz", "").send("POST", "/api/authorization/login", f.ct, f.body)
					expectJSON(t, f.name, a, f.status, f.want)
					if len(a.header.Values("Set-Cookie")) > 0 {
						t.Fatalf("a cookie with a failure: %v", a.header.Values("Set-Cookie"))
					}
				})
			}
			expectJSON(t, "in Persian", newDialectClient(t, e.srv.URL+"/authz", "").json("POST", "/api/authorization/login", `{}`, "Accept-Language", "fa"),
				422, `{"errors":["نشانی ایمیل نمی‌تواند خالی باشد.","گذرواژه نمی‌تواند خالی باشد."]}`)

			// Update password.
			stranger := newDialectClient(t, e.srv.URL+"/authz", "")
			expectJSON(t, "password without a session", stranger.json("PUT", "/api/authorization/password", `{"newPassword":"x","confirmPassword":"x"}`),
				403, `{"errors":["User is not authorized to update password."]}`)
			const newPass = "another fine passphrase"
			passwordFailures := []struct{ name, body, want string }{
				{"the documented example (they differ)", `{"newPassword":"[email protected]","confirmPassword":"123456"}`, `{"errors":["New password and confirm password should be equal."]}`},
				{"nothing", `{}`, `{"errors":["New password can't be null or empty.","Confirm password can't be null or empty."]}`},
				{"no confirmation", `{"newPassword":"` + newPass + `"}`, `{"errors":["Confirm password can't be null or empty."]}`},
				{"wrong current password", `{"newPassword":"` + newPass + `","confirmPassword":"` + newPass + `","currentPassword":"not it at all"}`, `{"errors":["This is not your current password."]}`},
			}
			for _, f := range passwordFailures {
				t.Run("password: "+f.name, func(t *testing.T) {
					expectJSON(t, f.name, d.json("PUT", "/api/authorization/password", f.body), 422, f.want)
				})
			}
			a = d.json("PUT", "/api/authorization/password", `{"newPassword":"123456","confirmPassword":"123456"}`)
			if es, _ := a.m()["errors"].([]any); a.status != 422 || len(es) != 1 {
				t.Fatalf("weak password: %d %s", a.status, a.raw)
			}
			a = d.json("PUT", "/api/authorization/password", `{"newPassword":"`+newPass+`","confirmPassword":"`+newPass+`"}`)
			if a.status != 200 || len(a.raw) != 0 {
				t.Fatalf("password change: %d %s", a.status, a.raw)
			}
			expectJSON(t, "old password", stranger.json("POST", "/api/authorization/login", `{"email":"`+bob+`","password":"`+bobPass+`"}`), 401, `{"errors":["Email address or password is wrong."]}`)
			a = stranger.json("POST", "/api/authorization/login", `{"email":"`+bob+`","password":"`+newPass+`"}`)
			expectJSON(t, "new password", a, 200, `{"email":"`+bob+`","fullName":"Bob Builder","tagLine":"Think positively","key":"`+key+`"}`)
			// With the current password, as a client may also send it.
			a = stranger.json("PUT", "/api/authorization/password", `{"currentPassword":"`+newPass+`","newPassword":"`+bobPass+`","confirmPassword":"`+bobPass+`"}`)
			if a.status != 200 {
				t.Fatalf("change with the current password: %d %s", a.status, a.raw)
			}
			// The other session ended with the change.
			expectJSON(t, "another session after the change", other.send("GET", "/api/authorization/logout", noCT, ""), 403, `{"errors":["User is not authorized to logout."]}`)

			// Logout.
			a = stranger.send("GET", "/api/authorization/logout", noCT, "")
			if a.status != 200 || len(a.raw) != 0 || setCookie(t, a, "manam_authorization").MaxAge >= 0 {
				t.Fatalf("logout: %d %s %v", a.status, a.raw, a.header.Values("Set-Cookie"))
			}
			expectJSON(t, "logout again", stranger.send("GET", "/api/authorization/logout", noCT, ""), 403, `{"errors":["User is not authorized to logout."]}`)
			expectJSON(t, "password after logout", stranger.json("PUT", "/api/authorization/password", `{"newPassword":"x","confirmPassword":"x"}`),
				403, `{"errors":["User is not authorized to update password."]}`)
			a = d.json("POST", "/api/authorization/logout", `{}`)
			if a.status != 405 || a.header.Get("Allow") != "GET" {
				t.Fatalf("POST logout: %d %s", a.status, a.raw)
			}
			// alice's key: her own, and not bob's.
			a = newDialectClient(t, e.srv.URL+"/authz", "").json("POST", "/api/authorization/login", `{"email":"`+alice+`","password":"`+alicePass+`"}`)
			if k := a.str("key"); a.status != 200 || k == key || !uuidShape.MatchString(k) || strings.Contains(k, e.aliceID) {
				t.Fatalf("alice: %s", a.raw)
			}
		})
	}
}

// setCookie is the response's cookie named name.
func setCookie(t *testing.T, a dialectAnswer, name string) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: a.header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", name, a.header.Values("Set-Cookie"))
	return nil
}

// TestDialectJWTAuthAPI replays 004 on its Host mount: register, the
// mailed verify link, login, the captcha'd resend, refresh with rotation,
// forgot/reset at both spellings, exist-email; userToken is a JWT that
// verifies with the JWKS and works at /userinfo and introspection.
func TestDialectJWTAuthAPI(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			e := startDialects(t, be)
			d := newDialectClient(t, e.srv.URL, jwtHost)
			const carol, carolPass = "carol@example.com", "carol's long passphrase"
			empty := `{"userToken":"","vaultToken":""}`

			expectJSON(t, "register: nothing", d.json("POST", "/api/register", `{}`), 400,
				`{"status":"error","message":"email is required. password is required. name is required.","errors":{"email":"This field is required.","password":"This field is required.","name":"This field is required."}}`)
			expectJSON(t, "register", d.json("POST", "/api/register", `{"email":"`+carol+`","password":"`+carolPass+`","name":"Carol"}`), 200, empty)
			link := mailLinkTo(t, e.mail, 1, carol, "/api/verify-email/")
			if !strings.HasPrefix(link, "http://"+jwtHost+"/api/verify-email/") {
				t.Fatalf("verify link %s is not the mount's", link)
			}
			expectJSON(t, "login before verifying", d.json("POST", "/api/login", `{"email":"`+carol+`","password":"`+carolPass+`"}`), 403,
				`{"status":"error","message":"Confirm your e-mail address first: open the link we sent you."}`)
			// The registered address again: the same answer.
			expectJSON(t, "register again", d.json("POST", "/api/register", `{"email":"`+carol+`","password":"`+carolPass+`","name":"Carol"}`), 200, empty)

			// Resend, with the test captcha (capcha, as documented, or captcha).
			resend := []struct {
				name, query string
				headers     []string
				status      int
				want        string
			}{
				{"no captcha", "?email=" + carol, nil, 400, `{"status":"error","message":"The captcha is not valid.","errors":{"capcha":"The captcha is not valid."}}`},
				{"wrong captcha", "?capcha=wrong&email=" + carol, nil, 400, `{"status":"error","message":"The captcha is not valid.","errors":{"capcha":"The captcha is not valid."}}`},
				{"by address (capcha)", "?capcha=" + captchaPass + "&email=" + carol, nil, 200, empty},
				{"by address (captcha)", "?captcha=" + captchaPass + "&email=" + carol, nil, 200, empty},
				{"neither token nor address", "?capcha=" + captchaPass, nil, 401, `{"status":"error","message":"Send your userToken as Authorization: Bearer."}`},
				{"a bad token", "?capcha=" + captchaPass, []string{"Authorization", "Bearer not-a-token"}, 401, `{"status":"error","message":"The token is invalid or has expired."}`},
			}
			for _, c := range resend {
				t.Run("resend: "+c.name, func(t *testing.T) {
					expectJSON(t, c.name, d.send("GET", "/api/resend-email-verification"+c.query, noCT, "", c.headers...), c.status, c.want)
				})
			}

			u, _ := url.Parse(link)
			a := d.send("GET", u.Path, noCT, "")
			m := expectKeys(t, "verify", a, 200, "userToken", "vaultToken")
			userToken, vault := m["userToken"].(string), m["vaultToken"].(string)
			if h := jwtHeader(t, userToken); h["typ"] != "at+jwt" || vault == "" {
				t.Fatalf("verify: header %v, %s", h, a.raw)
			}
			claims := verifyWithJWKS(t, e.srv, userToken)
			carolID := e.accountID(t, carol)
			if claims["sub"] != carolID || claims["client_id"] != e.jwt.ClientID || claims["iss"] != e.srv.URL {
				t.Fatalf("userToken claims: %v", claims)
			}
			if ui := bearerUserinfo(t, e.srv, userToken); ui == nil || ui["email"] != carol {
				t.Fatalf("userinfo: %v", ui)
			}
			if in := introspect(t, e.srv, e.jwt, userToken); in["active"] != true || in["client_id"] != e.jwt.ClientID {
				t.Fatalf("introspection: %v", in)
			}
			if in := introspect(t, e.srv, e.jwt, vault); in["active"] != true || in["client_id"] != e.jwt.ClientID {
				t.Fatalf("vaultToken introspection: %v", in)
			}
			expectJSON(t, "the link again", d.send("GET", u.Path, noCT, ""), 400, `{"status":"error","message":"This link is invalid or has expired."}`)
			expectJSON(t, "resend with the userToken", d.send("GET", "/api/resend-email-verification?capcha="+captchaPass, noCT, "", "Authorization", "Bearer "+userToken), 200, empty)

			// Login.
			a = d.json("POST", "/api/login", `{"email":"`+carol+`","password":"`+carolPass+`"}`)
			m = expectKeys(t, "login", a, 200, "userToken", "vaultToken")
			if verifyWithJWKS(t, e.srv, m["userToken"].(string))["sub"] != carolID {
				t.Fatal("login userToken")
			}
			loginFailures := []struct {
				name, body string
				status     int
				want       string
			}{
				{"no password", `{"email":"` + carol + `"}`, 400, `{"status":"error","message":"password is required.","errors":{"password":"This field is required."}}`},
				{"wrong password", `{"email":"` + carol + `","password":"not the password"}`, 401, `{"status":"error","message":"Wrong e-mail or password."}`},
				{"no such user", `{"email":"nobody@example.com","password":"not the password"}`, 401, `{"status":"error","message":"Wrong e-mail or password."}`},
				{"broken JSON", `{"email"`, 400, `{"status":"error","message":"The request body is not valid JSON."}`},
			}
			for _, f := range loginFailures {
				t.Run("login: "+f.name, func(t *testing.T) { expectJSON(t, f.name, d.json("POST", "/api/login", f.body), f.status, f.want) })
			}
			a = d.send("GET", "/api/login", noCT, "")
			expectJSON(t, "GET login", a, 405, `{"status":"error","message":"Use the POST method for this address."}`)

			// Refresh: rotation, reuse revokes the family.
			a = d.send("GET", "/api/refresh", noCT, "", "Authorization", "Bearer "+vault)
			m = expectKeys(t, "refresh", a, 200, "userToken", "vaultToken")
			vault2 := m["vaultToken"].(string)
			if vault2 == "" || vault2 == vault || verifyWithJWKS(t, e.srv, m["userToken"].(string))["sub"] != carolID || bearerUserinfo(t, e.srv, m["userToken"].(string)) == nil {
				t.Fatalf("refresh: %s", a.raw)
			}
			refused := `{"status":"error","message":"The vaultToken is invalid, expired or already used."}`
			expectJSON(t, "the old vaultToken", d.send("GET", "/api/refresh", noCT, "", "Authorization", "Bearer "+vault), 401, refused)
			expectJSON(t, "the family after reuse", d.send("GET", "/api/refresh", noCT, "", "Authorization", "Bearer "+vault2), 401, refused)
			expectJSON(t, "no vaultToken", d.send("GET", "/api/refresh", noCT, ""), 401, refused)
			// Another tenant's mount does not refresh this tenant's tokens.
			a = d.json("POST", "/api/login", `{"email":"`+carol+`","password":"`+carolPass+`"}`)
			expectJSON(t, "refresh at another mount", newDialectClient(t, e.srv.URL+"/jwt2", "").send("GET", "/api/refresh", noCT, "", "Authorization", "Bearer "+a.str("vaultToken")), 401, refused)

			// Forgot and reset, at the document's spellings and the correct ones.
			ok := `{"status":"ok"}`
			expectJSON(t, "forgot-passsword", d.json("POST", "/api/forgot-passsword", `{"email":"`+carol+`"}`, "Authorization", "Bearer "+userToken), 200, ok)
			reset := mailLinkTo(t, e.mail, 3, carol, "/recover/reset?token=")
			ru, _ := url.Parse(reset)
			rtoken := ru.Query().Get("token")
			expectJSON(t, "forgot-password (unknown address: same answer)", d.json("POST", "/api/forgot-password", `{"email":"nobody@example.com"}`), 200, ok)
			expectJSON(t, "forgot: no address", d.json("POST", "/api/forgot-passsword", `{}`), 400, `{"status":"error","message":"email is required.","errors":{"email":"This field is required."}}`)
			expectJSON(t, "reset: nothing", d.json("POST", "/api/reset-passsword", `{}`), 400,
				`{"status":"error","message":"token is required. newPassword is required.","errors":{"token":"This field is required.","newPassword":"This field is required."}}`)
			a = d.json("POST", "/api/reset-passsword", `{"token":"`+rtoken+`","newPassword":"123456"}`)
			if a.status != 400 || a.m()["errors"].(map[string]any)["newPassword"] == nil {
				t.Fatalf("weak password: %s", a.raw)
			}
			const carolNew = "carol's brand new passphrase"
			// The token as the document's Bearer, at the correct spelling.
			expectJSON(t, "reset-password (token as Bearer)", d.json("POST", "/api/reset-password", `{"newPassword":"`+carolNew+`"}`, "Authorization", "Bearer "+rtoken), 200, ok)
			expectJSON(t, "reset-passsword with a used token", d.json("POST", "/api/reset-passsword", `{"token":"`+rtoken+`","newPassword":"`+carolNew+`"}`), 400,
				`{"status":"error","message":"This link is invalid or has expired."}`)
			if bearerUserinfo(t, e.srv, userToken) != nil {
				t.Fatal("a reset left the old userToken working")
			}
			m = expectKeys(t, "login with the new password", d.json("POST", "/api/login", `{"email":"`+carol+`","password":"`+carolNew+`"}`), 200, "userToken", "vaultToken")
			// The document's spelling with the token in the body.
			expectJSON(t, "forgot for alice", d.json("POST", "/api/forgot-passsword", `{"email":"`+alice+`"}`), 200, ok)
			ru, _ = url.Parse(mailLinkTo(t, e.mail, 4, alice, "/recover/reset?token="))
			expectJSON(t, "reset-passsword", d.json("POST", "/api/reset-passsword", `{"token":"`+ru.Query().Get("token")+`","newPassword":"alice's next passphrase"}`), 200, ok)

			// exist-email: on at this mount, rate-limited; off at /jwt2.
			for _, c := range []struct{ name, email, want string }{{"registered", carol, "true"}, {"not registered", "nobody@example.com", "false"}} {
				t.Run("exist-email: "+c.name, func(t *testing.T) {
					a := d.send("GET", "/api/exist-email/"+c.email, noCT, "")
					if a.status != 200 || strings.TrimSpace(string(a.raw)) != c.want {
						t.Fatalf("%d %s", a.status, a.raw)
					}
				})
			}
			expectJSON(t, "exist-email: not an address", d.send("GET", "/api/exist-email/carol", noCT, ""), 400,
				`{"status":"error","message":"Enter a valid e-mail address.","errors":{"email":"Enter a valid e-mail address."}}`)
			two := newDialectClient(t, e.srv.URL+"/jwt2", "")
			expectJSON(t, "exist-email off", two.send("GET", "/api/exist-email/"+carol, noCT, ""), 404, `{"status":"error","message":"This endpoint is not enabled."}`)
			expectJSON(t, "resend without a verifier", two.send("GET", "/api/resend-email-verification?capcha=x&email="+carol, noCT, ""), 403,
				`{"status":"error","message":"Resending the confirmation e-mail is not available."}`)
			a = two.json("POST", "/api/login", `{"email":"`+carol+`","password":"`+carolNew+`"}`)
			if in := introspect(t, e.srv, e.jwt2, a.str("userToken")); a.status != 200 || in["client_id"] != e.jwt2.ClientID {
				t.Fatalf("the second mount's tenant: %s %v", a.raw, in)
			}
			expectJSON(t, "in Persian", two.json("POST", "/api/login", `{"email":"`+carol+`","password":"wrong one"}`, "Accept-Language", "fa"), 401,
				`{"status":"error","message":"ایمیل یا گذرواژه درست نیست."}`)
			// The Host mount answers on its Host only.
			if resp, err := http.Post(e.srv.URL+"/api/login", "application/json", strings.NewReader(`{}`)); err != nil || resp.StatusCode != 404 {
				t.Fatalf("the Host mount answered without its Host: %v %v", resp, err)
			} else {
				resp.Body.Close()
			}
			for i := 0; ; i++ {
				a := d.send("GET", "/api/exist-email/nobody@example.com", noCT, "")
				if a.status == 429 {
					expectJSON(t, "exist-email throttled", a, 429, `{"status":"error","message":"Too many attempts. Wait a few minutes and try again."}`)
					break
				}
				if a.status != 200 || i > 40 {
					t.Fatalf("exist-email %d: %d %s", i, a.status, a.raw)
				}
			}
		})
	}
}

// TestDialectSecondFactor: an account with an authenticator app gets no
// token and no session from any dialect, but the documented refusal naming
// the hosted page to finish on; a tenant requiring a second factor names
// the account page to set one up.
func TestDialectSecondFactor(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			e := startDialects(t, be)
			b := newBrowser(t, e.srv.URL)
			f := formFields(b.get(e.srv.URL + "/login").Body)
			f.Set("email", alice)
			f.Set("password", alicePass)
			csrf := formFields(b.post(e.srv.URL+"/login", f).Body).Get("csrf_token")
			sm := shownSecret.FindStringSubmatch(b.post(e.srv.URL+"/2fa/totp", url.Values{"csrf_token": {csrf}, "current_password": {alicePass}}).Body)
			if sm == nil {
				t.Fatal("no TOTP enrolment page")
			}
			code, _ := totp.GenerateCode(sm[1], time.Now())
			if p := b.post(e.srv.URL+"/2fa/totp/confirm", url.Values{"csrf_token": {csrf}, "code": {code}}); p.StatusCode != 200 {
				t.Fatalf("enrolment: %d", p.StatusCode)
			}
			const bob, bobPass = "bob@example.com", "a long and unusual passphrase"
			e.srv.cli(t, "user", "create", "--email", bob, "--password", bobPass)
			login := func(who, pw string) string { return `{"email":"` + who + `","password":"` + pw + `"}` }
			verify, enrol := e.srv.URL+"/login", e.srv.URL+"/account"
			cases := []struct {
				name, base, host, path, body string
				status                       int
				want                         string
			}{
				{"002", e.srv.URL, "", "/v1/authorization", login(alice, alicePass), 403,
					`{"status":403,"error":403,"messages":{"status":false,"message":"This account signs in with a second factor: finish signing in at ` + verify + `.","location":"` + verify + `"}}`},
				{"003", e.srv.URL + "/authz", "", "/api/authorization/login", login(alice, alicePass), 401,
					`{"errors":["This account signs in with a second factor: finish signing in at ` + verify + `."],"location":"` + verify + `"}`},
				{"004", e.srv.URL, jwtHost, "/api/login", login(alice, alicePass), 403,
					`{"status":"error","message":"This account signs in with a second factor: finish signing in at ` + verify + `.","location":"` + verify + `"}`},
				{"002, tenant requiring a factor", e.srv.URL + "/strict", "", "/v1/authorization", login(bob, bobPass), 403,
					`{"status":403,"error":403,"messages":{"status":false,"message":"This application requires a second factor: set one up at ` + enrol + `, then sign in again.","location":"` + enrol + `"}}`},
				{"003, tenant requiring a factor", e.srv.URL + "/strict", "", "/api/authorization/login", login(bob, bobPass), 401,
					`{"errors":["This application requires a second factor: set one up at ` + enrol + `, then sign in again."],"location":"` + enrol + `"}`},
				{"004, tenant requiring a factor", e.srv.URL + "/strict", "", "/api/login", login(bob, bobPass), 403,
					`{"status":"error","message":"This application requires a second factor: set one up at ` + enrol + `, then sign in again.","location":"` + enrol + `"}`},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					a := newDialectClient(t, c.base, c.host).json("POST", c.path, c.body)
					expectJSON(t, c.name, a, c.status, c.want)
					if sc := a.header.Values("Set-Cookie"); len(sc) > 0 {
						t.Fatalf("a cookie without the factor: %v", sc)
					}
				})
			}
			// The wrong password still gets the plain refusal (no hint the account has a factor).
			expectJSON(t, "wrong password", newDialectClient(t, e.srv.URL, "").json("POST", "/v1/authorization", login(alice, "not the password")), 400, invalidAccess)
		})
	}
}

// TestDialectCrossSurface: one account across the dialects and the
// standard endpoints: a password change through 003's session ends the
// tokens 002 and 004 issued; the refresh family of 004 works at
// /oauth2/token with the tenant's secret.
func TestDialectCrossSurface(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			e := startDialects(t, be)
			creds := `{"email":"` + alice + `","password":"` + alicePass + `"}`
			vend := newDialectClient(t, e.srv.URL, "").json("POST", "/v1/authorization", creds).str("access_token")
			j := newDialectClient(t, e.srv.URL, jwtHost).json("POST", "/api/login", creds)
			vault := j.str("vaultToken")
			// The vaultToken at /oauth2/token (the tenant's secret): rotation, JWT kept.
			tok := oauthRefresh(t, e.srv, e.jwt, vault)
			if tok["refresh_token"] == "" || tok["refresh_token"] == vault || jwtHeader(t, tok["access_token"].(string))["typ"] != "at+jwt" {
				t.Fatalf("/oauth2/token refresh of a vaultToken: %v", tok)
			}
			if bearerUserinfo(t, e.srv, j.str("userToken")) != nil {
				t.Fatal("the userToken outlived its refresh")
			}
			user, vault := tok["access_token"].(string), tok["refresh_token"].(string)
			for name, tk := range map[string]string{"002": vend, "004": user} {
				if bearerUserinfo(t, e.srv, tk) == nil {
					t.Fatalf("%s token refused before the change", name)
				}
			}
			d := newDialectClient(t, e.srv.URL+"/authz", "")
			if a := d.json("POST", "/api/authorization/login", creds); a.status != 200 {
				t.Fatalf("003 login: %s", a.raw)
			}
			const next = "alice's next passphrase"
			if a := d.json("PUT", "/api/authorization/password", `{"newPassword":"`+next+`","confirmPassword":"`+next+`"}`); a.status != 200 {
				t.Fatalf("003 password: %d %s", a.status, a.raw)
			}
			for name, tk := range map[string]string{"002": vend, "004": user} {
				if bearerUserinfo(t, e.srv, tk) != nil || introspect(t, e.srv, e.jwt, tk)["active"] != false {
					t.Fatalf("%s token works after the password change", name)
				}
			}
			if a := newDialectClient(t, e.srv.URL, jwtHost).send("GET", "/api/refresh", noCT, "", "Authorization", "Bearer "+vault); a.status != 401 {
				t.Fatalf("vaultToken after the password change: %d %s", a.status, a.raw)
			}
		})
	}
}

// oauthRefresh runs the refresh_token grant at /oauth2/token as tenant tn.
func oauthRefresh(t *testing.T, srv *testServer, tn tenant, rt string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/oauth2/token", strings.NewReader(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(tn.ClientID), url.QueryEscape(tn.ClientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/oauth2/token: %d %v %v", resp.StatusCode, m, err)
	}
	return m
}

// TestDialectConfig: MANAM_DIALECTS is validated at start, every problem
// reported together under the variable's name; a mount's tenant must
// exist when the server starts.
func TestDialectConfig(t *testing.T) {
	cases := []struct {
		name, value string
		want        []string // "" for valid
	}{
		{"unset", "", nil},
		{"one mount", `[{"dialect":"vendor-authorization","tenant":"t1","prefix":"/vendor"}]`, nil},
		{"several mounts, root and host", `[{"dialect":"vendor-authorization","tenant":"t1","prefix":"/"},{"dialect":"jwt-auth-api","tenant":"t2","host":"api.example.com:8443","exist_email":true,"captcha_test_value":"x"},{"dialect":"authorization-api","tenant":"t3","prefix":"/a/b"}]`, nil},
		{"not JSON", `vendor`, []string{"MANAM_DIALECTS: want a JSON array"}},
		{"an object", `{"dialect":"vendor-authorization"}`, []string{"MANAM_DIALECTS: want a JSON array"}},
		{"unknown field", `[{"dialect":"vendor-authorization","tenant":"t","prefix":"/v","path":"/x"}]`, []string{"MANAM_DIALECTS", `unknown field "path"`}},
		{"unknown dialect", `[{"dialect":"legacy","tenant":"t","prefix":"/v"}]`, []string{`MANAM_DIALECTS: entry 1: dialect "legacy"`}},
		{"no tenant", `[{"dialect":"jwt-auth-api","prefix":"/v"}]`, []string{`MANAM_DIALECTS: entry 1: "tenant"`}},
		{"neither prefix nor host", `[{"dialect":"jwt-auth-api","tenant":"t"}]`, []string{`give "prefix" (such as "/vendor") or "host"`}},
		{"both", `[{"dialect":"jwt-auth-api","tenant":"t","prefix":"/v","host":"a.example"}]`, []string{"not both"}},
		{"prefix without /", `[{"dialect":"jwt-auth-api","tenant":"t","prefix":"v"}]`, []string{`prefix "v" must start with /`}},
		{"prefix with a template", `[{"dialect":"jwt-auth-api","tenant":"t","prefix":"/{x}"}]`, []string{`prefix "/{x}"`}},
		{"host with a scheme", `[{"dialect":"jwt-auth-api","tenant":"t","host":"https://a.example"}]`, []string{`host "https://a.example"`}},
		{"exist_email elsewhere", `[{"dialect":"vendor-authorization","tenant":"t","prefix":"/v","exist_email":true}]`, []string{`"exist_email" applies to jwt-auth-api only`}},
		{"captcha elsewhere", `[{"dialect":"authorization-api","tenant":"t","prefix":"/v","captcha_test_value":"x"}]`, []string{`"captcha_test_value" applies to jwt-auth-api only`}},
		{"twice at one place", `[{"dialect":"jwt-auth-api","tenant":"t","prefix":"/v"},{"dialect":"jwt-auth-api","tenant":"u","prefix":"/v"}]`, []string{"entry 2: the same dialect is already mounted there by entry 1"}},
		{"every problem together", `[{"dialect":"nope","tenant":"t","prefix":"/v"},{"dialect":"jwt-auth-api","prefix":"x"}]`,
			[]string{`entry 1: dialect "nope"`, `entry 2: "tenant"`, `entry 2: prefix "x" must start with /`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"MANAM_DSN": "sqlite:" + t.TempDir() + "/c.db", "MANAM_DIALECTS": c.value}
			_, err := loadConfig(newFlags("serve"), func(k string) string { return env[k] })
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
	t.Run("a tenant that does not exist stops the start", func(t *testing.T) {
		dsn := "sqlite:" + t.TempDir() + "/m.db"
		tn := preTenant(t, dsn, "Real")
		env := map[string]string{"MANAM_DSN": dsn, "MANAM_SECRET": testSecret, "MANAM_ARGON2_MEMORY_KIB": "8192", "MANAM_ARGON2_TIME": "1",
			"MANAM_DIALECTS": `[{"dialect":"vendor-authorization","tenant":"` + tn.ClientID + `","prefix":"/v"},{"dialect":"jwt-auth-api","tenant":"no-such-tenant","prefix":"/j"}]`}
		cfg, err := loadConfig(newFlags("serve"), func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		var log syncBuffer
		err = serve(context.Background(), cfg, cfg.logger(&log), ln)
		if err == nil || !strings.Contains(err.Error(), `MANAM_DIALECTS: jwt-auth-api mount at /j: tenant "no-such-tenant" does not exist`) {
			t.Fatalf("serve: %v", err)
		}
	})
}
