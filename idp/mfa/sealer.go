package mfa

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
)

// sealV1 prefixes values sealed with AES-256-GCM, a 96-bit random nonce and
// base64url (no padding) of nonce ‖ ciphertext ‖ tag.
const sealV1 = "v1."

// b64 is the strict unpadded base64url used by sealed values and device
// tokens: strict so that no two strings decode to the same bytes.
var b64 = base64.RawURLEncoding.Strict()

// Sealer encrypts small secrets (TOTP seeds) for storage, with AES-256-GCM.
// Callers pass the account id as associated data so a sealed value cannot
// be moved to another account's row. Random 96-bit nonces are safe for
// far more values than a deployment will seal under one key (NIST SP
// 800-38D §8.3: 2^32). A Sealer is safe for concurrent use if its
// randomness source is.
type Sealer struct {
	aead cipher.AEAD
	rand io.Reader
}

// NewSealer returns a Sealer for a 32-byte key (a server secret derived by
// the caller) that draws nonces from rand.
func NewSealer(key []byte, rand io.Reader) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("%w: got %d", ErrKeySize, len(key))
	}
	if rand == nil {
		return nil, errors.New("mfa: nil randomness source")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("mfa: sealer cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("mfa: sealer GCM: %w", err)
	}
	return &Sealer{aead: aead, rand: rand}, nil
}

// Seal encrypts plaintext bound to aad (the account id) and returns
// "v1." + base64url(nonce ‖ ciphertext ‖ tag).
func (s *Sealer) Seal(plaintext []byte, aad string) (string, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return "", fmt.Errorf("mfa: seal nonce: %w", err)
	}
	out := s.aead.Seal(nonce, nonce, plaintext, []byte(aad))
	return sealV1 + b64.EncodeToString(out), nil
}

// Open decrypts a value returned by Seal with the same aad. Any malformed,
// tampered, foreign-key or foreign-aad value is ErrSealed.
func (s *Sealer) Open(sealed, aad string) ([]byte, error) {
	body, ok := strings.CutPrefix(sealed, sealV1)
	if !ok {
		return nil, fmt.Errorf("%w: unknown version", ErrSealed)
	}
	raw, err := b64.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64url", ErrSealed)
	}
	ns := s.aead.NonceSize()
	if len(raw) < ns+s.aead.Overhead() {
		return nil, fmt.Errorf("%w: too short", ErrSealed)
	}
	plain, err := s.aead.Open(nil, raw[:ns], raw[ns:], []byte(aad))
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed", ErrSealed)
	}
	return plain, nil
}

// String redacts the key.
func (s *Sealer) String() string { return "mfa.Sealer{REDACTED}" }

// GoString redacts the key.
func (s *Sealer) GoString() string { return s.String() }
