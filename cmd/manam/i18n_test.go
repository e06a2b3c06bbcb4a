package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/manam-id/manam/idp/delivery/deliverytest"
)

// TestPersianFlow: ui_locales=fa in the authorization request wins over the
// browser's English Accept-Language on every page of the flow, and the
// confirmation mail is written in Persian.
func TestPersianFlow(t *testing.T) {
	mail := deliverytest.Start(t, deliverytest.Options{})
	srv := startServer(t, "sqlite:"+t.TempDir()+"/fa.db", map[string]string{"MANAM_SMTP_URL": "smtp://" + mail.Addr})
	app := srv.createTenant(t, "--name", "فروشگاه", "--redirect-uri", rpRedirect, "--first-party")
	r := newRP(t, srv, app, oidc.ScopeOpenID)
	b := newBrowser(t, srv.URL)
	get := func(u string) page {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Accept-Language", "en-US,en;q=0.9")
		return b.do(req)
	}
	p := get(r.conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("ui_locales", "fa")))
	if !strings.Contains(p.Body, `dir="rtl"`) || !strings.Contains(p.Body, "<h1>ورود</h1>") || !strings.Contains(p.Body, "فروشگاه") {
		t.Fatalf("login page not in Persian:\n%.500s", p.Body)
	}
	reg := regexp.MustCompile(`href="(/register\?challenge=[^"]+)"`).FindStringSubmatch(p.Body)
	p = get(srv.URL + strings.ReplaceAll(reg[1], "&amp;", "&"))
	if !strings.Contains(p.Body, "ساخت حساب") {
		t.Fatalf("register page not in Persian")
	}
	f := formFields(p.Body)
	f.Set("email", "sara@example.com")
	f.Set("password", "123")
	f.Set("password_confirm", "123")
	if p := b.post(srv.URL+"/register", f); p.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, "دست‌کم ۸ نویسه به کار ببرید.") {
		t.Fatalf("field errors not in Persian: %d", p.StatusCode)
	}
	f.Set("password", "یک عبارت بلند و کمیاب")
	f.Set("password_confirm", "یک عبارت بلند و کمیاب")
	if p := b.post(srv.URL+"/register", f); p.StatusCode != 200 || !strings.Contains(p.Body, "ایمیل خود را ببینید") {
		t.Fatalf("registration answer not in Persian: %d", p.StatusCode)
	}
	pm, err := deliverytest.Parse(mail.Wait(t, 1)[0].Data)
	if err != nil || !strings.Contains(pm.Subject, "تأیید نشانی ایمیل") || !strings.Contains(pm.HTML, `dir="rtl"`) || !strings.Contains(pm.Text, "confirm?token=") {
		t.Fatalf("confirmation mail not in Persian: %q %v", pm.Subject, err)
	}
}
