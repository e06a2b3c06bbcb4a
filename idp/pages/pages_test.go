package pages

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/storage"
)

func TestCSRF(t *testing.T) {
	c := NewCSRF([]byte("key-1"), false)
	rec := httptest.NewRecorder()
	token := c.Token(rec, httptest.NewRequest("GET", "/login", nil))
	cookie := rec.Result().Cookies()[0]
	if cookie.Name != CSRFCookie || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Value == token {
		t.Fatalf("cookie %+v must be HttpOnly, SameSite=Lax, and differ from the form token", cookie)
	}
	other := NewCSRF([]byte("key-2"), false)
	cases := []struct {
		name   string
		guard  *CSRF
		cookie string
		form   string
		ok     bool
	}{
		{"matching", c, cookie.Value, token, true},
		{"no cookie", c, "", token, false},
		{"no form token", c, cookie.Value, "", false},
		{"token of another cookie", c, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", token, false},
		{"cookie value as token (plain double submit)", c, cookie.Value, cookie.Value, false},
		{"another server key", other, cookie.Value, token, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"csrf_token": {tc.form}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.cookie != "" {
				req.AddCookie(&http.Cookie{Name: CSRFCookie, Value: tc.cookie})
			}
			if got := tc.guard.Valid(req); got != tc.ok {
				t.Fatalf("Valid = %v, want %v", got, tc.ok)
			}
		})
	}
	// The same browser keeps its cookie: the token is stable across pages.
	req := httptest.NewRequest("GET", "/consent", nil)
	req.AddCookie(cookie)
	rec2 := httptest.NewRecorder()
	if c.Token(rec2, req) != token || len(rec2.Result().Cookies()) != 0 {
		t.Fatal("a browser with a cookie got a new one")
	}
}

type fakeFlow struct{}

func (fakeFlow) Describe(_ context.Context, ch string) (FlowInfo, error) {
	if ch != "good" {
		return FlowInfo{}, ErrBadChallenge
	}
	return FlowInfo{ClientID: "c1", ClientName: "Shop <Ltd>", Scopes: []string{"openid"}, ResumeURL: "/resume", DeniedURL: "/denied"}, nil
}

func TestLoginPage(t *testing.T) {
	ctx := context.Background()
	db, err := storage.Open(ctx, "sqlite:"+t.TempDir()+"/p.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	pw, _ := idp.NewPasswords(idp.Argon2Params{MemoryKiB: 8192, Time: 1, Parallelism: 1}, 2)
	a := storage.NewAccounts(db)
	svc, _ := idp.New(idp.Config{}, idp.Deps{Accounts: a, Sessions: a, Consents: a, Passwords: pw})
	if _, err := svc.CreateAccount(ctx, idp.NewAccount{Email: "bob@example.com", Password: "bobs password", EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	p, err := New(Deps{Service: svc, Flow: fakeFlow{}, CSRF: NewCSRF([]byte("k"), true), Secure: true, Observer: func(o string) { outcomes = append(outcomes, o) }})
	if err != nil {
		t.Fatal(err)
	}
	// GET: the form, with the tenant's name escaped, and the security headers.
	rec := httptest.NewRecorder()
	p.Login(rec, httptest.NewRequest("GET", "/login?challenge=good", nil))
	body := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(body, "Shop &lt;Ltd&gt;") || !strings.Contains(body, `name="csrf_token"`) {
		t.Fatalf("login page %d: %s", rec.Code, body)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "Cache-Control"} {
		if rec.Header().Get(h) == "" {
			t.Fatalf("missing %s", h)
		}
	}
	csrfCookie := rec.Result().Cookies()[0]
	token := strings.Split(strings.Split(body, `name="csrf_token" value="`)[1], `"`)[0]

	post := func(email, password string) *httptest.ResponseRecorder {
		form := url.Values{"challenge": {"good"}, "csrf_token": {token}, "email": {email}, "password": {password}}
		req := httptest.NewRequest("POST", "/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(csrfCookie)
		rec := httptest.NewRecorder()
		p.Login(rec, req)
		return rec
	}
	wrongPassword, unknown := post("bob@example.com", "not bobs password"), post("nobody@example.com", "whatever pass")
	if wrongPassword.Code != 401 || unknown.Code != 401 {
		t.Fatalf("failed logins: %d, %d", wrongPassword.Code, unknown.Code)
	}
	msg := func(s string) string { return strings.Split(strings.Split(s, `role="alert">`)[1], "<")[0] }
	if msg(wrongPassword.Body.String()) != msg(unknown.Body.String()) {
		t.Fatal("the error tells an unknown e-mail from a wrong password")
	}
	ok := post("BOB@example.com", "bobs password")
	if ok.Code != http.StatusSeeOther || ok.Header().Get("Location") != "/resume" {
		t.Fatalf("login: %d %s", ok.Code, ok.Header().Get("Location"))
	}
	var sess *http.Cookie
	for _, c := range ok.Result().Cookies() {
		if c.Name == SessionCookie {
			sess = c
		}
	}
	if sess == nil || !sess.HttpOnly || !sess.Secure || sess.SameSite != http.SameSiteLaxMode || sess.MaxAge != 0 {
		t.Fatalf("session cookie %+v: want HttpOnly, Secure, Lax, browser-session", sess)
	}
	if strings.Join(outcomes, ",") != "invalid,invalid,success" {
		t.Fatalf("outcomes %v", outcomes)
	}
	// A forged challenge gets an error page, not the form.
	rec = httptest.NewRecorder()
	p.Login(rec, httptest.NewRequest("GET", "/login?challenge=forged", nil))
	if rec.Code != 400 || strings.Contains(rec.Body.String(), "csrf_token") {
		t.Fatalf("forged challenge: %d", rec.Code)
	}
}
