package provider

import (
	"time"

	"github.com/mohae/deepcopy"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
)

// Session is the fosite session of every Manam request: the OpenID
// Connect session (ID-token claims and headers, expiries, subject) plus
// what RFC 9068 access tokens need.
type Session struct {
	*openid.DefaultSession `json:"oidc"`
	ClientID               string `json:"client_id"`
	// AccessFormat "jwt" mints RFC 9068 access tokens for this grant
	// whatever the tenant's format (a dialect that promises JWTs); kept
	// through refreshes.
	AccessFormat string `json:"fmt,omitempty"`
}

// NewSession returns an empty session, ready for fosite to fill.
func NewSession() *Session {
	return &Session{DefaultSession: &openid.DefaultSession{
		Claims:  &jwt.IDTokenClaims{Extra: map[string]any{}},
		Headers: &jwt.Headers{Extra: map[string]any{}},
	}}
}

// newFositeSession is the storage's session factory.
func newFositeSession() fosite.Session { return NewSession() }

// Clone implements fosite.Session with a deep copy of the concrete type (the
// embedded session's Clone would return a bare *openid.DefaultSession).
func (s *Session) Clone() fosite.Session {
	if s == nil {
		return nil
	}
	return deepcopy.Copy(s).(fosite.Session)
}

// GetJWTClaims implements oauth2.JWTSessionContainer: the claims of an
// RFC 9068 access token. fosite adds exp, scope, aud (the granted
// audience), iat, iss and jti.
func (s *Session) GetJWTClaims() jwt.JWTClaimsContainer {
	extra := map[string]any{"client_id": s.ClientID}
	if c := s.DefaultSession.Claims; c != nil && !c.AuthTime.IsZero() {
		extra["auth_time"] = c.AuthTime.Unix()
		if acr := c.AuthenticationContextClassReference; acr != "" {
			extra["acr"] = acr
		}
		if len(c.AuthenticationMethodsReferences) > 0 {
			extra["amr"] = c.AuthenticationMethodsReferences
		}
	}
	return &jwt.JWTClaims{
		Subject:   s.Subject,
		IssuedAt:  time.Now().UTC(),
		NotBefore: time.Now().UTC(),
		Extra:     extra,
	}
}

// GetJWTHeader implements oauth2.JWTSessionContainer (RFC 9068 §2.1: typ at+jwt).
func (s *Session) GetJWTHeader() *jwt.Headers {
	return &jwt.Headers{Extra: map[string]any{"typ": "at+jwt"}}
}
