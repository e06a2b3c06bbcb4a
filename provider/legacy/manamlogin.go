package legacy

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/manam-id/manam/provider"
	"github.com/manam-id/manam/provider/internal/clientapi"
	"github.com/manam-id/manam/storage"
)

// "Login with Manam" (GET /manamlogin): the standard authorization-code
// flow of a tenant (sign-in, second factor, consent, PKCE), whose
// redirect URI is this API's callback on the issuer instead of one of the
// tenant's. cmd/manam lists CallbackPath among the provider's issuer
// redirects, so any tenant's authorization request may name it (and then
// only it); the callback exchanges the code for the tenant, holding the
// PKCE verifier, and answers the documents' JSON.

// CallbackPath is the callback of Login with Manam, on the issuer.
const CallbackPath = "/manamlogin/callback"

const loginCookie = "ab_manamlogin"

// manamLogin serves GET /manamlogin (the tenant key in a header, the
// query or the path): the browser goes through the standard authorization
// flow of the tenant (sign-in, second factor, consent), and comes back to
// /manamlogin/callback, which answers the documented JSON.
func (a *API) manamLogin(w http.ResponseWriter, r *http.Request, c *call) error {
	state, verifier := random(24), random(32)
	sum := sha256.Sum256([]byte(verifier))
	a.setSigned(w, loginCookie, c.Tenant.ID+" "+state+" "+verifier+" "+c.Prefix, 10*time.Minute)
	http.Redirect(w, r, a.authorizeURL(c.Tenant, state, base64.RawURLEncoding.EncodeToString(sum[:])), http.StatusFound)
	return nil
}

// authorizeURL is the authorization request of Login with Manam for a
// tenant: code flow, PKCE S256, the scopes the tenant has of openid,
// email, profile and phone.
func (a *API) authorizeURL(t *storage.Tenant, state, codeChallenge string) string {
	var scopes []string
	for _, s := range []string{"openid", "email", "profile", "phone"} {
		if clientapi.ClientOf(t).GetScopes().Has(s) {
			scopes = append(scopes, s)
		}
	}
	q := url.Values{"client_id": {t.ID}, "response_type": {"code"}, "redirect_uri": {a.Issuer + CallbackPath}, "state": {state},
		"scope": {strings.Join(scopes, " ")}, "code_challenge": {codeChallenge}, "code_challenge_method": {"S256"}}
	return a.Issuer + "/oauth2/auth?" + q.Encode()
}

// manamLoginCallback serves GET /manamlogin/callback: the code of the
// authorization request manamLogin started, in the same browser.
func (a *API) manamLoginCallback(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	parts := strings.Split(a.signed(r, loginCookie), " ")
	if len(parts) != 4 || subtle.ConstantTimeCompare([]byte(parts[1]), []byte(r.URL.Query().Get("state"))) != 1 {
		return refuse("This sign-in has expired or was not started in this browser. Start again.", "/manamlogin")
	}
	a.setCookie(w, loginCookie, "", -1)
	clientID, verifier := parts[0], parts[2]
	c.Prefix = parts[3]
	if e := r.URL.Query().Get("error"); e != "" {
		if e == "access_denied" {
			return refuse("You did not allow the application to sign you in.", "/")
		}
		return refuse("Signing in did not work. Please try again.", "/")
	}
	t, err := a.Tenants.Get(ctx, clientID)
	if err != nil {
		return err
	}
	tok, err := a.Tokens.ExchangeCodeFor(ctx, clientapi.ClientOf(t), r.URL.Query().Get("code"), verifier, a.Issuer+CallbackPath)
	if errors.Is(err, provider.ErrTokenRefused) {
		return refuse("This sign-in has expired. Start again.", "/manamlogin")
	}
	if err != nil {
		return err
	}
	acct, err := a.IDP.Account(ctx, tok.Subject)
	if err != nil {
		return err
	}
	c.Tenant = t
	body := a.profile(ctx, c, acct, tok)
	for k, v := range a.localProfile(acct) {
		if _, taken := body[k]; !taken {
			body[k] = v
		}
	}
	if g := a.googleProfile(ctx, acct); g != nil {
		for k, v := range g {
			body[k] = v
		}
	}
	body["status"], body["location"] = "success", "/"
	a.write(w, http.StatusOK, body)
	return nil
}
