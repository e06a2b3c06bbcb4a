package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/manam-id/manam/idp/delivery/deliverytest"
	"github.com/manam-id/manam/idp/i18n"
	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

// The documented examples of the legacy Manam API (shared/seeds/000 and
// 001), replayed one by one against the real server: method, path,
// headers (with their exact, underscored names) and body variants as the
// documents write them, asserting the documented status and field names.
// The two-factor walkthroughs are in legacy_test.go.

// Documented answer shapes (field names exactly as spelt).
var (
	// 000's register and login answer.
	lxShape000 = []string{"auth_token", "refresh_token", "username", "fullname", "email", "roles", "permissions"}
	// 001's register answer.
	lxShape001Register = []string{"access_token", "email", "tenant_email", "tenant_confirm_url", "mobile", "mobile_seed", "firstname",
		"lastname", "national_code", "birthday", "role", "custome_fields", "oauth2_provider", "oauth2_user_info"}
	// 001's login answer (roles instead of role).
	lxShape001Login = []string{"access_token", "email", "tenant_email", "tenant_confirm_url", "mobile", "mobile_seed", "firstname",
		"lastname", "national_code", "birthday", "roles", "custome_fields", "oauth2_provider", "oauth2_user_info"}
	// The message shape of confirm, recover, change password…
	lxShapeMessage = []string{"location", "message", "status"}
	// view_user, get_manam_user_info and Login with Manam.
	lxShapeProfile = []string{"email", "meli_code", "picture", "address", "postal_code", "birthday", "marital_status", "facebook_id",
		"instagram_id", "twitter_id", "linkedIn_id", "document", "mobile", "telephone"}
	// refreshToken.
	lxShapeRefresh = []string{"access_token", "expires_in", "refresh_token"}
	// The 401 of change password.
	lxShapeChangeFailure = []string{"csrf_token", "current_user_name", "errors", "flash_error", "flash_success", "loggedin", "modules", "status"}
)

const (
	lxPass    = "a long legacy passphrase"
	lxNewPass = "another legacy passphrase"
	// The 001 examples' Accept-Language header, as written.
	lxAcceptLanguage = "en-ca,en;q=0.8,en-us;"
	lxTenantSite     = "https://tenant.example"
)

// lxEnv is one server (per backend) that the subtests share; each subtest
// uses its own accounts and its own client address.
type lxEnv struct {
	srv                *testServer
	dsn                string
	db                 *storage.DB
	mail               *deliverytest.SMTP
	sms                *smsGateway
	app, strict, other tenant
	ip                 atomic.Int32
	seq                atomic.Int32
}

// lxStart runs the real server with a real SMTP listener, the SMS
// gateway, +98 as the default country code, and loopback as a trusted
// proxy (each subtest is then its own client address, so that the
// per-address limits of one subtest do not spill into the next). Tenants:
// app (unconfirmed sign-in allowed, its own confirmation page and
// sender), strict (confirmation first) and other.
func lxStart(t *testing.T, be backend) *lxEnv {
	t.Helper()
	x := &lxEnv{mail: deliverytest.Start(t, deliverytest.Options{}), sms: &smsGateway{}, dsn: be.dsn(t)}
	gws := httptest.NewServer(x.sms)
	t.Cleanup(gws.Close)
	x.srv = startServer(t, x.dsn, map[string]string{"MANAM_SMTP_URL": "smtp://" + x.mail.Addr, "MANAM_DEFAULT_COUNTRY_CODE": "+98",
		"MANAM_SMS_URL": gws.URL + "/send", "MANAM_SMS_AUTH_HEADER": "Authorization: Bearer sms-key", "MANAM_TRUSTED_PROXIES": "127.0.0.1/32"})
	x.db = storagetest.OpenDSN(t, x.dsn)
	base := []string{"--redirect-uri", rpRedirect, "--redirect-uri", lxTenantSite + "/cb", "--grant", "authorization_code,refresh_token",
		"--scope", "openid,profile,email,phone,offline_access", "--first-party"}
	x.app = x.srv.createTenant(t, append([]string{"--name", "Shop", "--allow-unconfirmed", "--confirm-url", lxTenantSite + "/confirm",
		"--sender", "info@tenant.example"}, base...)...)
	x.strict = x.srv.createTenant(t, append([]string{"--name", "Strict"}, base...)...)
	x.other = x.srv.createTenant(t, append([]string{"--name", "Other"}, base...)...)
	return x
}

// lxUnique is a fresh e-mail address.
func (x *lxEnv) lxUnique(tag string) string {
	return fmt.Sprintf("%s%d@example.com", tag, x.seq.Add(1))
}

// lxMobile is a fresh national mobile number (09…) and its E.164 form.
func (x *lxEnv) lxMobile() (string, string) {
	n := fmt.Sprintf("%07d", 1000000+x.seq.Add(1))
	return "0935" + n[len(n)-7:], "+98935" + n[len(n)-7:]
}

// lxUser creates a confirmed account with the CLI.
func (x *lxEnv) lxUser(t *testing.T, name string) string {
	t.Helper()
	email := x.lxUnique("user")
	x.srv.cli(t, "user", "create", "--email", email, "--password", lxPass, "--name", name)
	return email
}

// lxReq is one request as the documents write it.
type lxReq struct {
	method, path, body string
	ctype              string   // default application/json when there is a body
	hdr                []string // name, value…: sent under these exact names
	canonical          []string // name, value…: sent with Header.Set (canonical names)
	basic              []string // client id, secret: HTTP Basic
}

// lxResp is an answer and its JSON.
type lxResp struct {
	status int
	header http.Header
	raw    string
	m      map[string]any
}

func (r lxResp) str(k string) string { s, _ := r.m[k].(string); return s }

// lxClient is one API client: its own address (X-Forwarded-For through
// the trusted loopback proxy), a cookie jar, no redirects followed.
type lxClient struct {
	t  *testing.T
	x  *lxEnv
	ip string
	c  *http.Client
}

func (x *lxEnv) lxClient(t *testing.T) *lxClient {
	jar, _ := cookiejar.New(nil)
	return &lxClient{t: t, x: x, ip: fmt.Sprintf("10.77.%d.%d", x.ip.Add(1)/250, x.ip.Load()%250+1),
		c: &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (lc *lxClient) lxCall(r lxReq) lxResp {
	lc.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequest(r.method, lc.x.srv.URL+r.path, body)
	if err != nil {
		lc.t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-For", lc.ip)
	if r.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.ctype != "" {
		req.Header.Set("Content-Type", r.ctype)
	}
	for i := 0; i+1 < len(r.hdr); i += 2 {
		req.Header[r.hdr[i]] = []string{r.hdr[i+1]}
	}
	for i := 0; i+1 < len(r.canonical); i += 2 {
		req.Header.Set(r.canonical[i], r.canonical[i+1])
	}
	if len(r.basic) == 2 {
		req.SetBasicAuth(url.QueryEscape(r.basic[0]), url.QueryEscape(r.basic[1]))
	}
	resp, err := lc.c.Do(req)
	if err != nil {
		lc.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := lxResp{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out.m); err != nil {
			lc.t.Fatalf("%s %s: not JSON: %s", r.method, r.path, raw)
		}
	}
	return out
}

// lxCookie is a cookie the client holds.
func (lc *lxClient) lxCookie(name string) string {
	u, _ := url.Parse(lc.x.srv.URL + "/")
	for _, c := range lc.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// lxExpect checks the status and that every documented field is there.
func lxExpect(t *testing.T, what string, r lxResp, status int, fields []string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, r.status, status, r.raw)
	}
	if r.m == nil {
		t.Fatalf("%s: not a JSON object: %s", what, r.raw)
	}
	for _, f := range fields {
		if _, ok := r.m[f]; !ok {
			t.Fatalf("%s: no %q in %s", what, f, r.raw)
		}
	}
}

// lxEqual checks fields' values (compared as JSON).
func lxEqual(t *testing.T, what string, r lxResp, want map[string]any) {
	t.Helper()
	for k, v := range want {
		got, _ := json.Marshal(r.m[k])
		exp, _ := json.Marshal(v)
		if string(got) != string(exp) {
			t.Fatalf("%s: %s = %s, want %s (%s)", what, k, got, exp, r.raw)
		}
	}
}

// lxSuccess is the documented success message shape.
func lxSuccess(t *testing.T, what string, r lxResp, message string) {
	t.Helper()
	lxExpect(t, what, r, http.StatusOK, lxShapeMessage)
	lxEqual(t, what, r, map[string]any{"location": "/", "status": "success"})
	if message != "" && r.str("message") != message {
		t.Fatalf("%s: message %q, want %q", what, r.str("message"), message)
	}
}

// lxFailure is the documented failure shape {"location","message",
// "status":"unsuccess"} (and errors, when fields are named).
func lxFailure(t *testing.T, what string, r lxResp, status int, message string) {
	t.Helper()
	lxExpect(t, what, r, status, lxShapeMessage)
	if r.str("status") != "unsuccess" || !strings.HasPrefix(r.str("location"), "/") || r.str("message") == "" {
		t.Fatalf("%s: not the documented failure shape: %s", what, r.raw)
	}
	for k := range r.m {
		if k != "location" && k != "message" && k != "status" && k != "errors" && k != "account_url" {
			t.Fatalf("%s: unexpected field %q in the failure shape: %s", what, k, r.raw)
		}
	}
	if message != "" && !strings.Contains(r.str("message"), message) {
		t.Fatalf("%s: message %q, want it to contain %q", what, r.str("message"), message)
	}
}

// lxErrors are the field names a failure's errors object lists.
func lxErrors(r lxResp) []string {
	errs, _ := r.m["errors"].(map[string]any)
	return slices.Sorted(maps.Keys(errs))
}

// lxRows are the database's row counts (to show nothing was written).
func (x *lxEnv) lxRows(t *testing.T) map[string]int64 {
	t.Helper()
	c, err := x.db.RowCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	delete(c, storage.OutboxMessage{}.TableName()) // the delivery worker empties it as it goes
	return c
}

func (x *lxEnv) lxUnchanged(t *testing.T, what string, before map[string]int64) {
	t.Helper()
	if after := x.lxRows(t); !maps.Equal(before, after) {
		t.Fatalf("%s wrote: %v → %v", what, before, after)
	}
}

var lxLink = regexp.MustCompile(`https?://\S+`)

// lxMailLink waits for the n-th mail to `to` and returns its link
// containing `contains`, and the mail.
func (x *lxEnv) lxMailLink(t *testing.T, to string, n int, contains string) (string, deliverytest.Message) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var mine []deliverytest.Message
		for _, m := range x.mail.Messages() {
			if m.To == to {
				mine = append(mine, m)
			}
		}
		if len(mine) >= n {
			pm, err := deliverytest.Parse(mine[n-1].Data)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range lxLink.FindAllString(pm.Text, -1) {
				if strings.Contains(l, contains) {
					return l, mine[n-1]
				}
			}
			t.Fatalf("mail %d to %s has no link with %q:\n%s", n, to, contains, pm.Text)
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 20 s for mail %d to %s", n, to)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lxMails counts the mails to `to` so far.
func (x *lxEnv) lxMails(to string) int {
	n := 0
	for _, m := range x.mail.Messages() {
		if m.To == to {
			n++
		}
	}
	return n
}

// lxToken is a link's token (cnf or token parameter).
func lxToken(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	tok := u.Query().Get("cnf")
	if tok == "" {
		tok = u.Query().Get("token")
	}
	if tok == "" {
		t.Fatalf("no token in %s", link)
	}
	return tok
}

// lxSMS waits for the n-th SMS to `to` and returns its code.
func (x *lxEnv) lxSMS(t *testing.T, to string, n int) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var mine []string
		for _, m := range x.sms.wait(t, 0) {
			if m.To == to {
				mine = append(mine, m.Text)
			}
		}
		if len(mine) >= n {
			m := smsCode.FindStringSubmatch(mine[n-1])
			if m == nil {
				t.Fatalf("SMS to %s without a code: %s", to, mine[n-1])
			}
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 20 s for SMS %d to %s", n, to)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (x *lxEnv) lxSMSCount(to string) int {
	x.sms.mu.Lock()
	defer x.sms.mu.Unlock()
	n := 0
	for _, m := range x.sms.msgs {
		if m.To == to {
			n++
		}
	}
	return n
}

// lxUserinfo is /userinfo for an access token (nil when refused).
func (x *lxEnv) lxUserinfo(t *testing.T, token string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, x.srv.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return m
}

// lxNationalCode completes nine digits with the Iranian national code's
// check digit.
func lxNationalCode(nine string) string {
	s := 0
	for i, c := range nine {
		s += int(c-'0') * (10 - i)
	}
	r := s % 11
	if r >= 2 {
		r = 11 - r
	}
	return nine + fmt.Sprint(r)
}

func lxJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// lxKey are the tenant-key headers of 000 and 001, as written.
func lxKey000(tn tenant) []string { return []string{"customer_token", tn.CustomerToken} }
func lxKey001(tn tenant) []string {
	return []string{"apieco_key", tn.CustomerToken, "Accept-Language", lxAcceptLanguage}
}

// lxLogin signs in through 000 and returns the answer.
func (lc *lxClient) lxLogin(tn tenant, email, password string) lxResp {
	lc.t.Helper()
	return lc.lxCall(lxReq{method: "POST", path: "/auth/login", hdr: lxKey000(tn), body: lxJSON(map[string]string{"email": email, "password": password})})
}

// TestLegacyExamples replays every documented example of 000 and 001
// except the two-factor walkthroughs.
func TestLegacyExamples(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			x := lxStart(t, be)
			for _, c := range lxExampleCases() {
				t.Run(c.name, func(t *testing.T) { c.run(t, x, x.lxClient(t)) })
			}
		})
	}
}

type lxCase struct {
	name string
	run  func(t *testing.T, x *lxEnv, lc *lxClient)
}

func lxExampleCases() []lxCase {
	return slices.Concat(lxRegisterCases(), lxConfirmCases(), lxLoginCases(), lxRecoverCases(), lxRefreshCases(), lxProfileCases(), lxLoginWithCases())
}

// ---- register ----

func lxRegisterCases() []lxCase {
	return []lxCase{
		{"000 register: JSON (shell example)", func(t *testing.T, x *lxEnv, lc *lxClient) {
			email := x.lxUnique("reg")
			r := lc.lxCall(lxReq{method: "POST", path: "/auth/register", hdr: lxKey000(x.app),
				body: `{"name": "myyname","email": "` + email + `","password":"` + lxPass + `","confirm_password":"` + lxPass + `"}`})
			lxExpect(t, "register", r, 200, lxShape000)
			lxEqual(t, "register", r, map[string]any{"email": email, "username": email, "fullname": "myyname", "roles": []any{}, "permissions": []any{}})
			if ui := x.lxUserinfo(t, r.str("auth_token")); ui == nil || ui["email"] != email {
				t.Fatalf("the auth_token at /userinfo: %v", ui)
			}
			if r.str("refresh_token") == "" {
				t.Fatalf("no refresh_token: %s", r.raw)
			}
			// The confirmation mail, from the tenant's sender, to its page.
			link, m := x.lxMailLink(t, email, 1, lxTenantSite+"/confirm?cnf=")
			if m.From != "info@tenant.example" || lxToken(t, link) == "" {
				t.Fatalf("confirmation mail from %s: %s", m.From, link)
			}
		}},
		{"000 register: jQuery form, customer_token in the header and the body", func(t *testing.T, x *lxEnv, lc *lxClient) {
			email := x.lxUnique("regform")
			form := url.Values{"name": {"myname"}, "email": {email}, "password": {lxPass}, "confirm_password": {lxPass}, "customer_token": {x.app.CustomerToken}}
			r := lc.lxCall(lxReq{method: "POST", path: "/auth/register", hdr: lxKey000(x.app), ctype: "application/x-www-form-urlencoded; charset=UTF-8", body: form.Encode()})
			lxExpect(t, "register", r, 200, lxShape000)
			lxEqual(t, "register", r, map[string]any{"email": email, "fullname": "myname"})
			// The key in the body alone is enough.
			form.Set("email", x.lxUnique("regbody"))
			r = lc.lxCall(lxReq{method: "POST", path: "/auth/register", ctype: "application/x-www-form-urlencoded", body: form.Encode()})
			lxExpect(t, "register, key in the body only", r, 200, lxShape000)
		}},
		{"000 register: customer_token header in canonical form", func(t *testing.T, x *lxEnv, lc *lxClient) {
			email := x.lxUnique("regcanon")
			r := lc.lxCall(lxReq{method: "POST", path: "/auth/register", canonical: []string{"customer_token", x.app.CustomerToken},
				body: lxJSON(map[string]string{"name": "myname", "email": email, "password": lxPass, "confirm_password": lxPass})})
			lxExpect(t, "register", r, 200, lxShape000)
			// And with a hyphen, as proxies that drop underscores need.
			r = lc.lxCall(lxReq{method: "POST", path: "/auth/register", hdr: []string{"Customer-Token", x.app.CustomerToken},
				body: lxJSON(map[string]string{"name": "myname", "email": x.lxUnique("reghyphen"), "password": lxPass, "confirm_password": lxPass})})
			lxExpect(t, "register, customer-token", r, 200, lxShape000)
		}},
		{"000 register: tenant without unconfirmed sign-in gets no tokens", func(t *testing.T, x *lxEnv, lc *lxClient) {
			email := x.lxUnique("regstrict")
			r := lc.lxCall(lxReq{method: "POST", path: "/auth/register", hdr: lxKey000(x.strict),
				body: lxJSON(map[string]string{"name": "myname", "email": email, "password": lxPass, "confirm_password": lxPass})})
			lxExpect(t, "register", r, 200, lxShape000)
			lxEqual(t, "register", r, map[string]any{"auth_token": "", "refresh_token": "", "email": email, "status": "success"})
			if ck := r.header.Values("Set-Cookie"); slices.ContainsFunc(ck, func(s string) bool { return strings.HasPrefix(s, "ab_blog=") }) {
				t.Fatalf("a session without confirmation: %v", ck)
			}
			// Signing in waits for the confirmation.
			lxFailure(t, "login before confirming", lc.lxLogin(x.strict, email, lxPass), 401, "Confirm your account first")
		}},
		{"001 register: type email (JSON)", func(t *testing.T, x *lxEnv, lc *lxClient) {
			email := x.lxUnique("reg001")
			nc := lxNationalCode("001290765")
			body := `{"type":"email","confirm_url":"` + lxTenantSite + `/welcome/confirm","firstname": "myyfirstname","lastname":"mylastname","email": "` + email +
				`","password":"` + lxPass + `","confirm_password":"` + lxPass + `","national_code":"` + nc + `",birthday:"1370-01-03"}`
			r := lc.lxCall(lxReq{method: "POST", path: "/manam/auth/register", hdr: lxKey001(x.app), body: body})
			lxExpect(t, "register", r, 200, lxShape001Register)
			lxEqual(t, "register", r, map[string]any{"email": email, "firstname": "myyfirstname", "lastname": "mylastname", "national_code": nc,
				"birthday": "1370-01-03", "tenant_email": "info@tenant.example", "type": "email", "mobile": "", "role": "", "custome_fields": []any{}})
			if x.lxUserinfo(t, r.str("access_token")) == nil {
				t.Fatalf("access_token refused at /userinfo: %s", r.raw)
			}
			// The confirmation link goes to the page the call named.
			link, _ := x.lxMailLink(t, email, 1, lxTenantSite+"/welcome/confirm?cnf=")
			lxSuccess(t, "confirm", lc.lxCall(lxReq{method: "GET", path: "/manam/auth/confirm_email/" + url.PathEscape(lxToken(t, link)), hdr: lxKey001(x.app)}),
				"You have successfully confirmed your account.")
		}},
		{"001 register: type mobile with mobile_seed, profile, role and custome_fields", func(t *testing.T, x *lxEnv, lc *lxClient) {
			mobile, e164 := x.lxMobile()
			nc := lxNationalCode("129076520")
			body := `{"type":"mobile","tenant_confirm_url":"` + lxTenantSite + `/confirm","firstname":"firstname","lastname":"lastname","mobile":"` + mobile +
				`","mobile_seed":"+98","password":"` + lxPass + `","confirm_password":"` + lxPass + `","national_code":"` + nc +
				`","bithday":"1370-01-03","role":"admin","custome_fields":[{"phone":"887219031","address":"Tehran"}]}`
			r := lc.lxCall(lxReq{method: "POST", path: "/manam/auth/register", hdr: lxKey001(x.app), body: body})
			lxExpect(t, "register", r, 200, lxShape001Register)
			// role needs the tenant's secret: the public key alone sets none.
			lxEqual(t, "register", r, map[string]any{"type": "mobile", "mobile": mobile, "mobile_seed": "+98", "email": "", "birthday": "1370-01-03",
				"national_code": nc, "role": "", "custome_fields": []any{map[string]any{"phone": "887219031", "address": "Tehran"}}})
			if lc.lxCookie("ab_mobile") == "" {
				t.Fatal("no ab_mobile cookie for confirm_sms")
			}
			if code := x.lxSMS(t, e164, 1); len(code) != 6 {
				t.Fatalf("SMS code %q", code)
			}
			// With the tenant's client secret, the role is set.
			m2, _ := x.lxMobile()
			r = lc.lxCall(lxReq{method: "POST", path: "/manam/auth/register", hdr: lxKey001(x.app), basic: []string{x.app.ClientID, x.app.ClientSecret},
				body: strings.Replace(body, mobile, m2, 1)})
			lxExpect(t, "register with the secret", r, 200, lxShape001Register)
			lxEqual(t, "register with the secret", r, map[string]any{"role": "admin", "mobile": m2})
		}},
		{"001 register: jQuery form (custome_fields as jQuery encodes the array, bithday)", func(t *testing.T, x *lxEnv, lc *lxClient) {
			mobile, e164 := x.lxMobile()
			form := url.Values{"type": {"mobile"}, "tenant_confirm_url": {lxTenantSite + "/confirm"}, "tenant_email": {"info@tenant.com"},
				"firstname": {"firstname"}, "lastname": {"lastname"}, "mobile": {mobile}, "mobile_seed": {"+98"}, "password": {lxPass},
				"confirm_password": {lxPass}, "bithday": {"1370-01-03"}, "role": {"admin"},
				"custome_fields[0][phone]": {"887219031"}, "custome_fields[0][address]": {"Tehran"}}
			r := lc.lxCall(lxReq{method: "POST", path: "/manam/auth/register", hdr: lxKey001(x.app), ctype: "application/x-www-form-urlencoded; charset=UTF-8", body: form.Encode()})
			lxExpect(t, "register", r, 200, lxShape001Register)
			lxEqual(t, "register", r, map[string]any{"mobile": mobile, "mobile_seed": "+98", "birthday": "1370-01-03", "firstname": "firstname",
				"tenant_email": "info@tenant.example", "role": "", "custome_fields": []any{map[string]any{"phone": "887219031", "address": "Tehran"}}})
			x.lxSMS(t, e164, 1)
		}},
		{"001 register: tenant_confirm_url on another site is refused", func(t *testing.T, x *lxEnv, lc *lxClient) {
			before := x.lxRows(t)
			for _, page := range []string{"https://evil.example/confirm", "http://tenant.example/confirm", "tenant.com/confirm"} {
				r := lc.lxCall(lxReq{method: "POST", path: "/manam/auth/register", hdr: lxKey001(x.app), body: lxJSON(map[string]string{"type": "email",
					"tenant_confirm_url": page, "email": x.lxUnique("regevil"), "password": lxPass, "confirm_password": lxPass})})
				lxFailure(t, page, r, 401, "")
				if e := lxErrors(r); !slices.Equal(e, []string{"tenant_confirm_url"}) {
					t.Fatalf("%s: errors %v", page, e)
				}
			}
			x.lxUnchanged(t, "a refused registration", before)
		}},
		{"001 register: the example's literal values get the field errors", func(t *testing.T, x *lxEnv, lc *lxClient) {
			before := x.lxRows(t)
			r := lc.lxCall(lxReq{method: "POST", path: "/manam/auth/register", hdr: lxKey001(x.app),
				body: `{"type":"email","confirm_url":"https://tenant.com/confirm","firstname": "myyfirstname","lastname":"mylastname","email": "myemail@gmail.com","password":"12345","confirm_password":"12345","national_code":"12907652",birthday:"1370-01-03"}`})
			lxFailure(t, "register", r, 401, "Check the fields listed in errors.")
			// Every problem at once: the national code's check digit, the
			// password, and a confirmation page that is not the tenant's.
			if e := lxErrors(r); !slices.Equal(e, []string{"national_code", "password", "tenant_confirm_url"}) {
				t.Fatalf("errors %v: %s", e, r.raw)
			}
			x.lxUnchanged(t, "a refused registration", before)
		}},
	}
}

// ---- confirm, confirm_sms, send_confirm_email, send_confirm_sms ----

// lxRegistered registers an address through the strict tenant and
// returns the confirmation token from the mail.
func (lc *lxClient) lxRegistered(prefix string, key []string) (string, string) {
	lc.t.Helper()
	email := lc.x.lxUnique("cnf")
	r := lc.lxCall(lxReq{method: "POST", path: prefix + "/auth/register", hdr: key,
		body: lxJSON(map[string]string{"name": "myname", "email": email, "password": lxPass, "confirm_password": lxPass})})
	lxExpect(lc.t, "register", r, 200, nil)
	link, _ := lc.x.lxMailLink(lc.t, email, 1, "/confirm?token=")
	return email, lxToken(lc.t, link)
}

func lxConfirmCases() []lxCase {
	confirmed := func(t *testing.T, x *lxEnv, lc *lxClient, email string) {
		t.Helper()
		lxExpect(t, "login after confirming", lc.lxLogin(x.strict, email, lxPass), 200, lxShape000)
	}
	variant := func(name string, req func(x *lxEnv, cnf string) lxReq, prefix string) lxCase {
		return lxCase{name, func(t *testing.T, x *lxEnv, lc *lxClient) {
			key := lxKey000(x.strict)
			if prefix != "" {
				key = lxKey001(x.strict)
			}
			email, cnf := lc.lxRegistered(prefix, key)
			r := lc.lxCall(req(x, cnf))
			lxSuccess(t, "confirm", r, "You have successfully confirmed your account.")
			confirmed(t, x, lc, email)
			// The token works once: again, the documented 401.
			r = lc.lxCall(req(x, cnf))
			lxFailure(t, "confirm again", r, 401, "Your confirmation is unsuccess")
		}}
	}
	return []lxCase{
		variant("000 confirm: GET with the unquoted -d {cnf:…} body", func(x *lxEnv, cnf string) lxReq {
			return lxReq{method: "GET", path: "/auth/confirm", hdr: lxKey000(x.strict), body: "{cnf:" + cnf + "}"}
		}, ""),
		variant("000 confirm: GET ?cnf= (jQuery)", func(x *lxEnv, cnf string) lxReq {
			return lxReq{method: "GET", path: "/auth/confirm?cnf=" + url.QueryEscape(cnf), hdr: lxKey000(x.strict)}
		}, ""),
		variant("000 confirm: GET /auth/confirm/<cnf>/<customer_token>", func(x *lxEnv, cnf string) lxReq {
			return lxReq{method: "GET", path: "/auth/confirm/" + url.PathEscape(cnf) + "/" + x.strict.CustomerToken}
		}, ""),
		variant("001 confirm_email: GET ?cnf= (jQuery)", func(x *lxEnv, cnf string) lxReq {
			return lxReq{method: "GET", path: "/manam/auth/confirm_email?cnf=" + url.QueryEscape(cnf), hdr: lxKey001(x.strict)}
		}, "/manam"),
		variant(`001 confirm_email: GET with the -d {cnf:"…"} body`, func(x *lxEnv, cnf string) lxReq {
			return lxReq{method: "GET", path: "/manam/auth/confirm_email", hdr: lxKey001(x.strict), body: `{cnf:"` + cnf + `"}`}
		}, "/manam"),
		variant("001 confirm_email: GET /confirm_email/<cnf> (HTTP Request line)", func(x *lxEnv, cnf string) lxReq {
			return lxReq{method: "GET", path: "/manam/auth/confirm_email/" + url.PathEscape(cnf), hdr: lxKey001(x.strict)}
		}, "/manam"),
		{"001 confirm_email: a bad cnf gets the documented 401", func(t *testing.T, x *lxEnv, lc *lxClient) {
			for _, p := range []string{"/manam/auth/confirm_email?cnf=FFL5QDOYTXJZcO3SdcDgd8Kv-_euyLqVwm-eFagHZG_KCBLgtyhUkjFAeeDXvMFVVame3vXKyiWbnpNAVxQI8A==",
				"/manam/auth/confirm_email", "/auth/confirm/h-A1iPysWfQ9Mj5EYuCKZo9KJ5UccHTjqABqfL-8bw48fkUQAOhBB-Bbwo2V7AE5TKYYYE9QXpDLrCvImQ57Tw=="} {
				r := lc.lxCall(lxReq{method: "GET", path: p, hdr: lxKey001(x.strict)})
				lxFailure(t, p, r, 401, "")
				lxEqual(t, p, r, map[string]any{"location": "/", "message": "Your confirmation is unsuccess", "status": "unsuccess"})
			}
		}},
		{`001 confirm_sms: {cnf:"…"} with the cookie set at registration`, func(t *testing.T, x *lxEnv, lc *lxClient) {
			mobile, e164 := x.lxMobile()
			r := lc.lxCall(lxReq{method: "POST", path: "/manam/auth/register", hdr: lxKey001(x.strict),
				body: lxJSON(map[string]string{"type": "mobile", "mobile": mobile, "mobile_seed": "+98", "password": lxPass, "confirm_password": lxPass})})
			lxExpect(t, "register", r, 200, lxShape001Register)
			code := x.lxSMS(t, e164, 1)
			wrong := "000000"
			if code == wrong {
				wrong = "111111"
			}
			lxFailure(t, "a wrong code", lc.lxCall(lxReq{method: "POST", path: "/manam/auth/confirm_sms", hdr: lxKey001(x.strict), body: `{cnf:"` + wrong + `"}`}),
				401, "Your confirmation is unsuccess")
			r = lc.lxCall(lxReq{method: "POST", path: "/manam/auth/confirm_sms", hdr: []string{"apieco_key", x.strict.CustomerToken}, body: `{cnf:"` + code + `"}`})
			lxSuccess(t, "confirm_sms", r, "You have successfully confirmed your account.")
			r = lc.lxCall(lxReq{method: "POST", path: "/manam/auth/login", hdr: lxKey001(x.strict), body: lxJSON(map[string]string{"type": "mobile", "mobile": mobile, "password": lxPass})})
			lxExpect(t, "login by mobile", r, 200, lxShape001Login)
		}},
		{"001 confirm_sms: GET confirm_email/<code> (its HTTP Request line) with the registration cookie", func(t *testing.T, x *lxEnv, lc *lxClient) {
			mobile, e164 := x.lxMobile()
			r := lc.lxCall(lxReq{method: "POST", path: "/manam/auth/register", hdr: lxKey001(x.strict),
				body: lxJSON(map[string]string{"type": "mobile", "mobile": mobile, "password": lxPass, "confirm_password": lxPass})})
			lxExpect(t, "register", r, 200, nil)
			code := x.lxSMS(t, e164, 1)
			r = lc.lxCall(lxReq{method: "GET", path: "/manam/auth/confirm_email/" + code, hdr: lxKey001(x.strict)})
			lxSuccess(t, "confirm_email/<code>", r, "You have successfully confirmed your account.")
			lxFailure(t, "again", lc.lxCall(lxReq{method: "GET", path: "/manam/auth/confirm_email/" + code, hdr: lxKey001(x.strict)}), 401, "Your confirmation is unsuccess")
		}},
		{"001 confirm_sms: mobile in the body, jQuery form, another client", func(t *testing.T, x *lxEnv, lc *lxClient) {
			mobile, e164 := x.lxMobile()
			r := lc.lxCall(lxReq{method: "POST", path: "/manam/auth/register", hdr: lxKey001(x.strict),
				body: lxJSON(map[string]string{"type": "mobile", "mobile": mobile, "password": lxPass, "confirm_password": lxPass})})
			lxExpect(t, "register", r, 200, nil)
			code := x.lxSMS(t, e164, 1)
			fresh := x.lxClient(t)
			lxFailure(t, "no number and no cookie", fresh.lxCall(lxReq{method: "POST", path: "/manam/auth/confirm_sms", hdr: lxKey001(x.strict), body: `{cnf:"` + code + `"}`}), 401, "")
			r = fresh.lxCall(lxReq{method: "POST", path: "/manam/auth/confirm_sms", hdr: lxKey001(x.strict), ctype: "application/x-www-form-urlencoded",
				body: url.Values{"cnf": {code}, "mobile": {mobile}}.Encode()})
			lxSuccess(t, "confirm_sms", r, "You have successfully confirmed your account.")
		}},
		{"001 send_confirm_email: the shell example's body, then the new link confirms", func(t *testing.T, x *lxEnv, lc *lxClient) {
			// An account imported unconfirmed has no link yet.
			email := x.lxUnique("imported")
			hash, _ := bcrypt.GenerateFromPassword([]byte(lxPass), bcrypt.MinCost)
			file := filepath.Join(t.TempDir(), "u.jsonl")
			if err := os.WriteFile(file, []byte(`{"email":"`+email+`","email_verified":false,"password_hash":"`+string(hash)+`"}`+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			x.srv.cli(t, "user", "import", file)
			r := lc.lxCall(lxReq{method: "POST", path: "/manam/auth/send_confirm_email", hdr: []string{"apieco_key", x.app.CustomerToken},
				body: `{userTpe:"email","email":"` + email + `","tenant_email":"info@tenant.com",confirm_url:"tenant.com/confirm"}`})
			lxExpect(t, "send_confirm_email", r, 200, lxShapeMessage)
			lxEqual(t, "send_confirm_email", r, map[string]any{"status": "success", "location": "/"})
			// tenant.com/confirm is not the tenant's: its own page is used.
			link, m := x.lxMailLink(t, email, 1, lxTenantSite+"/confirm?cnf=")
			if m.From != "info@tenant.example" {
				t.Fatalf("sender %s (tenant_email is not a sender)", m.From)
			}
			lxSuccess(t, "confirm", lc.lxCall(lxReq{method: "GET", path: "/manam/auth/confirm_email?cnf=" + url.QueryEscape(lxToken(t, link)), hdr: lxKey001(x.app)}), "")
			// Confirmed, or unknown: the same answer, and no mail.
			for _, who := range []string{email, "nobody@example.com"} {
				again := lc.lxCall(lxReq{method: "POST", path: "/manam/auth/send_confirm_email", hdr: lxKey001(x.app), ctype: "application/x-www-form-urlencoded",
					body: url.Values{"email": {who}, "tenant_email": {"info@tenan.com"}, "tenant_confirm_url": {"tenant.com/confirm"}}.Encode()})
				if again.status != 200 || again.str("message") != r.str("message") {
					t.Fatalf("send_confirm_email for %s: %d %s", who, again.status, again.raw)
				}
			}
			if n := x.lxMails(email); n != 1 {
				t.Fatalf("%d mails to a confirmed address", n)
			}
			lxFailure(t, "no address", lc.lxCall(lxReq{method: "POST", path: "/manam/auth/send_confirm_email", hdr: lxKey001(x.app), body: `{}`}), 401, "Your confirmation is unsuccess.")
		}},
		{"001 send_confirm_email: its HTTP Request line, GET /auth/new_confirm_sms/<email>, and GET with a query", func(t *testing.T, x *lxEnv, lc *lxClient) {
			hash, _ := bcrypt.GenerateFromPassword([]byte(lxPass), bcrypt.MinCost)
			a, b := x.lxUnique("imp"), x.lxUnique("imp")
			file := filepath.Join(t.TempDir(), "u.jsonl")
			lines := `{"email":"` + a + `","password_hash":"` + string(hash) + `"}` + "\n" + `{"email":"` + b + `","password_hash":"` + string(hash) + `"}` + "\n"
			if err := os.WriteFile(file, []byte(lines), 0o600); err != nil {
				t.Fatal(err)
			}
			x.srv.cli(t, "user", "import", file)
			r := lc.lxCall(lxReq{method: "GET", path: "/manam/auth/new_confirm_sms/" + a, hdr: lxKey001(x.app)})
			lxExpect(t, "new_confirm_sms/<email>", r, 200, lxShapeMessage)
			link, _ := x.lxMailLink(t, a, 1, lxTenantSite+"/confirm?cnf=")
			r = lc.lxCall(lxReq{method: "GET", path: "/manam/auth/send_confirm_email?email=" + url.QueryEscape(b), hdr: lxKey001(x.app)})
			lxExpect(t, "GET send_confirm_email", r, 200, lxShapeMessage)
			x.lxMailLink(t, b, 1, lxTenantSite+"/confirm?cnf=")
			lxSuccess(t, "confirm", lc.lxCall(lxReq{method: "GET", path: "/auth/confirm/" + url.PathEscape(lxToken(t, link)) + "/" + x.app.CustomerToken}), "")
		}},
		{"001 send_confirm_sms and /auth/new_confirm_sms/<…>", func(t *testing.T, x *lxEnv, lc *lxClient) {
			mobile, e164 := x.lxMobile()
			r := lc.lxCall(lxReq{method: "POST", path: "/manam/auth/register", hdr: lxKey001(x.strict),
				body: lxJSON(map[string]string{"type": "mobile", "mobile": mobile, "password": lxPass, "confirm_password": lxPass})})
			lxExpect(t, "register", r, 200, nil)
			x.lxSMS(t, e164, 1)
			want := ""
			for _, req := range []lxReq{
				{method: "POST", path: "/manam/auth/send_confirm_sms", hdr: lxKey001(x.strict), body: `{"mobile":"` + mobile + `",confirm_url:"tenant.com/confirm"}`},
				{method: "POST", path: "/manam/auth/send_confirm_sms", hdr: lxKey001(x.strict), ctype: "application/x-www-form-urlencoded",
					body: url.Values{"mobile": {mobile}, "confirm_url": {"tenant.com/confirm"}}.Encode()},
				{method: "GET", path: "/manam/auth/new_confirm_sms/" + mobile, hdr: lxKey001(x.strict)},
				{method: "POST", path: "/manam/auth/send_confirm_sms", hdr: lxKey001(x.strict), body: `{"mobile":"09170000000"}`},
			} {
				r := lc.lxCall(req)
				lxExpect(t, req.path, r, 200, lxShapeMessage)
				lxEqual(t, req.path, r, map[string]any{"status": "success", "location": "/"})
				if want == "" {
					want = r.str("message")
				} else if r.str("message") != want {
					t.Fatalf("%s: %q, want the same answer %q", req.path, r.str("message"), want)
				}
			}
			// One code a minute: the registration's is still the only one.
			if n := x.lxSMSCount(e164); n != 1 {
				t.Fatalf("%d SMS within a minute", n)
			}
			lxFailure(t, "a bad number", lc.lxCall(lxReq{method: "POST", path: "/manam/auth/send_confirm_sms", hdr: lxKey001(x.strict), body: `{"mobile":"12"}`}),
				401, "Your confirmation is unsuccess.")
		}},
	}
}

// ---- login ----

func lxLoginCases() []lxCase {
	return []lxCase{
		{"000 login: JSON (shell example)", func(t *testing.T, x *lxEnv, lc *lxClient) {
			email := x.lxUser(t, "Login User")
			r := lc.lxCall(lxReq{method: "POST", path: "/auth/login", hdr: []string{"customer_token", x.app.CustomerToken},
				body: `{"email": "` + email + `","password":"` + lxPass + `"}`})
			lxExpect(t, "login", r, 200, lxShape000)
			lxEqual(t, "login", r, map[string]any{"username": email, "fullname": "Login User", "email": email, "roles": []any{}, "permissions": []any{}})
			if x.lxUserinfo(t, r.str("auth_token"))["email"] != email || r.str("refresh_token") == "" || lc.lxCookie("ab_blog") == "" {
				t.Fatalf("login: token, refresh token or session missing: %s", r.raw)
			}
		}},
		{"000 login: jQuery form", func(t *testing.T, x *lxEnv, lc *lxClient) {
			email := x.lxUser(t, "Form User")
			r := lc.lxCall(lxReq{method: "POST", path: "/auth/login", hdr: lxKey000(x.app), ctype: "application/x-www-form-urlencoded; charset=UTF-8",
				body: url.Values{"email": {email}, "password": {lxPass}}.Encode()})
			lxExpect(t, "login", r, 200, lxShape000)
			lxEqual(t, "login", r, map[string]any{"email": email})
		}},
		{"001 login: type email", func(t *testing.T, x *lxEnv, lc *lxClient) {
			email := x.lxUser(t, "Email User")
			r := lc.lxCall(lxReq{method: "POST", path: "/manam/auth/login", hdr: lxKey001(x.app),
				body: `{"type":"email","email": "` + email + `","password":"` + lxPass + `"}`})
			lxExpect(t, "login", r, 200, lxShape001Login)
			lxEqual(t, "login", r, map[string]any{"email": email, "tenant_email": "info@tenant.example", "tenant_confirm_url": lxTenantSite + "/confirm",
				"custome_fields": []any{}, "oauth2_provider": "", "oauth2_user_info": []any{}})
			if x.lxUserinfo(t, r.str("access_token")) == nil {
				t.Fatalf("access_token refused: %s", r.raw)
			}
			// And with the user_type header and a form body.
			r = lc.lxCall(lxReq{method: "POST", path: "/manam/auth/login", hdr: append(lxKey001(x.app), "user_type", "email"), ctype: "application/x-www-form-urlencoded",
				body: url.Values{"email": {email}, "password": {lxPass}}.Encode()})
			lxExpect(t, "login with user_type", r, 200, lxShape001Login)
		}},
		{"001 login: type mobile", func(t *testing.T, x *lxEnv, lc *lxClient) {
			mobile, e164 := x.lxMobile()
			x.srv.cli(t, "user", "create", "--mobile", mobile, "--password", lxPass, "--name", "Mobile User")
			for _, body := range []string{
				lxJSON(map[string]string{"type": "mobile", "mobile": mobile, "password": lxPass}),
				lxJSON(map[string]string{"type": "mobile", "mobile": mobile[1:], "mobile_seed": "+98", "password": lxPass}),
				lxJSON(map[string]string{"type": "mobile", "email": e164, "password": lxPass}),
			} {
				r := lc.lxCall(lxReq{method: "POST", path: "/manam/auth/login", hdr: lxKey001(x.app), body: body})
				lxExpect(t, body, r, 200, lxShape001Login)
				lxEqual(t, body, r, map[string]any{"mobile": mobile, "mobile_seed": "+98", "email": "", "type": "mobile"})
			}
			r := lc.lxCall(lxReq{method: "POST", path: "/manam/auth/login", hdr: append(lxKey001(x.app), "user_type", "mobile"),
				body: lxJSON(map[string]string{"email": mobile, "password": lxPass})})
			lxExpect(t, "user_type mobile", r, 200, lxShape001Login)
		}},
		{"login: a wrong password gets the failure shape", func(t *testing.T, x *lxEnv, lc *lxClient) {
			email := x.lxUser(t, "Wrong")
			r := lc.lxLogin(x.app, email, "not the passphrase")
			lxFailure(t, "login", r, 401, "")
			lxEqual(t, "login", r, map[string]any{"location": "/auth/login", "message": "Your email or password is wrong."})
			// An unknown address: the same answer.
			r2 := lc.lxLogin(x.app, "nobody@example.com", "not the passphrase")
			if r2.raw != r.raw || r2.status != r.status {
				t.Fatalf("unknown address: %d %s", r2.status, r2.raw)
			}
		}},
	}
}

// ---- recover, recover/end, changepassword ----

func lxRecoverCases() []lxCase {
	const sent = "An email has been sent to you with further instructions on how to reset your password."
	// recoverAndReset asks for a link and returns its token.
	recoverLink := func(t *testing.T, x *lxEnv, lc *lxClient, req lxReq, email string) string {
		t.Helper()
		lxSuccess(t, "recover", lc.lxCall(req), sent)
		link, _ := x.lxMailLink(t, email, 1, "/recover/reset?token=")
		return lxToken(t, link)
	}
	return []lxCase{
		{"000 recover, then 001 recover/end with the mailed token", func(t *testing.T, x *lxEnv, lc *lxClient) {
			email := x.lxUser(t, "Recover")
			tok := recoverLink(t, x, lc, lxReq{method: "POST", path: "/auth/recover", hdr: lxKey000(x.app), body: `{"email": "` + email + `"}`}, email)
			// Two different passwords: the failure shape, the token kept.
			r := lc.lxCall(lxReq{method: "POST", path: "/manam/auth/recover/end", hdr: lxKey001(x.app),
				body: lxJSON(map[string]string{"token": tok, "password": lxNewPass, "confirm_password": lxNewPass + "x"})})
			lxExpect(t, "recover/end with different passwords", r, 401, lxShapeChangeFailure)
			lxEqual(t, "recover/end with different passwords", r, map[string]any{"status": "failure", "loggedin": false})
			r = lc.lxCall(lxReq{method: "POST", path: "/manam/auth/recover/end", hdr: lxKey001(x.app),
				body: `{"token":"` + tok + `","password":"` + lxNewPass + `","confirm_password":"` + lxNewPass + `"}`})
			lxSuccess(t, "recover/end", r, "Your password chaneg successfully")
			lxFailure(t, "the old password", lc.lxLogin(x.app, email, lxPass), 401, "")
			lxExpect(t, "the new password", lc.lxLogin(x.app, email, lxNewPass), 200, lxShape000)
			// The token worked once: the documented 401.
			r = lc.lxCall(lxReq{method: "POST", path: "/manam/auth/recover/end", hdr: lxKey001(x.app),
				body: lxJSON(map[string]string{"token": tok, "password": lxPass, "confirm_password": lxPass})})
			lxExpect(t, "a used token", r, 401, lxShapeChangeFailure)
			lxEqual(t, "a used token", r, map[string]any{"errors": map[string]any{"": []any{"recovery token is invalid"}}, "status": "failure", "loggedin": false,
				"current_user_name": "", "flash_error": "", "flash_success": ""})
		}},
		{"001 recover type email, then changepassword as jQuery's GET with data", func(t *testing.T, x *lxEnv, lc *lxClient) {
			email := x.lxUser(t, "Recover2")
			tok := recoverLink(t, x, lc, lxReq{method: "POST", path: "/manam/auth/recover", hdr: []string{"apieco_key", x.app.CustomerToken},
				body: `{"type":"email","email": "` + email + `"}`}, email)
			q := url.Values{"token": {tok}, "password": {lxNewPass}, "confirm_password": {lxNewPass}}
			r := lc.lxCall(lxReq{method: "GET", path: "/manam/auth/changepassword?" + q.Encode(), hdr: []string{"apieco_key", x.app.CustomerToken}})
			lxSuccess(t, "changepassword", r, "Your password chaneg successfully")
			lxExpect(t, "the new password", lc.lxLogin(x.app, email, lxNewPass), 200, nil)
		}},
		{"001 changepassword: POST form, and an invalid token's documented 401", func(t *testing.T, x *lxEnv, lc *lxClient) {
			email := x.lxUser(t, "Recover3")
			tok := recoverLink(t, x, lc, lxReq{method: "POST", path: "/manam/auth/recover", hdr: lxKey001(x.app), ctype: "application/x-www-form-urlencoded",
				body: url.Values{"type": {"email"}, "email": {email}}.Encode()}, email)
			bad := lc.lxCall(lxReq{method: "POST", path: "/auth/changepassword", hdr: lxKey000(x.app),
				body: lxJSON(map[string]string{"token": "...", "password": lxNewPass, "confirm_password": lxNewPass})})
			lxExpect(t, "invalid token", bad, 401, lxShapeChangeFailure)
			lxEqual(t, "invalid token", bad, map[string]any{"errors": map[string]any{"": []any{"recovery token is invalid"}}, "status": "failure"})
			mods, _ := bad.m["modules"].(map[string]any)
			for _, m := range []string{"auth", "auth-custom", "confirm", "confirm-custom", "lock", "logout", "oauth2", "recover", "recover-custom", "register", "register-custom", "remember"} {
				if mods[m] != true {
					t.Fatalf("modules lacks %s: %s", m, bad.raw)
				}
			}
			r := lc.lxCall(lxReq{method: "POST", path: "/manam/auth/changepassword", hdr: lxKey001(x.app), ctype: "application/x-www-form-urlencoded",
				body: url.Values{"token": {tok}, "password": {lxNewPass}, "confirm_password": {lxNewPass}}.Encode()})
			lxSuccess(t, "changepassword", r, "Your password chaneg successfully")
		}},
		{"001 recover type mobile: a code by SMS, then recover/end with it", func(t *testing.T, x *lxEnv, lc *lxClient) {
			mobile, e164 := x.lxMobile()
			x.srv.cli(t, "user", "create", "--mobile", mobile, "--password", lxPass)
			r := lc.lxCall(lxReq{method: "POST", path: "/manam/auth/recover", hdr: lxKey001(x.app), body: lxJSON(map[string]string{"type": "mobile", "mobile": mobile})})
			lxSuccess(t, "recover", r, "")
			code := x.lxSMS(t, e164, 1)
			r = lc.lxCall(lxReq{method: "POST", path: "/manam/auth/recover/end", hdr: lxKey001(x.app),
				body: lxJSON(map[string]string{"mobile": mobile, "code": code, "password": lxNewPass, "confirm_password": lxNewPass})})
			lxSuccess(t, "recover/end", r, "Your password chaneg successfully")
			r = lc.lxCall(lxReq{method: "POST", path: "/manam/auth/login", hdr: lxKey001(x.app), body: lxJSON(map[string]string{"type": "mobile", "mobile": mobile, "password": lxNewPass})})
			lxExpect(t, "login with the new password", r, 200, lxShape001Login)
		}},
		{"recover: an unknown address gets the same answer, and nothing is sent", func(t *testing.T, x *lxEnv, lc *lxClient) {
			email := x.lxUser(t, "Known")
			known := lc.lxCall(lxReq{method: "POST", path: "/auth/recover", hdr: lxKey000(x.app), body: `{"email":"` + email + `"}`})
			before := x.lxRows(t)
			unknown := lc.lxCall(lxReq{method: "POST", path: "/auth/recover", hdr: lxKey000(x.app), body: `{"email":"nobody-` + email + `"}`})
			if known.status != 200 || unknown.status != known.status || unknown.raw != known.raw {
				t.Fatalf("known %d %s, unknown %d %s", known.status, known.raw, unknown.status, unknown.raw)
			}
			x.lxUnchanged(t, "recovery of an unknown address", before)
			// 000's jQuery example: a form, with an auth_token header too.
			form := lc.lxCall(lxReq{method: "POST", path: "/auth/recover", hdr: append(lxKey000(x.app), "auth_token", "..."), ctype: "application/x-www-form-urlencoded",
				body: url.Values{"email": {"nobody-" + email}}.Encode()})
			if form.raw != known.raw {
				t.Fatalf("000 jQuery recover: %d %s", form.status, form.raw)
			}
			lxFailure(t, "no address", lc.lxCall(lxReq{method: "POST", path: "/manam/auth/recover", hdr: lxKey001(x.app), body: `{}`}), 401, "There is an error here to recover password.")
		}},
	}
}

// ---- refreshToken ----

func lxRefreshCases() []lxCase {
	return []lxCase{
		{"000 refreshToken: auth_token and refresh_token headers; rotation; reuse revokes the family", func(t *testing.T, x *lxEnv, lc *lxClient) {
			email := x.lxUser(t, "Refresh")
			l := lc.lxLogin(x.app, email, lxPass)
			lxExpect(t, "login", l, 200, lxShape000)
			r := lc.lxCall(lxReq{method: "POST", path: "/auth/refreshToken", hdr: append(lxKey000(x.app), "auth_token", l.str("auth_token"), "refresh_token", l.str("refresh_token"))})
			lxExpect(t, "refresh", r, 200, lxShapeRefresh)
			if _, ok := r.m["expires_in"].(float64); !ok || r.str("refresh_token") == l.str("refresh_token") || x.lxUserinfo(t, r.str("access_token"))["email"] != email {
				t.Fatalf("refresh: %s", r.raw)
			}
			// The old refresh token is spent…
			old := lc.lxCall(lxReq{method: "POST", path: "/auth/refreshToken", hdr: append(lxKey000(x.app), "auth_token", l.str("auth_token"), "refresh_token", l.str("refresh_token"))})
			lxFailure(t, "the rotated refresh token", old, 401, "")
			// …and its reuse revoked the family: the new one stops working too.
			again := lc.lxCall(lxReq{method: "POST", path: "/auth/refreshToken", hdr: append(lxKey000(x.app), "refresh_token", r.str("refresh_token"))})
			lxFailure(t, "the family after reuse", again, 401, "")
		}},
		{"001 refreshToken: auth_token and access_token (carrying the refresh token) headers", func(t *testing.T, x *lxEnv, lc *lxClient) {
			email := x.lxUser(t, "Refresh001")
			l := lc.lxCall(lxReq{method: "POST", path: "/manam/auth/login", hdr: lxKey001(x.app), body: lxJSON(map[string]string{"type": "email", "email": email, "password": lxPass})})
			lxExpect(t, "login", l, 200, lxShape001Login)
			r := lc.lxCall(lxReq{method: "POST", path: "/manam/auth/refreshToken", hdr: append(lxKey001(x.app), "auth_token", l.str("access_token"), "access_token", l.str("refresh_token"))})
			lxExpect(t, "refresh", r, 200, lxShapeRefresh)
			if x.lxUserinfo(t, r.str("access_token"))["email"] != email {
				t.Fatalf("refreshed access token: %s", r.raw)
			}
			// The canonical header forms work too.
			r2 := lc.lxCall(lxReq{method: "POST", path: "/manam/auth/refreshToken", canonical: []string{"apieco_key", x.app.CustomerToken, "auth_token", r.str("access_token"),
				"access_token", r.str("refresh_token")}})
			lxExpect(t, "refresh, canonical headers", r2, 200, lxShapeRefresh)
			// Another tenant's key does not refresh it.
			lxFailure(t, "another tenant", lc.lxCall(lxReq{method: "POST", path: "/manam/auth/refreshToken", hdr: append(lxKey001(x.other), "access_token", r2.str("refresh_token"))}), 401, "")
			lxFailure(t, "no refresh token", lc.lxCall(lxReq{method: "POST", path: "/manam/auth/refreshToken", hdr: lxKey001(x.app)}), 401, "")
		}},
	}
}

// ---- view_user, edit_user, get_manam_user_info ----

func lxProfileCases() []lxCase {
	// signedIn is a member with a token.
	signedIn := func(t *testing.T, x *lxEnv, lc *lxClient, name string) (string, string) {
		t.Helper()
		email := x.lxUser(t, name)
		l := lc.lxLogin(x.app, email, lxPass)
		lxExpect(t, "login", l, 200, nil)
		return email, l.str("auth_token")
	}
	nc := lxNationalCode("001234567")
	edit := map[string]string{"userType": "email", "melicode": nc, "picture": "https://tenant.example/pic.png", "address": "address",
		"postal_code": "posss", "birthday": "1990-02-01", "marital_status": "single", "facebook_id": "facebook_id", "instagram_id": "instagram_id",
		"twitter_id": "twitter_id", "linkedIn_id": "linkedIn_id", "document": "document1", "telephone": "091383184"}
	return []lxCase{
		{"001 view_user/<email>: auth_token header, Bearer, client secret", func(t *testing.T, x *lxEnv, lc *lxClient) {
			email, at := signedIn(t, x, lc, "Viewer")
			for name, req := range map[string]lxReq{
				"auth_token header":  {method: "GET", path: "/manam/view_user/" + email, hdr: append(lxKey001(x.app), "auth_token", at)},
				"Bearer":             {method: "GET", path: "/manam/view_user/" + email, hdr: append(lxKey001(x.app), "Authorization", "Bearer "+at)},
				"client secret":      {method: "GET", path: "/manam/view_user/" + email, hdr: lxKey001(x.app), basic: []string{x.app.ClientID, x.app.ClientSecret}},
				"000 path, no email": {method: "GET", path: "/view_user", hdr: append(lxKey000(x.app), "auth_token", at)},
				"canonical headers":  {method: "GET", path: "/manam/view_user/" + email, canonical: []string{"apieco_key", x.app.CustomerToken, "auth_token", at}},
			} {
				r := lc.lxCall(req)
				lxExpect(t, name, r, 200, lxShapeProfile)
				lxEqual(t, name, r, map[string]any{"email": email})
			}
		}},
		{"001 view_user: the key alone, another user's token, a non-member", func(t *testing.T, x *lxEnv, lc *lxClient) {
			email, _ := signedIn(t, x, lc, "Private")
			_, otherTok := signedIn(t, x, lc, "Other")
			stranger := x.lxUser(t, "Stranger") // never signed in through the tenant
			r := lc.lxCall(lxReq{method: "GET", path: "/manam/view_user/" + email, hdr: lxKey001(x.app)})
			lxFailure(t, "key alone", r, 401, "auth_token")
			if !strings.Contains(r.str("message"), "client secret") {
				t.Fatalf("the key alone: the message does not say what is missing: %s", r.raw)
			}
			lxFailure(t, "another user's token", lc.lxCall(lxReq{method: "GET", path: "/manam/view_user/" + email, hdr: append(lxKey001(x.app), "auth_token", otherTok)}), 401, "another user")
			lxFailure(t, "a non-member", lc.lxCall(lxReq{method: "GET", path: "/manam/view_user/" + stranger, hdr: lxKey001(x.app), basic: []string{x.app.ClientID, x.app.ClientSecret}}), 401, "")
			lxFailure(t, "a wrong secret", lc.lxCall(lxReq{method: "GET", path: "/manam/view_user/" + email, hdr: lxKey001(x.app), basic: []string{x.app.ClientID, "wrong"}}), 401, "")
			lxFailure(t, "another tenant's secret", lc.lxCall(lxReq{method: "GET", path: "/manam/view_user/" + email, hdr: lxKey001(x.app), basic: []string{x.other.ClientID, x.other.ClientSecret}}), 401, "")
			lxFailure(t, "a made-up token", lc.lxCall(lxReq{method: "GET", path: "/manam/view_user/" + email, hdr: append(lxKey001(x.app), "auth_token", "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.e30.x")}), 401, "")
		}},
		{"001 edit_user: the documented JSON body with the user's token", func(t *testing.T, x *lxEnv, lc *lxClient) {
			email, at := signedIn(t, x, lc, "Editor")
			body := maps.Clone(edit)
			body["email"] = email
			r := lc.lxCall(lxReq{method: "POST", path: "/manam/edit_user", hdr: append(lxKey001(x.app), "auth_token", at), body: lxJSON(body)})
			lxExpect(t, "edit_user", r, 200, []string{"email", "Name"})
			lxEqual(t, "edit_user", r, map[string]any{"email": email, "Name": "Editor"})
			v := lc.lxCall(lxReq{method: "GET", path: "/manam/view_user/" + email, hdr: append(lxKey001(x.app), "auth_token", at)})
			lxExpect(t, "view_user", v, 200, lxShapeProfile)
			lxEqual(t, "view_user", v, map[string]any{"meli_code": nc, "picture": "https://tenant.example/pic.png", "address": "address", "postal_code": "posss",
				"birthday": "1990-02-01", "marital_status": "single", "facebook_id": "facebook_id", "instagram_id": "instagram_id", "twitter_id": "twitter_id",
				"linkedIn_id": "linkedIn_id", "document": "document1", "telephone": "091383184", "mobile": ""})
			for _, p := range []string{"/manam/get_manam_user_info/", "/manam/auth/get_manam_user_info/", "/get_manam_user_info/"} {
				g := lc.lxCall(lxReq{method: "GET", path: p + email, hdr: append(lxKey001(x.app), "Authorization", "Bearer "+at)})
				lxExpect(t, p, g, 200, lxShapeProfile)
				lxEqual(t, p, g, map[string]any{"meli_code": nc, "linkedIn_id": "linkedIn_id"})
			}
		}},
		{"001 edit_user: jQuery form with Bearer; role only with the secret", func(t *testing.T, x *lxEnv, lc *lxClient) {
			email, at := signedIn(t, x, lc, "Former")
			f := url.Values{"userType": {"email"}, "email": {email}, "address": {"Tehran"}, "Name": {"New Name"}}
			r := lc.lxCall(lxReq{method: "POST", path: "/manam/edit_user", hdr: append(lxKey001(x.app), "Authorization", "Bearer "+at), ctype: "application/x-www-form-urlencoded", body: f.Encode()})
			lxExpect(t, "edit_user", r, 200, []string{"email", "Name"})
			lxEqual(t, "edit_user", r, map[string]any{"Name": "New Name"})
			f.Set("role", "admin")
			r = lc.lxCall(lxReq{method: "POST", path: "/manam/edit_user", hdr: append(lxKey001(x.app), "auth_token", at), ctype: "application/x-www-form-urlencoded", body: f.Encode()})
			lxFailure(t, "role with the user's token", r, 401, "")
			if e := lxErrors(r); !slices.Equal(e, []string{"role"}) {
				t.Fatalf("errors %v", e)
			}
			r = lc.lxCall(lxReq{method: "POST", path: "/manam/edit_user", hdr: lxKey001(x.app), basic: []string{x.app.ClientID, x.app.ClientSecret},
				body: lxJSON(map[string]any{"userType": "email", "email": email, "role": "admin", "custome_fields": []any{map[string]any{"phone": "887219031"}}})})
			lxExpect(t, "role with the secret", r, 200, []string{"email", "Name"})
			l := lc.lxCall(lxReq{method: "POST", path: "/manam/auth/login", hdr: lxKey001(x.app), body: lxJSON(map[string]string{"type": "email", "email": email, "password": lxPass})})
			lxEqual(t, "login after", l, map[string]any{"roles": []any{"admin"}, "custome_fields": []any{map[string]any{"phone": "887219031"}}})
		}},
		{"001 edit_user: the example's literal values, another user's token, no token: nothing changes", func(t *testing.T, x *lxEnv, lc *lxClient) {
			email, at := signedIn(t, x, lc, "Keeper")
			_, otherTok := signedIn(t, x, lc, "Intruder")
			view := func() string {
				return lc.lxCall(lxReq{method: "GET", path: "/manam/view_user/" + email, hdr: append(lxKey001(x.app), "auth_token", at)}).raw
			}
			before := view()
			literal := `{"userType":"email","email":"` + email + `","melicode":"12344", "picture":"butypic","address":"address", "postal_code":"posss","birthday":"1990-02-01","marital_status":"single","facebook_id":"facebook_id","instagram_id":"instagram_id","twitter_id":"twitter_id","linkedIn_id":"linkedIn_id","document":"document1","mobile":"091223423","telephone":"091383184"}`
			r := lc.lxCall(lxReq{method: "POST", path: "/manam/edit_user", hdr: append(lxKey001(x.app), "auth_token", at), body: literal})
			lxFailure(t, "literal example", r, 401, "Check the fields listed in errors.")
			if e := lxErrors(r); !slices.Equal(e, []string{"mobile", "national_code", "picture"}) {
				t.Fatalf("errors %v: %s", e, r.raw)
			}
			good := maps.Clone(edit)
			good["email"] = email
			lxFailure(t, "another user's token", lc.lxCall(lxReq{method: "POST", path: "/manam/edit_user", hdr: append(lxKey001(x.app), "auth_token", otherTok), body: lxJSON(good)}), 401, "")
			lxFailure(t, "the key alone", lc.lxCall(lxReq{method: "POST", path: "/manam/edit_user", hdr: lxKey001(x.app), body: lxJSON(good)}), 401, "auth_token")
			if after := view(); after != before {
				t.Fatalf("a refused edit changed the profile:\n%s\n%s", before, after)
			}
		}},
	}
}

// ---- googlelogin, manamlogin ----

func lxLoginWithCases() []lxCase {
	return []lxCase{
		{"000/001 googlelogin: an unknown key gets the documented 401", func(t *testing.T, x *lxEnv, lc *lxClient) {
			for _, p := range []string{"/googlelogin/cus-token", "/manam/googlelogin/unknown-key"} {
				r := lc.lxCall(lxReq{method: "GET", path: p})
				lxFailure(t, p, r, 401, "")
				lxEqual(t, p, r, map[string]any{"location": "/", "message": "The tenant key is not valid."})
			}
		}},
		{"001 manamlogin: ?apieco_key=, a browser signs in on the hosted page", func(t *testing.T, x *lxEnv, lc *lxClient) {
			email := x.lxUser(t, "Manam User")
			for _, start := range []func(b *browser) page{
				func(b *browser) page { return b.get(x.srv.URL + "/manam/manamlogin?apieco_key=" + x.app.CustomerToken) },
				func(b *browser) page {
					req, _ := http.NewRequest(http.MethodGet, x.srv.URL+"/manam/manamlogin", nil)
					req.Header["apieco_key"] = []string{x.app.CustomerToken}
					return b.do(req)
				},
				func(b *browser) page { return b.get(x.srv.URL + "/manamlogin/" + x.app.CustomerToken) },
			} {
				b := newBrowser(t, x.srv.URL)
				p := start(b)
				if p.StatusCode != 200 || p.Request.URL.Path != "/login" {
					t.Fatalf("manamlogin: %d at %s", p.StatusCode, p.Request.URL)
				}
				f := formFields(p.Body)
				f.Set("email", email)
				f.Set("password", lxPass)
				p = b.post(x.srv.URL+"/login", f)
				var m map[string]any
				if err := json.Unmarshal([]byte(p.Body), &m); err != nil || p.StatusCode != 200 || p.Request.URL.Path != "/manamlogin/callback" {
					t.Fatalf("manamlogin answer: %d at %s: %s", p.StatusCode, p.Request.URL, p.Body)
				}
				r := lxResp{status: p.StatusCode, raw: p.Body, m: m}
				lxExpect(t, "manamlogin", r, 200, append(slices.Clone(lxShapeProfile), "access_token", "status"))
				lxEqual(t, "manamlogin", r, map[string]any{"email": email, "status": "success"})
				if ui := x.lxUserinfo(t, r.str("access_token")); ui == nil || ui["email"] != email {
					t.Fatalf("the token at /userinfo: %v", ui)
				}
			}
			// An unknown key: the documented 401.
			lxFailure(t, "unknown key", lc.lxCall(lxReq{method: "GET", path: "/manam/manamlogin?apieco_key=nope"}), 401, "")
			// The callback without a started sign-in.
			lxFailure(t, "a callback not started here", lc.lxCall(lxReq{method: "GET", path: "/manamlogin/callback?code=x&state=y"}), 401, "")
		}},
	}
}

// TestLegacyBadInput: bad input per endpoint gets the documented failure
// shape with the right status, in the caller's language, and writes
// nothing.
func TestLegacyBadInput(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			x := lxStart(t, be)
			email := x.lxUser(t, "Bad Input")
			lxExpect(t, "member", x.lxClient(t).lxLogin(x.app, email, lxPass), 200, nil)
			endpoints := []struct{ method, path string }{
				{"POST", "/auth/register"}, {"GET", "/auth/confirm"}, {"GET", "/manam/auth/confirm_email"}, {"POST", "/manam/auth/confirm_sms"},
				{"POST", "/manam/auth/send_confirm_email"}, {"POST", "/manam/auth/send_confirm_sms"}, {"POST", "/auth/login"}, {"POST", "/manam/auth/login"},
				{"POST", "/auth/recover"}, {"POST", "/manam/auth/recover/end"}, {"GET", "/manam/auth/changepassword"}, {"POST", "/auth/refreshToken"},
				{"GET", "/manam/view_user/" + email}, {"POST", "/manam/edit_user"}, {"GET", "/manam/get_manam_user_info/" + email}, {"GET", "/manam/manamlogin"},
			}
			type badCase struct {
				name    string
				req     lxReq
				status  int
				message string // exact, in the answer's language
			}
			var cases []badCase
			const notJSON, noKey = "The request body is not valid JSON or form data.", "The tenant key is not valid."
			for _, e := range endpoints {
				cases = append(cases,
					badCase{e.method + " " + e.path + ": malformed JSON", lxReq{method: e.method, path: e.path, hdr: lxKey000(x.app), body: `{"email": "a@b.c", broken`}, 400, notJSON},
					badCase{e.method + " " + e.path + ": JSON that is not an object", lxReq{method: e.method, path: e.path, hdr: lxKey000(x.app), body: `["email"]`}, 400, notJSON},
					badCase{e.method + " " + e.path + ": no key", lxReq{method: e.method, path: e.path, body: `{"email":"` + email + `"}`}, 401, noKey},
					badCase{e.method + " " + e.path + ": unknown key", lxReq{method: e.method, path: e.path, hdr: []string{"apieco_key", "cus-token"}, body: `{"email":"` + email + `"}`}, 401, noKey},
					badCase{e.method + " " + e.path + ": oversized body", lxReq{method: e.method, path: e.path, hdr: lxKey000(x.app),
						body: `{"email":"` + strings.Repeat("a", 70<<10) + `"}`}, 413, "The request body is too large."},
				)
			}
			for _, m := range []struct{ method, path string }{
				{"GET", "/auth/register"}, {"GET", "/manam/auth/login"}, {"PUT", "/auth/recover"}, {"GET", "/manam/edit_user"},
				{"POST", "/manam/get_manam_user_info/" + email}, {"DELETE", "/manam/view_user/" + email}, {"POST", "/manam/manamlogin"}, {"PUT", "/auth/refreshToken"},
			} {
				cases = append(cases, badCase{m.method + " " + m.path + ": wrong method", lxReq{method: m.method, path: m.path, hdr: lxKey000(x.app)}, 405, ""})
			}
			wrongPW := lxJSON(map[string]string{"email": email, "password": "not the passphrase"})
			cases = append(cases,
				badCase{"login: wrong password", lxReq{method: "POST", path: "/auth/login", hdr: lxKey000(x.app), body: wrongPW}, 401, "Your email or password is wrong."},
				badCase{"login: no body", lxReq{method: "POST", path: "/auth/login", hdr: lxKey000(x.app)}, 401, "Your email or password is wrong."},
				badCase{"login: wrong password, Accept-Language fa", lxReq{method: "POST", path: "/manam/auth/login", hdr: []string{"apieco_key", x.app.CustomerToken, "Accept-Language", "fa-IR,fa;q=0.9"}, body: wrongPW},
					401, i18n.T(i18n.FA, "Your email or password is wrong.")},
				badCase{"register: unknown key, Accept-Language fa", lxReq{method: "POST", path: "/manam/auth/register", hdr: []string{"apieco_key", "nope", "Accept-Language", "fa"}, body: `{}`},
					401, i18n.T(i18n.FA, noKey)},
				badCase{"register: malformed JSON, Accept-Language fa", lxReq{method: "POST", path: "/auth/register", hdr: []string{"customer_token", x.app.CustomerToken, "Accept-Language", "fa"}, body: `{"a":`},
					400, i18n.T(i18n.FA, notJSON)},
				badCase{"register: every field wrong", lxReq{method: "POST", path: "/manam/auth/register", hdr: lxKey001(x.app),
					body: `{"type":"email","email":"not-an-address","password":"12345","confirm_password":"12345","bithday":"1370-13-40","national_code":"1","custome_fields":"nope"}`},
					401, "Check the fields listed in errors."},
				badCase{"register: different passwords, Accept-Language fa", lxReq{method: "POST", path: "/manam/auth/register", hdr: []string{"apieco_key", x.app.CustomerToken, "Accept-Language", "fa"},
					body: lxJSON(map[string]string{"email": "new@example.com", "password": lxPass, "confirm_password": lxNewPass})}, 401, i18n.T(i18n.FA, "Check the fields listed in errors.")},
				badCase{"edit_user: bad fields with the secret", lxReq{method: "POST", path: "/manam/edit_user", hdr: lxKey001(x.app), basic: []string{x.app.ClientID, x.app.ClientSecret},
					body: lxJSON(map[string]string{"email": email, "birthday": "tomorrow", "marital_status": "complicated", "custome_fields": "[1]"})}, 401, "Check the fields listed in errors."},
				badCase{"refreshToken: a made-up refresh token", lxReq{method: "POST", path: "/auth/refreshToken", hdr: append(lxKey000(x.app), "refresh_token", "fdb8fdbecf1d03ce5e6125c067733c0d51de209c")}, 401, ""},
			)
			lc := x.lxClient(t)
			before := x.lxRows(t)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					r := lc.lxCall(c.req)
					lxFailure(t, c.name, r, c.status, "")
					if c.message != "" && r.str("message") != c.message {
						t.Fatalf("message %q, want %q", r.str("message"), c.message)
					}
					if c.status == 405 && r.header.Get("Allow") == "" {
						t.Fatalf("405 without Allow")
					}
				})
			}
			x.lxUnchanged(t, "the bad input", before)

			// Throttling: a sixth registration from one address within a
			// minute is 429, with Retry-After, and writes nothing.
			t.Run("register: the sixth from one address is throttled", func(t *testing.T) {
				tc := x.lxClient(t)
				for i := range 5 {
					r := tc.lxCall(lxReq{method: "POST", path: "/auth/register", hdr: lxKey000(x.strict),
						body: lxJSON(map[string]string{"name": "n", "email": x.lxUnique("thr"), "password": lxPass, "confirm_password": lxPass})})
					lxExpect(t, fmt.Sprint("registration ", i+1), r, 200, nil)
				}
				before := x.lxRows(t)
				r := tc.lxCall(lxReq{method: "POST", path: "/auth/register", hdr: lxKey000(x.strict),
					body: lxJSON(map[string]string{"name": "n", "email": x.lxUnique("thr"), "password": lxPass, "confirm_password": lxPass})})
				lxFailure(t, "sixth registration", r, 429, "")
				if r.header.Get("Retry-After") == "" {
					t.Fatal("429 without Retry-After")
				}
				// Recovery shares the budget.
				lxFailure(t, "recovery", tc.lxCall(lxReq{method: "POST", path: "/auth/recover", hdr: lxKey000(x.strict), body: `{"email":"` + email + `"}`}), 429, "")
				x.lxUnchanged(t, "a throttled registration", before)
			})
		})
	}
}
