package provider

import (
	"net/url"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/storage"
)

func TestLoginReason(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	session := func(age time.Duration, amr string) *idp.Session {
		return &idp.Session{Row: &storage.LoginSession{AuthTime: now.Add(-age), AMR: amr}}
	}
	seen := resumeState{resumed: true, at: now.Add(-time.Minute)}
	cases := []struct {
		name    string
		sess    *idp.Session
		form    url.Values
		rs      resumeState
		wantMFA bool
		want    string
	}{
		{"no session", nil, url.Values{}, resumeState{}, false, "no session"},
		{"a session will do", session(time.Hour, "pwd"), url.Values{}, resumeState{}, false, ""},
		{"prompt=login", session(time.Second, "pwd"), url.Values{"prompt": {"login"}}, resumeState{}, false, "prompt=login"},
		{"prompt=login, signed in since the request", session(time.Second, "pwd"), url.Values{"prompt": {"login consent"}}, seen, false, ""},
		{"prompt=login, a session from before the request", session(2*time.Minute, "pwd"), url.Values{"prompt": {"login"}}, seen, false, "prompt=login"},
		{"max_age exceeded", session(time.Hour, "pwd"), url.Values{"max_age": {"60"}}, resumeState{}, false, "max_age"},
		{"max_age kept", session(30*time.Second, "pwd"), url.Values{"max_age": {"60"}}, resumeState{}, false, ""},
		{"max_age=0, signed in since the request", session(time.Second, "pwd"), url.Values{"max_age": {"0"}}, seen, false, ""},
		{"second factor wanted, missing", session(time.Second, "pwd"), url.Values{}, resumeState{}, true, "second factor"},
		{"second factor wanted, present", session(time.Second, "pwd otp mfa"), url.Values{}, resumeState{}, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := loginReason(tc.sess, tc.form, tc.rs, tc.wantMFA, now); got != tc.want {
				t.Errorf("loginReason = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestConsentRule(t *testing.T) {
	at := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	client := func(firstParty, public bool) *storage.Client {
		return &storage.Client{DefaultClient: fosite.DefaultClient{Public: public}, FirstParty: firstParty}
	}
	cases := []struct {
		name      string
		client    *storage.Client
		scheme    string
		prompt    []string
		ask       bool
		notBefore time.Time
	}{
		{"first party", client(true, false), "https", nil, false, time.Time{}},
		{"first party, prompt=consent", client(true, false), "https", []string{"consent"}, true, at},
		{"third party: any stored consent", client(false, false), "https", nil, true, time.Time{}},
		{"third party, prompt=consent", client(false, false), "https", []string{"login", "consent"}, true, at},
		{"public, https redirect", client(true, true), "https", nil, false, time.Time{}},
		{"public, native redirect: asked in this flow", client(true, true), "com.example.app", nil, true, at},
		{"public, loopback redirect: asked in this flow", client(false, true), "http", nil, true, at},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ask, nb := consentRule(tc.client, tc.scheme, tc.prompt, at)
			if ask != tc.ask || !nb.Equal(tc.notBefore) {
				t.Errorf("consentRule = %v %v, want %v %v", ask, nb, tc.ask, tc.notBefore)
			}
		})
	}
}

func TestLogoutConfirmation(t *testing.T) {
	alice := &idp.Session{Account: &storage.Account{ID: "alice"}}
	cases := []struct {
		name      string
		claims    *hintClaims
		cur       *idp.Session
		confirmed bool
		want      logoutConfirm
	}{
		{"nobody signed in", nil, nil, false, confirmNone},
		{"no hint: the user confirms", nil, alice, false, confirmSignedIn},
		{"no hint, confirmed", nil, alice, true, confirmNone},
		{"a hint for the signed-in user", &hintClaims{sub: "alice"}, alice, false, confirmNone},
		{"a hint for someone else", &hintClaims{sub: "bob"}, alice, false, confirmSomeoneElse},
		{"a hint for someone else, confirmed", &hintClaims{sub: "bob"}, alice, true, confirmNone},
		{"a hint, nobody signed in", &hintClaims{sub: "bob"}, nil, false, confirmNone},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := logoutConfirmation(tc.claims, tc.cur, tc.confirmed); got != tc.want {
				t.Errorf("logoutConfirmation = %v, want %v", got, tc.want)
			}
		})
	}
}
