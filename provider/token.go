package provider

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/uuid"
	"github.com/ory/fosite"

	"github.com/manam-id/manam/storage"
)

// token serves /oauth2/token: authorization_code, refresh_token and client_credentials.
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err == nil {
			if name := repeatedParam(r.PostForm); name != "" {
				p.oauth.WriteAccessError(ctx, w, nil, fosite.ErrInvalidRequest.WithHintf("The parameter %s was sent more than once.", name))
				return
			}
			if gt := r.PostForm.Get("grant_type"); gt != "" && !supportedGrant(gt) {
				p.oauth.WriteAccessError(ctx, w, nil, fosite.ErrUnsupportedGrantType)
				return
			}
			if !hasClientAuth(r.Header.Get("Authorization"), r.PostForm) {
				w.Header().Set("WWW-Authenticate", `Basic realm="manam"`)
				p.oauth.WriteAccessError(ctx, w, nil, fosite.ErrInvalidClient.WithHint("No client authentication was included."))
				return
			}
		}
	}
	ar, resp, err := p.exchange(ctx, p.fromHTTP(r))
	if err != nil {
		p.accessError(w, r, ar, err)
		return
	}
	p.metrics.tokens.WithLabelValues(ar.GetGrantTypes()[0]).Inc()
	p.oauth.WriteAccessResponse(ctx, w, ar, resp)
}

// accessError writes a token-endpoint error (exchange has mapped it).
func (p *Provider) accessError(w http.ResponseWriter, r *http.Request, ar fosite.AccessRequester, err error) {
	if rfc := fosite.ErrorToRFC6749Error(err); rfc.CodeField >= 500 {
		p.log.ErrorContext(r.Context(), "token request failed", "request_id", RequestID(r.Context()), "err", rfc.WithExposeDebug(true).GetDescription())
	}
	p.oauth.WriteAccessError(r.Context(), w, ar, err)
}

// unavailable turns a failure of the database (fosite reports a tenant it
// could not load as invalid_client) into 503 temporarily_unavailable: a
// client must not be told its credentials are wrong, or get a 500, when
// the database is down. The cause stays attached for the log.
func unavailable(err error) error {
	if errors.Is(err, storage.ErrUnavailable) {
		return fosite.ErrTemporarilyUnavailable.WithWrap(err).WithDebug(storageCause(err))
	}
	return err
}

// storageCause is the message of the storage error inside err (fosite's
// wrappers say only "invalid_client"), for the log.
func storageCause(err error) string {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if strings.HasPrefix(e.Error(), "storage:") {
			return e.Error()
		}
	}
	return err.Error()
}

// introspect serves /oauth2/introspect (RFC 7662). Callers authenticate
// with client_secret_basic, and a tenant sees only its own tokens: anyone
// else's is reported inactive.
func (p *Provider) introspect(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	// Only client_secret_basic. fosite would also accept any access token
	// (an Authorization: Bearer header in any case, or an access_token
	// parameter) in place of client credentials, and then never check the
	// Basic password: the caller must be a tenant proving its secret.
	if _, _, ok := r.BasicAuth(); !ok {
		p.oauth.WriteIntrospectionError(ctx, w, fosite.ErrRequestUnauthorized.WithHint("Authenticate with client_secret_basic."))
		return
	}
	if r.Method == http.MethodPost {
		if err := tokenParamsForm(r); err != nil {
			p.oauth.WriteIntrospectionError(ctx, w, err)
			return
		}
	}
	if err := r.ParseForm(); err == nil && r.Form.Has("access_token") {
		p.oauth.WriteIntrospectionError(ctx, w, fosite.ErrRequestUnauthorized.WithHint("Authenticate with client_secret_basic, not an access token."))
		return
	}
	if r.Method == http.MethodPost && r.PostForm.Get("token") == "" {
		// RFC 7662 §2.1: token is REQUIRED (fosite would answer {"active":false}).
		p.oauth.WriteIntrospectionError(ctx, w, fosite.ErrInvalidRequest.WithHint("The token parameter is required."))
		return
	}
	ir, err := p.oauth.NewIntrospectionRequest(ctx, r, NewSession())
	if errors.Is(err, storage.ErrUnavailable) {
		// fosite would answer {"active":false} (or invalid_client): say
		// the database is down instead, as the token endpoint does.
		err = unavailable(err)
		p.log.ErrorContext(ctx, "introspection failed", "err", fosite.ErrorToRFC6749Error(err).WithExposeDebug(true).GetDescription())
		p.oauth.WriteAccessError(ctx, w, nil, err)
		return
	}
	if err != nil {
		p.oauth.WriteIntrospectionError(ctx, w, err)
		return
	}
	id, _, _ := r.BasicAuth()
	caller, _ := url.QueryUnescape(id)
	if ir.GetAccessRequester().GetClient().GetID() != caller {
		p.oauth.WriteIntrospectionError(ctx, w, fosite.ErrInactiveToken)
		return
	}
	p.oauth.WriteIntrospectionResponse(ctx, w, ir)
}

// revoke serves /oauth2/revoke (RFC 7009).
func (p *Provider) revoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method == http.MethodPost {
		if err := tokenParamsForm(r); err != nil {
			p.oauth.WriteRevocationResponse(ctx, w, err)
			return
		}
		if !hasClientAuth(r.Header.Get("Authorization"), r.PostForm) {
			w.Header().Set("WWW-Authenticate", `Basic realm="manam"`)
			p.oauth.WriteRevocationResponse(ctx, w, fosite.ErrInvalidClient.WithHint("No client authentication was included."))
			return
		}
		if r.PostForm.Get("token") == "" {
			// RFC 7009 §2.1: token is REQUIRED (fosite would answer 200).
			p.oauth.WriteRevocationResponse(ctx, w, fosite.ErrInvalidRequest.WithHint("The token parameter is required."))
			return
		}
	}
	err := p.oauth.NewRevocationRequest(ctx, r)
	if errors.Is(err, fosite.ErrTemporarilyUnavailable) || errors.Is(err, storage.ErrUnavailable) {
		// fosite answers 200 when the revocation could not be written: the
		// client would believe a live token ended. Say so instead.
		p.log.WarnContext(ctx, "revocation failed", "request_id", RequestID(ctx), "err", err)
		writeJSONError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "try again later")
		return
	}
	p.oauth.WriteRevocationResponse(ctx, w, err)
}

// tokenParamsForm reads the body of a POST to the introspection or
// revocation endpoint: form-encoded (RFC 7662 §2.1, RFC 7009 §2.1),
// readable within the body limit, and no parameter more than once (RFC
// 6749 §3.2, as at the token endpoint). fosite would read a body it could
// not parse, or a JSON one, as an empty form, and take the first of
// repeated values.
func tokenParamsForm(r *http.Request) error {
	if r.ContentLength != 0 {
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
			return fosite.ErrInvalidRequest.WithHint("Send the parameters as application/x-www-form-urlencoded.")
		}
	}
	if err := r.ParseForm(); err != nil {
		return fosite.ErrInvalidRequest.WithHint("The request body could not be read.")
	}
	if name := repeatedParam(r.PostForm); name != "" {
		return fosite.ErrInvalidRequest.WithHintf("The parameter %s was sent more than once.", name)
	}
	return nil
}

func supportedGrant(g string) bool {
	return g == "authorization_code" || g == "refresh_token" || g == "client_credentials"
}

// quietTokenHandler answers fosite's "not mine" for a grant the handler
// does not serve without building an error with a stack trace. fosite's
// NewAccessResponse calls every token handler, and each one that does not
// serve the grant returns errorsx.WithStack(ErrUnknownRequest): a
// runtime.Callers walk that cost 5 % of a client-credentials request in a
// profile. Every handler Manam composes starts PopulateTokenEndpointResponse
// with exactly `if !CanHandleTokenEndpointRequest { return ErrUnknownRequest }`
// (fosite v0.49.0), and NewAccessResponse ignores that error by errors.Is,
// so answering it here first changes nothing else.
type quietTokenHandler struct{ fosite.TokenEndpointHandler }

// PopulateTokenEndpointResponse implements fosite.TokenEndpointHandler.
func (q quietTokenHandler) PopulateTokenEndpointResponse(ctx context.Context, req fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !q.CanHandleTokenEndpointRequest(ctx, req) {
		return fosite.ErrUnknownRequest
	}
	return q.TokenEndpointHandler.PopulateTokenEndpointResponse(ctx, req, resp)
}

// newRequestID is the ID of a new grant: every code, token and session row
// of the grant carries it, and revocation finds them by it. fosite makes a
// random (version 4) UUID; a version 7 UUID starts with the time, so the
// request_id index of each token table grows at its end instead of
// touching a random page per insert: fewer pages for SQLite to write to
// its WAL at every commit. Its 74 random bits keep IDs unguessable; an ID
// never leaves the server.
func newRequestID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}
