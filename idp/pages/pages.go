package pages

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/idp/i18n"
	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/upstream"
)

//go:embed templates/*.html
var templateFS embed.FS

// SessionCookie holds a signed-in browser's session token.
const SessionCookie = "manam_session"

// KnownDeviceCookie marks a browser where an account has signed in
// (OWASP's device cookie, idp.Service.DeviceToken): its failed sign-ins
// to that account count on a budget of their own, not on the account's
// lock. Unlike DeviceCookie ("remember this device") it skips nothing.
const KnownDeviceCookie = "manam_known"

// ErrBadChallenge is what a Flow returns for a challenge it cannot honour
// (forged, expired, or its tenant gone). Any other error of Describe is a
// failure of ours (the database): the pages answer 503, not "expired".
var ErrBadChallenge = errors.New("pages: bad or expired challenge")

// describe describes challenge for a page, or answers for it: the
// "expired" page (400) for a challenge the flow refuses, the 503 page when
// the flow could not tell (a storage failure is no evidence of expiry).
func (p *Pages) describe(w http.ResponseWriter, r *http.Request, challenge string) (FlowInfo, bool) {
	info, err := p.flow.Describe(r.Context(), challenge)
	switch {
	case err == nil:
		return info, true
	case errors.Is(err, ErrBadChallenge):
		p.Error(w, r, http.StatusBadRequest, "Sign-in link expired", "This sign-in page is no longer valid. Go back to the application and start again.")
	default:
		p.unavailable(w, r, "reading the sign-in request failed", err)
	}
	return FlowInfo{}, false
}

// Flow is what the pages need to know about the authorization request
// they are part of. The challenge is an opaque, signed value minted by the
// provider when it sends the browser here.
type Flow interface {
	Describe(ctx context.Context, challenge string) (FlowInfo, error)
}

// FlowInfo describes an authorization request to a page.
type FlowInfo struct {
	// UILocales is the authorization request's ui_locales.
	UILocales  string
	ClientID   string
	ClientName string
	Scopes     []string
	LoginHint  string
	// ResumeURL is where the browser goes once the page is done.
	ResumeURL string
	// DeniedURL is where it goes when the user refuses consent.
	DeniedURL string
	// WantMFA: the tenant requires a second factor, or the request asked
	// for one (acr_values).
	WantMFA bool
}

// Observer is told the outcome of each login attempt ("success", "invalid", "error").
type Observer func(outcome string)

// Pages renders and serves the hosted pages.
type Pages struct {
	svc     *idp.Service
	flow    Flow
	csrf    *CSRF
	secure  bool
	tpl     *template.Template
	log     *slog.Logger
	observe Observer
	ip      func(*http.Request) string
	issuer  string
	product string
	// Federation: the configured upstreams and the key sealing their
	// per-login state in a cookie (nil set: no upstream offered).
	upstreams   *upstream.Set
	upstreamKey []byte
}

// Deps are the pages' collaborators.
type Deps struct {
	Service *idp.Service
	Flow    Flow
	CSRF    *CSRF
	// Secure marks cookies Secure (the issuer is https).
	Secure   bool
	Logger   *slog.Logger
	Observer Observer
	// ClientIP names the client a request comes from (for throttling);
	// default: the connection's peer address.
	ClientIP func(*http.Request) string
	// Issuer is the public base URL, for links in mail.
	Issuer string
	// Product names the service in mail and pages (default "Manam").
	Product string
	// Upstreams are the identity providers offered on the login page (nil: none).
	Upstreams *upstream.Set
	// UpstreamKey (32 bytes) seals an upstream login's state in a cookie.
	UpstreamKey []byte
}

// New parses the templates and returns the pages.
func New(d Deps) (*Pages, error) {
	tpl, err := template.New("pages").Funcs(template.FuncMap{"t": i18n.T}).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Observer == nil {
		d.Observer = func(string) {}
	}
	if d.ClientIP == nil {
		d.ClientIP = PeerIP
	}
	if d.Product == "" {
		d.Product = "Manam"
	}
	return &Pages{svc: d.Service, flow: d.Flow, csrf: d.CSRF, secure: d.Secure, tpl: tpl, log: d.Logger, observe: d.Observer, ip: d.ClientIP,
		issuer: d.Issuer, product: d.Product, upstreams: d.Upstreams, upstreamKey: d.UpstreamKey}, nil
}

// PeerIP is the address of the connection's peer.
func PeerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// lang is the language of a request: the authorization request's
// ui_locales (OIDC Core §3.1.2.1) first, then Accept-Language.
func (p *Pages) lang(r *http.Request) i18n.Lang {
	ui := ""
	if ch := r.FormValue("challenge"); ch != "" {
		if info, err := p.flow.Describe(r.Context(), ch); err == nil {
			ui = info.UILocales
		}
	}
	return i18n.Choose(ui, r.Header.Get("Accept-Language"))
}

// t translates for the request's language.
func (p *Pages) t(r *http.Request, key string, args ...any) string {
	return i18n.T(p.lang(r), key, args...)
}

// CSRF is the pages' CSRF guard (the provider's logout form uses it too).
func (p *Pages) CSRF() *CSRF { return p.csrf }

// render writes a page; a template failure becomes a plain 500 without detail.
func (p *Pages) render(w http.ResponseWriter, r *http.Request, status int, name string, data pageData) {
	lang := p.lang(r)
	b := data.base()
	b.Lang, b.Dir = lang, lang.Dir()
	var buf bytes.Buffer
	if err := p.tpl.ExecuteTemplate(&buf, name, data); err != nil {
		p.log.ErrorContext(r.Context(), "template failed", "template", name, "err", err)
		http.Error(w, "Internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; img-src data:; style-src 'unsafe-inline'; form-action 'self' *; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Language", string(lang))
	h.Add("Vary", "Accept-Language")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// Error renders the error page; title and message are English phrases of
// the catalog (message may be a format for args), shown in the request's language.
func (p *Pages) Error(w http.ResponseWriter, r *http.Request, status int, title, message string, args ...any) {
	p.render(w, r, status, "error.html", &errorPage{page: page{Title: p.t(r, title)}, Message: p.t(r, message, args...), RequestID: w.Header().Get("X-Request-Id")})
}

// The 503 pages: the failure goes to the log (what failed, the error,
// attrs), the user is told to try again and nothing more (docs/design.md,
// "Honest answers during an outage").

// unavailable answers a sign-in that failed, counted as an error.
func (p *Pages) unavailable(w http.ResponseWriter, r *http.Request, what string, err error, attrs ...any) {
	p.observe("error")
	p.signInUnavailable(w, r, what, err, attrs...)
}

// signInUnavailable answers a failure on the way to or from a sign-in.
func (p *Pages) signInUnavailable(w http.ResponseWriter, r *http.Request, what string, err error, attrs ...any) {
	p.outageError(w, r, err, "Sign-in unavailable", "Sign-in is unavailable right now. Please try again in a moment.", what, attrs...)
}

// failed answers a failure of any other page.
func (p *Pages) failed(w http.ResponseWriter, r *http.Request, what string, err error) {
	p.outageError(w, r, err, "Unavailable", "This is unavailable right now. Please try again in a moment.", what)
}

// outageError is Error for a failure of the service, with the page's own
// title and message: err is logged as what failed, with attrs.
func (p *Pages) outageError(w http.ResponseWriter, r *http.Request, err error, title, message, what string, attrs ...any) {
	p.log.ErrorContext(r.Context(), what, append(attrs, "err", err)...)
	p.Error(w, r, http.StatusServiceUnavailable, title, message)
}

// LogoutConfirm renders the "sign out?" form posting to action with hidden fields.
func (p *Pages) LogoutConfirm(w http.ResponseWriter, r *http.Request, action, email string, hidden map[string]string) {
	p.render(w, r, http.StatusOK, "logout.html", &logoutPage{page: page{Title: "Sign out", CSRF: p.csrf.Token(w, r)}, Action: action, Email: email, Hidden: hidden})
}

// LoggedOut renders the "signed out" page.
func (p *Pages) LoggedOut(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, http.StatusOK, "loggedout.html", &page{Title: "Signed out"})
}

// Login serves GET and POST /login.
func (p *Pages) Login(w http.ResponseWriter, r *http.Request) {
	challenge := r.FormValue("challenge")
	// Without an authorization request, signing in leads to the account page.
	info := FlowInfo{ResumeURL: "/account"}
	if challenge != "" {
		var ok bool
		if info, ok = p.describe(w, r, challenge); !ok {
			return
		}
	}
	data := &loginPage{page: page{Title: "Sign in"}, ClientName: info.ClientName, Challenge: challenge, Email: info.LoginHint,
		RegisterURL: "/register?challenge=" + url.QueryEscape(challenge), RecoverURL: "/recover?challenge=" + url.QueryEscape(challenge), Upstreams: p.upstreamButtons(challenge)}
	if r.Method == http.MethodGet {
		data.CSRF = p.csrf.Token(w, r)
		p.render(w, r, http.StatusOK, "login.html", data)
		return
	}
	if !p.formValid(w, r) {
		return
	}
	email := r.PostFormValue("email")
	data.Email = email
	acct, err := p.svc.AuthenticateFor(r.Context(), info.ClientID, email, r.PostFormValue("password"), p.source(r))
	if errors.Is(err, idp.ErrThrottled) {
		p.observe("throttled")
		w.Header().Set("Retry-After", "60")
		p.Error(w, r, http.StatusTooManyRequests, "Too many attempts", "There were too many failed sign-ins from your network. Wait a few minutes and try again.")
		return
	}
	if errors.Is(err, idp.ErrUnconfirmed) {
		p.observe("unconfirmed")
		data.CSRF = p.csrf.Token(w, r)
		data.Error = "Confirm your e-mail address first: open the link we sent you."
		data.Unconfirmed = true
		p.render(w, r, http.StatusForbidden, "login.html", data)
		return
	}
	if errors.Is(err, idp.ErrInvalidCredentials) {
		p.observe("invalid")
		data.CSRF = p.csrf.Token(w, r)
		data.Error = "Wrong e-mail, mobile number or password."
		p.render(w, r, http.StatusUnauthorized, "login.html", data)
		return
	}
	if err != nil {
		p.unavailable(w, r, "login failed", err)
		return
	}
	p.SignedIn(w, r, acct, []string{"pwd"}, r.PostFormValue("remember") == "1", challenge, info)
}

// source is where a request comes from, for the throttles: the client
// address and the device cookie.
func (p *Pages) source(r *http.Request) idp.Source {
	src := idp.FromAddr(p.ip(r))
	if c, err := r.Cookie(KnownDeviceCookie); err == nil {
		src.Device = c.Value
	}
	return src
}

// startSession finishes a sign-in whose second factor was just proven:
// the browser's session is replaced by a new one, and it goes to next.
func (p *Pages) startSession(w http.ResponseWriter, r *http.Request, acct *storage.Account, amr []string, remember bool, next string) {
	out, err := p.svc.FinishSignIn(r.Context(), acct, amr, remember, p.sessionToken(r))
	if err != nil {
		p.unavailable(w, r, "session start failed", err)
		return
	}
	p.signedInTo(w, r, out, remember, next)
}

// signedInTo sets the new session's cookie and redirects to next.
func (p *Pages) signedInTo(w http.ResponseWriter, r *http.Request, out idp.Outcome, remember bool, next string) {
	p.observe("success")
	p.SetSessionCookie(w, out.Token, remember)
	if dev := p.svc.DeviceToken(out.Session.Account.ID); dev != "" {
		// A sign-in finished here (every factor): from now on this browser
		// is a known source for the account.
		http.SetCookie(w, &http.Cookie{Name: KnownDeviceCookie, Value: dev, Path: "/", MaxAge: int(idp.DeviceTTL / time.Second), HttpOnly: true,
			Secure: p.secure, SameSite: http.SameSiteLaxMode})
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// sessionToken is the browser's session cookie value ("" for none).
func (p *Pages) sessionToken(r *http.Request) string {
	if c, err := r.Cookie(SessionCookie); err == nil {
		return c.Value
	}
	return ""
}

func (p *Pages) SetSessionCookie(w http.ResponseWriter, token string, remember bool) {
	c := &http.Cookie{Name: SessionCookie, Value: token, Path: "/", HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode}
	if remember {
		c.MaxAge = int(p.svc.RememberTTL() / time.Second)
	}
	http.SetCookie(w, c)
}

// ClearSessionCookie removes the session cookie.
func (p *Pages) ClearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode})
}

// signedIn returns the browser's live session. Without one it redirects
// to next; if the session could not be read (the database), it answers
// 503: a storage failure does not sign anyone out.
func (p *Pages) signedIn(w http.ResponseWriter, r *http.Request, next string) (*idp.Session, bool) {
	sess, err := p.CurrentSession(r)
	switch {
	case err == nil:
		return sess, true
	case errors.Is(err, idp.ErrNoSession):
		http.Redirect(w, r, next, http.StatusSeeOther)
	default:
		p.unavailable(w, r, "reading the session failed", err)
	}
	return nil, false
}

// CurrentSession returns the browser's live session, or idp.ErrNoSession.
func (p *Pages) CurrentSession(r *http.Request) (*idp.Session, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return nil, idp.ErrNoSession
	}
	return p.svc.Session(r.Context(), c.Value)
}

// scopeText says what a scope lets a tenant do.
var scopeText = map[string]string{
	"openid":         "Know who you are",
	"profile":        "See your name and profile",
	"email":          "See your e-mail address",
	"phone":          "See your phone number",
	"offline_access": "Stay signed in while you are away",
}

// Consent serves GET and POST /consent.
func (p *Pages) Consent(w http.ResponseWriter, r *http.Request) {
	challenge := r.FormValue("challenge")
	info, ok := p.describe(w, r, challenge)
	if !ok {
		return
	}
	sess, ok := p.signedIn(w, r, info.ResumeURL)
	if !ok {
		return
	}
	if r.Method == http.MethodGet {
		var texts []string
		for _, s := range info.Scopes {
			if t, ok := scopeText[s]; ok {
				texts = append(texts, t)
			} else {
				texts = append(texts, s)
			}
		}
		email := ""
		if sess.Account.Email != nil {
			email = *sess.Account.Email
		}
		p.render(w, r, http.StatusOK, "consent.html", &consentPage{page: page{Title: "Allow access", CSRF: p.csrf.Token(w, r)}, ClientName: info.ClientName,
			Scopes: texts, Email: email, Challenge: challenge})
		return
	}
	if !p.formValid(w, r) {
		return
	}
	if r.PostFormValue("action") != "allow" {
		http.Redirect(w, r, info.DeniedURL, http.StatusSeeOther)
		return
	}
	if err := p.svc.GrantConsent(r.Context(), sess.Account.ID, info.ClientID, info.Scopes); err != nil {
		p.outageError(w, r, err, "Unavailable", "This service is unavailable right now. Please try again in a moment.", "saving consent failed")
		return
	}
	http.Redirect(w, r, info.ResumeURL, http.StatusSeeOther)
}
