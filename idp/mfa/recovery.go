package mfa

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"unicode"
)

const (
	// RecoveryCodeCount is how many recovery codes NewRecoveryCodes makes
	// when asked for 0.
	RecoveryCodeCount = 10
	// maxRecoveryCodes bounds NewRecoveryCodes' n.
	maxRecoveryCodes = 100

	// recoveryAlphabet: lowercase letters and digits, 36 symbols, so a
	// 10-character code carries 10 × log2(36) ≈ 51.7 bits.
	recoveryAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	// recoveryGroup is the length of each of the two groups.
	recoveryGroup = 5
	// recoveryRejectAt: bytes at or above it are discarded so that
	// b % 36 is uniform (252 = 7 × 36).
	recoveryRejectAt = 252
	// maxRejects bounds consecutive rejected bytes: a real source gets
	// there with probability (4/256)^64 = 2^-384, a broken one that only
	// yields bytes >= 252 must not loop forever.
	maxRejects = 64

	// MinCodeKeySize is the minimum size of HashCode's key.
	MinCodeKeySize = 16

	// codeHashDomain separates these hashes from any other use of the key.
	codeHashDomain = "manam/mfa recovery-code v1\x00"
)

// NewRecoveryCodes returns n distinct recovery codes ("qh7eg-78iii"), or
// RecoveryCodeCount codes when n is 0. Each code is 10 characters drawn
// uniformly from a–z and 0–9 (≈ 51.7 bits). The caller shows them once and
// stores only HashCode of each.
func NewRecoveryCodes(n int, rand io.Reader) ([]string, error) {
	if rand == nil {
		return nil, errors.New("mfa: nil randomness source")
	}
	if n == 0 {
		n = RecoveryCodeCount
	}
	if n < 0 || n > maxRecoveryCodes {
		return nil, fmt.Errorf("mfa: recovery code count %d not in [1, %d]", n, maxRecoveryCodes)
	}
	src := &symbolReader{r: rand}
	codes := make([]string, 0, n)
	seen := make(map[string]bool, n)
	// A duplicate has probability ~n²/2^52 with a real source; a few
	// retries only guard against a broken one looping forever.
	for attempts := 0; len(codes) < n; attempts++ {
		if attempts >= 2*n+8 {
			return nil, errors.New("mfa: randomness source keeps repeating recovery codes")
		}
		var c [2*recoveryGroup + 1]byte
		for i := range c {
			if i == recoveryGroup {
				c[i] = '-'
				continue
			}
			sym, err := src.next()
			if err != nil {
				return nil, fmt.Errorf("mfa: recovery code randomness: %w", err)
			}
			c[i] = recoveryAlphabet[sym]
		}
		code := string(c[:])
		if seen[code] {
			continue
		}
		seen[code] = true
		codes = append(codes, code)
	}
	return codes, nil
}

// symbolReader draws uniform indexes into recoveryAlphabet by rejection
// sampling over buffered random bytes.
type symbolReader struct {
	r   io.Reader
	buf [32]byte
	pos int
	n   int
}

func (s *symbolReader) next() (byte, error) {
	for rejects := 0; ; rejects++ {
		if rejects > maxRejects {
			return 0, errors.New("randomness source yields only rejected bytes")
		}
		if s.pos == s.n {
			if _, err := io.ReadFull(s.r, s.buf[:]); err != nil {
				return 0, err
			}
			s.pos, s.n = 0, len(s.buf)
		}
		b := s.buf[s.pos]
		s.pos++
		if b < recoveryRejectAt {
			return b % byte(len(recoveryAlphabet)), nil
		}
	}
}

// NormalizeRecoveryCode returns the canonical form ("qh7eg-78iii") of what a
// user typed: surrounding and inner whitespace is ignored, ASCII upper case
// is folded, and the dash between the groups is optional. Anything else
// (other characters, another length, a dash elsewhere) is ErrMalformed.
func NormalizeRecoveryCode(s string) (string, error) {
	var out [2*recoveryGroup + 1]byte
	n := 0
	dash := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			continue
		case r == '-' && n == recoveryGroup && !dash:
			dash = true
			continue
		case r >= 'A' && r <= 'Z':
			r += 'a' - 'A'
		case (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'):
		default:
			return "", fmt.Errorf("%w: recovery code has an unexpected character", ErrMalformed)
		}
		if n == 2*recoveryGroup {
			return "", fmt.Errorf("%w: recovery code too long", ErrMalformed)
		}
		if n == recoveryGroup {
			out[recoveryGroup] = '-'
		}
		out[n+btoi(n >= recoveryGroup)] = byte(r)
		n++
	}
	if n != 2*recoveryGroup {
		return "", fmt.Errorf("%w: recovery code must be %d letters or digits", ErrMalformed, 2*recoveryGroup)
	}
	return string(out[:]), nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// HashCode returns the hex HMAC-SHA256, under key, of the recovery code
// bound to accountID, for storage in place of the code. key is a server
// secret of at least MinCodeKeySize bytes derived by the caller; HashCode
// panics on a shorter key, which is a programming error. The code is
// normalised first (see NormalizeRecoveryCode), so any accepted spelling
// hashes alike; a string that is not a recovery code is hashed as given and
// so matches no generated code.
func HashCode(key []byte, accountID, code string) string {
	if len(key) < MinCodeKeySize {
		panic(fmt.Sprintf("mfa: HashCode key of %d bytes, want at least %d", len(key), MinCodeKeySize))
	}
	if c, err := NormalizeRecoveryCode(code); err == nil {
		code = c
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(codeHashDomain))
	// Length-prefix the account id so (id, code) pairs cannot be shifted
	// into one another.
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], uint32(len(accountID)))
	mac.Write(l[:])
	mac.Write([]byte(accountID))
	mac.Write([]byte(code))
	return hex.EncodeToString(mac.Sum(nil))
}

// MatchCode reports whether code, for accountID, matches one of hashes (as
// returned by HashCode with the same key) and which one, so the caller can
// remove it: a recovery code is single-use. Every entry is compared, in
// constant time, with no early exit. A code that is not well-formed matches
// nothing. Like HashCode, it panics on a key shorter than MinCodeKeySize.
func MatchCode(key []byte, accountID, code string, hashes []string) (index int, ok bool) {
	c, err := NormalizeRecoveryCode(code)
	if err != nil {
		return -1, false
	}
	want := []byte(HashCode(key, accountID, c))
	index, found := -1, 0
	for i, h := range hashes {
		eq := subtle.ConstantTimeCompare(want, []byte(h))
		index = subtle.ConstantTimeSelect(eq&^found, i, index)
		found |= eq
	}
	return index, found == 1
}
