package pages

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// CSRFCookie holds the browser's CSRF secret.
const CSRFCookie = "manam_csrf"

// CSRF implements signed double-submit tokens: a random secret in an
// HttpOnly cookie, and in each form an HMAC of it under a server key, so a
// page on another origin can neither read nor forge the form value.
type CSRF struct {
	key    []byte
	secure bool
}

// NewCSRF returns a CSRF guard keyed by key; secure marks the cookie Secure.
func NewCSRF(key []byte, secure bool) *CSRF { return &CSRF{key: key, secure: secure} }

// Token returns the form token for this browser, setting the cookie if it has none.
func (c *CSRF) Token(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(CSRFCookie); err == nil && len(ck.Value) >= 32 && len(ck.Value) <= 64 {
		return c.sign(ck.Value)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	v := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: CSRFCookie, Value: v, Path: "/", HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode})
	return c.sign(v)
}

// Valid tells whether the request's form token matches its cookie.
func (c *CSRF) Valid(r *http.Request) bool {
	ck, err := r.Cookie(CSRFCookie)
	if err != nil || ck.Value == "" {
		return false
	}
	want := c.sign(ck.Value)
	return hmac.Equal([]byte(want), []byte(r.PostFormValue("csrf_token")))
}

func (c *CSRF) sign(v string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte("csrf:" + v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// formValid checks a posted form's CSRF token and, when it is wrong,
// answers with the "form expired" page.
func (p *Pages) formValid(w http.ResponseWriter, r *http.Request) bool {
	if p.csrf.Valid(r) {
		return true
	}
	p.Error(w, r, http.StatusForbidden, "Form expired", "This form has expired. Go back, reload the page and try again.")
	return false
}
