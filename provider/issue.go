package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/ory/fosite"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/storage"
)

// What the provider offers surfaces that sign people in without an
// authorization request (the client dialects), for a tenant they have
// identified their own way: the same fosite tokens as /oauth2/token,
// minted (IssueFor), refreshed and exchanged (RefreshFor,
// ExchangeCodeFor in grant.go) and checked (AccessTokenInfo) through the
// same strategy and store. Each takes the tenant's client as a
// parameter: nothing about the caller reaches fosite any other way.

// Mount adds routes to the provider's router, behind its middleware
// (request ids, metrics, body limits, recovery).
type Mount func(r *mux.Router)

// Tokens is what a sign-in outside /oauth2/token hands its caller.
type Tokens struct {
	AccessToken  string
	RefreshToken string // "" when the tenant may not have one
	IDToken      string // only from RefreshFor and ExchangeCodeFor, when openid was granted
	ExpiresIn    int64  // seconds
	ExpiresAt    time.Time
	Scope        string
	// Subject is whose tokens they are (the account id).
	Subject string
}

// IssueRequest says what to mint.
type IssueRequest struct {
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

// ErrUnknownClient is Client's and AuthenticateClient's error for a
// tenant that does not exist (any more).
var ErrUnknownClient = errors.New("provider: unknown client")

// ErrTokenRefused is RefreshFor's and ExchangeCodeFor's error for a
// refresh token or code that is unknown, expired, revoked, reused (the
// family is then revoked) or of another tenant: the caller's fault, never
// ours.
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

// IssueFor mints an access token (and a refresh token, see
// IssueRequest.Refresh) for a signed-in account, as a grant of the
// tenant's client: scopes openid, email, profile, phone and
// offline_access as far as the tenant has them. The rows are written in
// one transaction.
func (p *Provider) IssueFor(ctx context.Context, client *storage.Client, in IssueRequest) (*Tokens, error) {
	if client == nil {
		return nil, ErrUnknownClient
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
		Scope: strings.Join(ar.GetGrantedScopes(), " "), Subject: in.Session.Account.ID}
	var (
		asig, rsig string
		err        error
	)
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
	err = p.view.CreateAccessTokenSession(txc, asig, ar.Sanitize(nil))
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
		if rfc := fosite.ErrorToRFC6749Error(err); rfc.CodeField >= 500 || errors.Is(err, storage.ErrUnavailable) {
			return nil, fmt.Errorf("provider: token check: %w", err)
		}
		return nil, ErrInvalidToken
	}
	return &TokenInfo{Subject: sess.Subject, ClientID: ar.GetClient().GetID(), Scopes: ar.GetGrantedScopes(),
		ExpiresAt: sess.GetExpiresAt(fosite.AccessToken)}, nil
}
