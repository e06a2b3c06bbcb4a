package provider

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite"
	"golang.org/x/text/language"

	"github.com/manam-id/manam/storage"
)

// Grants of the token endpoint for a client the caller has identified.
// A client dialect authenticates its tenant its own way (a tenant key, a
// mount of its own, a callback holding the PKCE verifier) and sends no
// client credentials with a refresh or a code. RefreshFor and
// ExchangeCodeFor take that client as a parameter and run the grant as
// /oauth2/token does, minus client authentication: fosite's
// token-endpoint handlers, in fosite's order, on an access request built
// here (grantFor), then the same response, retries, refresh grace and
// error mapping (exchange, respond). fosite's set-up knows nothing of
// who calls these.

// RefreshFor runs the refresh_token grant for the client: the same grant
// as /oauth2/token (rotation; a reused token revokes its family, RFC 9700
// §4.14; the token must be the client's). Any refusal is ErrTokenRefused.
func (p *Provider) RefreshFor(ctx context.Context, client *storage.Client, refreshToken string) (*Tokens, error) {
	if refreshToken == "" || len(refreshToken) > 4096 {
		return nil, ErrTokenRefused
	}
	return p.grantFor(ctx, client, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}})
}

// ExchangeCodeFor runs the authorization_code grant for the client: the
// code must have been issued to it for redirectURI, and verifier must
// match its PKCE challenge (RFC 7636). A refused code is ErrTokenRefused.
func (p *Provider) ExchangeCodeFor(ctx context.Context, client *storage.Client, code, verifier, redirectURI string) (*Tokens, error) {
	if code == "" || len(code) > 4096 {
		return nil, ErrTokenRefused
	}
	out, err := p.grantFor(ctx, client, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {redirectURI}, "code_verifier": {verifier}})
	if err == nil && out.Subject == "" {
		err = errors.New("provider: code exchange: no subject")
	}
	return out, err
}

// grantFor runs a grant of the token endpoint (its parameters in form)
// for the client. A refusal is ErrTokenRefused; only our own failures are
// other errors.
func (p *Provider) grantFor(ctx context.Context, client *storage.Client, form url.Values) (*Tokens, error) {
	if client == nil {
		return nil, ErrUnknownClient
	}
	grant := form.Get("grant_type")
	// The grant outlives the caller's connection: a rotation must not be
	// cut in half by a client hanging up.
	ctx = context.WithoutCancel(ctx)
	ar, resp, err := p.exchange(ctx, func(ctx context.Context) (fosite.AccessRequester, fosite.AccessResponder, error) {
		ar := fosite.NewAccessRequest(NewSession())
		ar.Lang = language.English // what fosite reads from a request without a message catalog
		ar.Form = form
		ar.Client = client
		ar.GrantTypes = fosite.Arguments{grant}
		if err := p.handleTokenRequest(ctx, ar); err != nil {
			return ar, nil, err
		}
		resp, err := p.respond(ctx, ar)
		return ar, resp, err
	})
	if err != nil {
		if rfc := fosite.ErrorToRFC6749Error(err); rfc.CodeField >= 500 {
			return nil, fmt.Errorf("provider: %s grant: %w", grant, err)
		}
		return nil, fmt.Errorf("%w: %s", ErrTokenRefused, fosite.ErrorToRFC6749Error(err).ErrorField)
	}
	p.metrics.tokens.WithLabelValues(grant).Inc()
	out := &Tokens{AccessToken: resp.GetAccessToken(), Scope: strings.Join(ar.GetGrantedScopes(), " "), Subject: ar.GetSession().GetSubject()}
	if v, ok := resp.GetExtra("refresh_token").(string); ok {
		out.RefreshToken = v
	}
	if v, ok := resp.GetExtra("id_token").(string); ok {
		out.IDToken = v
	}
	exp := ar.GetSession().GetExpiresAt(fosite.AccessToken)
	if exp.IsZero() {
		exp = time.Now().Add(p.cfg.AccessTokenLifespan)
	}
	out.ExpiresAt = exp.UTC()
	out.ExpiresIn = max(int64(time.Until(exp).Round(time.Second)/time.Second), 0)
	return out, nil
}

// handleTokenRequest is what fosite's NewAccessRequest does once it has
// the client: every token-endpoint handler that can handle the request,
// in the configured order, and invalid_request when none did.
func (p *Provider) handleTokenRequest(ctx context.Context, ar *fosite.AccessRequest) error {
	found := false
	for _, h := range p.fc.GetTokenEndpointHandlers(ctx) {
		if !h.CanHandleTokenEndpointRequest(ctx, ar) {
			continue
		}
		err := h.HandleTokenEndpointRequest(ctx, ar)
		switch {
		case err == nil:
			found = true
		case errors.Is(err, fosite.ErrUnknownRequest):
		default:
			return err
		}
	}
	if !found {
		return fosite.ErrInvalidRequest
	}
	return nil
}
