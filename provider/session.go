package provider

import (
	"encoding/json"
	"math"
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
	// GrantRef is the sealed grant reference (request id and issue time)
	// the RFC 9068 access token being minted carries as claim mnm_g, so
	// that the revocation table can be asked about it; never stored.
	GrantRef string `json:"-"`
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
	if s.GrantRef != "" {
		extra[claimGrantRef] = s.GrantRef
	}
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

// UnmarshalJSON implements json.Unmarshaler. A session comes back from the
// database as JSON, where a number in the ID token's extra claims (such as
// updated_at) decodes as a float64; go-jose's JSON encoder would then sign
// it in exponent form (1.796418435e+09), which an integer-typed relying
// party cannot decode. Whole numbers come back as int64.
func (s *Session) UnmarshalJSON(b []byte) error {
	type plain Session // the same fields, without this method
	if err := json.Unmarshal(b, (*plain)(s)); err != nil {
		return err
	}
	if s.DefaultSession != nil && s.DefaultSession.Claims != nil {
		for k, v := range s.DefaultSession.Claims.Extra {
			s.DefaultSession.Claims.Extra[k] = wholeNumbers(v)
		}
	}
	return nil
}

// wholeNumbers turns each integral float64 in v (and in the maps and
// slices inside it) into an int64.
func wholeNumbers(v any) any {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x)
		}
	case map[string]any:
		for k, e := range x {
			x[k] = wholeNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = wholeNumbers(e)
		}
	}
	return v
}
