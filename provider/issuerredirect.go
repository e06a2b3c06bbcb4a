package provider

import (
	"context"
	"net/http"
	"slices"

	"github.com/ory/fosite"

	"github.com/manam-id/manam/storage"
)

// Issuer redirects: redirect URIs on this issuer itself, which a
// first-party surface uses to run a tenant's standard authorization-code
// flow (sign-in, second factor, consent, PKCE) and exchange the code on
// the tenant's behalf (ExchangeCodeFor). The legacy API's "Login with
// Manam" is one: cmd/manam lists its callback in Deps.IssuerRedirects.
// An authorization request that names an issuer redirect may use it for
// any tenant, and then only it: the request's client is the tenant's,
// narrowed to that one redirect URI, handed to fosite for this request
// alone (newAuthorizeRequest). Any other request sees the tenant's
// registered redirect URIs, as fosite loads them.

// newAuthorizeRequest is fosite's NewAuthorizeRequest, with the client
// narrowed to the request's redirect URI when that is an issuer redirect.
func (p *Provider) newAuthorizeRequest(ctx context.Context, r *http.Request) (fosite.AuthorizeRequester, error) {
	if err := r.ParseForm(); err != nil {
		return p.oauth.NewAuthorizeRequest(ctx, r) // fosite answers the unreadable request
	}
	uri := r.Form.Get("redirect_uri")
	if uri == "" || !slices.Contains(p.issuerRedirects, uri) {
		return p.oauth.NewAuthorizeRequest(ctx, r)
	}
	f := &fosite.Fosite{Store: narrowedClients{graceView: p.view, redirect: uri}, Config: p.fc}
	return f.NewAuthorizeRequest(ctx, r)
}

// narrowedClients is the store fosite composes over, whose tenants have
// one redirect URI: an issuer redirect. Only newAuthorizeRequest uses it,
// for one request.
type narrowedClients struct {
	graceView
	redirect string
}

// GetClient implements fosite.ClientManager.
func (v narrowedClients) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	c, err := v.graceView.GetClient(ctx, id)
	sc, ok := c.(*storage.Client)
	if err != nil || !ok {
		return c, err
	}
	cp := *sc
	cp.RedirectURIs = []string{v.redirect}
	return &cp, nil
}
