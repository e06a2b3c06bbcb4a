package provider

import (
	"errors"
	"net/http"

	"github.com/ory/fosite"

	"github.com/manam-id/manam/storage"
)

// userinfo serves /userinfo (OIDC Core §5.3), GET or POST, bearer token.
// Claims come from the account as it is now, filtered by granted scopes.
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	token := fosite.AccessTokenFromRequest(r)
	if token == "" {
		bearerError(w, http.StatusUnauthorized, "invalid_request", "missing bearer token")
		return
	}
	sess := NewSession()
	_, ar, err := p.oauth.IntrospectToken(ctx, token, fosite.AccessToken, sess)
	if err != nil {
		bearerError(w, http.StatusUnauthorized, "invalid_token", "the access token is invalid, expired or revoked")
		return
	}
	if !ar.GetGrantedScopes().Has("openid") {
		bearerError(w, http.StatusForbidden, "insufficient_scope", "the access token was not granted the openid scope")
		return
	}
	acct, err := p.idp.Account(ctx, sess.Subject)
	if errors.Is(err, storage.ErrNotFound) {
		bearerError(w, http.StatusUnauthorized, "invalid_token", "the account no longer exists")
		return
	}
	if err != nil {
		p.log.ErrorContext(ctx, "userinfo failed", "request_id", RequestID(ctx), "err", err)
		writeJSONError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "try again later")
		return
	}
	claims := accountClaims(acct, ar.GetGrantedScopes())
	claims["sub"] = acct.ID
	writeJSON(w, http.StatusOK, claims)
}

// bearerError answers an RFC 6750 §3 error.
func bearerError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("WWW-Authenticate", `Bearer error="`+code+`", error_description="`+desc+`"`)
	writeJSONError(w, status, code, desc)
}
