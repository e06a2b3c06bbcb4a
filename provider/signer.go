package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ory/fosite/token/jwt"

	"github.com/manam-id/manam/keys"
)

// keySigner is the jwt.Signer handed to fosite. It signs with the active
// key of its algorithm (alg; "" for the key manager's default) and stamps
// its kid at signing time (so a token minted on refresh after a rotation
// names the key that really signed it), and it verifies with whichever
// published key the token's kid names, of either algorithm.
type keySigner struct {
	keys *keys.Manager
	alg  string
}

var _ jwt.Signer = (*keySigner)(nil)

// Generate implements jwt.Signer.
func (s *keySigner) Generate(ctx context.Context, claims jwt.MapClaims, header jwt.Mapper) (string, string, error) {
	k := s.activeKey()
	if k == nil {
		return "", "", errors.New("provider: no active signing key")
	}
	h := map[string]any{}
	for name, v := range header.ToMap() {
		h[name] = v
	}
	h["kid"] = k.KID
	signer := &jwt.DefaultSigner{GetPrivateKey: func(context.Context) (any, error) { return k.Signer, nil }}
	return signer.Generate(ctx, claims, &jwt.Headers{Extra: h})
}

// activeKey is the key to sign with now. When alg has no active key —
// only in the propagation delay after an upgrade added the algorithm
// (keys.Manager.ensureAlgs) — it is the default algorithm's: a token the
// relying party can verify against the JWKS beats a failed sign-in.
func (s *keySigner) activeKey() *keys.Key {
	if s.alg != "" {
		if k := s.keys.ActiveFor(s.alg); k != nil {
			return k
		}
	}
	return s.keys.Active()
}

// verifier returns a signer whose key is the published key the token
// names. A kid not loaded yet (another server switched to a key this one
// loads at its next refresh) makes the key manager reload once, rate-limited.
func (s *keySigner) verifier(ctx context.Context, token string) (*jwt.DefaultSigner, error) {
	kid, err := tokenKID(token)
	if err != nil {
		return nil, err
	}
	k, err := s.keys.Verifier(ctx, kid)
	if err != nil {
		return nil, fmt.Errorf("provider: token signed by unknown key: %w", err)
	}
	return &jwt.DefaultSigner{GetPrivateKey: func(context.Context) (any, error) { return k.Signer, nil }}, nil
}

// Validate implements jwt.Signer.
func (s *keySigner) Validate(ctx context.Context, token string) (string, error) {
	v, err := s.verifier(ctx, token)
	if err != nil {
		return "", err
	}
	return v.Validate(ctx, token)
}

// Decode implements jwt.Signer.
func (s *keySigner) Decode(ctx context.Context, token string) (*jwt.Token, error) {
	v, err := s.verifier(ctx, token)
	if err != nil {
		return nil, &jwt.ValidationError{Errors: jwt.ValidationErrorUnverifiable, Inner: err}
	}
	return v.Decode(ctx, token)
}

// GetSignature implements jwt.Signer.
func (s *keySigner) GetSignature(ctx context.Context, token string) (string, error) {
	return (&jwt.DefaultSigner{}).GetSignature(ctx, token)
}

// Hash implements jwt.Signer (SHA-256, for at_hash and c_hash).
func (s *keySigner) Hash(ctx context.Context, in []byte) ([]byte, error) {
	return (&jwt.DefaultSigner{}).Hash(ctx, in)
}

// GetSigningMethodLength implements jwt.Signer.
func (s *keySigner) GetSigningMethodLength(ctx context.Context) int { return jwt.SHA256HashSize }

// tokenKID reads the kid from a compact JWS header without verifying it.
func tokenKID(token string) (string, error) {
	head, _, ok := strings.Cut(token, ".")
	if !ok || len(head) > 2048 {
		return "", errors.New("provider: malformed token")
	}
	var h struct {
		KID string `json:"kid"`
	}
	if err := decodeSegment(head, &h); err != nil || h.KID == "" {
		return "", errors.New("provider: token header has no kid")
	}
	return h.KID, nil
}
