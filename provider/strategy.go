package provider

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"

	"github.com/manam-id/manam/storage"
)

// accessTokenFormat is a tenant's choice of access token.
const (
	formatOpaque = "opaque"
	formatJWT    = "jwt"
)

// tenantStrategy mints sealed access tokens (sealed.go), or RFC 9068 JWT
// access tokens for tenants that chose them. Neither is stored: fosite
// handles both by a "signature" that is the whole token, and the store
// view (accessview.go) rebuilds the request from the token itself and
// asks the revocation table. Opaque HMAC access tokens (ory_at_…) are no
// longer minted; those issued before the upgrade are still checked
// against their rows. Refresh tokens and codes are always opaque HMAC
// values, stored.
type tenantStrategy struct {
	*oauth2.HMACSHAStrategy
	jwt    *oauth2.DefaultJWTStrategy
	sealer *accessSealer
	// lifespan is the access-token lifespan, for a session that set no expiry.
	lifespan time.Duration
}

var _ oauth2.CoreStrategy = (*tenantStrategy)(nil)

func isJWT(token string) bool { return strings.Count(token, ".") == 2 }

func wantsJWT(r fosite.Requester) bool {
	if s, ok := r.GetSession().(*Session); ok && s.AccessFormat == formatJWT {
		return true
	}
	c, ok := r.GetClient().(*storage.Client)
	return ok && c.AccessTokenFormat == formatJWT
}

// AccessTokenSignature implements oauth2.AccessTokenStrategy: a sealed or
// JWT access token is its own signature; an HMAC one from before the
// upgrade is looked up by its HMAC signature as before.
func (s *tenantStrategy) AccessTokenSignature(ctx context.Context, token string) string {
	if isSealed(token) || isJWT(token) {
		return token
	}
	return s.HMACSHAStrategy.AccessTokenSignature(ctx, token)
}

// GenerateAccessToken implements oauth2.AccessTokenStrategy. The
// signature returned is the token itself (see AccessTokenSignature).
func (s *tenantStrategy) GenerateAccessToken(ctx context.Context, r fosite.Requester) (string, string, error) {
	now := time.Now().UTC()
	if wantsJWT(r) {
		if sess, ok := r.GetSession().(*Session); ok {
			ref, err := s.sealer.sealGrant(r.GetID(), now)
			if err != nil {
				return "", "", err
			}
			sess.GrantRef = ref
		}
		token, _, err := s.jwt.GenerateAccessToken(ctx, r)
		if err != nil {
			return "", "", err
		}
		return token, token, nil
	}
	sess := r.GetSession()
	c := &sealedClaims{
		ID:          uuid.NewString(),
		RequestID:   r.GetID(),
		ClientID:    r.GetClient().GetID(),
		Subject:     sess.GetSubject(),
		Scopes:      r.GetGrantedScopes(),
		Audience:    r.GetGrantedAudience(),
		IssuedMS:    now.UnixMilli(),
		RequestedAt: r.GetRequestedAt().Unix(),
		Expires:     sess.GetExpiresAt(fosite.AccessToken).Unix(),
	}
	if sess.GetExpiresAt(fosite.AccessToken).IsZero() {
		c.Expires = now.Add(s.lifespan).Unix()
	}
	token, err := s.sealer.sealAccess(c)
	if err != nil {
		return "", "", err
	}
	return token, token, nil
}

// ValidateAccessToken implements oauth2.AccessTokenStrategy. fosite calls
// it after the store read (which, for sealed and JWT tokens, has already
// authenticated the token and asked the revocation table): what is left
// is the expiry.
func (s *tenantStrategy) ValidateAccessToken(ctx context.Context, r fosite.Requester, token string) error {
	switch {
	case isSealed(token):
		if exp := r.GetSession().GetExpiresAt(fosite.AccessToken); exp.IsZero() || !time.Now().Before(exp) {
			return fosite.ErrTokenExpired.WithHint("The access token expired.")
		}
		return nil
	case isJWT(token):
		return s.jwt.ValidateAccessToken(ctx, r, token)
	}
	return s.HMACSHAStrategy.ValidateAccessToken(ctx, r, token)
}
