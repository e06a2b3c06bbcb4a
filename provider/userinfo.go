package provider

import (
	"errors"
	"net/http"
	"strings"

	"github.com/ory/fosite"

	"github.com/manam-id/manam/storage"
)

// userinfo serves /userinfo (OIDC Core §5.3), GET or POST, bearer token.
// Claims come from the account as it is now, filtered by granted scopes.
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	token, err := bearerToken(r)
	if err != nil {
		bearerError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	if token == "" {
		bearerError(w, http.StatusUnauthorized, "invalid_request", "missing bearer token")
		return
	}
	sess := NewSession()
	use, ar, err := p.oauth.IntrospectToken(ctx, token, fosite.AccessToken, sess)
	if err == nil && use != fosite.AccessToken {
		// fosite falls back to refresh tokens; they are for the token endpoint only (RFC 6749 §1.5).
		err = fosite.ErrInvalidTokenFormat
	}
	if errors.Is(err, storage.ErrUnavailable) {
		// A failure of the database says nothing about the token.
		p.log.ErrorContext(ctx, "userinfo failed", "request_id", RequestID(ctx), "err", err)
		writeJSONError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "try again later")
		return
	}
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

// bearerToken reads an access token from the Authorization header (any
// case of "Bearer") or, on a form POST, from the body (RFC 6750 §2.1, §2.2).
// A token in the URL query is refused: it ends up in logs, history and
// Referer headers (RFC 6750 §2.3, §5.3; OAuth 2.1).
func bearerToken(r *http.Request) (string, error) {
	if r.URL.Query().Has("access_token") {
		return "", errors.New("send the access token in the Authorization header, not in the URL")
	}
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return "", nil
		}
		return strings.TrimSpace(tok), nil
	}
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			return "", errors.New("unreadable body")
		}
		return r.PostForm.Get("access_token"), nil
	}
	return "", nil
}
