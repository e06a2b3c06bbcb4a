package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// The seeded account and the tenants' redirect URI (nothing listens there:
// the flow stops at the redirect and reads the code from it).
const (
	benchEmail    = "bench@example.com"
	benchPassword = "bench-password-Xq7-correct-horse"
	redirectURI   = "http://127.0.0.1:9/cb"
)

// tenant is a tenant created with `manam tenant create --json`.
type tenant struct {
	ClientID      string `json:"client_id"`
	ClientSecret  string `json:"client_secret"`
	CustomerToken string `json:"customer_token"` // the legacy API's tenant key
}

// basicAuth is the client_secret_basic header value (RFC 6749 §2.3.1:
// both parts form-encoded first).
func (t tenant) basicAuth() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(t.ClientID)+":"+url.QueryEscape(t.ClientSecret)))
}

// target is a seeded, running manam server and what the scenarios need.
type target struct {
	origin          string // http://127.0.0.1:PORT, also the issuer
	bench, jwt      tenant
	es256           tenant // like bench, with ES256 ID tokens (empty: not created)
	benchAuth       string
	es256Auth       string
	jwtAuth         string
	introspectToken string   // an opaque access token of bench
	userinfoToken   string   // an access token from a code flow (openid email profile)
	idTokenAlg      string   // the alg of the ID token from that flow, verified against the JWKS
	es256IDTokenAlg string   // the same for the es256 tenant
	jwtAccessAlg    string   // the alg of a cc-jwt access token
	loginEmails     []string // the seeded sign-in accounts (login, login-flood)
	floodWorkers    int      // the login-flood scenario's workers
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
}

func get(ctx context.Context, u, auth string) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if auth != "" {
		req.Header["Authorization"] = []string{auth}
	}
	return req
}

func postForm(ctx context.Context, u, form, auth string) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form))
	req.Header["Content-Type"] = []string{"application/x-www-form-urlencoded"}
	if auth != "" {
		req.Header["Authorization"] = []string{auth}
	}
	return req
}

// expect fetches req and checks the status and that the body contains want.
func (w *worker) expect(req *http.Request, status int, want []byte) ([]byte, error) {
	resp, body, err := w.fetch(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != status {
		return nil, statusError(req, resp, body)
	}
	if want != nil && !bytes.Contains(body, want) {
		return nil, fmt.Errorf("%s %s: status %d but body lacks %s: %.300s", req.Method, req.URL.Path, resp.StatusCode, want, body)
	}
	return body, nil
}

var (
	wantAccessToken = []byte(`"access_token"`)
	wantActive      = []byte(`"active":true`)
	wantSub         = []byte(`"sub"`)
	wantIssuer      = []byte(`"issuer"`)
	wantIDToken     = []byte(`"id_token"`)
)

func trivialScenario(origin string) scenario {
	return scenario{name: "trivial", unit: "req", do: func(ctx context.Context, w *worker) error {
		_, err := w.expect(get(ctx, origin+"/", ""), http.StatusOK, nil)
		return err
	}}
}

// scenarioNames are the manam scenarios, in the order they run.
var scenarioNames = []string{"discovery", "cc-opaque", "cc-jwt", "introspect", "userinfo", "code-flow", "code-flow-es256",
	"refresh", "refresh-es256", "legacy-refresh", "login", "login-flood", "register"}

func (t *target) scenario(name string) scenario {
	o := t.origin
	switch name {
	case "discovery":
		return scenario{name: name, unit: "req", do: func(ctx context.Context, w *worker) error {
			_, err := w.expect(get(ctx, o+"/.well-known/openid-configuration", ""), http.StatusOK, wantIssuer)
			return err
		}}
	case "cc-opaque":
		return scenario{name: name, unit: "req", do: func(ctx context.Context, w *worker) error {
			_, err := w.expect(postForm(ctx, o+"/oauth2/token", "grant_type=client_credentials", t.benchAuth), http.StatusOK, wantAccessToken)
			return err
		}}
	case "cc-jwt":
		return scenario{name: name, unit: "req", do: func(ctx context.Context, w *worker) error {
			_, err := w.expect(postForm(ctx, o+"/oauth2/token", "grant_type=client_credentials&scope=read", t.jwtAuth), http.StatusOK, wantAccessToken)
			return err
		}}
	case "introspect":
		form := "token=" + url.QueryEscape(t.introspectToken)
		return scenario{name: name, unit: "req", do: func(ctx context.Context, w *worker) error {
			_, err := w.expect(postForm(ctx, o+"/oauth2/introspect", form, t.benchAuth), http.StatusOK, wantActive)
			return err
		}}
	case "userinfo":
		auth := "Bearer " + t.userinfoToken
		return scenario{name: name, unit: "req", do: func(ctx context.Context, w *worker) error {
			_, err := w.expect(get(ctx, o+"/userinfo", auth), http.StatusOK, wantSub)
			return err
		}}
	case "code-flow":
		return t.codeFlowScenario(name, t.bench, t.benchAuth)
	case "code-flow-es256":
		return t.codeFlowScenario(name, t.es256, t.es256Auth)
	case "refresh-es256":
		return t.oidcRefreshScenario(name, t.es256, t.es256Auth)
	case "refresh", "legacy-refresh":
		return t.refreshScenario(name)
	case "login":
		return t.loginScenario(name, 0)
	case "login-flood":
		return t.loginScenario(name, t.floodWorkers)
	case "register":
		return t.registerScenario()
	}
	panic("unknown scenario " + name)
}

// flowResult is what one authorization-code flow produced.
type flowResult struct {
	tokens tokenResponse
	nonce  string
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// hiddenFields returns a page's hidden form fields.
func hiddenFields(body []byte) url.Values {
	v := url.Values{}
	for _, m := range hiddenInput.FindAllSubmatch(body, -1) {
		v.Set(html.UnescapeString(string(m[1])), html.UnescapeString(string(m[2])))
	}
	return v
}

// codeFlow runs one authorization-code flow with PKCE (S256), state and
// nonce for the bench tenant: the authorization request (with the
// worker's session cookie; when signIn is set, through the login and
// consent pages as a person would), then the code exchange. It stops at
// the redirect to the client and requires a 200 with an ID token.
func (t *target) codeFlow(ctx context.Context, w *worker, tn tenant, auth, scope string, signIn bool) (flowResult, error) {
	verifier := randToken(32)
	sum := sha256.Sum256([]byte(verifier))
	state, nonce := randToken(12), randToken(12)
	q := "response_type=code&client_id=" + url.QueryEscape(tn.ClientID) +
		"&redirect_uri=" + url.QueryEscape(redirectURI) + "&scope=" + url.QueryEscape(scope) +
		"&state=" + state + "&nonce=" + nonce +
		"&code_challenge=" + base64.RawURLEncoding.EncodeToString(sum[:]) + "&code_challenge_method=S256"
	req := get(ctx, t.origin+"/oauth2/auth?"+q, "")
	resp, body, err := w.fetch(req)
	for i := 0; err == nil && resp.StatusCode == http.StatusOK; i++ {
		page := resp.Request.URL.Path
		if !signIn {
			return flowResult{}, fmt.Errorf("GET /oauth2/auth with a session ended on %s (200) instead of redirecting to the client", page)
		}
		if i >= 4 {
			return flowResult{}, fmt.Errorf("sign-in did not finish (still on %s)", page)
		}
		f := hiddenFields(body)
		switch page {
		case "/login":
			f.Set("email", benchEmail)
			f.Set("password", benchPassword)
		case "/consent":
			f.Set("action", "allow")
		default:
			return flowResult{}, fmt.Errorf("unexpected page %s: %.300s", resp.Request.URL, body)
		}
		req = postForm(ctx, t.origin+page, f.Encode(), "")
		resp, body, err = w.fetch(req)
	}
	if err != nil {
		return flowResult{}, err
	}
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		return flowResult{}, statusError(resp.Request, resp, body)
	}
	loc, err := resp.Location()
	if err != nil {
		return flowResult{}, fmt.Errorf("%s %s: %d without a usable Location: %v", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirectURI {
		return flowResult{}, fmt.Errorf("%s %s redirected to %s, want the client's %s", resp.Request.Method, resp.Request.URL.Path, loc, redirectURI)
	}
	lq := loc.Query()
	if e := lq.Get("error"); e != "" {
		return flowResult{}, fmt.Errorf("authorization error %s: %s", e, lq.Get("error_description"))
	}
	code := lq.Get("code")
	if code == "" || lq.Get("state") != state {
		return flowResult{}, fmt.Errorf("callback %s: want a code and state %s", loc, state)
	}

	form := "grant_type=authorization_code&code=" + url.QueryEscape(code) + "&code_verifier=" + verifier +
		"&redirect_uri=" + url.QueryEscape(redirectURI)
	req = postForm(ctx, t.origin+"/oauth2/token", form, auth)
	if resp, body, err = w.fetch(req); err != nil {
		return flowResult{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return flowResult{}, statusError(req, resp, body)
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return flowResult{}, fmt.Errorf("POST /oauth2/token (authorization_code): %v: %.300s", err, body)
	}
	if tr.IDToken == "" || tr.AccessToken == "" {
		return flowResult{}, fmt.Errorf("POST /oauth2/token (authorization_code): no id_token or access_token: %.300s", body)
	}
	return flowResult{tokens: tr, nonce: nonce}, nil
}

// randToken is n random bytes, base64url without padding.
func randToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// prepare obtains what the scenarios need and checks, once, what the
// per-request checks do not: the ID token's signature (against the JWKS),
// algorithm, audience and nonce, and that the JWT tenant gets JWTs.
func (t *target) prepare(ctx context.Context) error {
	tr := newTransport(1)
	defer tr.CloseIdleConnections()
	jar, _ := cookiejar.New(nil)
	w := &worker{client: newClient(tr, t.origin, jar)}

	body, err := w.expect(postForm(ctx, t.origin+"/oauth2/token", "grant_type=client_credentials", t.benchAuth), http.StatusOK, wantAccessToken)
	if err != nil {
		return fmt.Errorf("client_credentials (opaque): %w", err)
	}
	var cc tokenResponse
	if err := json.Unmarshal(body, &cc); err != nil || cc.AccessToken == "" {
		return fmt.Errorf("client_credentials (opaque): %.300s", body)
	}
	if strings.Count(cc.AccessToken, ".") == 2 {
		return errors.New("client_credentials: the opaque tenant got a JWT")
	}
	t.introspectToken = cc.AccessToken

	body, err = w.expect(postForm(ctx, t.origin+"/oauth2/token", "grant_type=client_credentials&scope=read", t.jwtAuth), http.StatusOK, wantAccessToken)
	if err != nil {
		return fmt.Errorf("client_credentials (jwt): %w", err)
	}
	var jc tokenResponse
	_ = json.Unmarshal(body, &jc)
	keys, err := t.jwks(ctx, w)
	if err != nil {
		return err
	}
	at, err := verifyJWT(jc.AccessToken, keys)
	if err != nil {
		return fmt.Errorf("client_credentials (jwt) access token: %w", err)
	}
	t.jwtAccessAlg = at.alg

	fr, err := t.codeFlow(ctx, w, t.bench, t.benchAuth, "openid email profile", true)
	if err != nil {
		return fmt.Errorf("sign-in and code flow: %w", err)
	}
	idt, err := verifyJWT(fr.tokens.IDToken, keys)
	if err != nil {
		return fmt.Errorf("ID token: %w", err)
	}
	var claims struct {
		Iss   string `json:"iss"`
		Nonce string `json:"nonce"`
		Aud   any    `json:"aud"`
	}
	_ = json.Unmarshal(idt.payload, &claims)
	if claims.Iss != t.origin || claims.Nonce != fr.nonce || !strings.Contains(fmt.Sprint(claims.Aud), t.bench.ClientID) {
		return fmt.Errorf("ID token claims %s: want iss %s, nonce %s, aud %s", idt.payload, t.origin, fr.nonce, t.bench.ClientID)
	}
	t.idTokenAlg = idt.alg
	t.userinfoToken = fr.tokens.AccessToken

	if t.es256.ClientID != "" {
		if t.es256IDTokenAlg, err = t.checkIDToken(ctx, w, keys, t.es256, t.es256Auth); err != nil {
			return fmt.Errorf("ES256 tenant: %w", err)
		}
		if t.es256IDTokenAlg != "ES256" {
			return fmt.Errorf("the tenant created with --id-token-alg ES256 got a %s ID token", t.es256IDTokenAlg)
		}
	}

	if _, err := w.expect(get(ctx, t.origin+"/userinfo", "Bearer "+t.userinfoToken), http.StatusOK, []byte(benchEmail)); err != nil {
		return fmt.Errorf("userinfo: %w", err)
	}
	if _, err := w.expect(postForm(ctx, t.origin+"/oauth2/introspect", "token="+url.QueryEscape(t.introspectToken), t.benchAuth), http.StatusOK, wantActive); err != nil {
		return fmt.Errorf("introspection: %w", err)
	}
	return nil
}

func (t *target) jwks(ctx context.Context, w *worker) (*jose.JSONWebKeySet, error) {
	body, err := w.expect(get(ctx, t.origin+"/.well-known/jwks.json", ""), http.StatusOK, nil)
	if err != nil {
		return nil, err
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	return &set, nil
}

type verifiedJWT struct {
	alg     string
	payload []byte
}

// verifyJWT checks a compact JWS against the key set.
func verifyJWT(tok string, set *jose.JSONWebKeySet) (verifiedJWT, error) {
	jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.PS256, jose.EdDSA})
	if err != nil {
		return verifiedJWT{}, fmt.Errorf("not a JWS: %w", err)
	}
	h := jws.Signatures[0].Header
	ks := set.Key(h.KeyID)
	if len(ks) != 1 {
		return verifiedJWT{}, fmt.Errorf("kid %q not in the JWKS", h.KeyID)
	}
	payload, err := jws.Verify(ks[0].Key)
	if err != nil {
		return verifiedJWT{}, fmt.Errorf("signature: %w", err)
	}
	return verifiedJWT{alg: h.Algorithm, payload: payload}, nil
}

// refreshScenario rotates a refresh token, each worker its own: at
// /oauth2/token with the tenant's secret ("refresh"), or at the legacy
// API's /auth/refreshToken with only the tenant key ("legacy-refresh",
// the same grant run on the tenant's behalf). Each worker first signs in
// once through the legacy API's /auth/login for its first refresh token.
func (t *target) refreshScenario(name string) scenario {
	o := t.origin
	next := func(body []byte, w *worker) error {
		var tr struct {
			RefreshToken string `json:"refresh_token"`
		}
		if err := json.Unmarshal(body, &tr); err != nil || tr.RefreshToken == "" {
			return fmt.Errorf("%s: no refresh token in %.200s", name, body)
		}
		w.state = tr.RefreshToken
		return nil
	}
	return scenario{name: name, unit: "req",
		setup: func(ctx context.Context, w *worker) error {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, o+"/auth/login",
				strings.NewReader(`{"email":"`+benchEmail+`","password":"`+benchPassword+`"}`))
			req.Header["Content-Type"] = []string{"application/json"}
			req.Header["customer_token"] = []string{t.bench.CustomerToken}
			body, err := w.expect(req, http.StatusOK, wantAccessToken)
			if err != nil {
				return err
			}
			return next(body, w)
		},
		do: func(ctx context.Context, w *worker) error {
			rt, _ := w.state.(string)
			var req *http.Request
			if name == "refresh" {
				req = postForm(ctx, o+"/oauth2/token", "grant_type=refresh_token&refresh_token="+url.QueryEscape(rt), t.benchAuth)
			} else {
				req, _ = http.NewRequestWithContext(ctx, http.MethodPost, o+"/auth/refreshToken", nil)
				req.Header["customer_token"] = []string{t.bench.CustomerToken}
				req.Header["refresh_token"] = []string{rt}
			}
			body, err := w.expect(req, http.StatusOK, wantAccessToken)
			if err != nil {
				return err
			}
			return next(body, w)
		}}
}

// codeFlowScenario is the full authorization-code flow with an existing
// session for one tenant: each worker signs in once, for real (login page,
// CSRF, password), untimed; its cookie jar then holds the session, and
// every iteration is prompt=none-like (no page shown: the session answers)
// plus the code exchange.
func (t *target) codeFlowScenario(name string, tn tenant, auth string) scenario {
	return scenario{name: name, unit: "flow",
		setup: func(ctx context.Context, w *worker) error {
			if tn.ClientID == "" {
				return errors.New("no such tenant (could not be created)")
			}
			jar, _ := cookiejar.New(nil)
			w.client.Jar = jar
			if _, err := t.codeFlow(ctx, w, tn, auth, "openid", true); err != nil {
				return fmt.Errorf("worker %d sign-in: %w", w.id, err)
			}
			return nil
		},
		do: func(ctx context.Context, w *worker) error {
			_, err := t.codeFlow(ctx, w, tn, auth, "openid", false)
			return err
		}}
}

// oidcRefreshScenario rotates a refresh token at /oauth2/token, each
// worker its own, obtained from one untimed code flow with scope
// "openid offline_access": every refresh answers a new ID token (signed
// with the tenant's algorithm) and a new refresh token.
func (t *target) oidcRefreshScenario(name string, tn tenant, auth string) scenario {
	o := t.origin
	return scenario{name: name, unit: "req",
		setup: func(ctx context.Context, w *worker) error {
			if tn.ClientID == "" {
				return errors.New("no such tenant (could not be created)")
			}
			jar, _ := cookiejar.New(nil)
			w.client.Jar = jar
			fr, err := t.codeFlow(ctx, w, tn, auth, "openid offline_access", true)
			if err != nil {
				return fmt.Errorf("worker %d sign-in: %w", w.id, err)
			}
			if fr.tokens.RefreshToken == "" {
				return errors.New("code flow with offline_access answered no refresh token")
			}
			w.state = fr.tokens.RefreshToken
			return nil
		},
		do: func(ctx context.Context, w *worker) error {
			rt, _ := w.state.(string)
			req := postForm(ctx, o+"/oauth2/token", "grant_type=refresh_token&refresh_token="+url.QueryEscape(rt), auth)
			body, err := w.expect(req, http.StatusOK, wantIDToken)
			if err != nil {
				return err
			}
			var tr tokenResponse
			if err := json.Unmarshal(body, &tr); err != nil || tr.RefreshToken == "" {
				return fmt.Errorf("%s: no refresh token in %.200s", name, body)
			}
			w.state = tr.RefreshToken
			return nil
		}}
}

// checkIDToken runs one code flow (a new browser, signing in) for tn and
// verifies its ID token against the JWKS; it returns the token's alg.
func (t *target) checkIDToken(ctx context.Context, w *worker, keys *jose.JSONWebKeySet, tn tenant, auth string) (string, error) {
	jar, _ := cookiejar.New(nil)
	old := w.client.Jar
	w.client.Jar = jar
	defer func() { w.client.Jar = old }()
	fr, err := t.codeFlow(ctx, w, tn, auth, "openid", true)
	if err != nil {
		return "", fmt.Errorf("sign-in and code flow: %w", err)
	}
	idt, err := verifyJWT(fr.tokens.IDToken, keys)
	if err != nil {
		return "", fmt.Errorf("ID token: %w", err)
	}
	return idt.alg, nil
}
