package legacy

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/gorilla/mux"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/provider"
	"github.com/manam-id/manam/provider/internal/clientapi"
	"github.com/manam-id/manam/storage"
)

// Tokens is what the legacy API needs of the provider: the same tokens as
// /oauth2/token, a tenant's client secret checked, and Login with Manam's
// code exchanged for the tenant.
type Tokens interface {
	clientapi.Tokens
	AuthenticateClient(ctx context.Context, clientID, secret string) (*storage.Client, error)
	ExchangeCodeFor(ctx context.Context, client *storage.Client, code, verifier, redirectURI string) (*provider.Tokens, error)
}

// TenantFinder finds tenants by client id and by tenant key (storage.Tenants).
type TenantFinder interface {
	clientapi.Tenants
	ByCustomerToken(ctx context.Context, token string) (*storage.Tenant, error)
}

// Accounts is what the legacy API needs of the account service
// (*idp.Service), by capability: what every client dialect uses, and the
// second version's pending sign-ins, confirmations by code, profiles and
// second factors.
type Accounts interface {
	clientapi.Accounts
	PendingSignIns
	Confirmations
	Profiles
	Factors
}

// PendingSignIns hold a sign-in that waits for its second factor.
type PendingSignIns interface {
	PendingSignIn(ctx context.Context, token string) (*idp.Pending, error)
	CompletePending(ctx context.Context, token, method, code string, src idp.Source) (*storage.Account, []string, error)
}

// Confirmations confirm an address or a number, and reset a password by
// a texted code.
type Confirmations interface {
	ConfirmEmail(ctx context.Context, token string) (*storage.Account, error)
	ConfirmMobile(ctx context.Context, mobile, code string) (*storage.Account, error)
	ResendCode(ctx context.Context, mobile string, links idp.Links) error
	ResetWithCode(ctx context.Context, mobile, code, password, confirm string, src idp.Source) (*storage.Account, error)
}

// Profiles read and write what a member's profile shows.
type Profiles interface {
	ParseProfile(in idp.ProfileInput) (string, storage.Profile, idp.FieldErrors)
	SaveMemberProfile(ctx context.Context, accountID, clientID string, in idp.ProfileInput, role *string, fields map[string]any) error
	Links(ctx context.Context, accountID string) ([]storage.UpstreamLink, error)
	DefaultCountryCode() string
}

// Factors set up, prove and remove second factors.
type Factors interface {
	BeginTOTP(ctx context.Context, accountID string) (*idp.TOTPEnrolment, error)
	PendingTOTP(ctx context.Context, accountID string) (*idp.TOTPEnrolment, error)
	ConfirmTOTP(ctx context.Context, accountID, code string) ([]string, error)
	BeginSMSFactor(ctx context.Context, accountID, phone string, links idp.Links) (string, error)
	ConfirmSMSFactor(ctx context.Context, accountID, code string) ([]string, error)
	SendFactorCode(ctx context.Context, accountID string, links idp.Links) error
	SendFactorEmail(ctx context.Context, accountID, typed string, links idp.Links) error
	ProveFactorEmail(ctx context.Context, accountID, token string) error
	RemoveFactor(ctx context.Context, accountID, kind, method, code string) error
	RaiseSession(ctx context.Context, sess *idp.Session, method string) error
	EndOtherSessions(ctx context.Context, sess *idp.Session) error
}

// Deps are the API's collaborators.
type Deps struct {
	IDP     Accounts
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
	cookies clientapi.Cookies
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
		d.Source = clientapi.PeerSource
	}
	if d.Product == "" {
		d.Product = "Manam"
	}
	return &API{Deps: d, cookies: clientapi.Cookies{Key: d.Key, Secure: d.Secure}}, nil
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
type call = clientapi.Call

// at is a location of this API as the caller reached it: under /manam/
// for the second version's URLs ("/" stays "/", as documented).
func at(c *call, location string) string {
	if location == "/" || location == "" {
		return "/"
	}
	return c.Prefix + location
}

// Mount adds every endpoint, at / and under /manam/.
func (a *API) Mount(r *mux.Router) {
	clientapi.Table{Endpoints: a.endpoints(), Prefixes: []string{"", "/manam"}, Rules: clientapi.Rules{Loose: true, Query: true},
		CORS: cors, Tenant: a.tenant, Fail: a.fail}.Mount(r)
}

// endpoints are the documented operations, in routing order (a fixed path
// before a pattern that would match it too). NoTenant marks those that
// take no tenant key.
func (a *API) endpoints() []clientapi.Endpoint {
	get, post, either := []string{http.MethodGet}, []string{http.MethodPost}, []string{http.MethodGet, http.MethodPost}
	eps := []clientapi.Endpoint{
		{Methods: post, Paths: []string{"/auth/register"}, Handle: a.register},
		{Methods: either, Paths: []string{"/auth/confirm"}, Handle: a.confirmEmail},
		{Methods: get, Paths: []string{"/auth/confirm/{cnf}", "/auth/confirm/{cnf}/{key}"}, Handle: a.confirmEmail},
		{Methods: either, Paths: []string{"/auth/confirm_email"}, Handle: a.confirmEmail},
		{Methods: get, Paths: []string{"/auth/confirm_email/{cnf}"}, Handle: a.confirmEmail},
		{Methods: either, Paths: []string{"/auth/confirm_sms"}, Handle: a.confirmSMS},
		{Methods: either, Paths: []string{"/auth/send_confirm_email"}, Handle: a.sendConfirmEmail},
		{Methods: either, Paths: []string{"/auth/send_confirm_sms", "/auth/new_confirm_sms", "/auth/new_confirm_sms/{mobile}"}, Handle: a.sendConfirmSMS},
		{Methods: post, Paths: []string{"/auth/login"}, Handle: a.login},
		// POST only: a link on another site must not sign anyone out.
		{Methods: post, Paths: []string{"/auth/logout"}, Handle: a.logout, NoTenant: true},
		{Methods: post, Paths: []string{"/auth/recover"}, Handle: a.recover},
		{Methods: either, Paths: []string{"/auth/recover/end", "/auth/changepassword"}, Handle: a.changePassword},
		{Methods: either, Paths: []string{"/auth/refreshToken"}, Handle: a.refresh},
		{Methods: either, Paths: []string{"/view_user", "/view_user/{email}"}, Handle: a.viewUser},
		{Methods: post, Paths: []string{"/edit_user"}, Handle: a.editUser},
		{Methods: get, Paths: []string{"/get_manam_user_info/{email}", "/auth/get_manam_user_info/{email}"}, Handle: a.manamUserInfo},
		// The callback before /manamlogin/{key}, which would match it too.
		{Methods: get, Paths: []string{CallbackPath}, Handle: a.manamLoginCallback, NoTenant: true},
		{Methods: get, Paths: []string{"/manamlogin", "/manamlogin/{key}"}, Handle: a.manamLogin},
		{Methods: get, Paths: []string{"/googlelogin/{key}"}, Handle: a.googleLogin},
		// Only at the root: the hosted pages return there.
		{Methods: get, Paths: []string{googleDonePath}, Handle: a.googleDone, NoTenant: true, Root: true},
	}
	for _, kind := range []string{"totp", "sms"} {
		eps = append(eps,
			clientapi.Endpoint{Methods: post, Paths: []string{"/auth/2fa/" + kind + "/email/verify"}, Handle: a.factorEmail(kind), NoTenant: true},
			clientapi.Endpoint{Methods: either, Paths: []string{"/auth/2fa/" + kind + "/email/verify/end"}, Handle: a.factorEmailEnd(kind), NoTenant: true},
			clientapi.Endpoint{Methods: get, Paths: []string{"/auth/2fa/" + kind + "/setup", "/auth/2fa/" + kind + "/confirm"}, Handle: a.setupPage(kind), NoTenant: true},
			clientapi.Endpoint{Methods: post, Paths: []string{"/auth/2fa/" + kind + "/validate"}, Handle: a.validate(kind), NoTenant: true},
			clientapi.Endpoint{Methods: post, Paths: []string{"/auth/2fa/" + kind + "/remove"}, Handle: a.remove(kind), NoTenant: true},
		)
	}
	return append(eps,
		clientapi.Endpoint{Methods: post, Paths: []string{"/auth/2fa/totp/setup"}, Handle: a.setupTOTP, NoTenant: true},
		clientapi.Endpoint{Methods: get, Paths: []string{"/auth/2fa/totp/qr"}, Handle: a.qr, NoTenant: true},
		clientapi.Endpoint{Methods: post, Paths: []string{"/auth/2fa/totp/confirm"}, Handle: a.confirmTOTP, NoTenant: true},
		clientapi.Endpoint{Methods: post, Paths: []string{"/auth/2fa/sms/setup"}, Handle: a.setupSMS, NoTenant: true},
		clientapi.Endpoint{Methods: post, Paths: []string{"/auth/2fa/sms/confirm"}, Handle: a.confirmSMSFactor, NoTenant: true},
	)
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

// refuse is a 401 with the documents' failure shape.
func refuse(message, location string) *clientapi.Problem {
	return &clientapi.Problem{Status: http.StatusUnauthorized, Msgs: []clientapi.Phrase{clientapi.Say(message)}, Location: location}
}

var (
	errNoTenant = refuse("The tenant key is not valid.", "/")
	errSignIn   = refuse("Sign in first.", "/auth/login")
)

// fail writes every failure in the documents' shape (location, message,
// status "unsuccess", and errors naming the fields): field errors and
// unreadable bodies as they say, the rest as every dialect answers them
// (clientapi.Classify: throttling 429, ours 503, logged, with no detail).
func (a *API) fail(w http.ResponseWriter, r *http.Request, c *call, err error) {
	var fe idp.FieldErrors
	switch {
	case errors.As(err, new(*clientapi.Problem)):
	case errors.As(err, &fe):
		err = refuse("Check the fields listed in errors.", "/").WithFields(fe)
	case errors.Is(err, clientapi.ErrBadBody):
		err = &clientapi.Problem{Status: http.StatusBadRequest, Msgs: []clientapi.Phrase{clientapi.Say("The request body is not valid JSON or form data.")}}
	}
	p := clientapi.Classify(w, r, err, a.Logger, "legacy API")
	body := map[string]any{"location": at(c, p.Location), "message": "", "status": "unsuccess"}
	if len(p.Msgs) > 0 {
		body["message"] = p.Msgs[0].In(c.Lang)
	}
	if len(p.Fields) > 0 {
		errs := map[string][]string{}
		for k, v := range p.Fields {
			errs[docField(k)] = []string{v.In(c.Lang)}
		}
		body["errors"] = errs
	}
	for k, v := range p.Extra {
		body[k] = v
	}
	a.write(w, p.Status, body)
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

// success is the documents' message shape of a success.
func (a *API) success(c *call, message, location string) map[string]any {
	body := map[string]any{"location": at(c, location), "status": "success"}
	if message != "" {
		body["message"] = a.t(c, message)
	}
	return body
}

// write sends a JSON answer that must not be cached, and varies with the
// session cookie.
func (a *API) write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Vary", "Cookie")
	clientapi.WriteJSON(w, status, v)
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
	key := clientapi.FirstNonEmpty(r.Header.Get("customer_token"), r.Header.Get("apieco_key"), r.Header.Get("customer-token"), r.Header.Get("apieco-key"),
		mux.Vars(r)["key"], c.Get("customer_token", "apieco_key"))
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

// setCookie sets (maxAge > 0: for that long; 0: for the browser session;
// < 0: removes) one of the API's cookies, at every path.
func (a *API) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	a.cookies.Set(w, name, value, "/", maxAge)
}

// setSigned sets a signed cookie that lasts ttl; signed reads one back
// ("" when absent, forged or expired).
func (a *API) setSigned(w http.ResponseWriter, name, payload string, ttl time.Duration) {
	a.cookies.SetSigned(w, name, payload, "/", ttl)
}

func (a *API) signed(r *http.Request, name string) string { return a.cookies.Signed(r, name) }

// links are the URLs and language of the mail a legacy call sends.
func (a *API) links(c *call) idp.Links { return clientapi.Links(a.Issuer, a.Product, c) }
