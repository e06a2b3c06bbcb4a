package provider

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/token/jwt"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/idp/pages"
	"github.com/manam-id/manam/storage"
)

// A challenge carries an authorization request through the login and
// consent pages: the request's parameters and when it was first seen,
// signed with a server key, so any replica can resume it and nobody can
// alter it. When the flow resumes, a session (or consent) at least as new
// as the challenge (strictly later, to the millisecond) satisfies
// prompt=login, max_age and prompt=consent.
type challenge struct {
	Query string `json:"q"`
	At    int64  `json:"m"` // Unix milliseconds
}

func (p *Provider) mintChallenge(form url.Values, at time.Time) string {
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(challenge{Query: form.Encode(), At: at.UnixMilli()})
	b := base64.RawURLEncoding.EncodeToString([]byte(strings.TrimSpace(buf.String())))
	return b + "." + base64.RawURLEncoding.EncodeToString(p.challengeMAC(b))
}

func (p *Provider) challengeMAC(body string) []byte {
	m := hmac.New(sha256.New, p.challenge)
	m.Write([]byte(body))
	return m.Sum(nil)
}

var errBadChallenge = pages.ErrBadChallenge

func (p *Provider) openChallenge(s string) (url.Values, time.Time, error) {
	body, sig, ok := strings.Cut(s, ".")
	if !ok || len(s) > 32<<10 {
		return nil, time.Time{}, errBadChallenge
	}
	mac, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(mac, p.challengeMAC(body)) {
		return nil, time.Time{}, errBadChallenge
	}
	var c challenge
	if err := decodeSegment(body, &c); err != nil {
		return nil, time.Time{}, errBadChallenge
	}
	at := time.UnixMilli(c.At).UTC()
	if age := time.Since(at); age > p.cfg.ChallengeLifespan || age < -time.Minute {
		return nil, time.Time{}, errBadChallenge
	}
	form, err := url.ParseQuery(c.Query)
	if err != nil {
		return nil, time.Time{}, errBadChallenge
	}
	return form, at, nil
}

// Describe implements pages.Flow.
func (p *Provider) Describe(ctx context.Context, s string) (pages.FlowInfo, error) {
	form, _, err := p.openChallenge(s)
	if err != nil {
		return pages.FlowInfo{}, err
	}
	client, err := p.tenants.Get(ctx, form.Get("client_id"))
	if errors.Is(err, storage.ErrNotFound) {
		return pages.FlowInfo{}, errBadChallenge // the tenant is gone
	}
	if err != nil {
		return pages.FlowInfo{}, fmt.Errorf("provider: describe: %w", err)
	}
	resume := p.cfg.Issuer + "/oauth2/auth/resume?challenge=" + url.QueryEscape(s)
	return pages.FlowInfo{
		UILocales:  form.Get("ui_locales"),
		ClientID:   client.ID,
		ClientName: client.Name,
		Scopes:     strings.Fields(form.Get("scope")),
		LoginHint:  form.Get("login_hint"),
		ResumeURL:  resume,
		DeniedURL:  resume + "&denied=1",
		WantMFA:    idp.WantsMFA(form.Get("acr_values")) || client.RequireMFA,
	}, nil
}

// authorize serves /oauth2/auth.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	p.handleAuthorize(w, r, resumeState{})
}

// resumeState is what a resumed request knows from its challenge.
type resumeState struct {
	resumed bool
	at      time.Time // when the request was first seen
	denied  bool
}

// resume continues an authorization request after the login or consent page.
func (p *Provider) resume(w http.ResponseWriter, r *http.Request) {
	form, at, err := p.openChallenge(r.URL.Query().Get("challenge"))
	if err != nil {
		p.pages.Error(w, r, http.StatusBadRequest, "Sign-in link expired", "This sign-in is no longer valid. Go back to the application and start again.")
		return
	}
	r2 := r.Clone(r.Context())
	r2.Method = http.MethodGet
	r2.URL.RawQuery = form.Encode()
	r2.Form, r2.PostForm, r2.Body = nil, nil, http.NoBody
	p.handleAuthorize(w, r2, resumeState{resumed: true, at: at, denied: r.URL.Query().Get("denied") == "1"})
}

func (p *Provider) handleAuthorize(w http.ResponseWriter, r *http.Request, rs resumeState) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		p.pages.Error(w, r, http.StatusBadRequest, "Invalid request", "The request could not be read.")
		return
	}
	if name := repeatedParam(r.Form); name != "" {
		p.pages.Error(w, r, http.StatusBadRequest, "Invalid request", "The parameter %s was sent more than once.", name)
		return
	}
	ar, err := p.newAuthorizeRequest(ctx, r)
	if err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	ar.SetID(newRequestID())
	client, ok := ar.GetClient().(*storage.Client)
	if !ok {
		p.authorizeError(w, r, ar, fosite.ErrServerError.WithDebug("unexpected client type"))
		return
	}
	if raw := r.Form.Get("redirect_uri"); raw != "" && !registeredRedirect(raw, ar.GetClient()) {
		// An error page, never a redirect to the unregistered URI.
		p.authorizeError(w, r, nil, fosite.ErrInvalidRequest.WithHint("The 'redirect_uri' parameter does not match any of the OAuth 2.0 Client's pre-registered redirect urls."))
		return
	}
	if rs.denied {
		p.authorizeError(w, r, ar, fosite.ErrAccessDenied.WithHint("The user denied the request."))
		return
	}
	if err := checkPKCEParams(ar); err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	if ma := ar.GetRequestForm().Get("max_age"); ma != "" {
		if secs, err := strconv.ParseInt(ma, 10, 64); err != nil || secs < 0 {
			p.authorizeError(w, r, ar, fosite.ErrInvalidRequest.WithHint("max_age must be a non-negative integer."))
			return
		}
	}
	prompt := strings.Fields(ar.GetRequestForm().Get("prompt"))
	requestedAt := time.Now().UTC().Truncate(time.Millisecond)
	if rs.resumed {
		requestedAt = rs.at
	}

	// Who is signed in, and is that good enough for this request?
	sess, err := p.pages.CurrentSession(r)
	if err != nil && !errors.Is(err, idp.ErrNoSession) {
		p.authorizeError(w, r, ar, fosite.ErrServerError.WithWrap(err))
		return
	}
	wantMFA := client.RequireMFA || idp.WantsMFA(ar.GetRequestForm().Get("acr_values"))
	if why := loginReason(sess, ar.GetRequestForm(), rs, wantMFA, time.Now()); why != "" {
		if slices.Contains(prompt, "none") {
			p.authorizeError(w, r, ar, fosite.ErrLoginRequired)
			return
		}
		http.Redirect(w, r, "/login?challenge="+url.QueryEscape(p.mintChallenge(ar.GetRequestForm(), requestedAt)), http.StatusSeeOther)
		return
	}

	scopes := ar.GetRequestedScopes()
	if ask, notBefore := consentRule(client, ar.GetRedirectURI().Scheme, prompt, requestedAt); ask {
		has := false
		if notBefore.IsZero() || rs.resumed {
			has, err = p.idp.HasConsent(ctx, sess.Account.ID, client.ID, scopes, notBefore)
			if err != nil {
				p.authorizeError(w, r, ar, fosite.ErrServerError.WithWrap(err))
				return
			}
		}
		if !has {
			if slices.Contains(prompt, "none") {
				p.authorizeError(w, r, ar, fosite.ErrConsentRequired)
				return
			}
			http.Redirect(w, r, "/consent?challenge="+url.QueryEscape(p.mintChallenge(ar.GetRequestForm(), requestedAt)), http.StatusSeeOther)
			return
		}
	}

	// A first sign-in through a tenant makes the account its member.
	if err := p.idp.Join(ctx, sess.Account.ID, client.ID, idp.JoinedBySignIn); err != nil {
		p.authorizeError(w, r, ar, fosite.ErrServerError.WithWrap(err))
		return
	}
	for _, s := range scopes {
		ar.GrantScope(s)
	}
	grantDefaultAudience(ar)
	fs := p.userSession(ctx, client, sess, ar.GetGrantedScopes(), requestedAt)
	resp, err := p.oauth.NewAuthorizeResponse(ctx, ar, fs)
	if err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	p.oauth.WriteAuthorizeResponse(ctx, w, ar, resp)
}

// grantDefaultAudience makes the tenant itself the audience of its tokens
// when it asked for no other (RFC 9068 access tokens need an aud).
func grantDefaultAudience(r fosite.Requester) {
	if len(r.GetGrantedAudience()) == 0 {
		r.GrantAudience(r.GetClient().GetID())
	}
}

// userSession builds the fosite session of a signed-in user: ID-token
// claims now, refreshed from the account at userinfo.
func (p *Provider) userSession(ctx context.Context, client *storage.Client, sess *idp.Session, granted fosite.Arguments, requestedAt time.Time) *Session {
	s := NewSession()
	a := sess.Account
	s.Subject = a.ID
	s.ClientID = client.ID
	c := s.DefaultSession.Claims
	c.Subject = a.ID
	c.Issuer = p.cfg.Issuer
	c.AuthTime = sess.Row.AuthTime.UTC()
	c.RequestedAt = requestedAt
	c.AuthenticationMethodsReferences = sess.AMR()
	c.AuthenticationContextClassReference = sess.Row.ACR
	c.Extra = map[string]any{"sid": sess.Row.SID}
	for k, v := range accountClaims(a, granted) {
		c.Extra[k] = v
	}
	s.DefaultSession.Headers = &jwt.Headers{Extra: map[string]any{}}
	return s
}

// accountClaims are the standard claims an account yields for the granted scopes.
func accountClaims(a *storage.Account, granted fosite.Arguments) map[string]any {
	out := map[string]any{}
	if granted.Has("profile") {
		// OIDC Core §5.1 standard claims, only those the person gave.
		for k, v := range map[string]string{"name": a.Name, "given_name": a.FirstName, "family_name": a.LastName, "picture": a.PictureURL} {
			if v != "" {
				out[k] = v
			}
		}
		if a.Birthday != nil {
			out["birthdate"] = a.Birthday.UTC().Format("2006-01-02")
		}
		out["updated_at"] = a.UpdatedAt.Unix()
	}
	if granted.Has("email") && a.Email != nil {
		out["email"] = *a.Email
		out["email_verified"] = a.EmailVerified
	}
	// OIDC Core §5.4: the phone scope asks for phone_number (E.164, as
	// stored) and phone_number_verified.
	if granted.Has("phone") && a.Mobile != nil {
		out["phone_number"] = *a.Mobile
		out["phone_number_verified"] = a.MobileVerified
	}
	return out
}

// authorizeError answers an authorization request that failed: with a
// redirect to the client when its redirect URI is known and valid, and
// with an error page otherwise (RFC 6749 §4.1.2.1: never redirect to an
// unverified URI).
func (p *Provider) authorizeError(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, err error) {
	err = unavailable(err)
	rfc := fosite.ErrorToRFC6749Error(err)
	if rfc.CodeField >= 500 {
		p.log.ErrorContext(r.Context(), "authorize failed", "request_id", RequestID(r.Context()), "err", rfc.WithExposeDebug(true).GetDescription(), "cause", errors.Unwrap(err))
	}
	if ar != nil && ar.IsRedirectURIValid() {
		p.oauth.WriteAuthorizeError(r.Context(), w, ar, err)
		return
	}
	status := rfc.CodeField
	if status == 0 || status >= 500 {
		status = http.StatusBadRequest
		if rfc.CodeField >= 500 {
			status = http.StatusServiceUnavailable
		}
	}
	msg := rfc.GetDescription()
	if rfc.CodeField >= 500 {
		msg = "The request could not be completed. Please try again."
	}
	p.pages.Error(w, r, status, "The application sent an invalid sign-in request", msg)
}

// repeatedParam names a parameter sent more than once (RFC 6749 §3.1).
func repeatedParam(v url.Values) string {
	for k, vs := range v {
		if len(vs) > 1 {
			return k
		}
	}
	return ""
}

// registeredRedirect is exact redirect-URI matching (RFC 9700 §4.1.3):
// the URI must be one of the client's, character for character. fosite
// also accepts any port on a loopback IP address; that exception is the
// one RFC 8252 §7.3 makes for native apps, which listen on a port the
// operating system picks, so it is kept for public clients only (fosite
// has already checked scheme, address, path and query for it).
func registeredRedirect(raw string, c fosite.Client) bool {
	if slices.Contains(c.GetRedirectURIs(), raw) {
		return true
	}
	if !c.IsPublic() {
		return false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" {
		return false
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}

// loginReason says why an authorization request needs a (new) sign-in,
// or "" when the browser's session will do: no session; prompt=login or
// max_age (OIDC Core §3.1.2.1), unless the session began after the
// request was first seen (the sign-in it sent the browser to); a second
// factor the tenant requires or the request asks for (acr_values) that
// the session lacks (the login then asks for it, or enrols one).
func loginReason(sess *idp.Session, form url.Values, rs resumeState, wantMFA bool, now time.Time) string {
	if sess == nil {
		return "no session"
	}
	authTime := sess.Row.AuthTime.UTC()
	// Strictly later: a session from the same millisecond as the request
	// may predate it, and then it is not a new sign-in.
	fresh := rs.resumed && authTime.After(rs.at)
	if slices.Contains(strings.Fields(form.Get("prompt")), "login") && !fresh {
		return "prompt=login"
	}
	if ma := form.Get("max_age"); ma != "" && !fresh {
		secs, _ := strconv.ParseInt(ma, 10, 64)
		if now.Sub(authTime) > time.Duration(secs)*time.Second {
			return "max_age"
		}
	}
	if wantMFA && !slices.Contains(sess.AMR(), "mfa") {
		return "second factor"
	}
	return ""
}

// consentRule says whether the user's consent is needed, and from when a
// stored one counts (zero: any stored one). Consent is needed for tenants
// that are not first-party, and whenever prompt=consent. A public client
// whose redirect URI is not https (a native app's private-use scheme, a
// loopback port) cannot prove it is the app the user approved before —
// any app can claim its scheme and client_id — so the user confirms
// within this very flow (RFC 8252 §8.6, RFC 6749 §10.2).
func consentRule(client *storage.Client, redirectScheme string, prompt []string, requestedAt time.Time) (ask bool, notBefore time.Time) {
	unassured := client.IsPublic() && redirectScheme != "https"
	fresh := slices.Contains(prompt, "consent") || unassured
	if client.FirstParty && !fresh {
		return false, time.Time{}
	}
	if fresh {
		return true, requestedAt
	}
	return true, time.Time{}
}
