package clientapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Cookies sets a dialect's cookies: HttpOnly, SameSite=Lax (a cross-site
// request carries none of them), Secure on https; and signs the short-lived
// ones that carry state: base64url(payload|expiry) "." base64url(HMAC-SHA256
// under Key of name|that), so a forged, altered or expired one reads as
// absent.
type Cookies struct {
	Key    []byte // ≥ 32 bytes, for signed cookies
	Secure bool
}

// Set sets (maxAge > 0: for that long; 0: for the browser session; < 0:
// removes) a cookie scoped to path.
func (k Cookies) Set(w http.ResponseWriter, name, value, path string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: path, MaxAge: maxAge, HttpOnly: true, Secure: k.Secure, SameSite: http.SameSiteLaxMode})
}

// SetSigned sets a signed cookie with payload that lasts ttl.
func (k Cookies) SetSigned(w http.ResponseWriter, name, payload, path string, ttl time.Duration) {
	b := base64.RawURLEncoding.EncodeToString([]byte(payload + "|" + strconv.FormatInt(time.Now().Add(ttl).Unix(), 10)))
	k.Set(w, name, b+"."+base64.RawURLEncoding.EncodeToString(k.mac(name, b)), path, int(ttl/time.Second))
}

// Signed is a signed cookie's payload: "" when absent, forged or expired.
func (k Cookies) Signed(r *http.Request, name string) string {
	ck, err := r.Cookie(name)
	if err != nil || len(ck.Value) > 4096 {
		return ""
	}
	b, sig, ok := strings.Cut(ck.Value, ".")
	mac, err := base64.RawURLEncoding.DecodeString(sig)
	if !ok || err != nil || !hmac.Equal(mac, k.mac(name, b)) {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(b)
	if err != nil {
		return ""
	}
	payload, exp, ok := strings.Cut(string(raw), "|")
	n, err := strconv.ParseInt(exp, 10, 64)
	if !ok || err != nil || time.Now().Unix() > n {
		return ""
	}
	return payload
}

func (k Cookies) mac(name, body string) []byte {
	m := hmac.New(sha256.New, k.Key)
	m.Write([]byte(name + "|" + body))
	return m.Sum(nil)
}
