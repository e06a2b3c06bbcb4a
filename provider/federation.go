package provider

import (
	"net/http"
	"net/url"

	"github.com/ory/fosite"

	"github.com/manam-id/manam/idp/pages"
)

// What the provider offers the pages for federation: ending a waiting
// authorization request with an OAuth error after an upstream failed
// (pages.FlowFailer).
var _ pages.FlowFailer = (*Provider)(nil)

// FailURL implements pages.FlowFailer: where the browser goes to end the
// challenge's request with the error code (server_error or
// temporarily_unavailable; anything else is server_error).
func (p *Provider) FailURL(challenge, code string) string {
	return p.cfg.Issuer + "/oauth2/auth/fail?" + url.Values{"challenge": {challenge}, "error": {code}}.Encode()
}

// authFail serves /oauth2/auth/fail: the challenge's authorization request
// ends with an error redirect to its tenant (RFC 6749 §4.1.2.1), after the
// request is validated again (client and redirect URI), so the redirect
// goes only where a request could have.
func (p *Provider) authFail(w http.ResponseWriter, r *http.Request) {
	form, _, err := p.openChallenge(r.URL.Query().Get("challenge"))
	if err != nil {
		p.pages.Error(w, r, http.StatusBadRequest, "Sign-in link expired", "This sign-in is no longer valid. Go back to the application and start again.")
		return
	}
	var fail *fosite.RFC6749Error
	switch r.URL.Query().Get("error") {
	case "temporarily_unavailable":
		fail = fosite.ErrTemporarilyUnavailable.WithHint("The upstream identity provider is unavailable.")
	default:
		fail = fosite.ErrServerError.WithHint("Signing in with the upstream identity provider failed.")
	}
	r2 := r.Clone(r.Context())
	r2.Method = http.MethodGet
	r2.URL.RawQuery = form.Encode()
	r2.Form, r2.PostForm, r2.Body = nil, nil, http.NoBody
	ar, err := p.newAuthorizeRequest(r2.Context(), r2)
	if err != nil {
		p.authorizeError(w, r2, ar, err)
		return
	}
	// Not authorizeError: that logs a 5xx as our failure, and this one was
	// the upstream's (the pages logged it).
	p.oauth.WriteAuthorizeError(r2.Context(), w, ar, fail)
}
