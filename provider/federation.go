package provider

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/ory/fosite"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/idp/pages"
	"github.com/manam-id/manam/storage"
)

// What the provider offers the pages for federation: ending a waiting
// authorization request with an OAuth error after an upstream failed
// (pages.FlowFailer), and the legacy Google link (pages.LegacyFlow).
var (
	_ pages.FlowFailer = (*Provider)(nil)
	_ pages.LegacyFlow = (*Provider)(nil)
)

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

// LegacyTenant implements pages.LegacyFlow.
func (p *Provider) LegacyTenant(ctx context.Context, key string) (string, error) {
	t, err := p.tenants.ByCustomerToken(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return "", pages.ErrUnknownTenant
	}
	if err != nil {
		return "", err
	}
	return t.ID, nil
}

// LegacyAnswer implements pages.LegacyFlow: the JSON the legacy documents
// show for the Google link (001: access_token, username, fullname, email,
// roles, permissions, "other user info"). The access token is a real one
// of the tenant's (its format, the openid email profile scopes it may
// have), valid at /userinfo and introspection like any other.
func (p *Provider) LegacyAnswer(w http.ResponseWriter, r *http.Request, clientID string, sess *idp.Session) {
	ctx := r.Context()
	unavailable := func(err error) {
		p.log.ErrorContext(ctx, "legacy Google answer failed", "request_id", RequestID(ctx), "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"location": "/", "message": "Sign-in is unavailable right now. Please try again in a moment.", "status": "unsuccess"})
	}
	if err := p.idp.Join(ctx, sess.Account.ID, clientID, idp.JoinedByUpstream); err != nil {
		unavailable(err)
		return
	}
	client, err := p.Client(ctx, clientID)
	if err != nil {
		unavailable(err)
		return
	}
	tok, err := p.IssueFor(ctx, client, IssueRequest{Session: sess, Grant: "urn:manam:legacy:googlelogin"})
	if err != nil {
		unavailable(err)
		return
	}
	token := tok.AccessToken
	a := sess.Account
	email, username := "", ""
	if a.Email != nil {
		email, username = *a.Email, *a.Email
	} else if a.Mobile != nil {
		username = *a.Mobile
	}
	roles := []string{}
	if m, err := storage.NewAccounts(p.db).Membership(ctx, a.ID, clientID); err == nil && m.Role != "" {
		roles = append(roles, m.Role)
	}
	out := map[string]any{
		"access_token": token, "token_type": "bearer", "expires_in": int64(p.cfg.AccessTokenLifespan / time.Second),
		"username": username, "fullname": a.Name, "email": email, "roles": roles, "permissions": []string{},
		"firstname": a.FirstName, "lastname": a.LastName, "picture": a.PictureURL,
		"oauth2_provider": "", "oauth2_user_info": map[string]any{},
	}
	if links, err := p.idp.Links(ctx, a.ID); err == nil {
		for _, l := range links {
			if l.Upstream == "google" {
				out["oauth2_provider"], out["oauth2_user_info"] = "google", rawJSON(l.RawClaims)
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// rawJSON passes stored JSON through as is (an empty object if it is not JSON).
type rawJSON string

// MarshalJSON implements json.Marshaler.
func (r rawJSON) MarshalJSON() ([]byte, error) {
	if r == "" || !json.Valid([]byte(r)) {
		return []byte("{}"), nil
	}
	return []byte(r), nil
}
