package provider

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/ory/fosite"
)

// secretHasher checks client secrets with HMAC-SHA-256 under a server key
// and a constant-time comparison. Client secrets are 256-bit random values,
// so a slow password hash adds nothing but latency (the bottleneck of
// Hydra's token endpoint; see ARCHITECTURE.md).
type secretHasher struct{ key []byte }

var _ fosite.Hasher = (*secretHasher)(nil)

const secretHashPrefix = "hmac-sha256$"

var errSecretMismatch = errors.New("provider: client secret mismatch")

// Hash implements fosite.Hasher.
func (h *secretHasher) Hash(_ context.Context, secret []byte) ([]byte, error) {
	return []byte(secretHashPrefix + base64.RawStdEncoding.EncodeToString(h.mac(secret))), nil
}

// Compare implements fosite.Hasher.
func (h *secretHasher) Compare(_ context.Context, hash, secret []byte) error {
	s := string(hash)
	if !strings.HasPrefix(s, secretHashPrefix) {
		return errSecretMismatch
	}
	want, err := base64.RawStdEncoding.DecodeString(s[len(secretHashPrefix):])
	if err != nil {
		return errSecretMismatch
	}
	if !hmac.Equal(want, h.mac(secret)) {
		return errSecretMismatch
	}
	return nil
}

func (h *secretHasher) mac(secret []byte) []byte {
	m := hmac.New(sha256.New, h.key)
	m.Write(secret)
	return m.Sum(nil)
}
