package upstreamtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Paths of the fake's endpoints (Google's own paths).
const (
	PathDiscovery = "/.well-known/openid-configuration"
	PathAuth      = "/o/oauth2/v2/auth"
	PathToken     = "/token"
	PathUserInfo  = "/v1/userinfo"
	PathJWKS      = "/oauth2/v3/certs"
)

// Endpoint names used in Request.Endpoint.
const (
	EndpointDiscovery = "discovery"
	EndpointAuth      = "authorize"
	EndpointToken     = "token"
	EndpointUserInfo  = "userinfo"
	EndpointJWKS      = "jwks"
)

// Defaults of Options.
const (
	DefaultClientID     = "manam-test.apps.googleusercontent.com"
	DefaultClientSecret = "GOCSPX-fake-upstream-secret"
)

const (
	codeTTL  = 10 * time.Minute
	tokenTTL = 3599 * time.Second
	idTTL    = time.Hour
)

// User is the account the fake signs in.
type User struct {
	Subject       string
	Email         string
	EmailVerified bool
	// EmailVerifiedAsString sends email_verified as the string "true" or
	// "false", as some providers do (Google sends a boolean).
	EmailVerifiedAsString bool
	Name                  string
	GivenName             string
	FamilyName            string
	Picture               string
	Locale                string
	// HostedDomain is the Google Workspace domain: the hd claim and
	// userinfo field, omitted when empty (a consumer account).
	HostedDomain string
}

// DefaultUser is the user a new fake signs in.
func DefaultUser() User {
	return User{
		Subject:       "110169484474386276334",
		Email:         "ada@example.com",
		EmailVerified: true,
		Name:          "Ada Lovelace",
		GivenName:     "Ada",
		FamilyName:    "Lovelace",
		Picture:       "https://lh3.googleusercontent.com/a/fake-ada=s96-c",
		Locale:        "en",
	}
}

// Options configure a fake.
type Options struct {
	// ClientID and ClientSecret of the one registered client. Defaults
	// DefaultClientID and DefaultClientSecret.
	ClientID     string
	ClientSecret string
	// RedirectURIs registered for the client. Empty accepts any absolute
	// URI (handy when the caller's port is not known in advance).
	RedirectURIs []string
	// User signed in. Default DefaultUser().
	User *User
	// Now is the fake's clock (codes, iat, exp). Default time.Now.
	Now func() time.Time
	// TLS serves https with httptest's certificate; use Client().
	TLS bool
}

// Faults make the fake misbehave. They last until the next SetFaults.
type Faults struct {
	Down            bool   // every endpoint answers 503
	DenyConsent     bool   // the authorization endpoint redirects with error=access_denied
	DenyDescription string // error_description sent with a denial (Google sends none)
	TokenStatus     int    // the token endpoint answers this status...
	TokenBody       string // ...with this JSON body (default: a server_error)
	UserInfoStatus  int    // the userinfo endpoint answers this status
	JWKSStatus      int    // the JWKS endpoint answers this status
	WrongKey        bool   // sign ID tokens with an unpublished key (same kid)
	Issuer          string // iss of ID tokens instead of the server's URL
	Audience        string // aud of ID tokens instead of the client id
	AZP             string // azp of ID tokens instead of the client id
	AtHash          string // at_hash of ID tokens instead of the access token's
	Nonce           string // nonce of ID tokens instead of the requested one
	DropNonce       bool   // omit nonce from ID tokens
	Expired         bool   // ID tokens issued 2 h ago, expired 1 h ago
	ReplayIDToken   bool   // answer with the previously issued ID token
	UserInfoSubject string // sub of userinfo instead of the user's
}

// Request records one request the fake received.
type Request struct {
	Endpoint   string     // EndpointAuth, EndpointToken, ...
	Method     string     // GET, POST
	Query      url.Values // the URL's query
	Form       url.Values // the POST body, for the token endpoint
	ClientAuth string     // token: "client_secret_basic", "client_secret_post" or ""
	Bearer     bool       // userinfo: an Authorization: Bearer header was sent
	Status     int        // what the fake answered
}

// Server is a fake Google: OpenID discovery, an authorization endpoint that
// signs the configured user in at once (a 302 back to redirect_uri with code
// and state, so a browser or an HTTP client following redirects completes
// the login), a token endpoint (client_secret_basic and client_secret_post,
// single-use codes, redirect_uri and PKCE checked), RS256 ID tokens with
// Google's claims, a JWKS and a userinfo endpoint. It is safe for
// concurrent use.
type Server struct {
	srv  *httptest.Server
	opts Options
	key  *rsa.PrivateKey
	kid  string

	mu        sync.Mutex
	wrongKey  *rsa.PrivateKey // made on first use by Faults.WrongKey
	user      User
	faults    Faults
	codes     map[string]*grant
	tokens    map[string]*grant
	lastToken string
	reqs      []Request
}

// grant is what a code, then an access token, stands for.
type grant struct {
	clientID    string
	redirectURI string
	scopes      []string
	nonce       string
	challenge   string
	method      string
	user        User
	expires     time.Time
}

// New starts a fake and closes it when t ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("upstreamtest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Start starts a fake; the caller closes it.
func Start(opts Options) (*Server, error) {
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DefaultClientSecret
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	u := DefaultUser()
	if opts.User != nil {
		u = *opts.User
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	tp, err := (&jose.JSONWebKey{Key: key.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:   opts,
		key:    key,
		kid:    base64.RawURLEncoding.EncodeToString(tp),
		user:   u,
		codes:  map[string]*grant{},
		tokens: map[string]*grant{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc(PathDiscovery, s.record(EndpointDiscovery, s.discovery))
	mux.HandleFunc(PathAuth, s.record(EndpointAuth, s.authorize))
	mux.HandleFunc(PathToken, s.record(EndpointToken, s.token))
	mux.HandleFunc(PathUserInfo, s.record(EndpointUserInfo, s.userinfo))
	mux.HandleFunc(PathJWKS, s.record(EndpointJWKS, s.jwks))
	if opts.TLS {
		s.srv = httptest.NewTLSServer(mux)
	} else {
		s.srv = httptest.NewServer(mux)
	}
	return s, nil
}

// URL is the issuer: the server's base URL, no trailing slash.
func (s *Server) URL() string { return s.srv.URL }

// ClientID is the registered client's id.
func (s *Server) ClientID() string { return s.opts.ClientID }

// ClientSecret is the registered client's secret.
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

// Client is an HTTP client that trusts the fake (needed with TLS).
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Close stops the server; later requests fail to connect. Safe to call
// more than once.
func (s *Server) Close() { s.srv.Close() }

// SetUser changes the user the next logins sign in.
func (s *Server) SetUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user = u
}

// SetFaults replaces the faults in force (the zero Faults heals the fake).
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// Requests returns a copy of the requests received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

// RequestsTo returns the requests received by one endpoint.
func (s *Server) RequestsTo(endpoint string) []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Endpoint == endpoint {
			out = append(out, r)
		}
	}
	return out
}

// Authorize plays the browser at the authorization endpoint: it GETs
// authURL without following the redirect and returns where the fake sends
// the browser (redirect_uri with code and state, or with error).
func (s *Server) Authorize(authURL string) (*url.URL, error) {
	hc := *s.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Get(authURL)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return nil, fmt.Errorf("upstreamtest: authorization endpoint answered %s", resp.Status)
	}
	return resp.Location()
}

// record wraps a handler: it applies Faults.Down and logs the request.
func (s *Server) record(endpoint string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := Request{Endpoint: endpoint, Method: r.Method, Query: r.URL.Query()}
		if endpoint == EndpointToken && r.Method == http.MethodPost {
			if err := r.ParseForm(); err == nil {
				rec.Form = r.PostForm
			}
			_, _, basic := r.BasicAuth()
			switch {
			case basic:
				rec.ClientAuth = "client_secret_basic"
			case r.PostForm.Get("client_secret") != "":
				rec.ClientAuth = "client_secret_post"
			}
		}
		if endpoint == EndpointUserInfo {
			_, rec.Bearer = bearer(r)
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		s.mu.Lock()
		down := s.faults.Down
		s.mu.Unlock()
		if down {
			http.Error(sw, "upstreamtest: down", http.StatusServiceUnavailable)
		} else {
			h(sw, r)
		}
		rec.Status = sw.status
		s.mu.Lock()
		s.reqs = append(s.reqs, rec)
		s.mu.Unlock()
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// discovery serves Google's discovery document, trimmed to what the fake
// implements (the code flow).
func (s *Server) discovery(w http.ResponseWriter, r *http.Request) {
	base := s.URL()
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                base,
		"authorization_endpoint":                base + PathAuth,
		"token_endpoint":                        base + PathToken,
		"userinfo_endpoint":                     base + PathUserInfo,
		"jwks_uri":                              base + PathJWKS,
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "email", "profile"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
		"claims_supported": []string{
			"aud", "email", "email_verified", "exp", "family_name", "given_name",
			"iat", "iss", "name", "picture", "sub",
		},
		"code_challenge_methods_supported": []string{"plain", "S256"},
		"grant_types_supported":            []string{"authorization_code"},
	})
}

// authorize is the authorization endpoint. Like Google, it shows an error
// page (400) for an unknown client or redirect URI and redirects with an
// error for a bad request; otherwise it signs the user in at once. It
// records but ignores hd (a hint to Google's account chooser, which lets
// the user pick any account).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Error 400: invalid_request", http.StatusBadRequest)
		return
	}
	q := r.Form
	if q.Get("client_id") != s.opts.ClientID {
		http.Error(w, "Error 401: invalid_client (The OAuth client was not found.)", http.StatusBadRequest)
		return
	}
	ru := q.Get("redirect_uri")
	redirect, err := url.Parse(ru)
	if err != nil || !redirect.IsAbs() || redirect.Fragment != "" ||
		(len(s.opts.RedirectURIs) > 0 && !slices.Contains(s.opts.RedirectURIs, ru)) {
		http.Error(w, "Error 400: redirect_uri_mismatch", http.StatusBadRequest)
		return
	}
	state := q.Get("state")
	back := func(params url.Values) {
		v := redirect.Query()
		for k, vs := range params {
			v[k] = vs
		}
		if state != "" {
			v.Set("state", state)
		}
		u := *redirect
		u.RawQuery = v.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	fail := func(code, desc string) {
		back(url.Values{"error": {code}, "error_description": {desc}})
	}
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type", "Only the code flow is supported")
		return
	}
	scopes := strings.Fields(q.Get("scope"))
	if len(scopes) == 0 {
		fail("invalid_request", "Missing required parameter: scope")
		return
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		fail("invalid_request", "code_challenge_method without code_challenge")
		return
	case challenge != "" && method == "":
		method = "plain" // RFC 7636 §4.3
	case challenge != "" && method != "plain" && method != "S256":
		fail("invalid_request", "Invalid code_challenge_method")
		return
	}

	s.mu.Lock()
	f, user := s.faults, s.user
	s.mu.Unlock()
	if f.DenyConsent {
		p := url.Values{"error": {"access_denied"}}
		if f.DenyDescription != "" {
			p.Set("error_description", f.DenyDescription)
		}
		back(p)
		return
	}
	code := "4/0" + randomString()
	s.mu.Lock()
	s.codes[code] = &grant{
		clientID:    s.opts.ClientID,
		redirectURI: ru,
		scopes:      scopes,
		nonce:       q.Get("nonce"),
		challenge:   challenge,
		method:      method,
		user:        user,
		expires:     s.opts.Now().Add(codeTTL),
	}
	s.mu.Unlock()
	p := url.Values{
		"code":     {code},
		"scope":    {strings.Join(scopes, " ")},
		"authuser": {"0"},
		"prompt":   {"consent"},
	}
	if user.HostedDomain != "" {
		p.Set("hd", user.HostedDomain)
	}
	back(p)
}

// token is the token endpoint (authorization_code only).
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "POST required")
		return
	}
	s.mu.Lock()
	f := s.faults
	s.mu.Unlock()
	if f.TokenStatus != 0 {
		body := f.TokenBody
		if body == "" {
			body = `{"error":"server_error","error_description":"upstreamtest: injected failure"}`
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(f.TokenStatus)
		_, _ = w.Write([]byte(body))
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Malformed body")
		return
	}
	form := r.PostForm

	// Client authentication (RFC 6749 §2.3.1): exactly one method.
	id, secret, basic := r.BasicAuth()
	if basic {
		if form.Get("client_secret") != "" {
			oauthError(w, http.StatusBadRequest, "invalid_request", "More than one client authentication method")
			return
		}
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			oauthError(w, http.StatusUnauthorized, "invalid_client", "Unauthorized")
			return
		}
		if cid := form.Get("client_id"); cid != "" && cid != id {
			oauthError(w, http.StatusBadRequest, "invalid_request", "client_id mismatch")
			return
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	if subtle.ConstantTimeCompare([]byte(id), []byte(s.opts.ClientID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret)) != 1 {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Unauthorized")
		return
	}
	if gt := form.Get("grant_type"); gt != "authorization_code" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+gt)
		return
	}

	s.mu.Lock()
	code := form.Get("code")
	g := s.codes[code]
	delete(s.codes, code) // single use, whatever happens next
	s.mu.Unlock()
	now := s.opts.Now()
	if g == nil || now.After(g.expires) || g.clientID != id {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Bad Request")
		return
	}
	if form.Get("redirect_uri") != g.redirectURI {
		oauthError(w, http.StatusBadRequest, "redirect_uri_mismatch", "Bad Request")
		return
	}
	// RFC 7636 §4.6.
	verifier := form.Get("code_verifier")
	switch {
	case g.challenge == "" && verifier != "":
		oauthError(w, http.StatusBadRequest, "invalid_grant", "code_verifier without code_challenge")
		return
	case g.challenge != "" && !pkceMatches(g.method, g.challenge, verifier):
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid code verifier.")
		return
	}

	access := "ya29." + randomString()
	at := *g
	at.expires = now.Add(tokenTTL)
	s.mu.Lock()
	s.tokens[access] = &at
	s.mu.Unlock()
	resp := map[string]any{
		"access_token": access,
		"expires_in":   int(tokenTTL / time.Second),
		"scope":        strings.Join(g.scopes, " "),
		"token_type":   "Bearer",
	}
	if slices.Contains(g.scopes, "openid") {
		idt, err := s.idToken(g, access, f, now)
		if err != nil {
			oauthError(w, http.StatusInternalServerError, "server_error", err.Error())
			return
		}
		resp["id_token"] = idt
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, resp)
}

func pkceMatches(method, challenge, verifier string) bool {
	if verifier == "" {
		return false
	}
	want := verifier
	if method == "S256" {
		sum := sha256.Sum256([]byte(verifier))
		want = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}

// idToken signs Google's ID token for a grant, with the faults applied.
func (s *Server) idToken(g *grant, access string, f Faults, now time.Time) (string, error) {
	s.mu.Lock()
	last := s.lastToken
	s.mu.Unlock()
	if f.ReplayIDToken && last != "" {
		return last, nil
	}
	iat, exp := now, now.Add(idTTL)
	if f.Expired {
		iat, exp = now.Add(-2*time.Hour), now.Add(-time.Hour)
	}
	sum := sha256.Sum256([]byte(access))
	c := map[string]any{
		"iss":     s.URL(),
		"azp":     g.clientID,
		"aud":     g.clientID,
		"sub":     g.user.Subject,
		"at_hash": base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]),
		"iat":     iat.Unix(),
		"exp":     exp.Unix(),
	}
	if f.Issuer != "" {
		c["iss"] = f.Issuer
	}
	if f.Audience != "" {
		c["aud"] = f.Audience
	}
	if f.AZP != "" {
		c["azp"] = f.AZP
	}
	if f.AtHash != "" {
		c["at_hash"] = f.AtHash
	}
	switch {
	case f.DropNonce:
	case f.Nonce != "":
		c["nonce"] = f.Nonce
	case g.nonce != "":
		c["nonce"] = g.nonce
	}
	addUserClaims(c, g.user, g.scopes)
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	key := s.key
	if f.WrongKey {
		if key, err = s.unpublishedKey(); err != nil {
			return "", err
		}
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: s.kid, Algorithm: string(jose.RS256)}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.lastToken = tok
	s.mu.Unlock()
	return tok, nil
}

// unpublishedKey is the key Faults.WrongKey signs with.
func (s *Server) unpublishedKey() (*rsa.PrivateKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wrongKey == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		s.wrongKey = k
	}
	return s.wrongKey, nil
}

// addUserClaims adds the user's claims the scopes grant, with Google's
// names: email scope → email, email_verified; profile scope → name,
// picture, given_name, family_name, locale; hd always when set.
func addUserClaims(c map[string]any, u User, scopes []string) {
	if slices.Contains(scopes, "email") && u.Email != "" {
		c["email"] = u.Email
		if u.EmailVerifiedAsString {
			c["email_verified"] = fmt.Sprint(u.EmailVerified)
		} else {
			c["email_verified"] = u.EmailVerified
		}
	}
	if slices.Contains(scopes, "profile") {
		for k, v := range map[string]string{
			"name": u.Name, "picture": u.Picture, "given_name": u.GivenName,
			"family_name": u.FamilyName, "locale": u.Locale,
		} {
			if v != "" {
				c[k] = v
			}
		}
	}
	if u.HostedDomain != "" {
		c["hd"] = u.HostedDomain
	}
}

// userinfo is Google's userinfo endpoint (Bearer access token).
func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "GET or POST")
		return
	}
	s.mu.Lock()
	f := s.faults
	s.mu.Unlock()
	if f.UserInfoStatus != 0 {
		oauthError(w, f.UserInfoStatus, "server_error", "upstreamtest: injected failure")
		return
	}
	tok, ok := bearer(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/"`)
		oauthError(w, http.StatusUnauthorized, "invalid_request", "Invalid Credentials")
		return
	}
	s.mu.Lock()
	g := s.tokens[tok]
	s.mu.Unlock()
	if g == nil || s.opts.Now().After(g.expires) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="invalid_token"`)
		oauthError(w, http.StatusUnauthorized, "invalid_token", "Invalid Credentials")
		return
	}
	c := map[string]any{"sub": g.user.Subject}
	if f.UserInfoSubject != "" {
		c["sub"] = f.UserInfoSubject
	}
	addUserClaims(c, g.user, g.scopes)
	writeJSON(w, http.StatusOK, c)
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		return strings.TrimSpace(h[7:]), true
	}
	return "", false
}

// jwks publishes the signing key (never the WrongKey one).
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	f := s.faults
	s.mu.Unlock()
	if f.JWKSStatus != 0 {
		http.Error(w, "upstreamtest: injected failure", f.JWKSStatus)
		return
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key: s.key.Public(), KeyID: s.kid, Algorithm: string(jose.RS256), Use: "sig",
	}}}
	w.Header().Set("Cache-Control", "public, max-age=20000")
	writeJSON(w, http.StatusOK, set)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func randomString() string { return rand.Text() }
