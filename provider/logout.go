package provider

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/ory/fosite/token/jwt"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/storage"
)

// logout serves /oauth2/logout, OpenID Connect RP-Initiated Logout 1.0.
//
// With a valid id_token_hint (ours, any published key, expired is fine per
// §2) the session ends at once; without one the user confirms on a form
// (CSRF-protected), so a third-party page cannot sign users out. A
// post_logout_redirect_uri must exactly match one the tenant registered
// (§3); state is echoed back.
func (p *Provider) logout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		p.pages.Error(w, r, http.StatusBadRequest, "Invalid request", "The sign-out request could not be read.")
		return
	}
	if name := repeatedParam(r.Form); name != "" {
		p.pages.Error(w, r, http.StatusBadRequest, "Invalid request", "The parameter %s was sent more than once.", name)
		return
	}
	hint := r.Form.Get("id_token_hint")
	clientID := r.Form.Get("client_id")
	redirect := r.Form.Get("post_logout_redirect_uri")
	state := r.Form.Get("state")

	var claims *hintClaims
	if hint != "" {
		c, err := p.verifyIDTokenHint(ctx, hint)
		if err != nil {
			p.pages.Error(w, r, http.StatusBadRequest, "Invalid sign-out request", "The application sent an ID token that is not valid here.")
			return
		}
		if clientID != "" && !slices.Contains(c.aud, clientID) {
			p.pages.Error(w, r, http.StatusBadRequest, "Invalid sign-out request", "client_id does not match the ID token.")
			return
		}
		claims = c
		if clientID == "" && len(c.aud) > 0 {
			clientID = c.aud[0]
		}
	}
	if redirect != "" {
		if clientID == "" {
			p.pages.Error(w, r, http.StatusBadRequest, "Invalid sign-out request", "post_logout_redirect_uri needs id_token_hint or client_id.")
			return
		}
		t, err := p.tenants.Get(ctx, clientID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			p.log.ErrorContext(ctx, "logout failed", "request_id", RequestID(ctx), "err", err)
			p.pages.Error(w, r, http.StatusServiceUnavailable, "Unavailable", "This service is unavailable right now. Please try again in a moment.")
			return
		}
		if err != nil || !slices.Contains(t.PostLogoutRedirectURIs, redirect) {
			p.pages.Error(w, r, http.StatusBadRequest, "Invalid sign-out request", "post_logout_redirect_uri is not registered for this application.")
			return
		}
	}

	cur, _ := p.pages.CurrentSession(r)
	confirmed := r.Method == http.MethodPost && r.PostForm.Get("confirm") == "yes" && p.pages.CSRF().Valid(r)
	switch logoutConfirmation(claims, cur, confirmed) {
	case confirmSignedIn:
		hidden := map[string]string{}
		for _, k := range []string{"client_id", "post_logout_redirect_uri", "state"} {
			if v := r.Form.Get(k); v != "" {
				hidden[k] = v
			}
		}
		email := ""
		if cur.Account.Email != nil {
			email = *cur.Account.Email
		}
		p.pages.LogoutConfirm(w, r, "/oauth2/logout", email, hidden)
		return
	case confirmSomeoneElse:
		p.pages.LogoutConfirm(w, r, "/oauth2/logout", "", map[string]string{"post_logout_redirect_uri": redirect, "state": state, "client_id": clientID})
		return
	}

	if c, err := r.Cookie("manam_session"); err == nil {
		if err := p.idp.EndSession(ctx, c.Value); err != nil {
			p.log.ErrorContext(ctx, "ending session failed", "request_id", RequestID(ctx), "err", err)
		}
	}
	if claims != nil && claims.sid != "" {
		if err := p.idp.EndSessionBySID(ctx, claims.sid); err != nil {
			p.log.ErrorContext(ctx, "ending session failed", "request_id", RequestID(ctx), "err", err)
		}
	}
	p.pages.ClearSessionCookie(w)
	if redirect == "" {
		p.pages.LoggedOut(w, r)
		return
	}
	u, _ := url.Parse(redirect)
	if state != "" {
		q := u.Query()
		q.Set("state", state)
		u.RawQuery = q.Encode()
	}
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// logoutConfirm is whether a sign-out is confirmed by the user first.
type logoutConfirm int

const (
	confirmNone logoutConfirm = iota
	// confirmSignedIn: no ID token hint, so the request may come from any
	// page (OIDC RP-Initiated Logout §2): the signed-in user confirms.
	confirmSignedIn
	// confirmSomeoneElse: the hint names another account than the
	// browser's: its session is not ended silently.
	confirmSomeoneElse
)

// logoutConfirmation decides whether a sign-out asks the user first.
func logoutConfirmation(claims *hintClaims, cur *idp.Session, confirmed bool) logoutConfirm {
	switch {
	case confirmed || cur == nil:
		return confirmNone
	case claims == nil:
		return confirmSignedIn
	case cur.Account.ID != claims.sub:
		return confirmSomeoneElse
	}
	return confirmNone
}

type hintClaims struct {
	sub string
	sid string
	aud []string
}

var errBadHint = errors.New("provider: invalid id_token_hint")

// verifyIDTokenHint checks an ID token's signature (any published key, by
// kid) and issuer; an expired token is acceptable as a hint.
func (p *Provider) verifyIDTokenHint(ctx context.Context, hint string) (*hintClaims, error) {
	tok, err := p.signer.Decode(ctx, hint)
	if err != nil {
		// Only expiry is forgiven: the signature was verified before claims were checked.
		var ve *jwt.ValidationError
		if !errors.As(err, &ve) || ve.Errors != jwt.ValidationErrorExpired || tok == nil {
			return nil, errBadHint
		}
	}
	// An RFC 9068 access token is signed by the same keys: it is not an ID
	// token and must not end anyone's session (RFC 8725 §3.11).
	if typ, _ := tok.Header["typ"].(string); strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt") {
		return nil, errBadHint
	}
	mc := tok.Claims
	if _, isAccessToken := mc["client_id"]; isAccessToken {
		return nil, errBadHint
	}
	if iss, _ := mc["iss"].(string); iss != p.cfg.Issuer {
		return nil, errBadHint
	}
	c := &hintClaims{}
	c.sub, _ = mc["sub"].(string)
	c.sid, _ = mc["sid"].(string)
	switch a := mc["aud"].(type) {
	case string:
		c.aud = []string{a}
	case []any:
		for _, v := range a {
			if s, ok := v.(string); ok {
				c.aud = append(c.aud, s)
			}
		}
	}
	if c.sub == "" || len(c.aud) == 0 {
		return nil, errBadHint
	}
	// The tenant must still exist.
	if _, err := p.tenants.Get(ctx, c.aud[0]); errors.Is(err, storage.ErrNotFound) {
		return nil, errBadHint
	}
	return c, nil
}
