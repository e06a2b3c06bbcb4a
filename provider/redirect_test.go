package provider

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestRedirectURIExactMatch: an authorization request's redirect_uri must
// be registered character for character; a mismatch gets an error page,
// never a redirect. Only a public (native) client keeps RFC 8252 §7.3's
// any-port rule for loopback IP addresses.
func TestRedirectURIExactMatch(t *testing.T) {
	e := newReviewEnv(t)
	const registered = "http://127.0.0.1:9999/cb"
	web := e.tenant(TenantSpec{Name: "Web", RedirectURIs: []string{registered, "https://app.example/cb"}, FirstParty: true})
	native := e.tenant(TenantSpec{Name: "Native", Public: true, RedirectURIs: []string{registered}, FirstParty: true})
	_, cookie := e.user("redirect@example.com")
	verifier := testVerifier

	tests := []struct {
		name, clientID, redirect string
		wantRedirect             bool
	}{
		{name: "confidential, registered loopback URI", clientID: web.ClientID, redirect: registered, wantRedirect: true},
		{name: "confidential, loopback on another port", clientID: web.ClientID, redirect: "http://127.0.0.1:1234/cb"},
		{name: "confidential, loopback without the port", clientID: web.ClientID, redirect: "http://127.0.0.1/cb"},
		{name: "confidential, trailing slash", clientID: web.ClientID, redirect: "https://app.example/cb/"},
		{name: "confidential, other host", clientID: web.ClientID, redirect: "https://evil.example/cb"},
		{name: "public, registered loopback URI", clientID: native.ClientID, redirect: registered, wantRedirect: true},
		{name: "public, loopback on another port (RFC 8252)", clientID: native.ClientID, redirect: "http://127.0.0.1:1234/cb", wantRedirect: true},
		{name: "public, loopback with another path", clientID: native.ClientID, redirect: "http://127.0.0.1:1234/other"},
		{name: "public, localhost name is not a loopback IP", clientID: native.ClientID, redirect: "http://localhost:9999/cb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.authorize(tt.clientID, tt.redirect, "openid", verifier, cookie, nil)
			loc := rec.Header().Get("Location")
			if !tt.wantRedirect {
				if rec.Code != http.StatusBadRequest || loc != "" || !strings.Contains(rec.Header().Get("Content-Type"), "text/html") {
					t.Fatalf("got %d Location %q (%s), want a 400 error page", rec.Code, loc, rec.Header().Get("Content-Type"))
				}
				return
			}
			if strings.HasPrefix(loc, "/consent?") {
				return // accepted; a public client always asks for consent
			}
			u, err := url.Parse(loc)
			if rec.Code != http.StatusSeeOther || err != nil || !strings.HasPrefix(loc, tt.redirect+"?") || u.Query().Get("code") == "" {
				t.Fatalf("got %d Location %q, want a code at %s", rec.Code, loc, tt.redirect)
			}
		})
	}
}
