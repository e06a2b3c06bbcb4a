package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/manam-id/manam/storage"
)

// The store view's access tokens. Sealed and JWT access tokens are not
// stored: fosite hands the store the whole token as its "signature"
// (tenantStrategy.AccessTokenSignature), so the view rebuilds the request
// from the token, after authenticating it, and asks the revocation table
// (one indexed query, no cache). Access tokens from before the upgrade
// (ory_at_…, and JWTs without a grant reference) are read from their rows.

// claimGrantRef is the JWT access token's sealed grant reference.
const claimGrantRef = "mnm_g"

// CreateAccessTokenSession implements oauth2.AccessTokenStorage: nothing
// is written for a sealed or JWT access token.
func (v graceView) CreateAccessTokenSession(ctx context.Context, signature string, req fosite.Requester) error {
	if isSealed(signature) || isJWT(signature) {
		return nil
	}
	return v.FositeStore.CreateAccessTokenSession(ctx, signature, req)
}

// DeleteAccessTokenSession implements oauth2.AccessTokenStorage: a token
// that has no row is revoked by a token row.
func (v graceView) DeleteAccessTokenSession(ctx context.Context, signature string) error {
	if isSealed(signature) || isJWT(signature) {
		return v.FositeStore.RevokeToken(ctx, signature)
	}
	return v.FositeStore.DeleteAccessTokenSession(ctx, signature)
}

// GetAccessTokenSession implements oauth2.AccessTokenStorage. A token that
// does not open, has expired, belongs to a tenant that no longer exists or
// is revoked is fosite.ErrNotFound; a failure of the database is
// storage.ErrUnavailable, never an answer about the token.
func (v graceView) GetAccessTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	var (
		t   *accessClaims
		err error
	)
	switch {
	case isSealed(signature):
		t, err = v.p.openSealed(signature)
	case isJWT(signature):
		t, err = v.p.openJWT(ctx, signature)
		if errors.Is(err, errNoGrantRef) {
			// An RFC 9068 token from before the upgrade: its row.
			return v.FositeStore.GetAccessTokenSession(ctx, signature[strings.LastIndexByte(signature, '.')+1:], session)
		}
	default:
		return v.FositeStore.GetAccessTokenSession(ctx, signature, session)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", fosite.ErrNotFound, err)
	}
	if !time.Now().Before(t.expires) {
		return nil, fmt.Errorf("%w: %w", fosite.ErrNotFound, fosite.ErrTokenExpired)
	}
	client, err := v.FositeStore.GetClient(ctx, t.clientID)
	if err != nil {
		return nil, err // not found (a deleted tenant takes its tokens with it) or unavailable
	}
	revoked, err := v.FositeStore.IsRevoked(ctx, storage.TokenRef{SignatureKey: storage.RevocationKey(signature),
		RequestID: t.requestID, Subject: t.subject, ClientID: t.clientID, IssuedAt: t.issued})
	if err != nil {
		return nil, err
	}
	if revoked {
		return nil, fmt.Errorf("%w: access token revoked", fosite.ErrNotFound)
	}
	return t.request(client, session)
}

// accessClaims is what an unstored access token says, whatever its format.
type accessClaims struct {
	requestID, clientID, subject string
	scopes, audience             []string
	issued, requestedAt, expires time.Time
}

// request rebuilds the fosite request the token was issued for, its
// session read into session (a new one when fosite passes nil).
func (t *accessClaims) request(client fosite.Client, session fosite.Session) (fosite.Requester, error) {
	if session == nil {
		session = NewSession()
	}
	s, ok := session.(*Session)
	if !ok {
		return nil, fmt.Errorf("provider: session of type %T", session)
	}
	if s.DefaultSession == nil {
		*s = *NewSession()
	}
	s.Subject = t.subject
	if s.Claims != nil {
		s.Claims.Subject = t.subject
	}
	s.ClientID = t.clientID
	s.SetExpiresAt(fosite.AccessToken, t.expires)
	return &fosite.Request{
		ID:                t.requestID,
		RequestedAt:       t.requestedAt,
		Client:            client,
		RequestedScope:    append(fosite.Arguments{}, t.scopes...),
		GrantedScope:      append(fosite.Arguments{}, t.scopes...),
		RequestedAudience: append(fosite.Arguments{}, t.audience...),
		GrantedAudience:   append(fosite.Arguments{}, t.audience...),
		Form:              map[string][]string{},
		Session:           s,
	}, nil
}

// openSealed opens a sealed access token.
func (p *Provider) openSealed(token string) (*accessClaims, error) {
	c, err := p.sealer.openAccess(token)
	if err != nil {
		return nil, err
	}
	return &accessClaims{requestID: c.RequestID, clientID: c.ClientID, subject: c.Subject, scopes: c.Scopes, audience: c.Audience,
		issued: time.UnixMilli(c.IssuedMS), requestedAt: time.Unix(c.RequestedAt, 0).UTC(), expires: time.Unix(c.Expires, 0)}, nil
}

// errNoGrantRef is an RFC 9068 access token without a grant reference:
// minted before the upgrade, when its row was what made it valid.
var errNoGrantRef = errors.New("provider: JWT access token without a grant reference")

// openJWT verifies an RFC 9068 access token (typ at+jwt, signed by one of
// the published keys) and reads its claims. An ID token, signed by the
// same keys, has neither the type nor the grant reference.
func (p *Provider) openJWT(ctx context.Context, token string) (*accessClaims, error) {
	t, err := p.signer.Decode(ctx, token)
	if err != nil {
		return nil, err
	}
	if typ, _ := t.Header["typ"].(string); !strings.EqualFold(typ, "at+jwt") {
		return nil, errors.New("provider: not an access token")
	}
	m := t.Claims
	ref, _ := m[claimGrantRef].(string)
	if ref == "" {
		return nil, errNoGrantRef
	}
	g, err := p.sealer.openGrant(ref)
	if err != nil {
		return nil, err
	}
	c := &accessClaims{requestID: g.RequestID, issued: time.UnixMilli(g.IssuedMS)}
	c.clientID, _ = m["client_id"].(string)
	c.subject, _ = m["sub"].(string)
	scope, _ := m["scope"].(string)
	c.scopes = strings.Fields(scope)
	c.audience = audienceClaim(m["aud"])
	exp, ok := numberClaim(m, "exp")
	iat, _ := numberClaim(m, "iat")
	if !ok || c.clientID == "" {
		return nil, errors.New("provider: access token without exp or client_id")
	}
	c.expires, c.requestedAt = time.Unix(exp, 0), time.Unix(iat, 0).UTC()
	return c, nil
}

// audienceClaim reads aud: one string or a list of them.
func audienceClaim(v any) []string {
	switch a := v.(type) {
	case string:
		return []string{a}
	case []any:
		out := make([]string, 0, len(a))
		for _, e := range a {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return a
	}
	return nil
}

// numberClaim reads a NumericDate claim.
func numberClaim(m map[string]any, name string) (int64, bool) {
	switch n := m[name].(type) {
	case float64:
		return int64(n), true
	case int64:
		return n, true
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}
