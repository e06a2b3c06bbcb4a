package dialects

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/provider"
	"github.com/manam-id/manam/provider/internal/clientapi"
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

// Accounts is what the dialects need of the account service
// (*idp.Service), by capability: the sign-in, sessions, members,
// registration and recovery every client dialect uses, and the password
// changes, remembered sessions and confirmation links of these ones.
type Accounts interface {
	clientapi.Accounts
	Passwords
	// ConfirmEmailFor confirms a mailed link, and says which tenant it was
	// mailed for.
	ConfirmEmailFor(ctx context.Context, token string) (*storage.Account, string, error)
	// RememberTTL is how long a remembered session lives.
	RememberTTL() time.Duration
}

// Passwords change a signed-in account's password (003).
type Passwords interface {
	ChangePassword(ctx context.Context, sess *idp.Session, current, password, confirm string) error
	ChangePasswordRecent(ctx context.Context, sess *idp.Session, maxAge time.Duration, password, confirm string) error
}

// Tokens is what the dialects need of the provider: the same tokens as
// /oauth2/token, for the mount's tenant.
type Tokens = clientapi.Tokens

// Tenants reads a tenant's settings (storage.Tenants).
type Tenants = clientapi.Tenants

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
		d.Source = clientapi.PeerSource
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
	b := &base{cfg: cfg, d: d, cookies: clientapi.Cookies{Secure: d.Secure}}
	var (
		eps  []clientapi.Endpoint
		fail func(w http.ResponseWriter, r *http.Request, c *call, err error)
	)
	switch cfg.Dialect {
	case VendorAuthorization:
		v := &vendor{base: b}
		eps, fail = v.endpoints(), v.fail
	case AuthorizationAPI:
		a := &authAPI{base: b}
		eps, fail = a.endpoints(), a.fail
	case JWTAuthAPI:
		j := newJWTAuth(b)
		eps, fail = j.endpoints(), j.fail
	default:
		return nil, fmt.Errorf("dialects: unknown dialect %q", cfg.Dialect)
	}
	t := clientapi.Table{Endpoints: eps, Prefixes: []string{cfg.Prefix}, Host: cfg.Host, Rules: clientapi.Rules{MaxBytes: maxBody},
		Tenant: b.tenant, Fail: fail}
	return t.Mount, nil
}

// maxBody bounds a dialect's request body (credentials and a name).
const maxBody = 64 << 10

// base is what every dialect's mount shares.
type base struct {
	cfg     Config
	d       Deps
	cookies clientapi.Cookies
}

// The endpoint table's types, as the handlers name them.
type (
	call     = clientapi.Call
	endpoint = clientapi.Endpoint
	problem  = clientapi.Problem
	phrase   = clientapi.Phrase
)

// say makes a phrase; every user-facing text of this package goes
// through it (the catalog test scans for calls of say).
func say(key string, args ...any) phrase { return clientapi.Say(key, args...) }

// refusal is a problem with one message.
func refusal(status int, msg phrase) *problem { return clientapi.Refusal(status, msg) }

// tenant is every call's tenant: the mount's.
func (b *base) tenant(r *http.Request, _ *call) (*storage.Tenant, error) {
	t, err := b.d.Tenants.Get(r.Context(), b.cfg.Tenant)
	if err != nil {
		return nil, fmt.Errorf("dialects: tenant %s of the %s mount: %w", b.cfg.Tenant, b.cfg.Dialect, err)
	}
	return t, nil
}

// secondFactorError: the account signs in with a second factor (or must
// enrol one), which none of these dialects can ask for: the sign-in
// finishes on the hosted page at page, and no token is issued.
type secondFactorError struct{ page string }

func (e *secondFactorError) Error() string { return "dialects: second factor needed at " + e.page }

// problemOf categorises a failure: a second factor to finish on a hosted
// page (403 naming it), then what every client dialect answers alike
// (clientapi.Classify: ours are logged and a 503 with no detail).
func (b *base) problemOf(r *http.Request, w http.ResponseWriter, err error) *problem {
	var sf *secondFactorError
	if errors.As(err, &sf) {
		msg := say("This account signs in with a second factor: finish signing in at %s.", sf.page)
		if strings.HasSuffix(sf.page, "/account") {
			msg = say("This application requires a second factor: set one up at %s, then sign in again.", sf.page)
		}
		return &problem{Status: http.StatusForbidden, Msgs: []phrase{msg}, Location: sf.page}
	}
	return clientapi.Classify(w, r, err, b.d.Logger, "dialect", "dialect", string(b.cfg.Dialect), "tenant", b.cfg.Tenant)
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
	acct, err := b.d.Accounts.AuthenticateFor(ctx, c.Tenant.ID, email, password, b.d.Source(r, c.Tenant))
	if err != nil {
		return "", nil, err
	}
	return b.startSession(ctx, c, acct, remember)
}

// startSession finishes a sign-in the account proved (a password, or the
// mailbox) through the one sign-in sequence: joins the tenant, refuses
// without the second factor (these APIs have no second-factor step: the
// user is sent to the hosted pages), starts the session.
func (b *base) startSession(ctx context.Context, c *call, acct *storage.Account, remember bool) (string, *idp.Session, error) {
	out, err := b.d.Accounts.SignIn(ctx, idp.SignInAttempt{Account: acct, AMR: []string{"pwd"}, TenantID: c.Tenant.ID,
		JoinVia: idp.JoinedBySignIn, WantMFA: c.Tenant.RequireMFA, Remember: remember})
	switch {
	case err != nil:
		return "", nil, err
	case out.Kind == idp.NeedsFactor:
		return "", nil, &secondFactorError{page: b.d.Issuer + "/login"}
	case out.Kind == idp.NeedsEnrolment:
		return "", nil, &secondFactorError{page: b.d.Issuer + "/account"}
	}
	return out.Token, out.Session, nil
}

// issue mints the tenant's tokens for a session.
func (b *base) issue(ctx context.Context, c *call, sess *idp.Session, jwt bool) (*provider.Tokens, error) {
	return b.d.Tokens.IssueFor(ctx, clientapi.ClientOf(c.Tenant), provider.IssueRequest{Session: sess, Refresh: true, JWT: jwt,
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
	l := clientapi.Links(b.d.Issuer, "", c)
	if confirm != nil {
		l.Confirm = confirm
	}
	return l
}
