package mfa

import (
	"bytes"
	crand "crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// rfcSecret is the SHA1 seed of RFC 4226 Appendix D and RFC 6238 Appendix B.
var rfcSecret = base32.StdEncoding.EncodeToString([]byte("12345678901234567890"))

// otpCode computes a code with pquerna/otp's own generator, independent of
// this package's HOTP.
func otpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{
		Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		t.Fatalf("otp generate: %v", err)
	}
	return c
}

func TestHOTPRFC4226Vectors(t *testing.T) {
	// RFC 4226 Appendix D.
	want := []string{"755224", "287082", "359152", "969429", "338314",
		"254676", "287922", "162583", "399871", "520489"}
	key := []byte("12345678901234567890")
	for counter, w := range want {
		t.Run(fmt.Sprintf("counter %d", counter), func(t *testing.T) {
			if got := string(hotp(key, uint64(counter), 6)); got != w {
				t.Errorf("hotp(%d) = %s, want %s", counter, got, w)
			}
		})
	}
}

func TestTOTPRFC6238Vectors(t *testing.T) {
	// RFC 6238 Appendix B, SHA1 rows (8 digits). The 6-digit code is the
	// last six digits: value mod 10^6.
	tests := []struct {
		name string
		unix int64
		step int64
		code string
	}{
		{"59", 59, 0x1, "94287082"},
		{"1111111109", 1111111109, 0x23523EC, "07081804"},
		{"1111111111", 1111111111, 0x23523ED, "14050471"},
		{"1234567890", 1234567890, 0x273EF07, "89005924"},
		{"2000000000", 2000000000, 0x3F940AA, "69279037"},
		{"20000000000", 20000000000, 0x27BC86AA, "65353130"},
	}
	key := []byte("12345678901234567890")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(tc.unix, 0).UTC()
			if got := TOTPStep(now); got != tc.step {
				t.Fatalf("TOTPStep = %#x, want %#x", got, tc.step)
			}
			if got := string(hotp(key, uint64(tc.step), 8)); got != tc.code {
				t.Errorf("8-digit code = %s, want %s", got, tc.code)
			}
			step, err := ValidateTOTP(rfcSecret, tc.code[2:], now, 0)
			if err != nil || step != tc.step {
				t.Errorf("ValidateTOTP(%s) = %#x, %v; want %#x, nil", tc.code[2:], step, err, tc.step)
			}
		})
	}
}

func TestHOTPAgreesWithOTPLibrary(t *testing.T) {
	key, err := NewTOTP("Manam", "alice@example.com", testRand(1))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := decodeTOTPSecret(key.Secret())
	if err != nil {
		t.Fatal(err)
	}
	r := testRand(2)
	for i := range 200 {
		at := time.Unix(int64(r.Uint64()%4_000_000_000), 0)
		want := otpCode(t, key.Secret(), at)
		if got := string(hotp(raw, uint64(TOTPStep(at)), 6)); got != want {
			t.Fatalf("#%d at %v: hotp = %s, otp library = %s", i, at, got, want)
		}
	}
}

func TestTOTPStep(t *testing.T) {
	tests := []struct {
		name string
		unix int64
		want int64
	}{
		{"epoch", 0, 0},
		{"end of first step", 29, 0},
		{"second step", 30, 1},
		{"before epoch", -1, -1},
		{"one step before epoch", -30, -1},
		{"two steps before epoch", -31, -2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := TOTPStep(time.Unix(tc.unix, 0)); got != tc.want {
				t.Errorf("TOTPStep(%d) = %d, want %d", tc.unix, got, tc.want)
			}
		})
	}
}

func TestValidateTOTPWindow(t *testing.T) {
	key, err := NewTOTP("Manam", "alice@example.com", testRand(3))
	if err != nil {
		t.Fatal(err)
	}
	secret := key.Secret()
	now := time.Unix(1_700_000_012, 0) // mid-step
	cur := TOTPStep(now)

	tests := []struct {
		name     string
		codeAt   time.Time
		lastStep int64
		wantStep int64
		wantErr  error
	}{
		{"current step", now, 0, cur, nil},
		{"previous step (now-30s)", now.Add(-30 * time.Second), 0, cur - 1, nil},
		{"next step (now+30s)", now.Add(30 * time.Second), 0, cur + 1, nil},
		{"two steps back (now-60s) refused", now.Add(-60 * time.Second), 0, 0, ErrInvalidCode},
		{"two steps ahead (now+60s) refused", now.Add(60 * time.Second), 0, 0, ErrInvalidCode},
		{"after an older step was used", now, cur - 1, cur, nil},
		{"same step replayed", now, cur, 0, ErrReplayed},
		{"older step after a newer one", now.Add(-30 * time.Second), cur, 0, ErrReplayed},
		{"current step after the next one was used", now, cur + 1, 0, ErrReplayed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code := otpCode(t, secret, tc.codeAt)
			step, err := ValidateTOTP(secret, code, now, tc.lastStep)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if step != tc.wantStep {
				t.Errorf("step = %d, want %d", step, tc.wantStep)
			}
		})
	}
}

func TestValidateTOTPReplaySequence(t *testing.T) {
	secret := rfcSecret
	now := time.Unix(1_700_000_000, 0)
	code := otpCode(t, secret, now)
	step, err := ValidateTOTP(secret, code, now, 0)
	if err != nil {
		t.Fatalf("first use: %v", err)
	}
	// The caller stores step; the same code 10 s later is a replay.
	if _, err := ValidateTOTP(secret, code, now.Add(10*time.Second), step); !errors.Is(err, ErrReplayed) {
		t.Fatalf("second use: err = %v, want ErrReplayed", err)
	}
	// The next step's code is fresh.
	next := now.Add(30 * time.Second)
	if got, err := ValidateTOTP(secret, otpCode(t, secret, next), next, step); err != nil || got != step+1 {
		t.Fatalf("next step: %d, %v; want %d, nil", got, err, step+1)
	}
}

func TestValidateTOTPNearEpoch(t *testing.T) {
	// At step 0 the previous step would be -1: it must be skipped, not
	// wrapped to counter 2^64-1.
	key := []byte("12345678901234567890")
	now := time.Unix(10, 0)
	tests := []struct {
		name     string
		code     string
		wantStep int64
		wantErr  error
	}{
		{"step 0", string(hotp(key, 0, 6)), 0, nil},
		{"step 1", string(hotp(key, 1, 6)), 1, nil},
		{"wrapped step -1", string(hotp(key, ^uint64(0), 6)), 0, ErrInvalidCode},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			step, err := ValidateTOTP(rfcSecret, tc.code, now, -1)
			if !errors.Is(err, tc.wantErr) || step != tc.wantStep {
				t.Errorf("ValidateTOTP = %d, %v; want %d, %v", step, err, tc.wantStep, tc.wantErr)
			}
		})
	}
}

func TestValidateTOTPInput(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	good := otpCode(t, rfcSecret, now)
	tests := []struct {
		name    string
		secret  string
		code    string
		wantErr error
	}{
		{"plain", rfcSecret, good, nil},
		{"spaces are ignored", rfcSecret, " " + good[:3] + " " + good[3:] + " ", nil},
		{"tab and newline are ignored", rfcSecret, "\t" + good + "\n", nil},
		{"lower-case padded secret", strings.ToLower(rfcSecret) + "====", good, nil},
		{"empty", rfcSecret, "", ErrMalformed},
		{"only spaces", rfcSecret, "   ", ErrMalformed},
		{"five digits", rfcSecret, "12345", ErrMalformed},
		{"seven digits", rfcSecret, "1234567", ErrMalformed},
		{"letter", rfcSecret, "12a456", ErrMalformed},
		{"dash", rfcSecret, "123-456", ErrMalformed},
		{"non-ASCII digits", rfcSecret, "۱۲۳۴۵۶", ErrMalformed},
		{"fullwidth digits", rfcSecret, "１２３４５６", ErrMalformed},
		{"wrong code", rfcSecret, wrongCode(good), ErrInvalidCode},
		{"secret not base32", "not base32!", good, ErrInvalidSecret},
		{"secret too short", base32.StdEncoding.EncodeToString(make([]byte, 10)), good, ErrInvalidSecret},
		{"empty secret", "", good, ErrInvalidSecret},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ValidateTOTP(tc.secret, tc.code, now, 0)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// wrongCode returns a 6-digit code different from c.
func wrongCode(c string) string {
	b := []byte(c)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

func TestNewTOTP(t *testing.T) {
	tests := []struct {
		name    string
		issuer  string
		account string
		wantErr error
	}{
		{"email account", "Manam", "alice@example.com", nil},
		{"issuer with space", "Manam ID", "+989121234567", nil},
		{"empty issuer", "", "alice@example.com", ErrMalformed},
		{"empty account", "Manam", " ", ErrMalformed},
		{"colon in issuer", "Ma:nam", "alice@example.com", ErrMalformed},
		{"colon in account", "Manam", "alice:x", ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, err := NewTOTP(tc.issuer, tc.account, testRand(4))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(key.Secret())
			if err != nil {
				t.Fatalf("secret not base32: %v", err)
			}
			want := make([]byte, TOTPSecretSize)
			testRand(4).Read(want)
			if !bytes.Equal(raw, want) {
				t.Errorf("secret = %x, want the first %d bytes of rand %x", raw, TOTPSecretSize, want)
			}
			checkURI(t, key.URI(), tc.issuer, tc.account, key.Secret())
		})
	}
}

func TestNewTOTPRandomness(t *testing.T) {
	if _, err := NewTOTP("Manam", "a", failingReader{}); !errors.Is(err, errNoEntropy) {
		t.Errorf("failing rand: err = %v, want errNoEntropy", err)
	}
	if _, err := NewTOTP("Manam", "a", nil); err == nil {
		t.Error("nil rand: no error")
	}
	a, _ := NewTOTP("Manam", "a", testRand(5))
	b, _ := NewTOTP("Manam", "a", testRand(6))
	if a.Secret() == b.Secret() {
		t.Error("different randomness gave the same secret")
	}
}

func TestTOTPKeyRedacted(t *testing.T) {
	key, err := NewTOTP("Manam", "alice@example.com", testRand(7))
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(format, key); strings.Contains(s, key.Secret()) {
			t.Errorf("%s leaks the secret: %s", format, s)
		}
	}
}

// checkURI parses an otpauth:// URI and checks every parameter.
func checkURI(t *testing.T, uri, issuer, account, secret string) {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatalf("parse %q: %v", uri, err)
	}
	if u.Scheme != "otpauth" || u.Host != "totp" {
		t.Errorf("URI %q: want otpauth://totp/", uri)
	}
	if want := "/" + issuer + ":" + account; u.Path != want {
		t.Errorf("label = %q, want %q", u.Path, want)
	}
	q := u.Query()
	for param, want := range map[string]string{
		"secret":    secret,
		"issuer":    issuer,
		"algorithm": "SHA1",
		"digits":    "6",
		"period":    "30",
	} {
		if got := q.Get(param); got != want {
			t.Errorf("%s = %q, want %q", param, got, want)
		}
	}
}

func TestTOTPQRCode(t *testing.T) {
	tests := []struct {
		name    string
		issuer  string
		account string
		size    int
	}{
		{"email, 256 px", "Manam", "alice@example.com", 256},
		{"mobile, 200 px", "Manam ID", "+989121234567", 200},
		{"non-ASCII account, 512 px", "Manam", "مریم@example.com", 512},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, err := NewTOTP(tc.issuer, tc.account, testRand(8))
			if err != nil {
				t.Fatal(err)
			}
			data, err := key.PNG(tc.size)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("not a PNG: %v", err)
			}
			if b := img.Bounds(); b.Dx() != tc.size || b.Dy() != tc.size {
				t.Errorf("image is %dx%d, want %dx%d", b.Dx(), b.Dy(), tc.size, tc.size)
			}
			bmp, err := gozxing.NewBinaryBitmapFromImage(img)
			if err != nil {
				t.Fatal(err)
			}
			res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
			if err != nil {
				t.Fatalf("decode QR: %v", err)
			}
			if got := res.GetText(); got != key.URI() {
				t.Fatalf("QR text = %q, want %q", got, key.URI())
			}
			checkURI(t, res.GetText(), tc.issuer, tc.account, key.Secret())
		})
	}
}

func TestTOTPQRCodeSize(t *testing.T) {
	key, err := NewTOTP("Manam", "alice@example.com", testRand(9))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		size int
		ok   bool
	}{
		{"zero", 0, false},
		{"negative", -5, false},
		{"smaller than the code", 10, false},
		{"too large", 4096, false},
		{"largest", 2048, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := key.PNG(tc.size)
			if (err == nil) != tc.ok {
				t.Errorf("PNG(%d) err = %v, want ok=%v", tc.size, err, tc.ok)
			}
		})
	}
}

func TestTOTPKeyFromSecret(t *testing.T) {
	k, err := NewTOTP("Manam", "alice@example.com", crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	again, err := TOTPKeyFromSecret("Manam", "alice@example.com", k.Secret())
	if err != nil {
		t.Fatal(err)
	}
	a, _ := url.Parse(k.URI())
	b, _ := url.Parse(again.URI())
	if a.Path != b.Path || a.Query().Get("secret") != b.Query().Get("secret") || b.Query().Get("issuer") != "Manam" ||
		b.Query().Get("digits") != "6" || b.Query().Get("period") != "30" || b.Query().Get("algorithm") != "SHA1" {
		t.Fatalf("rebuilt %s, first %s", again.URI(), k.URI())
	}
	for name, c := range map[string][3]string{
		"bad secret":    {"Manam", "a", "not base32!"},
		"short secret":  {"Manam", "a", "MZXW6"},
		"colon issuer":  {"Ma:nam", "a", k.Secret()},
		"empty account": {"Manam", "", k.Secret()},
	} {
		if _, err := TOTPKeyFromSecret(c[0], c[1], c[2]); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
