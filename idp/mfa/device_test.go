package mfa

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func TestNewDeviceToken(t *testing.T) {
	token, id, err := NewDeviceToken(testRand(20))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		t.Fatalf("token %q is not unpadded base64url: %v", token, err)
	}
	if len(raw) < 16 || len(raw) != DeviceTokenSize {
		t.Errorf("token carries %d bytes, want %d", len(raw), DeviceTokenSize)
	}
	sum := sha256.Sum256([]byte(token))
	if want := hex.EncodeToString(sum[:]); id != want {
		t.Errorf("id = %s, want hex(sha256(token)) = %s", id, want)
	}
	if got, err := DeviceTokenID(token); err != nil || got != id {
		t.Errorf("DeviceTokenID = %s, %v; want %s", got, err, id)
	}
	other, otherID, err := NewDeviceToken(testRand(21))
	if err != nil {
		t.Fatal(err)
	}
	if other == token || otherID == id {
		t.Error("different randomness gave the same token")
	}
}

func TestNewDeviceTokenErrors(t *testing.T) {
	if _, _, err := NewDeviceToken(failingReader{}); !errors.Is(err, errNoEntropy) {
		t.Errorf("failing rand: err = %v, want errNoEntropy", err)
	}
	if _, _, err := NewDeviceToken(nil); err == nil {
		t.Error("nil rand: no error")
	}
}

func TestDeviceTokenID(t *testing.T) {
	token, _, err := NewDeviceToken(testRand(22))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		token string
		ok    bool
	}{
		{"valid", token, true},
		{"empty", "", false},
		{"padded", token + "=", false},
		{"non-canonical last character", nonCanonical(t, token), false},
		{"truncated", token[:len(token)-1], false},
		{"too short", token[:22], false},
		{"too long", token + "AAAA", false},
		{"standard alphabet", strings.NewReplacer("-", "+", "_", "/").Replace(token) + "+", false},
		{"not base64", "!" + token[1:], false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DeviceTokenID(tc.token)
			if tc.ok && err != nil {
				t.Errorf("err = %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		})
	}
}
