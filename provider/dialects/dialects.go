package dialects

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/idp/i18n"
	"github.com/manam-id/manam/provider"
	"github.com/manam-id/manam/storage"
)

// Dialect names a client dialect (the MANAM_DIALECTS "dialect" values).
type Dialect string

// The dialects of the seed documents.
const (
	VendorAuthorization Dialect = "vendor-authorization" // 002
	AuthorizationAPI    Dialect = "authorization-api"    // 003
	JWTAuthAPI          Dialect = "jwt-auth-api"         // 004
)

// Dialects lists every dialect, in document order.
var Dialects = []Dialect{VendorAuthorization, AuthorizationAPI, JWTAuthAPI}

// Config is one mount: which dialect, for which tenant, where.
type Config struct {
	Dialect Dialect
	// Tenant is the client id of the tenant every call of the mount is
	// for (none of these clients sends a tenant key).
	Tenant string
	// Prefix is where the documented paths start ("" for the root,
	// otherwise "/…" without a trailing slash); Host, when set instead,
	// mounts the documented paths on that Host header.
	Prefix, Host string
	// ExistEmail turns on 004's GET /api/exist-email/{email}: account
	// enumeration by design, rate-limited per client address. Default off.
	ExistEmail bool
	// Captcha checks 004's resend-email-verification capcha (nil: resend
	// is refused).
	Captcha CaptchaVerifier
}

// Accounts is what the dialects need of the account service (*idp.Service).
type Accounts interface {
	AuthenticateFor(ctx context.Context, clientID, identifier, password string, from idp.Source) (*storage.Account, error)
	NextStep(ctx context.Context, acct *storage.Account, wantMFA bool, deviceToken string) (idp.SecondStep, string, error)
	StartSession(ctx context.Context, a *storage.Account, amr []string, remember bool) (string, *idp.Session, error)
	Session(ctx context.Context, token string) (*idp.Session, error)
	EndSession(ctx context.Context, token string) error
	RememberTTL() time.Duration
	Join(ctx context.Context, accountID, clientID, via string) error
	Membership(ctx context.Context, accountID, clientID string) (*storage.Membership, error)
	Account(ctx context.Context, id string) (*storage.Account, error)
	AccountByIdentifier(ctx context.Context, identifier string) (*storage.Account, error)
	Register(ctx context.Context, in idp.Registration, links idp.Links, from idp.Source) (*storage.Account, error)
	ConfirmEmailFor(ctx context.Context, token string) (*storage.Account, string, error)
	ResendConfirmation(ctx context.Context, email string, links idp.Links) error
	RequestRecovery(ctx context.Context, email string, links idp.Links, from idp.Source) error
	ResetPassword(ctx context.Context, token, password, confirm string) (*storage.Account, error)
	ChangePassword(ctx context.Context, sess *idp.Session, current, password, confirm string) error
	ChangePasswordRecent(ctx context.Context, sess *idp.Session, maxAge time.Duration, password, confirm string) error
}

// Tokens is what the dialects need of the provider: the same tokens as
// /oauth2/token.
type Tokens interface {
	IssueFor(ctx context.Context, client *storage.Client, in provider.IssueRequest) (*provider.Tokens, error)
	RefreshFor(ctx context.Context, client *storage.Client, refreshToken string) (*provider.Tokens, error)
	AccessTokenInfo(ctx context.Context, token string) (*provider.TokenInfo, error)
}

// Tenants reads a tenant's settings (storage.Tenants).
type Tenants interface {
	Get(ctx context.Context, id string) (*storage.Tenant, error)
}

// Deps are a mount's collaborators.
type Deps struct {
	Accounts Accounts
	Tokens   Tokens
	Tenants  Tenants
	// MemberKey (≥ 32 bytes, derived from the system secret) keys the
	// stable per-member identifiers (003's key, 002's default vendor_id).
	MemberKey []byte
	// Issuer is the public URL (hosted pages, mail links); Secure marks
	// cookies Secure (https).
	Issuer string
	Secure bool
	Logger *slog.Logger
	// Source is where a request for the tenant comes from, for the
	// throttles (provider.Provider.Source: the client address, or the
	// tenant's back end and its end user); default: the peer's address.
	Source func(*http.Request, *storage.Tenant) idp.Source
	// ExistEmail and Resend limit 004's exist-email (10 at once, then one
	// every 6 s) and resend-email-verification (10, then one a minute) per
	// end-user address (nil: these defaults in this process's memory).
	ExistEmail, Resend *idp.Throttle
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// New builds one mount's routes.
func New(cfg Config, d Deps) (provider.Mount, error) {
	if d.Accounts == nil || d.Tokens == nil || d.Tenants == nil || len(d.MemberKey) < 32 || d.Issuer == "" {
		return nil, errors.New("dialects: missing dependency")
	}
	if cfg.Tenant == "" {
		return nil, errors.New("dialects: no tenant")
	}
	if cfg.Prefix != "" && cfg.Host != "" {
		return nil, errors.New("dialects: a prefix or a host, not both")
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Source == nil {
		d.Source = func(r *http.Request, _ *storage.Tenant) idp.Source { return idp.FromAddr(provider.PeerAddr(r)) }
	}
	if d.ExistEmail == nil {
		d.ExistEmail = idp.NewThrottle(nil, "exist-email", idp.Budget{Burst: 10, Interval: 6 * time.Second}, d.Now)
	}
	if d.Resend == nil {
		d.Resend = idp.NewThrottle(nil, "resend", idp.Budget{Burst: 10, Interval: time.Minute}, d.Now)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	b := &base{cfg: cfg, d: d}
	switch cfg.Dialect {
	case VendorAuthorization:
		v := &vendor{base: b}
		return func(r *mux.Router) { b.mount(r, v.endpoints(), v.fail) }, nil
	case AuthorizationAPI:
		a := &authAPI{base: b}
		return func(r *mux.Router) { b.mount(r, a.endpoints(), a.fail) }, nil
	case JWTAuthAPI:
		j := newJWTAuth(b)
		return func(r *mux.Router) { b.mount(r, j.endpoints(), j.fail) }, nil
	}
	return nil, fmt.Errorf("dialects: unknown dialect %q", cfg.Dialect)
}

// base is what every dialect's mount shares.
type base struct {
	cfg Config
	d   Deps
}

// call is one request as a handler sees it.
type call struct {
	lang   i18n.Lang
	f      fields
	tenant *storage.Tenant
}

type (
	handler func(w http.ResponseWriter, r *http.Request, c *call) error
	failer  func(w http.ResponseWriter, r *http.Request, c *call, err error)
)

// endpoint is one documented operation, at every documented spelling of
// its path.
type endpoint struct {
	method   string
	paths    []string
	h        handler
	jsonOnly bool
}

// mount adds the endpoints under the prefix or on the host. Each path
// takes every method, so that a wrong one is answered in the dialect's
// shape (405) rather than the provider's.
func (b *base) mount(r *mux.Router, eps []endpoint, fail failer) {
	if b.cfg.Host != "" {
		r = r.Host(b.cfg.Host).Subrouter()
	}
	for _, ep := range eps {
		for _, p := range ep.paths {
			r.Handle(b.cfg.Prefix+p, b.serve(ep, fail))
		}
	}
}

// serve reads the call (language, body, tenant) and hands the handler's
// error to the dialect's one failure writer.
func (b *base) serve(ep endpoint, fail failer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{lang: i18n.Choose("", r.Header.Get("Accept-Language")), f: fields{}}
		if r.Method != ep.method {
			w.Header().Set("Allow", ep.method)
			fail(w, r, c, &problem{status: http.StatusMethodNotAllowed, msgs: []phrase{say("Use the %s method for this address.", ep.method)}})
			return
		}
		f, err := readBody(r, ep.jsonOnly)
		if err != nil {
			fail(w, r, c, err)
			return
		}
		c.f = f
		t, err := b.d.Tenants.Get(r.Context(), b.cfg.Tenant)
		if err != nil {
			fail(w, r, c, fmt.Errorf("dialects: tenant %s of the %s mount: %w", b.cfg.Tenant, b.cfg.Dialect, err))
			return
		}
		c.tenant = t
		if err := ep.h(w, r, c); err != nil {
			fail(w, r, c, err)
		}
	})
}

// phrase is an English message (a key of the Persian catalog) with its
// arguments, translated when written.
type phrase struct {
	key  string
	args []any
}

// say makes a phrase; every user-facing text of this package goes
// through it (the catalog test scans for calls of say).
func say(key string, args ...any) phrase { return phrase{key: key, args: args} }

func (p phrase) in(l i18n.Lang) string { return i18n.T(l, p.key, p.args...) }

// problem is a failure as a dialect answers it: a status, its messages
// (one per failing rule), the failing fields, and for a sign-in that must
// finish on a hosted page, that page.
type problem struct {
	status   int
	msgs     []phrase
	fields   map[string]phrase
	location string
}

func (p *problem) Error() string { return fmt.Sprintf("dialects: %d %s", p.status, p.msgs) }

// refusal is a problem with one message.
func refusal(status int, msg phrase) *problem {
	return &problem{status: status, msgs: []phrase{msg}}
}

// secondFactorError: the account signs in with a second factor (or must
// enrol one), which none of these dialects can ask for: the sign-in
// finishes on the hosted page at page, and no token is issued.
type secondFactorError struct{ page string }

func (e *secondFactorError) Error() string { return "dialects: second factor needed at " + e.page }

// problemOf categorises the failures every dialect shares. The others
// (ours: the database, the mail queue) are logged and become a 503 with
// no detail.
func (b *base) problemOf(r *http.Request, w http.ResponseWriter, err error) *problem {
	var p *problem
	var fe idp.FieldErrors
	var mbe *http.MaxBytesError
	var sf *secondFactorError
	switch {
	case errors.As(err, &p):
		return p
	case errors.As(err, &mbe):
		return refusal(http.StatusRequestEntityTooLarge, say("The request body is too large."))
	case errors.Is(err, errNotJSON):
		return refusal(http.StatusUnsupportedMediaType, say("Send the request body as JSON (Content-Type: application/json)."))
	case errors.Is(err, errBadBody):
		return refusal(http.StatusBadRequest, say("The request body is not valid JSON."))
	case errors.Is(err, idp.ErrThrottled):
		w.Header().Set("Retry-After", "60")
		return refusal(http.StatusTooManyRequests, say("Too many attempts. Wait a few minutes and try again."))
	case errors.As(err, &sf):
		msg := say("This account signs in with a second factor: finish signing in at %s.", sf.page)
		if strings.HasSuffix(sf.page, "/account") {
			msg = say("This application requires a second factor: set one up at %s, then sign in again.", sf.page)
		}
		return &problem{status: http.StatusForbidden, msgs: []phrase{msg}, location: sf.page}
	case errors.As(err, &fe):
		p := &problem{status: http.StatusBadRequest, fields: map[string]phrase{}}
		for _, k := range sortedKeys(fe) {
			p.msgs = append(p.msgs, phrase{key: fe[k]})
			p.fields[k] = phrase{key: fe[k]}
		}
		return p
	}
	b.d.Logger.ErrorContext(r.Context(), "dialect request failed", "dialect", string(b.cfg.Dialect), "tenant", b.cfg.Tenant,
		"request_id", provider.RequestID(r.Context()), "path", r.URL.Path, "err", err)
	return refusal(http.StatusServiceUnavailable, say("The service is unavailable right now. Please try again in a moment."))
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// writeJSON sends a JSON answer that must not be cached.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeEmpty sends the documents' "Content: None" success.
func writeEmpty(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// signIn proves a password for the mount's tenant and starts a session:
// the account joins the tenant; an account with a second factor (or a
// tenant requiring one) gets a secondFactorError and nothing else. The
// caller mints tokens from the session if its dialect has any.
func (b *base) signIn(ctx context.Context, r *http.Request, c *call, email, password string, remember bool) (string, *idp.Session, error) {
	acct, err := b.d.Accounts.AuthenticateFor(ctx, c.tenant.ID, email, password, b.d.Source(r, c.tenant))
	if err != nil {
		return "", nil, err
	}
	return b.startSession(ctx, c, acct, remember)
}

// startSession finishes a sign-in the account proved (a password, or the
// mailbox): joins the tenant, refuses without the second factor, starts
// the session.
func (b *base) startSession(ctx context.Context, c *call, acct *storage.Account, remember bool) (string, *idp.Session, error) {
	if err := b.d.Accounts.Join(ctx, acct.ID, c.tenant.ID, idp.JoinedBySignIn); err != nil {
		return "", nil, err
	}
	step, _, err := b.d.Accounts.NextStep(ctx, acct, c.tenant.RequireMFA, "")
	if err != nil {
		return "", nil, err
	}
	switch step {
	case idp.StepVerify:
		return "", nil, &secondFactorError{page: b.d.Issuer + "/login"}
	case idp.StepEnrol:
		return "", nil, &secondFactorError{page: b.d.Issuer + "/account"}
	}
	return b.d.Accounts.StartSession(ctx, acct, []string{"pwd"}, remember)
}

// issue mints the tenant's tokens for a session.
func (b *base) issue(ctx context.Context, c *call, sess *idp.Session, jwt bool) (*provider.Tokens, error) {
	return b.d.Tokens.IssueFor(ctx, storage.ClientFromTenant(c.tenant), provider.IssueRequest{Session: sess, Refresh: true, JWT: jwt,
		Grant: "urn:manam:dialect:" + string(b.cfg.Dialect)})
}

// memberKey is the stable identifier of an account as a member of the
// tenant: HMAC-SHA256 under MemberKey of the tenant and account ids, shown
// as an RFC 9562 version-8 UUID. It never reveals the account id, differs
// between tenants, and cannot be forged without the system secret.
func (b *base) memberKey(tenantID, accountID string) string {
	m := hmac.New(sha256.New, b.d.MemberKey)
	m.Write([]byte(tenantID))
	m.Write([]byte{0})
	m.Write([]byte(accountID))
	return uuid(m.Sum(nil)[:16])
}

// decoyKey is a random key of the same form (the answer for an address
// that already has an account: no enumeration).
func decoyKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return uuid(b)
}

func uuid(b []byte) string {
	b[6] = b[6]&0x0f | 0x80 // version 8 (custom)
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// mountURL is where the mount's documented paths start, as a client sees it.
func (b *base) mountURL() string {
	if b.cfg.Host != "" {
		scheme := "http"
		if strings.HasPrefix(b.d.Issuer, "https://") {
			scheme = "https"
		}
		return scheme + "://" + b.cfg.Host
	}
	return b.d.Issuer + b.cfg.Prefix
}

// links are the URLs and language of a call's mail: the hosted pages,
// unless a dialect has its own confirmation endpoint (confirm).
func (b *base) links(c *call, confirm func(token string) string) idp.Links {
	if confirm == nil {
		confirm = func(token string) string { return b.d.Issuer + "/confirm?token=" + url.QueryEscape(token) }
	}
	return idp.Links{
		Confirm: confirm,
		Reset:   func(token string) string { return b.d.Issuer + "/recover/reset?token=" + url.QueryEscape(token) },
		ChangeEmail: func(token string) string {
			return b.d.Issuer + "/account/email/confirm?token=" + url.QueryEscape(token)
		},
		SignIn:   b.d.Issuer + "/",
		Recover:  b.d.Issuer + "/recover",
		Product:  c.tenant.Name,
		Lang:     c.lang,
		ClientID: c.tenant.ID,
	}
}

// bearer is the token of an "Authorization: Bearer" header ("" for none).
func bearer(r *http.Request) string {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}
