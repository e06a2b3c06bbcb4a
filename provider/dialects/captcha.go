package dialects

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
)

// CaptchaVerifier checks the captcha answer a caller of 004's
// resend-email-verification sends (its capcha parameter). A real one
// asks a captcha service; remoteIP is the end user's address ("" when
// a tenant's back end calls without passing it).
type CaptchaVerifier interface {
	VerifyCaptcha(ctx context.Context, response, remoteIP string) (bool, error)
}

// TestCaptcha is the development verifier: it accepts exactly one
// configured value (MANAM_DIALECTS' "captcha_test_value"). It proves
// nothing about the caller being a person: not for production.
type TestCaptcha struct{ Value string }

// VerifyCaptcha compares in constant time (no answer is ever right when
// Value is empty).
func (t TestCaptcha) VerifyCaptcha(_ context.Context, response, _ string) (bool, error) {
	if t.Value == "" || response == "" {
		return false, nil
	}
	a, b := sha256.Sum256([]byte(response)), sha256.Sum256([]byte(t.Value))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1, nil
}
