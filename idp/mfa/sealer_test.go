package mfa

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func newTestSealer(t *testing.T, keyByte byte) *Sealer {
	t.Helper()
	s, err := NewSealer(bytes.Repeat([]byte{keyByte}, 32), testRand(keyByte))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealerRoundTrip(t *testing.T) {
	s := newTestSealer(t, 1)
	tests := []struct {
		name      string
		plaintext []byte
		aad       string
	}{
		{"TOTP seed", []byte("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"), "acct-1"},
		{"empty plaintext", []byte{}, "acct-1"},
		{"empty aad", []byte("seed"), ""},
		{"binary", []byte{0, 1, 2, 255}, "acct-ü"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sealed, err := s.Seal(tc.plaintext, tc.aad)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(sealed, "v1.") {
				t.Errorf("sealed %q: want v1. prefix", sealed)
			}
			if len(tc.plaintext) > 3 && strings.Contains(sealed, string(tc.plaintext)) {
				t.Errorf("sealed value contains the plaintext")
			}
			got, err := s.Open(sealed, tc.aad)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.plaintext) {
				t.Errorf("Open = %q, want %q", got, tc.plaintext)
			}
		})
	}
}

func TestSealerNonceIsRandom(t *testing.T) {
	s := newTestSealer(t, 2)
	a, err := s.Seal([]byte("seed"), "acct-1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Seal([]byte("seed"), "acct-1")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Error("sealing twice gave the same value")
	}
}

func TestSealerRefuses(t *testing.T) {
	s := newTestSealer(t, 3)
	other := newTestSealer(t, 4)
	sealed, err := s.Seal([]byte("JBSWY3DPEHPK3PXP"), "acct-1")
	if err != nil {
		t.Fatal(err)
	}
	body := strings.TrimPrefix(sealed, "v1.")
	flip := func(i int) string {
		b := []byte(body)
		// Swap to another base64url character.
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return "v1." + string(b)
	}

	tests := []struct {
		name   string
		sealer *Sealer
		sealed string
		aad    string
	}{
		{"wrong aad (another account)", s, sealed, "acct-2"},
		{"empty aad", s, sealed, ""},
		{"wrong key", other, sealed, "acct-1"},
		{"flipped nonce character", s, flip(0), "acct-1"},
		{"flipped ciphertext character", s, flip(len(body) / 2), "acct-1"},
		{"flipped tag character", s, flip(len(body) - 2), "acct-1"},
		{"flipped last character", s, flip(len(body) - 1), "acct-1"},
		{"truncated", s, sealed[:len(sealed)-4], "acct-1"},
		{"extended", s, sealed + "AAAA", "acct-1"},
		{"empty", s, "", "acct-1"},
		{"prefix only", s, "v1.", "acct-1"},
		{"no prefix", s, body, "acct-1"},
		{"unknown version", s, "v2." + body, "acct-1"},
		{"upper-case prefix", s, "V1." + body, "acct-1"},
		{"padded base64", s, sealed + "=", "acct-1"},
		{"non-canonical last character (same bytes)", s, "v1." + nonCanonical(t, body), "acct-1"},
		{"standard base64 alphabet", s, "v1." + strings.NewReplacer("-", "+", "_", "/").Replace(body) + "+/", "acct-1"},
		{"not base64", s, "v1.!!!!", "acct-1"},
		{"shorter than nonce and tag", s, "v1.AAAA", "acct-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.sealer.Open(tc.sealed, tc.aad)
			if !errors.Is(err, ErrSealed) {
				t.Errorf("Open = %q, %v; want ErrSealed", got, err)
			}
		})
	}
}

func TestSealerTamperEveryByte(t *testing.T) {
	s := newTestSealer(t, 5)
	sealed, err := s.Seal([]byte("JBSWY3DPEHPK3PXP"), "acct-1")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b64.DecodeString(strings.TrimPrefix(sealed, "v1."))
	if err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		for _, bit := range []byte{0x01, 0x80} {
			t.Run(fmt.Sprintf("byte %d bit %#x", i, bit), func(t *testing.T) {
				b := bytes.Clone(raw)
				b[i] ^= bit
				if _, err := s.Open("v1."+b64.EncodeToString(b), "acct-1"); !errors.Is(err, ErrSealed) {
					t.Errorf("err = %v, want ErrSealed", err)
				}
			})
		}
	}
}

func TestNewSealer(t *testing.T) {
	tests := []struct {
		name    string
		key     []byte
		rand    bool
		wantErr error
	}{
		{"32 bytes", make([]byte, 32), true, nil},
		{"16 bytes (AES-128) refused", make([]byte, 16), true, ErrKeySize},
		{"24 bytes refused", make([]byte, 24), true, ErrKeySize},
		{"33 bytes refused", make([]byte, 33), true, ErrKeySize},
		{"nil key", nil, true, ErrKeySize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewSealer(tc.key, testRand(6))
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
	if _, err := NewSealer(make([]byte, 32), nil); err == nil {
		t.Error("nil rand: no error")
	}
}

func TestSealerRandomnessFailure(t *testing.T) {
	s, err := NewSealer(make([]byte, 32), failingReader{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Seal([]byte("seed"), "acct-1"); !errors.Is(err, errNoEntropy) {
		t.Errorf("err = %v, want errNoEntropy", err)
	}
}

func TestSealerRedacted(t *testing.T) {
	key := bytes.Repeat([]byte{0xAB}, 32)
	s, err := NewSealer(key, testRand(7))
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(format, s); got != "mfa.Sealer{REDACTED}" {
			t.Errorf("%s = %q", format, got)
		}
	}
}

// nonCanonical returns s (unpadded base64url whose last character carries
// unused low bits) with those unused bits set: a lenient decoder returns
// the same bytes, a strict one refuses it.
func nonCanonical(t *testing.T, s string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	unused := map[int]int{2: 0x0f, 3: 0x03}[len(s)%4]
	if unused == 0 {
		t.Fatalf("length %d leaves no unused bits", len(s))
	}
	v := strings.IndexByte(alphabet, s[len(s)-1])
	if v&unused != 0 {
		t.Fatalf("last character %q is not canonical", s[len(s)-1])
	}
	out := s[:len(s)-1] + string(alphabet[v|unused])
	lenient, err := base64.RawURLEncoding.DecodeString(out)
	canon, _ := base64.RawURLEncoding.DecodeString(s)
	if err != nil || !bytes.Equal(lenient, canon) {
		t.Fatalf("non-canonical %q does not decode to the same bytes", out)
	}
	return out
}
