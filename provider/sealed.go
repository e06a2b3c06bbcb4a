package provider

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/manam-id/manam/keys"
)

// Sealed access tokens (design.md, "Sealed access tokens"):
//
//	mnm_at_<kid>_<base64url(nonce ‖ AES-256-GCM(claims))>
//
// The key of seal key id kid is derived from the system secret
// ("access token seal <kid>"); the prefix and the kid are authenticated as
// additional data. Nothing of the claims is readable without the key.
// New tokens are sealed under the configured key id; tokens under the
// previous id still open until they expire, and so do tokens under the
// next id (a server not yet restarted during a rolling rotation opens the
// tokens of the servers already raised); any other id does not.

const sealedPrefix = "mnm_at_"

// maxSealedLen bounds what the parser looks at.
const maxSealedLen = 4096

// errBadSealed is every reason a sealed token does not open: the caller
// learns nothing more.
var errBadSealed = errors.New("provider: not a valid access token")

// sealedClaims is what a sealed access token carries.
type sealedClaims struct {
	ID          string   `json:"j"`            // token id
	RequestID   string   `json:"r"`            // the grant
	ClientID    string   `json:"c"`            // the tenant
	Subject     string   `json:"s"`            // the account (or the tenant, for client credentials)
	Scopes      []string `json:"sc,omitempty"` // granted scopes
	Audience    []string `json:"au,omitempty"` // granted audience
	IssuedMS    int64    `json:"i"`            // issued at, unix milliseconds (revocation compares it)
	RequestedAt int64    `json:"ra"`           // the request's time, unix seconds (introspection's iat)
	Expires     int64    `json:"e"`            // unix seconds
}

// accessSealer seals and opens access tokens (and the grant reference of
// JWT access tokens).
type accessSealer struct {
	kid  int
	aead map[int]cipher.AEAD // the current key id, the previous and the next one
}

// newAccessSealer derives the seal keys of kid (the current one, ≥ 1),
// kid-1 and kid+1 from the system secret.
func newAccessSealer(secret []byte, kid int) (*accessSealer, error) {
	if kid < 1 {
		kid = 1
	}
	s := &accessSealer{kid: kid, aead: map[int]cipher.AEAD{}}
	for _, id := range []int{kid - 1, kid, kid + 1} {
		if id < 1 {
			continue
		}
		block, err := aes.NewCipher(keys.Derive(secret, "access token seal "+strconv.Itoa(id)))
		if err != nil {
			return nil, fmt.Errorf("provider: seal key: %w", err)
		}
		if s.aead[id], err = cipher.NewGCM(block); err != nil {
			return nil, fmt.Errorf("provider: seal key: %w", err)
		}
	}
	return s, nil
}

var sealEncoding = base64.RawURLEncoding.Strict()

// seal returns prefix<kid>_<envelope of v>.
func (s *accessSealer) seal(prefix string, v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("provider: seal: %w", err)
	}
	aead := s.aead[s.kid]
	head := prefix + strconv.Itoa(s.kid) + "_"
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("provider: seal: %w", err)
	}
	return head + sealEncoding.EncodeToString(aead.Seal(nonce, nonce, plain, []byte(head))), nil
}

// open authenticates and decrypts what seal made with prefix, into v.
func (s *accessSealer) open(prefix, token string, v any) error {
	if len(token) > maxSealedLen || !strings.HasPrefix(token, prefix) {
		return errBadSealed
	}
	kidText, body, ok := strings.Cut(token[len(prefix):], "_")
	if !ok || kidText == "" || len(kidText) > 9 || kidText[0] == '0' {
		return errBadSealed
	}
	kid, err := strconv.Atoi(kidText)
	if err != nil {
		return errBadSealed
	}
	aead, ok := s.aead[kid]
	if !ok {
		return errBadSealed
	}
	raw, err := sealEncoding.DecodeString(body)
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return errBadSealed
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(token[:len(token)-len(body)]))
	if err != nil {
		return errBadSealed
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return errBadSealed
	}
	return nil
}

// sealAccess seals an access token's claims.
func (s *accessSealer) sealAccess(c *sealedClaims) (string, error) { return s.seal(sealedPrefix, c) }

// openAccess opens a sealed access token: errBadSealed for anything that
// is not one this server sealed (under the current or previous key id)
// with every claim present. Expiry is the caller's to check.
func (s *accessSealer) openAccess(token string) (*sealedClaims, error) {
	var c sealedClaims
	if err := s.open(sealedPrefix, token, &c); err != nil {
		return nil, err
	}
	if c.ID == "" || c.RequestID == "" || c.ClientID == "" || c.IssuedMS <= 0 || c.Expires <= 0 {
		return nil, errBadSealed
	}
	return &c, nil
}

// grantRefPrefix marks the sealed grant reference a JWT access token
// carries (claim mnm_g): the request id, which never leaves the server in
// clear, and the issue time in milliseconds.
const grantRefPrefix = "mnm_g_"

type grantRef struct {
	RequestID string `json:"r"`
	IssuedMS  int64  `json:"i"`
}

func (s *accessSealer) sealGrant(requestID string, issued time.Time) (string, error) {
	return s.seal(grantRefPrefix, grantRef{RequestID: requestID, IssuedMS: issued.UnixMilli()})
}

func (s *accessSealer) openGrant(ref string) (*grantRef, error) {
	var g grantRef
	if err := s.open(grantRefPrefix, ref, &g); err != nil {
		return nil, err
	}
	if g.RequestID == "" || g.IssuedMS <= 0 {
		return nil, errBadSealed
	}
	return &g, nil
}

func isSealed(token string) bool { return strings.HasPrefix(token, sealedPrefix) }
