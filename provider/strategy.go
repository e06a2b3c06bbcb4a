package provider

import (
	"context"
	"strings"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"

	"github.com/manam-id/manam/storage"
)

// accessTokenFormat is a tenant's choice of access token.
const (
	formatOpaque = "opaque"
	formatJWT    = "jwt"
)

// tenantStrategy mints opaque HMAC access tokens, or RFC 9068 JWT access
// tokens for tenants that chose them. Refresh tokens and codes are always
// opaque HMAC values. Either kind of access token is only valid while its
// row exists (revocation works for both).
type tenantStrategy struct {
	*oauth2.HMACSHAStrategy
	jwt *oauth2.DefaultJWTStrategy
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

// AccessTokenSignature implements oauth2.AccessTokenStrategy.
func (s *tenantStrategy) AccessTokenSignature(ctx context.Context, token string) string {
	if isJWT(token) {
		return s.jwt.AccessTokenSignature(ctx, token)
	}
	return s.HMACSHAStrategy.AccessTokenSignature(ctx, token)
}

// GenerateAccessToken implements oauth2.AccessTokenStrategy.
func (s *tenantStrategy) GenerateAccessToken(ctx context.Context, r fosite.Requester) (string, string, error) {
	if wantsJWT(r) {
		return s.jwt.GenerateAccessToken(ctx, r)
	}
	return s.HMACSHAStrategy.GenerateAccessToken(ctx, r)
}

// ValidateAccessToken implements oauth2.AccessTokenStrategy.
func (s *tenantStrategy) ValidateAccessToken(ctx context.Context, r fosite.Requester, token string) error {
	if isJWT(token) {
		return s.jwt.ValidateAccessToken(ctx, r, token)
	}
	return s.HMACSHAStrategy.ValidateAccessToken(ctx, r, token)
}
