package provider

// Security review: each TestReview… test demonstrates a defect and FAILS on
// the code it was written against. See the review report for context.

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

const reviewRedirect = "http://localhost:9999/cb"

// testVerifier is a PKCE code verifier for tests that need any one.
const testVerifier = "a-verifier-that-is-long-enough-for-pkce-0123456789"

// reviewEnv is a provider with its handler and helpers to drive it.
type reviewEnv struct {
	t     *testing.T
	p     *Provider
	db    *storage.DB
	h     http.Handler
	admin *Admin
}

func newReviewEnv(t *testing.T) *reviewEnv {
	p, db := newTestProvider(t)
	return &reviewEnv{t: t, p: p, db: db, h: p.Handler(), admin: NewAdmin(db, testSecret)}
}

// newReviewEnvOn is a reviewEnv over a fresh database of backend b.
func newReviewEnvOn(t *testing.T, b storagetest.Backend) *reviewEnv {
	db := b.Open(t)
	p := newTestProviderOn(t, db)
	return &reviewEnv{t: t, p: p, db: db, h: p.Handler(), admin: NewAdmin(db, testSecret)}
}

func (e *reviewEnv) tenant(spec TenantSpec) *Created {
	e.t.Helper()
	c, err := e.admin.Create(context.Background(), spec)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *reviewEnv) do(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

func (e *reviewEnv) postForm(path string, form url.Values, setup func(*http.Request)) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if setup != nil {
		setup(req)
	}
	return e.do(req)
}

func decodeJSON(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("status %d, body %q: %v", rec.Code, rec.Body.String(), err)
	}
	return m
}

// clientCredentials gets an access token for a confidential tenant.
func (e *reviewEnv) clientCredentials(c *Created, scope string) string {
	e.t.Helper()
	rec := e.postForm("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}, func(r *http.Request) {
		r.SetBasicAuth(c.ClientID, c.ClientSecret)
	})
	m := decodeJSON(e.t, rec)
	at, _ := m["access_token"].(string)
	if rec.Code != 200 || at == "" {
		e.t.Fatalf("client_credentials: %d %v", rec.Code, m)
	}
	return at
}

// user creates an account and signs it in; it returns the account and the session cookie.
func (e *reviewEnv) user(email string) (*storage.Account, *http.Cookie) {
	e.t.Helper()
	ctx := context.Background()
	a, err := e.p.idp.CreateAccount(ctx, idp.NewAccount{Email: email, Password: "a long enough password", EmailVerified: true})
	if err != nil {
		e.t.Fatal(err)
	}
	tok, _, err := e.p.idp.StartSession(ctx, a, []string{"pwd"}, false)
	if err != nil {
		e.t.Fatal(err)
	}
	return a, &http.Cookie{Name: "manam_session", Value: tok}
}

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorize sends an authorization request with the session cookie and
// returns the response (a redirect to the client, or to a page).
func (e *reviewEnv) authorize(clientID, redirect, scope, verifier string, cookie *http.Cookie, extra url.Values) *httptest.ResponseRecorder {
	q := url.Values{"client_id": {clientID}, "response_type": {"code"}, "redirect_uri": {redirect}, "scope": {scope},
		"state": {"state-123456789"}, "nonce": {"nonce-123456789"}, "code_challenge": {s256(verifier)}, "code_challenge_method": {"S256"}}
	for k, v := range extra {
		q[k] = v
	}
	req := httptest.NewRequest(http.MethodGet, "/oauth2/auth?"+q.Encode(), nil)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	return e.do(req)
}

// code runs an authorization request that must end at the client with a code.
func (e *reviewEnv) code(clientID, redirect, scope, verifier string, cookie *http.Cookie) string {
	e.t.Helper()
	rec := e.authorize(clientID, redirect, scope, verifier, cookie, nil)
	loc, _ := url.Parse(rec.Header().Get("Location"))
	if rec.Code != http.StatusSeeOther || loc == nil || loc.Query().Get("code") == "" {
		e.t.Fatalf("authorize: %d Location %q body %.300s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	return loc.Query().Get("code")
}

// exchange trades a code for tokens.
func (e *reviewEnv) exchange(c *Created, redirect, code, verifier string) map[string]any {
	e.t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier}}
	var setup func(*http.Request)
	if c.ClientSecret != "" {
		setup = func(r *http.Request) { r.SetBasicAuth(c.ClientID, c.ClientSecret) }
	} else {
		form.Set("client_id", c.ClientID)
	}
	rec := e.postForm("/oauth2/token", form, setup)
	m := decodeJSON(e.t, rec)
	if rec.Code != 200 {
		e.t.Fatalf("exchange: %d %v", rec.Code, m)
	}
	return m
}

// --- findings ------------------------------------------------------------------

// TestReviewIntrospectionCrossTenantViaAccessTokenParam: /oauth2/introspect
// promises that "a tenant sees only its own tokens" and that callers
// authenticate with client_secret_basic. Only an "Authorization: Bearer "
// header is refused, but fosite also accepts the caller's bearer token as an
// access_token form/query parameter, and then skips client authentication
// entirely. The tenant check then compares the token's client with the
// *unauthenticated* Basic user name. Anyone holding any active access token
// can introspect any other tenant's token (sub, scope, client_id, exp…) by
// naming that tenant in a Basic header with a made-up password.
func TestReviewIntrospectionCrossTenantViaAccessTokenParam(t *testing.T) {
	e := newReviewEnv(t)
	victim := e.tenant(TenantSpec{Name: "Victim", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	attacker := e.tenant(TenantSpec{Name: "Attacker", GrantTypes: []string{"client_credentials"}, Scopes: []string{"x"}})
	victimToken := e.clientCredentials(victim, "read")
	attackerToken := e.clientCredentials(attacker, "x")

	rec := e.postForm("/oauth2/introspect", url.Values{"token": {victimToken}, "access_token": {attackerToken}}, func(r *http.Request) {
		r.SetBasicAuth(victim.ClientID, "not-the-secret")
	})
	m := decodeJSON(t, rec)
	if rec.Code == 200 && m["active"] == true {
		t.Fatalf("attacker with a wrong secret introspected another tenant's token: %v", m)
	}
}

// TestReviewUserinfoAcceptsRefreshToken: /userinfo calls fosite's
// IntrospectToken with the AccessToken hint but ignores the token use it
// returns; fosite falls back to refresh tokens. A refresh token (30-day
// life, meant only for the token endpoint: RFC 6749 §1.5, §10.4; RFC 6750)
// is accepted as a bearer access token.
func TestReviewUserinfoAcceptsRefreshToken(t *testing.T) {
	e := newReviewEnv(t)
	app := e.tenant(TenantSpec{Name: "App", RedirectURIs: []string{reviewRedirect}, FirstParty: true})
	_, cookie := e.user("rt@example.com")
	verifier := strings.Repeat("v", 50)
	toks := e.exchange(app, reviewRedirect, e.code(app.ClientID, reviewRedirect, "openid email offline_access", verifier, cookie), verifier)
	rt, _ := toks["refresh_token"].(string)
	if rt == "" {
		t.Fatalf("no refresh token: %v", toks)
	}
	req := httptest.NewRequest(http.MethodGet, "/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+rt)
	rec := e.do(req)
	if rec.Code == 200 {
		t.Fatalf("userinfo accepted a refresh token as a bearer access token: %s", rec.Body)
	}
}

// TestReviewLogoutAcceptsAccessTokenAsIDTokenHint: verifyIDTokenHint checks
// signature, iss, sub and aud but not that the JWT is an ID token. An RFC
// 9068 access token (typ "at+jwt", same key, same iss/sub/aud shape) is
// accepted, and since its sub is the signed-in user the session is ended
// silently, with no confirmation. Any resource server that receives a
// user's JWT access token can therefore sign the user out of the OP (and
// bounce them to the tenant's post-logout URI) by a top-level navigation.
// RFC 8725 §3.11 / RFC 9068 §4: JWTs of one kind must not be accepted as another.
func TestReviewLogoutAcceptsAccessTokenAsIDTokenHint(t *testing.T) {
	e := newReviewEnv(t)
	app := e.tenant(TenantSpec{Name: "JWT app", RedirectURIs: []string{reviewRedirect}, FirstParty: true, AccessToken: formatJWT})
	_, cookie := e.user("hint@example.com")
	verifier := strings.Repeat("w", 50)
	toks := e.exchange(app, reviewRedirect, e.code(app.ClientID, reviewRedirect, "openid", verifier, cookie), verifier)
	at, _ := toks["access_token"].(string)
	if strings.Count(at, ".") != 2 {
		t.Fatalf("want a JWT access token, got %q", at)
	}
	req := httptest.NewRequest(http.MethodGet, "/oauth2/logout?"+url.Values{"id_token_hint": {at}}.Encode(), nil)
	req.AddCookie(cookie)
	rec := e.do(req)
	if _, err := e.p.idp.Session(context.Background(), cookie.Value); err == nil {
		return // session survived: not vulnerable
	}
	t.Fatalf("an access token (typ at+jwt) was accepted as id_token_hint and ended the session silently (status %d)", rec.Code)
}

// TestReviewPublicClientSilentReauthorization: for a public (native) client
// whose redirect URI is a private-use scheme, the identity of the client
// cannot be assured: any app can claim the scheme and client_id. RFC 8252
// §8.6 / RFC 6749 §10.2 / RFC 6819 §4.2.3: the AS SHOULD NOT process
// repeat authorizations automatically for such clients, "including the case
// where the user has previously approved an authorization request for a
// given client id". Manam remembers the consent and, with prompt=none,
// silently hands a fresh code (and thus tokens, since a public client needs
// no secret and the impersonator brings its own PKCE) to whoever sent the request.
func TestReviewPublicClientSilentReauthorization(t *testing.T) {
	e := newReviewEnv(t)
	const native = "com.example.app:/oauth2redirect"
	app := e.tenant(TenantSpec{Name: "Native", Public: true, RedirectURIs: []string{native}})
	acct, cookie := e.user("native@example.com")
	// The user approved this client once.
	if err := e.p.idp.GrantConsent(context.Background(), acct.ID, app.ClientID, []string{"openid", "email"}); err != nil {
		t.Fatal(err)
	}
	// A malicious app registered for the same scheme starts its own request.
	verifier := strings.Repeat("m", 50)
	rec := e.authorize(app.ClientID, native, "openid email", verifier, cookie, url.Values{"prompt": {"none"}})
	loc, _ := url.Parse(rec.Header().Get("Location"))
	if loc != nil && loc.Query().Get("code") != "" {
		toks := e.exchange(app, native, loc.Query().Get("code"), verifier)
		t.Fatalf("public native client re-authorized silently (prompt=none, no user interaction); impersonator got tokens: %v", slices.Sorted(mapsKeys(toks)))
	}
}

func mapsKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestReviewLoginTimingUnusableHash: Authenticate's doc promises that an
// unknown e-mail, a wrong password and an account without a usable hash
// take the same work. The unknown e-mail path runs a dummy argon2id
// verification (Waste); the "unusable hash" path (ErrHashFormat: an account
// imported without a password, a truncated or foreign hash) returns at once.
// The response time tells such an account exists (OWASP ASVS 2.2 / account
// enumeration).
func TestReviewLoginTimingUnusableHash(t *testing.T) {
	e := newReviewEnv(t)
	ctx := context.Background()
	email := "imported@example.com"
	now := time.Now().UTC()
	if err := storage.NewAccounts(e.db).CreateAccount(ctx, &storage.Account{ID: "00000000-0000-4000-8000-000000000001", Email: &email, PasswordHash: "", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	measure := func(email string) time.Duration {
		best := time.Hour
		for range 5 {
			start := time.Now()
			_, err := e.p.idp.Authenticate(ctx, email, "some wrong password", "")
			if err == nil {
				t.Fatal("authenticated")
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	unknown := measure("nobody@example.com")
	known := measure(email)
	if known*5 < unknown {
		t.Fatalf("existing account with an unusable hash answers in %v, an unknown e-mail in %v: the difference enumerates accounts", known, unknown)
	}
}

// TestReviewMetricsMethodCardinality: the middleware labels
// manam_http_requests_total with the raw request method. net/http accepts
// any token as a method, so each distinct made-up method creates a new,
// never-freed time series: an unauthenticated client can grow the process'
// memory without bound (and the public /metrics output with it).
func TestReviewMetricsMethodCardinality(t *testing.T) {
	e := newReviewEnv(t)
	for i := range 200 {
		req := httptest.NewRequest("GET", "/healthz", nil)
		req.Method = fmt.Sprintf("X%06d", i)
		e.do(req)
	}
	rec := e.do(httptest.NewRequest(http.MethodGet, "/metrics", nil))
	series := regexp.MustCompile(`(?m)^manam_http_requests_total\{[^}]*method="X\d{6}"`).FindAllString(rec.Body.String(), -1)
	if len(series) > 10 {
		t.Fatalf("%d distinct method label values recorded from client-chosen methods: unbounded metric cardinality", len(series))
	}
}

// loginForm fetches the login page for challenge and returns the CSRF
// cookie and the form's hidden fields.
func (e *reviewEnv) loginForm(challenge string) (*http.Cookie, url.Values) {
	e.t.Helper()
	rec := e.do(httptest.NewRequest(http.MethodGet, "/login?challenge="+url.QueryEscape(challenge), nil))
	if rec.Code != 200 {
		e.t.Fatalf("login page: %d %s", rec.Code, rec.Body)
	}
	var csrf *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == "manam_csrf" {
			csrf = c
		}
	}
	f := url.Values{}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllStringSubmatch(rec.Body.String(), -1) {
		f.Set(m[1], strings.ReplaceAll(m[2], "&#43;", "+"))
	}
	f.Set("challenge", challenge)
	return csrf, f
}

// TestReviewLoginNoThrottling: the hosted login accepts an unlimited number
// of wrong passwords for one account at full speed, with no lockout,
// delay, CAPTCHA or 429, and the right password still works afterwards.
// RFC 6749 §10.10: the AS MUST prevent attackers from guessing resource
// owner passwords; OWASP ASVS 2.2.1 (anti-automation).
func TestReviewLoginNoThrottling(t *testing.T) {
	e := newReviewEnv(t)
	app := e.tenant(TenantSpec{Name: "App", RedirectURIs: []string{reviewRedirect}, FirstParty: true})
	ctx := context.Background()
	if _, err := e.p.idp.CreateAccount(ctx, idp.NewAccount{Email: "target@example.com", Password: "the real password", EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	form := url.Values{"client_id": {app.ClientID}, "response_type": {"code"}, "redirect_uri": {reviewRedirect}, "scope": {"openid"},
		"state": {"state-123456789"}, "code_challenge": {s256(strings.Repeat("v", 50))}, "code_challenge_method": {"S256"}}
	ch := e.p.mintChallenge(form, time.Now())
	csrf, f := e.loginForm(ch)
	attempt := func(pw string) int {
		f.Set("email", "target@example.com")
		f.Set("password", pw)
		return e.postForm("/login", f, func(r *http.Request) { r.AddCookie(csrf) }).Code
	}
	for i := range 30 {
		if code := attempt(fmt.Sprintf("guess-%d", i)); code != http.StatusUnauthorized {
			return // some throttling answered
		}
	}
	if code := attempt("the real password"); code == http.StatusSeeOther {
		t.Fatal("30 consecutive wrong passwords for one account were all processed and the next guess signed in: no throttling or lockout")
	}
}

// TestReviewUserinfoTokenInQuery: /userinfo takes the access token from the
// URL query (fosite.AccessTokenFromRequest reads req.Form). A token in the
// URL ends up in proxy/server logs, browser history and Referer headers
// (RFC 6750 §2.3 and §5.3: "SHOULD NOT"; OAuth 2.1 removes the method).
func TestReviewUserinfoTokenInQuery(t *testing.T) {
	e := newReviewEnv(t)
	app := e.tenant(TenantSpec{Name: "App", RedirectURIs: []string{reviewRedirect}, FirstParty: true})
	_, cookie := e.user("query@example.com")
	verifier := strings.Repeat("q", 50)
	toks := e.exchange(app, reviewRedirect, e.code(app.ClientID, reviewRedirect, "openid email", verifier, cookie), verifier)
	rec := e.do(httptest.NewRequest(http.MethodGet, "/userinfo?access_token="+url.QueryEscape(toks["access_token"].(string)), nil))
	if rec.Code == 200 {
		t.Fatalf("userinfo accepted an access token from the URL query: %s", rec.Body)
	}
}

// TestReviewPromptLoginSatisfiedWithoutReauthentication: a resumed request
// counts as freshly authenticated when the session's auth_time is not
// before the challenge time — both truncated to whole seconds
// (idp.StartSession, handleAuthorize's requestedAt). A session created
// earlier in the same second as a prompt=login (or max_age=0) request
// therefore satisfies it: resuming the challenge issues a code with no
// re-authentication at all. OIDC Core §3.1.2.1 (prompt=login, max_age).
func TestReviewPromptLoginSatisfiedWithoutReauthentication(t *testing.T) {
	e := newReviewEnv(t)
	app := e.tenant(TenantSpec{Name: "App", RedirectURIs: []string{reviewRedirect}, FirstParty: true})
	// Start right after a second boundary so that sign-in and request share a second.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 20*time.Millisecond)))
	_, cookie := e.user("stepup@example.com")
	verifier := strings.Repeat("p", 50)
	rec := e.authorize(app.ClientID, reviewRedirect, "openid", verifier, cookie, url.Values{"prompt": {"login"}})
	loc, _ := url.Parse(rec.Header().Get("Location"))
	if rec.Code != http.StatusSeeOther || loc == nil || loc.Path != "/login" {
		t.Fatalf("prompt=login: %d %v", rec.Code, loc)
	}
	// No sign-in happens: the browser just follows the resume URL.
	req := httptest.NewRequest(http.MethodGet, "/oauth2/auth/resume?challenge="+url.QueryEscape(loc.Query().Get("challenge")), nil)
	req.AddCookie(cookie)
	rec = e.do(req)
	if got, _ := url.Parse(rec.Header().Get("Location")); got != nil && got.Query().Get("code") != "" {
		t.Fatalf("prompt=login answered with a code without any re-authentication: %s", got)
	}
}
