package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// smsGateway is a faithful stand-in for an HTTP SMS API: it records each
// JSON message it accepts.
type smsGateway struct {
	mu   sync.Mutex
	msgs []struct{ To, Text string }
}

func (g *smsGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m struct{ To, Text string }
	b, _ := io.ReadAll(r.Body)
	if r.Header.Get("Authorization") != "Bearer sms-key" || json.Unmarshal(b, &m) != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	g.mu.Lock()
	g.msgs = append(g.msgs, m)
	g.mu.Unlock()
}

func (g *smsGateway) wait(t *testing.T, n int) []struct{ To, Text string } {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		g.mu.Lock()
		got := append([]struct{ To, Text string }(nil), g.msgs...)
		g.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited for %d SMS, have %d", n, len(got))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var smsCode = regexp.MustCompile(`\b(\d{6})\b`)

// TestRegistrationByMobile: a person registers with a national mobile
// number, gets the code by SMS through the gateway, five wrong codes end
// it, a new code confirms the number, and the number signs in.
func TestRegistrationByMobile(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			gw := &smsGateway{}
			gws := httptest.NewServer(gw)
			defer gws.Close()
			srv := startServer(t, be.dsn(t), map[string]string{"MANAM_DEFAULT_COUNTRY_CODE": "+98", "MANAM_SMS_URL": gws.URL + "/send",
				"MANAM_SMS_AUTH_HEADER": "Authorization: Bearer sms-key"})
			app := srv.createTenant(t, "--name", "App", "--redirect-uri", rpRedirect, "--first-party")
			conf := oauth2.Config{ClientID: app.ClientID, RedirectURL: rpRedirect, Scopes: []string{"openid"}, Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/oauth2/auth"}}
			b := newBrowser(t, srv.URL)
			p := b.get(conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
			reg := regexp.MustCompile(`href="(/register\?challenge=[^"]+)"`).FindStringSubmatch(p.Body)
			f := formFields(b.get(srv.URL + strings.ReplaceAll(reg[1], "&amp;", "&")).Body)
			f.Set("email", "0911 108 7815")
			f.Set("password", "a mobile long phrase")
			f.Set("password_confirm", "a mobile long phrase")
			p = b.post(srv.URL+"/register", f)
			if p.StatusCode != 200 || !strings.Contains(p.Body, "Enter the code") {
				t.Fatalf("register by mobile: %d %s", p.StatusCode, p.Body)
			}
			codeForm := formFields(p.Body)
			first := gw.wait(t, 1)[0]
			if first.To != "+989111087815" || smsCode.FindString(first.Text) == "" {
				t.Fatalf("SMS %+v", first)
			}
			// Five wrong codes end this code, even the right one afterwards.
			right := smsCode.FindStringSubmatch(first.Text)[1]
			wrong := "000000"
			if wrong == right {
				wrong = "111111"
			}
			for range 5 {
				codeForm.Set("code", wrong)
				if p := b.post(srv.URL+"/confirm/sms", codeForm); p.StatusCode != http.StatusBadRequest {
					t.Fatalf("wrong code: %d", p.StatusCode)
				}
			}
			codeForm.Set("code", right)
			if p := b.post(srv.URL+"/confirm/sms", codeForm); p.StatusCode != http.StatusBadRequest {
				t.Fatalf("the right code after five wrong ones: %d", p.StatusCode)
			}
			// That number cannot sign in yet (a new code comes after a minute:
			// the service test covers the resend limits).
			b3 := newBrowser(t, srv.URL)
			lf := formFields(b3.get(conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))).Body)
			lf.Set("email", "09111087815")
			lf.Set("password", "a mobile long phrase")
			if p := b3.post(srv.URL+"/login", lf); p.StatusCode != http.StatusForbidden {
				t.Fatalf("an unconfirmed number signing in: %d", p.StatusCode)
			}

			// A second number confirms with its code and signs in.
			b2 := newBrowser(t, srv.URL)
			f2 := formFields(b2.get(srv.URL + "/register").Body)
			f2.Set("email", "+98 912 222 3344")
			f2.Set("password", "another mobile phrase")
			f2.Set("password_confirm", "another mobile phrase")
			p = b2.post(srv.URL+"/register", f2)
			cf := formFields(p.Body)
			second := gw.wait(t, 2)[1]
			if second.To != "+989122223344" {
				t.Fatalf("second SMS %+v", second)
			}
			cf.Set("code", smsCode.FindStringSubmatch(second.Text)[1])
			if p := b2.post(srv.URL+"/confirm/sms", cf); p.StatusCode != 200 || !strings.Contains(p.Body, "is confirmed") {
				t.Fatalf("confirm: %d %s", p.StatusCode, p.Body)
			}
			loc := newBrowser(t, srv.URL).signIn(conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "09122223344", "another mobile phrase")
			if loc.Query().Get("code") == "" {
				t.Fatalf("sign-in by the confirmed number: %s", loc)
			}
		})
	}
}
