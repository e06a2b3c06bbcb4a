package legacy

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/idp/i18n"
	"github.com/manam-id/manam/provider"
	"github.com/manam-id/manam/storage"
)

// Tokens is what the legacy API needs of the provider: the same tokens as
// /oauth2/token.
type Tokens interface {
	IssueFor(ctx context.Context, client *storage.Client, in provider.IssueRequest) (*provider.Tokens, error)
	RefreshFor(ctx context.Context, client *storage.Client, refreshToken string) (*provider.Tokens, error)
	AccessTokenInfo(ctx context.Context, token string) (*provider.TokenInfo, error)
	AuthenticateClient(ctx context.Context, clientID, secret string) (*storage.Client, error)
	ExchangeCodeFor(ctx context.Context, client *storage.Client, code, verifier, redirectURI string) (*provider.Tokens, error)
}

// TenantFinder finds tenants by client id and by tenant key (storage.Tenants).
type TenantFinder interface {
	Get(ctx context.Context, id string) (*storage.Tenant, error)
	ByCustomerToken(ctx context.Context, token string) (*storage.Tenant, error)
}

// Deps are the API's collaborators.
type Deps struct {
	IDP     *idp.Service
	Tokens  Tokens
	Tenants TenantFinder
	// Federation runs the Google link's sign-in (pages.Pages; nil: the
	// link is not offered).
	Federation Federation
	// Key (≥ 32 bytes) signs the API's own short-lived cookies.
	Key []byte
	// Issuer is the public URL; Secure marks cookies Secure (https).
	Issuer string
	Secure bool
	// Product names the service in mail ("Manam").
	Product string
	Logger  *slog.Logger
	// Source is where a request for a tenant comes from, for the
	// throttles (provider.Provider.Source: the client address, or the
	// tenant's back end and its end user); default: the peer's address.
	Source func(*http.Request, *storage.Tenant) idp.Source
	// TrustedGateways are the API gateways whose X-Consumer-ID names the
	// tenant (its client id or tenant key); from anywhere else the header
	// is ignored.
	TrustedGateways []netip.Prefix
}

// API is the legacy Manam REST API.
type API struct {
	Deps
}

// New builds the API.
func New(d Deps) (*API, error) {
	if d.IDP == nil || d.Tokens == nil || d.Tenants == nil || len(d.Key) < 32 || d.Issuer == "" {
		return nil, errors.New("legacy: missing dependency")
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Source == nil {
		d.Source = func(r *http.Request, _ *storage.Tenant) idp.Source { return idp.FromAddr(provider.PeerAddr(r)) }
	}
	if d.Product == "" {
		d.Product = "Manam"
	}
	return &API{Deps: d}, nil
}

// Cookie names: the documents' walkthroughs carry a session cookie named
// ab_blog (kept) and a csrf_token cookie (not set here: see
// docs/legacy-api.md); the others are this server's.
const (
	sessionCookie = "ab_blog"
	pendingCookie = "ab_pending"  // a sign-in waiting for its second factor
	proofCookie   = "ab_2fa_mail" // the e-mail step before enrolling a factor
	mobileCookie  = "ab_mobile"   // the number just registered, for confirm_sms
)

// call is one request as the handlers see it.
type call struct {
	p      *params
	tenant *storage.Tenant // nil on routes that do not need the key
	lang   i18n.Lang
	prefix string // "" or "/manam": where the request came in
	// userType is 001's user_type header (email or mobile), when sent.
	userType string
}

// at is a location of this API as the caller reached it: under /manam/
// for the second version's URLs ("/" stays "/", as documented).
func (c *call) at(location string) string {
	if location == "/" || location == "" {
		return "/"
	}
	return c.prefix + location
}

// handler serves one endpoint; a returned error is written by fail.
type handler func(w http.ResponseWriter, r *http.Request, c *call) error

// Mount adds every route, at / and under /manam/.
func (a *API) Mount(r *mux.Router) {
	type route struct {
		path    string
		methods []string
		tenant  bool // needs the tenant key
		h       handler
	}
	get, post := http.MethodGet, http.MethodPost
	routes := []route{
		{"/auth/register", []string{post}, true, a.register},
		{"/auth/confirm", []string{get, post}, true, a.confirmEmail},
		{"/auth/confirm/{cnf}", []string{get}, true, a.confirmEmail},
		{"/auth/confirm/{cnf}/{key}", []string{get}, true, a.confirmEmail},
		{"/auth/confirm_email", []string{get, post}, true, a.confirmEmail},
		{"/auth/confirm_email/{cnf}", []string{get}, true, a.confirmEmail},
		{"/auth/confirm_sms", []string{get, post}, true, a.confirmSMS},
		{"/auth/send_confirm_email", []string{get, post}, true, a.sendConfirmEmail},
		{"/auth/send_confirm_sms", []string{get, post}, true, a.sendConfirmSMS},
		{"/auth/new_confirm_sms", []string{get, post}, true, a.sendConfirmSMS},
		{"/auth/new_confirm_sms/{mobile}", []string{get, post}, true, a.sendConfirmSMS},
		{"/auth/login", []string{post}, true, a.login},
		// POST only: a link on another site must not sign anyone out.
		{"/auth/logout", []string{post}, false, a.logout},
		{"/auth/recover", []string{post}, true, a.recover},
		{"/auth/recover/end", []string{get, post}, true, a.changePassword},
		{"/auth/changepassword", []string{get, post}, true, a.changePassword},
		{"/auth/refreshToken", []string{get, post}, true, a.refresh},
		{"/view_user", []string{get, post}, true, a.viewUser},
		{"/view_user/{email}", []string{get, post}, true, a.viewUser},
		{"/edit_user", []string{post}, true, a.editUser},
		{"/get_manam_user_info/{email}", []string{get}, true, a.manamUserInfo},
		{"/auth/get_manam_user_info/{email}", []string{get}, true, a.manamUserInfo},
		// The callback before /manamlogin/{key}, which would match it too.
		{"/manamlogin/callback", []string{get}, false, a.manamLoginCallback},
		{"/manamlogin", []string{get}, true, a.manamLogin},
		{"/manamlogin/{key}", []string{get}, true, a.manamLogin},
		{"/googlelogin/{key}", []string{get}, true, a.googleLogin},
	}
	for _, kind := range []string{"totp", "sms"} {
		routes = append(routes,
			route{"/auth/2fa/" + kind + "/email/verify", []string{post}, false, a.factorEmail(kind)},
			route{"/auth/2fa/" + kind + "/email/verify/end", []string{get, post}, false, a.factorEmailEnd(kind)},
			route{"/auth/2fa/" + kind + "/setup", []string{get}, false, a.setupPage(kind)},
			route{"/auth/2fa/" + kind + "/confirm", []string{get}, false, a.setupPage(kind)},
			route{"/auth/2fa/" + kind + "/validate", []string{post}, false, a.validate(kind)},
			route{"/auth/2fa/" + kind + "/remove", []string{post}, false, a.remove(kind)},
		)
	}
	routes = append(routes,
		route{"/auth/2fa/totp/setup", []string{post}, false, a.setupTOTP},
		route{"/auth/2fa/totp/qr", []string{get}, false, a.qr},
		route{"/auth/2fa/totp/confirm", []string{post}, false, a.confirmTOTP},
		route{"/auth/2fa/sms/setup", []string{post}, false, a.setupSMS},
		route{"/auth/2fa/sms/confirm", []string{post}, false, a.confirmSMSFactor},
	)
	for _, prefix := range []string{"", "/manam"} {
		for _, rt := range routes {
			r.Handle(prefix+rt.path, a.serve(prefix, rt.tenant, rt.h)).Methods(append(rt.methods, http.MethodOptions)...)
		}
	}
	// Only at the root: the hosted pages return there.
	r.Handle(googleDonePath, a.serve("", false, a.googleDone)).Methods(get)
	// A known path with another method: 405 in the documents' shape, not
	// the router's OAuth error. After every route, so that it shadows no
	// method of a path.
	allow := map[string][]string{}
	var paths []string
	for _, rt := range routes {
		if allow[rt.path] == nil {
			paths = append(paths, rt.path)
		}
		allow[rt.path] = append(allow[rt.path], rt.methods...)
	}
	for _, prefix := range []string{"", "/manam"} {
		for _, p := range paths {
			r.Handle(prefix+p, a.wrongMethod(prefix, allow[p]))
		}
	}
}

// wrongMethod answers 405 with the methods a path takes.
func (a *API) wrongMethod(prefix string, methods []string) http.Handler {
	var allow []string
	for _, m := range methods {
		if !slices.Contains(allow, m) {
			allow = append(allow, m)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cors(w, r) {
			return
		}
		c := &call{lang: i18n.Choose("", r.Header.Get("Accept-Language")), prefix: prefix}
		body := a.shape(c, "", "/")
		body["message"] = i18n.T(c.lang, "Use the %s method for this address.", strings.Join(allow, " or "))
		w.Header().Set("Allow", strings.Join(append(slices.Clone(allow), http.MethodOptions), ", "))
		a.write(w, http.StatusMethodNotAllowed, body)
	})
}

// serve reads the request (parameters, language, tenant) and maps the
// handler's error once.
func (a *API) serve(prefix string, needTenant bool, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cors(w, r) {
			return
		}
		c := &call{lang: i18n.Choose("", r.Header.Get("Accept-Language")), prefix: prefix, userType: r.Header.Get("user_type")}
		p, err := readParams(r)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				a.write(w, http.StatusRequestEntityTooLarge, a.shape(c, "The request body is too large.", "/"))
				return
			}
			a.write(w, http.StatusBadRequest, a.shape(c, "The request body is not valid JSON or form data.", "/"))
			return
		}
		c.p = p
		if needTenant {
			t, err := a.tenant(r, c)
			if err != nil {
				a.fail(w, r, c, err)
				return
			}
			c.tenant = t
		}
		if err := h(w, r, c); err != nil {
			a.fail(w, r, c, err)
		}
	})
}

// cors lets the documents' browser examples ($.ajax from the tenant's own
// site, with the key in a custom header) call the API from any origin,
// without credentials: no cookie goes with a cross-origin call, so an
// answer tells a page nothing it could not learn by calling directly (the
// key is public, and every other secret is in the request). The
// cookie-session walkthroughs are same-origin or non-browser clients. It
// answers a preflight itself (true).
func cors(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("Origin") == "" {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Add("Vary", "Origin")
	if r.Method != http.MethodOptions {
		return false
	}
	h.Set("Access-Control-Allow-Methods", "GET, POST")
	h.Set("Access-Control-Allow-Headers", "Content-Type, Accept-Language, Authorization, customer_token, apieco_key, auth_token, refresh_token, access_token, user_type")
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
	return true
}

// apiError is a failure with its documented shape.
type apiError struct {
	status   int
	message  string
	location string
	errs     idp.FieldErrors
	extra    map[string]any
}

func (e *apiError) Error() string { return fmt.Sprintf("legacy: %d %s", e.status, e.message) }

// refuse is a 401 with the documents' failure shape.
func refuse(message, location string) *apiError {
	return &apiError{status: http.StatusUnauthorized, message: message, location: location}
}

var (
	errNoTenant = refuse("The tenant key is not valid.", "/")
	errSignIn   = refuse("Sign in first.", "/auth/login")
)

// fail writes err in the documents' failure shape: FieldErrors and
// apiErrors as they say, throttling as 429, anything else as 503 (logged;
// the caller sees no detail).
func (a *API) fail(w http.ResponseWriter, r *http.Request, c *call, err error) {
	var ae *apiError
	var fe idp.FieldErrors
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &fe):
		ae = &apiError{status: http.StatusUnauthorized, message: "Check the fields listed in errors.", location: "/", errs: fe}
	case errors.Is(err, idp.ErrThrottled):
		w.Header().Set("Retry-After", "60")
		ae = &apiError{status: http.StatusTooManyRequests, message: "Too many attempts. Wait a few minutes and try again.", location: "/"}
	default:
		if r.Context().Err() != nil {
			// The client hung up: its request's work was cancelled.
			a.Logger.InfoContext(r.Context(), "legacy API request abandoned by the client", "path", r.URL.Path, "err", err)
		} else {
			a.Logger.ErrorContext(r.Context(), "legacy API request failed", "request_id", provider.RequestID(r.Context()), "path", r.URL.Path, "err", err)
		}
		ae = &apiError{status: http.StatusServiceUnavailable, message: "The service is unavailable right now. Please try again in a moment.", location: "/"}
	}
	body := a.shape(c, ae.message, ae.location)
	if len(ae.errs) > 0 {
		errs := map[string][]string{}
		for k, v := range ae.errs {
			errs[docField(k)] = []string{i18n.T(c.lang, v)}
		}
		body["errors"] = errs
	}
	for k, v := range ae.extra {
		body[k] = v
	}
	a.write(w, ae.status, body)
}

// docFields are the documents' spellings of the fields the account
// service names otherwise: errors name the field the caller sent.
var docFields = map[string]string{"first_name": "firstname", "last_name": "lastname", "picture_url": "picture",
	"linkedin_id": "linkedIn_id", "password_confirm": "confirm_password"}

func docField(k string) string {
	if d, ok := docFields[k]; ok {
		return d
	}
	return k
}

// shape is the documents' message shape: location, message, status
// ("unsuccess"; callers set "success").
func (a *API) shape(c *call, message, location string) map[string]any {
	return map[string]any{"location": c.at(location), "message": i18n.T(c.lang, message), "status": "unsuccess"}
}

// success is the message shape of a success.
func (a *API) success(c *call, message, location string) map[string]any {
	body := map[string]any{"location": c.at(location), "status": "success"}
	if message != "" {
		body["message"] = i18n.T(c.lang, message)
	}
	return body
}

// write sends a JSON answer that must not be cached.
func (a *API) write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Vary", "Cookie")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// tenant finds the request's tenant: a trusted gateway's X-Consumer-ID,
// else the tenant key from the customer_token or apieco_key header, the
// path, the body or the query.
func (a *API) tenant(r *http.Request, c *call) (*storage.Tenant, error) {
	ctx := r.Context()
	if id := r.Header.Get("X-Consumer-ID"); id != "" && a.fromGateway(r) {
		t, err := a.Tenants.Get(ctx, id)
		if errors.Is(err, storage.ErrNotFound) {
			t, err = a.Tenants.ByCustomerToken(ctx, id)
		}
		return a.tenantResult(t, err)
	}
	key := firstNonEmpty(r.Header.Get("customer_token"), r.Header.Get("apieco_key"), r.Header.Get("customer-token"), r.Header.Get("apieco-key"),
		mux.Vars(r)["key"], c.p.get("customer_token", "apieco_key"))
	if key == "" || len(key) > 64 {
		return nil, errNoTenant
	}
	return a.tenantResult(a.Tenants.ByCustomerToken(ctx, key))
}

func (a *API) tenantResult(t *storage.Tenant, err error) (*storage.Tenant, error) {
	if errors.Is(err, storage.ErrNotFound) {
		return nil, errNoTenant
	}
	return t, err
}

// fromGateway tells whether the request's peer is a trusted gateway.
func (a *API) fromGateway(r *http.Request) bool {
	if len(a.TrustedGateways) == 0 {
		return false
	}
	addr, err := netip.ParseAddrPort(r.RemoteAddr)
	return err == nil && provider.InPrefixes(addr.Addr(), a.TrustedGateways)
}

// clientOf is a tenant's OAuth client (nil for none).
func clientOf(t *storage.Tenant) *storage.Client {
	if t == nil {
		return nil
	}
	return storage.ClientFromTenant(t)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}

// Signed cookies: base64url(payload) "." base64url(HMAC-SHA256(key, name|payload)).

func (a *API) sign(name, payload string) string {
	b := base64.RawURLEncoding.EncodeToString([]byte(payload))
	return b + "." + base64.RawURLEncoding.EncodeToString(a.mac(name, b))
}

func (a *API) mac(name, body string) []byte {
	m := hmac.New(sha256.New, a.Key)
	m.Write([]byte(name + "|" + body))
	return m.Sum(nil)
}

// signed reads a signed cookie's payload and its expiry (the payload's
// last "|"-field, Unix seconds): "" when absent, forged or expired.
func (a *API) signed(r *http.Request, name string) string {
	ck, err := r.Cookie(name)
	if err != nil || len(ck.Value) > 4096 {
		return ""
	}
	b, sig, ok := strings.Cut(ck.Value, ".")
	mac, err := base64.RawURLEncoding.DecodeString(sig)
	if !ok || err != nil || !hmac.Equal(mac, a.mac(name, b)) {
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

// setSigned sets a signed cookie that lasts ttl.
func (a *API) setSigned(w http.ResponseWriter, name, payload string, ttl time.Duration) {
	v := a.sign(name, payload+"|"+strconv.FormatInt(time.Now().Add(ttl).Unix(), 10))
	a.setCookie(w, name, v, int(ttl/time.Second))
}

// setCookie sets (maxAge > 0: for that long; 0: for the browser session;
// < 0: removes) one of the API's cookies: HttpOnly, SameSite=Lax (a
// cross-site request carries none of them), Secure on https.
func (a *API) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true, Secure: a.Secure, SameSite: http.SameSiteLaxMode})
}

// links are the URLs and language of the mail a legacy call sends.
func (a *API) links(c *call) idp.Links {
	l := idp.Links{
		Confirm:     func(token string) string { return a.Issuer + "/confirm?token=" + urlQuery(token) },
		Reset:       func(token string) string { return a.Issuer + "/recover/reset?token=" + urlQuery(token) },
		ChangeEmail: func(token string) string { return a.Issuer + "/account/email/confirm?token=" + urlQuery(token) },
		SignIn:      a.Issuer + "/",
		Recover:     a.Issuer + "/recover",
		Product:     a.Product,
		Lang:        c.lang,
	}
	if c.tenant != nil {
		l.ClientID = c.tenant.ID
		l.Product = c.tenant.Name
	}
	return l
}
