package mfa

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"image/png"
	"io"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters: what authenticator apps expect (RFC 6238 §4, §5.2).
const (
	// TOTPPeriod is the length of one time step.
	TOTPPeriod = 30 * time.Second
	// TOTPDigits is the number of digits of a code.
	TOTPDigits = 6
	// TOTPSecretSize is the size of a new secret in bytes (160 bits,
	// RFC 4226 §4 R6's recommendation).
	TOTPSecretSize = 20
	// TOTPSkew is how many steps before and after the current one are
	// accepted, to absorb clock drift and typing time (RFC 6238 §5.2).
	TOTPSkew = 1

	// minTOTPSecretSize is RFC 4226 §4 R6's minimum, in bytes.
	minTOTPSecretSize = 16
	// maxQRSize bounds PNG's size so a caller passing a request
	// parameter cannot make it allocate an arbitrarily large image.
	maxQRSize = 2048
)

// b32 is the secret encoding of otpauth:// URIs: RFC 4648 base32 without
// padding.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// TOTPKey is a freshly generated TOTP key, shown once to the user during
// enrolment. Its String method redacts the secret so that it cannot reach a
// log by accident.
type TOTPKey struct {
	secret string
	key    *otp.Key
}

// NewTOTP generates a TOTP key for accountName (typically the e-mail address
// or mobile number the user recognises) under issuer (the name shown by the
// authenticator app), with a 160-bit secret read from rand. Neither name may
// be empty or contain a colon (the otpauth:// label separator).
func NewTOTP(issuer, accountName string, rand io.Reader) (*TOTPKey, error) {
	if rand == nil {
		return nil, errors.New("mfa: nil randomness source")
	}
	if strings.TrimSpace(issuer) == "" || strings.Contains(issuer, ":") {
		return nil, fmt.Errorf("%w: issuer must be non-empty and without ':'", ErrMalformed)
	}
	if strings.TrimSpace(accountName) == "" || strings.Contains(accountName, ":") {
		return nil, fmt.Errorf("%w: account name must be non-empty and without ':'", ErrMalformed)
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      issuer,
		AccountName: accountName,
		Period:      uint(TOTPPeriod / time.Second),
		SecretSize:  TOTPSecretSize,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
		Rand:        rand,
	})
	if err != nil {
		return nil, fmt.Errorf("mfa: generate TOTP key: %w", err)
	}
	return &TOTPKey{secret: key.Secret(), key: key}, nil
}

// TOTPKeyFromSecret rebuilds the key of a stored secret (an enrolment
// shown again), with the same URI NewTOTP gives.
func TOTPKeyFromSecret(issuer, accountName, secret string) (*TOTPKey, error) {
	if _, err := decodeTOTPSecret(secret); err != nil {
		return nil, err
	}
	if strings.TrimSpace(issuer) == "" || strings.Contains(issuer, ":") || strings.TrimSpace(accountName) == "" || strings.Contains(accountName, ":") {
		return nil, fmt.Errorf("%w: issuer and account name must be non-empty and without ':'", ErrMalformed)
	}
	v := url.Values{}
	v.Set("secret", secret)
	v.Set("issuer", issuer)
	v.Set("algorithm", "SHA1")
	v.Set("digits", "6")
	v.Set("period", "30")
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + issuer + ":" + accountName, RawQuery: v.Encode()}
	key, err := otp.NewKeyFromURL(u.String())
	if err != nil {
		return nil, fmt.Errorf("mfa: TOTP key: %w", err)
	}
	return &TOTPKey{secret: secret, key: key}, nil
}

// Secret returns the base32 secret (no padding), which the caller seals
// (see Sealer) before storing it.
func (k *TOTPKey) Secret() string { return k.secret }

// URI returns the otpauth://totp/ URI (Key URI Format) carrying the secret,
// issuer, algorithm, digits and period.
func (k *TOTPKey) URI() string { return k.key.String() }

// PNG returns the QR code of URI as a size×size PNG image. size must be
// between the QR code's own module count and 2048.
func (k *TOTPKey) PNG(size int) ([]byte, error) {
	if size < 1 || size > maxQRSize {
		return nil, fmt.Errorf("%w: QR size %d not in [1, %d]", ErrMalformed, size, maxQRSize)
	}
	img, err := k.key.Image(size, size)
	if err != nil {
		return nil, fmt.Errorf("mfa: QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("mfa: encode QR code: %w", err)
	}
	return buf.Bytes(), nil
}

// String redacts the key.
func (k *TOTPKey) String() string { return "mfa.TOTPKey{REDACTED}" }

// GoString redacts the key.
func (k *TOTPKey) GoString() string { return k.String() }

// TOTPStep returns the RFC 6238 time step (T) of t: floor(unix / 30 s).
func TOTPStep(t time.Time) int64 {
	const period = int64(TOTPPeriod / time.Second)
	u := t.Unix()
	s := u / period
	if u%period < 0 {
		s--
	}
	return s
}

// ValidateTOTP checks code against secret (base32, as returned by
// TOTPKey.Secret) at time now. It accepts the codes of the current step and
// of one step either side (RFC 6238 §5.2), but only a step after lastStep,
// the step of the last code this account used (pass 0 if none was ever
// used): a code already used, or older than the last one used, is refused
// with ErrReplayed (RFC 6238 §5.2: "the verifier MUST NOT accept the second
// attempt of the OTP"). On success it returns the matched step, which the
// caller must store as the account's new lastStep before reporting success.
//
// Spaces in code are ignored ("123 456"); anything else than exactly 6 ASCII
// digits is ErrMalformed. A code matching no step is ErrInvalidCode. The
// three candidate codes are always all computed and compared in constant
// time.
func ValidateTOTP(secret, code string, now time.Time, lastStep int64) (step int64, err error) {
	given, err := normalizeTOTPCode(code)
	if err != nil {
		return 0, err
	}
	key, err := decodeTOTPSecret(secret)
	if err != nil {
		return 0, err
	}

	current := TOTPStep(now)
	var matched, fresh int
	var best int64
	for s := current - TOTPSkew; s <= current+TOTPSkew; s++ {
		if s < 0 {
			continue // before 1970: no such step
		}
		want := hotp(key, uint64(s), TOTPDigits)
		eq := subtle.ConstantTimeCompare(want, given)
		matched |= eq
		// Steps ascend, so the last fresh match is the highest; recording
		// the highest keeps a colliding code from being replayed later.
		take := eq & greater(s, lastStep)
		best = selectInt64(take, s, best)
		fresh |= take
	}
	switch {
	case fresh == 1:
		return best, nil
	case matched == 1:
		return 0, ErrReplayed
	default:
		return 0, ErrInvalidCode
	}
}

// normalizeTOTPCode drops whitespace and requires exactly TOTPDigits ASCII
// digits.
func normalizeTOTPCode(code string) ([]byte, error) {
	out := make([]byte, 0, TOTPDigits)
	for _, r := range code {
		switch {
		case unicode.IsSpace(r):
			continue
		case r >= '0' && r <= '9' && len(out) < TOTPDigits:
			out = append(out, byte(r))
		default:
			return nil, fmt.Errorf("%w: TOTP code must be %d digits", ErrMalformed, TOTPDigits)
		}
	}
	if len(out) != TOTPDigits {
		return nil, fmt.Errorf("%w: TOTP code must be %d digits", ErrMalformed, TOTPDigits)
	}
	return out, nil
}

// decodeTOTPSecret decodes a base32 secret, tolerating lower case and
// padding, and enforces RFC 4226's 128-bit minimum.
func decodeTOTPSecret(secret string) ([]byte, error) {
	s := strings.TrimRight(strings.ToUpper(strings.TrimSpace(secret)), "=")
	key, err := b32.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not base32", ErrInvalidSecret)
	}
	if len(key) < minTOTPSecretSize {
		return nil, fmt.Errorf("%w: %d bits, want at least %d", ErrInvalidSecret, 8*len(key), 8*minTOTPSecretSize)
	}
	return key, nil
}

// hotp computes the RFC 4226 §5.3 HOTP value of key and counter with
// HMAC-SHA1 and dynamic truncation, as digits ASCII digits. TOTP (RFC 6238
// §4.2) is HOTP with counter = time step.
func hotp(key []byte, counter uint64, digits int) []byte {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	offset := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[offset:offset+4]) & 0x7fffffff
	out := make([]byte, digits)
	for i := digits - 1; i >= 0; i-- {
		out[i] = '0' + byte(v%10)
		v /= 10
	}
	return out
}

// greater returns 1 if a > b, else 0 (steps are public; only the result of
// the comparison with the code must not branch).
func greater(a, b int64) int {
	if a > b {
		return 1
	}
	return 0
}

// selectInt64 returns a if v == 1 and b if v == 0, without branching.
func selectInt64(v int, a, b int64) int64 {
	mask := -int64(v)
	return (a & mask) | (b &^ mask)
}
