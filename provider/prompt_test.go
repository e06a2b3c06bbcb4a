package provider

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestAuthorizePromptMaxAgeLoginHint: prompt=login|consent|none, max_age
// and login_hint (OIDC Core §3.1.2.1) against a signed-in session of a
// first-party tenant, which otherwise gets a code at once.
func TestAuthorizePromptMaxAgeLoginHint(t *testing.T) {
	e := newReviewEnv(t)
	app := e.tenant(TenantSpec{Name: "App", RedirectURIs: []string{reviewRedirect}, FirstParty: true})
	_, cookie := e.user("prompt@example.com")
	verifier := testVerifier

	tests := []struct {
		name     string
		signedIn bool
		extra    url.Values
		want     string // "code", "login", "consent", or an OAuth error code at the client
	}{
		{name: "no prompt", signedIn: true, want: "code"},
		{name: "prompt=login", signedIn: true, extra: url.Values{"prompt": {"login"}}, want: "login"},
		{name: "max_age=0", signedIn: true, extra: url.Values{"max_age": {"0"}}, want: "login"},
		{name: "max_age not yet reached", signedIn: true, extra: url.Values{"max_age": {"3600"}}, want: "code"},
		{name: "prompt=consent on a first-party tenant", signedIn: true, extra: url.Values{"prompt": {"consent"}}, want: "consent"},
		{name: "prompt=none, signed in", signedIn: true, extra: url.Values{"prompt": {"none"}}, want: "code"},
		{name: "prompt=none, signed out", extra: url.Values{"prompt": {"none"}}, want: "login_required"},
		{name: "prompt=none with max_age=0", signedIn: true, extra: url.Values{"prompt": {"none"}, "max_age": {"0"}}, want: "login_required"},
		{name: "prompt=none and consent", signedIn: true, extra: url.Values{"prompt": {"none consent"}}, want: "consent_required"},
		{name: "signed out", want: "login"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c *http.Cookie
			if tt.signedIn {
				c = cookie
			}
			rec := e.authorize(app.ClientID, reviewRedirect, "openid", verifier, c, tt.extra)
			loc := rec.Header().Get("Location")
			u, _ := url.Parse(loc)
			var got string
			switch {
			case rec.Code != http.StatusSeeOther && rec.Code != http.StatusFound:
				t.Fatalf("status %d, body %.300s", rec.Code, rec.Body)
			case strings.HasPrefix(loc, "/login?challenge="):
				got = "login"
			case strings.HasPrefix(loc, "/consent?challenge="):
				got = "consent"
			case strings.HasPrefix(loc, reviewRedirect) && u.Query().Get("code") != "":
				got = "code"
			case strings.HasPrefix(loc, reviewRedirect):
				got = u.Query().Get("error")
			}
			if got != tt.want {
				t.Errorf("got %q (Location %q), want %q", got, loc, tt.want)
			}
		})
	}

	t.Run("login_hint fills in the login form", func(t *testing.T) {
		rec := e.authorize(app.ClientID, reviewRedirect, "openid", verifier, nil, url.Values{"login_hint": {"hint.me@example.com"}})
		loc := rec.Header().Get("Location")
		if !strings.HasPrefix(loc, "/login?challenge=") {
			t.Fatalf("Location %q, want the login page", loc)
		}
		page := e.do(httptest.NewRequest(http.MethodGet, loc, nil))
		if page.Code != http.StatusOK || !strings.Contains(page.Body.String(), `value="hint.me@example.com"`) {
			t.Errorf("login page %d does not show the hint in a field: %.2000s", page.Code, page.Body)
		}
	})
}
