package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/ory/fosite"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/storage"
)

// What the provider offers surfaces that sign people in without an
// authorization request (the legacy Manam API and the client dialects):
// the same fosite tokens as /oauth2/token, minted, refreshed and checked
// through the same strategy and store.

// Mount adds routes to the provider's router, behind its middleware
// (request ids, metrics, body limits, recovery).
type Mount func(r *mux.Router)

// Tokens is what a sign-in outside /oauth2/token hands its caller.
type Tokens struct {
	AccessToken  string
	RefreshToken string // "" when the tenant may not have one
	IDToken      string // only from RefreshTokens, when openid was granted
	ExpiresIn    int64  // seconds
	ExpiresAt    time.Time
	Scope        string
}

// IssueRequest says what to mint.
type IssueRequest struct {
	ClientID string
	// Session is the signed-in account: subject, amr, acr, auth_time, sid.
	Session *idp.Session
	// Refresh asks for a refresh token too. It is issued when the tenant
	// may use the refresh_token grant and has the offline_access scope, so
	// that it works at /oauth2/token like any other.
	Refresh bool
	// JWT mints an RFC 9068 access token whatever the tenant's format
	// (and keeps minting them on refresh).
	JWT bool
	// Grant is recorded as the request's grant type ("urn:manam:legacy:…").
	Grant string
}

// ErrUnknownClient is IssueTokens' and RefreshTokens' error for a tenant
// that does not exist (any more).
var ErrUnknownClient = errors.New("provider: unknown client")

// ErrTokenRefused is RefreshTokens' error for a refresh token that is
// unknown, expired, revoked, reused (the family is then revoked) or of
// another tenant: the caller's fault, never ours.
var ErrTokenRefused = errors.New("provider: refresh token refused")

// Client loads a tenant's fosite client (cached like the token endpoint's).
func (p *Provider) Client(ctx context.Context, clientID string) (*storage.Client, error) {
	fc, err := p.store.GetClient(ctx, clientID)
	if errors.Is(err, fosite.ErrNotFound) {
		return nil, ErrUnknownClient
	}
	if err != nil {
		return nil, err
	}
	c, ok := fc.(*storage.Client)
	if !ok {
		return nil, fmt.Errorf("provider: client %s has type %T", clientID, fc)
	}
	return c, nil
}

// AuthenticateClient checks a tenant's client secret (server-to-server
// calls of the legacy API): ErrUnknownClient for an unknown id, a public
// tenant or a wrong secret alike.
func (p *Provider) AuthenticateClient(ctx context.Context, clientID, secret string) (*storage.Client, error) {
	c, err := p.Client(ctx, clientID)
	if err != nil {
		return nil, err
	}
	if c.IsPublic() || secret == "" || len(secret) > 512 {
		return nil, ErrUnknownClient
	}
	if err := p.hasher.Compare(ctx, c.GetHashedSecret(), []byte(secret)); err != nil {
		return nil, ErrUnknownClient
	}
	return c, nil
}

// IssueTokens mints an access token (and a refresh token, see
// IssueRequest.Refresh) for a signed-in account, as a grant of the
// tenant's: scopes openid, email, profile, phone and offline_access as
// far as the tenant has them. The rows are written in one transaction.
func (p *Provider) IssueTokens(ctx context.Context, in IssueRequest) (*Tokens, error) {
	client, err := p.Client(ctx, in.ClientID)
	if err != nil {
		return nil, err
	}
	if in.Session == nil || in.Session.Account == nil {
		return nil, errors.New("provider: no session to issue tokens for")
	}
	now := time.Now().UTC().Truncate(time.Second)
	ar := fosite.NewAccessRequest(nil)
	ar.Client = client
	ar.SetID(newRequestID())
	ar.RequestedAt = now
	grant := in.Grant
	if grant == "" {
		grant = "urn:manam:legacy"
	}
	ar.GrantTypes = fosite.Arguments{grant}
	for _, s := range []string{"openid", "email", "profile", "phone", "offline_access"} {
		if s == "offline_access" && !in.Refresh {
			continue
		}
		if client.GetScopes().Has(s) {
			ar.AppendRequestedScope(s)
			ar.GrantScope(s)
		}
	}
	grantDefaultAudience(ar)
	fs := p.userSession(ctx, client, in.Session, ar.GetGrantedScopes(), now)
	if in.JWT {
		fs.AccessFormat = formatJWT
	}
	fs.SetExpiresAt(fosite.AccessToken, now.Add(p.cfg.AccessTokenLifespan))
	refresh := in.Refresh && client.GetGrantTypes().Has("refresh_token") && ar.GetGrantedScopes().Has("offline_access")
	if refresh {
		fs.SetExpiresAt(fosite.RefreshToken, now.Add(p.cfg.RefreshTokenLifespan))
	}
	ar.Session = fs
	out := &Tokens{ExpiresIn: int64(p.cfg.AccessTokenLifespan / time.Second), ExpiresAt: now.Add(p.cfg.AccessTokenLifespan),
		Scope: strings.Join(ar.GetGrantedScopes(), " ")}
	var asig, rsig string
	if out.AccessToken, asig, err = p.tokens.GenerateAccessToken(ctx, ar); err != nil {
		return nil, err
	}
	if refresh {
		if out.RefreshToken, rsig, err = p.refreshTokens.GenerateRefreshToken(ctx, ar); err != nil {
			return nil, err
		}
	}
	// The request outlives the caller's connection: a half-written grant
	// must not be left behind by a client hanging up.
	ctx = context.WithoutCancel(ctx)
	txc, err := p.store.BeginTX(ctx)
	if err != nil {
		return nil, err
	}
	err = p.store.CreateAccessTokenSession(txc, asig, ar.Sanitize(nil))
	if err == nil && refresh {
		err = p.store.CreateRefreshTokenSession(txc, rsig, asig, ar.Sanitize(nil))
	}
	if err != nil {
		return nil, errors.Join(err, p.store.Rollback(txc))
	}
	if err := p.store.Commit(txc); err != nil {
		return nil, err
	}
	p.metrics.tokens.WithLabelValues(grant).Inc()
	return out, nil
}

// legacyClientKey carries, inside the provider only, a tenant that a
// legacy surface already identified, to fosite's client authentication.
type legacyClientKey struct{}

// clientAuthentication is fosite's client authentication with one
// addition: a refresh made by RefreshTokens on behalf of a tenant the
// legacy surface identified (its documents send no client secret with a
// refresh) authenticates as that tenant. Nothing outside this package can
// put the value in a request's context.
func (p *Provider) clientAuthentication(f *fosite.Fosite) fosite.ClientAuthenticationStrategy {
	return func(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
		if c, ok := ctx.Value(legacyClientKey{}).(fosite.Client); ok {
			return c, nil
		}
		return f.DefaultClientAuthenticationStrategy(ctx, r, form)
	}
}

// RefreshTokens runs the refresh_token grant for a tenant the caller has
// identified: the same grant as /oauth2/token (rotation; a reused token
// revokes its family, RFC 9700 §4.14; the token must be the tenant's).
// Any refusal is ErrTokenRefused.
func (p *Provider) RefreshTokens(ctx context.Context, clientID, refreshToken string) (*Tokens, error) {
	if refreshToken == "" || len(refreshToken) > 4096 {
		return nil, ErrTokenRefused
	}
	out, _, err := p.grantFor(ctx, clientID, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}})
	return out, err
}

// grantFor runs a grant at the token endpoint's handlers for a tenant the
// caller has identified (no client authentication on the wire: see
// clientAuthentication), and returns the tokens and whose they are. A
// refusal is ErrTokenRefused; only our own failures are other errors.
func (p *Provider) grantFor(ctx context.Context, clientID string, form url.Values) (*Tokens, string, error) {
	client, err := p.Client(ctx, clientID)
	if err != nil {
		return nil, "", err
	}
	ctx = context.WithValue(context.WithoutCancel(ctx), legacyClientKey{}, fosite.Client(client))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.Issuer+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	ar, resp, err := p.exchange(ctx, req)
	if err != nil {
		if rfc := fosite.ErrorToRFC6749Error(err); rfc.CodeField >= 500 {
			return nil, "", fmt.Errorf("provider: %s grant: %w", form.Get("grant_type"), err)
		}
		return nil, "", fmt.Errorf("%w: %s", ErrTokenRefused, fosite.ErrorToRFC6749Error(err).ErrorField)
	}
	p.metrics.tokens.WithLabelValues(form.Get("grant_type")).Inc()
	out := &Tokens{AccessToken: resp.GetAccessToken(), Scope: strings.Join(ar.GetGrantedScopes(), " ")}
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
	return out, ar.GetSession().GetSubject(), nil
}

// TokenInfo is what an access token says.
type TokenInfo struct {
	Subject   string
	ClientID  string
	Scopes    []string
	ExpiresAt time.Time
}

// ErrInvalidToken is AccessTokenInfo's error for a token that is unknown,
// expired, revoked or not an access token.
var ErrInvalidToken = errors.New("provider: invalid access token")

// AccessTokenInfo checks an access token (opaque or JWT) as /userinfo
// does, and says whose it is.
func (p *Provider) AccessTokenInfo(ctx context.Context, token string) (*TokenInfo, error) {
	if token == "" || len(token) > 8192 {
		return nil, ErrInvalidToken
	}
	sess := NewSession()
	use, ar, err := p.oauth.IntrospectToken(ctx, token, fosite.AccessToken, sess)
	if err == nil && use != fosite.AccessToken {
		err = fosite.ErrInvalidTokenFormat
	}
	if err != nil {
		if rfc := fosite.ErrorToRFC6749Error(err); rfc.CodeField >= 500 {
			return nil, fmt.Errorf("provider: token check: %w", err)
		}
		return nil, ErrInvalidToken
	}
	return &TokenInfo{Subject: sess.Subject, ClientID: ar.GetClient().GetID(), Scopes: ar.GetGrantedScopes(),
		ExpiresAt: sess.GetExpiresAt(fosite.AccessToken)}, nil
}
