package provider

import (
	"context"
	"net/url"
	"strings"

	"github.com/ory/fosite"

	"github.com/manam-id/manam/storage"
)

// "Login with Manam" of the legacy API (GET /manamlogin): the standard
// authorization-code flow of a tenant (sign-in, second factor, consent,
// PKCE), whose redirect URI is the legacy API's own callback on this
// issuer instead of one of the tenant's. That one URI is allowed for an
// authorization request only when the request names it, and then it is
// the only one allowed; the code is exchanged on the tenant's behalf by
// the callback, which answers the documents' JSON.

// LegacyCallbackPath is the legacy API's callback for Login with Manam.
const LegacyCallbackPath = "/manamlogin/callback"

func (p *Provider) legacyCallback() string { return p.cfg.Issuer + LegacyCallbackPath }

// legacyLoginKey marks, inside the provider only, an authorization request
// whose redirect URI is the legacy callback.
type legacyLoginKey struct{}

// clientView is the store fosite composes over: the same store, except
// that during an authorization request for the legacy callback a tenant's
// redirect URIs are that callback alone.
type clientView struct {
	*storage.FositeStore
	callback string
}

// GetClient implements fosite.ClientManager.
func (v clientView) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	c, err := v.FositeStore.GetClient(ctx, id)
	if err != nil || ctx.Value(legacyLoginKey{}) == nil {
		return c, err
	}
	sc, ok := c.(*storage.Client)
	if !ok {
		return c, err
	}
	cp := *sc
	cp.RedirectURIs = []string{v.callback}
	return &cp, nil
}

// LegacyAuthorizeURL is the authorization request of Login with Manam for
// a tenant: code flow, PKCE S256, the scopes the tenant has of openid,
// email, profile and phone.
func (p *Provider) LegacyAuthorizeURL(clientID, state, codeChallenge string) string {
	scopes := []string{"openid"}
	if c, err := p.store.GetClient(context.Background(), clientID); err == nil {
		scopes = scopes[:0]
		for _, s := range []string{"openid", "email", "profile", "phone"} {
			if c.GetScopes().Has(s) {
				scopes = append(scopes, s)
			}
		}
	}
	q := url.Values{"client_id": {clientID}, "response_type": {"code"}, "redirect_uri": {p.legacyCallback()}, "state": {state},
		"scope": {strings.Join(scopes, " ")}, "code_challenge": {codeChallenge}, "code_challenge_method": {"S256"}}
	return p.cfg.Issuer + "/oauth2/auth?" + q.Encode()
}

// ExchangeLegacyCode exchanges a code of LegacyAuthorizeURL for the
// tenant's tokens on its behalf (the legacy callback holds no client
// secret; the code is bound to the callback and the PKCE verifier), and
// says whose they are. A refused code is ErrTokenRefused.
func (p *Provider) ExchangeLegacyCode(ctx context.Context, clientID, code, verifier string) (*Tokens, string, error) {
	client, err := p.Client(ctx, clientID)
	if err != nil {
		return nil, "", err
	}
	out, err := p.ExchangeCodeFor(ctx, client, code, verifier, p.legacyCallback())
	if err != nil {
		return nil, "", err
	}
	return out, out.Subject, nil
}
