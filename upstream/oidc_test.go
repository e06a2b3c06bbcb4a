package upstream

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/manam-id/manam/upstream/upstreamtest"
)

const testRedirectURI = "https://manam.example/upstream/google/callback"

// sentinels are every error kind a caller maps; an error must match exactly
// the one a test expects.
var sentinels = []error{ErrDenied, ErrState, ErrExpired, ErrNonce, ErrToken, ErrUpstream, ErrDomain, ErrConfig}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a fake Google and a connector to it sharing one clock.
type env struct {
	f   *upstreamtest.Server
	clk *clock
	c   *OIDC
}

func newEnv(t *testing.T, opts upstreamtest.Options, mutate func(*Config)) *env {
	t.Helper()
	clk := newClock()
	opts.Now = clk.Now
	f := upstreamtest.New(t, opts)
	cfg := Config{
		ID:           "google",
		Type:         TypeGoogle,
		Issuer:       f.URL(),
		ClientID:     f.ClientID(),
		ClientSecret: Secret(f.ClientSecret()),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := NewOIDC(cfg, Deps{HTTPClient: f.Client(), Now: clk.Now, Logger: discardLogger()})
	if err != nil {
		t.Fatalf("NewOIDC: %v", err)
	}
	return &env{f: f, clk: clk, c: c}
}

// authorize plays the browser at the fake's authorization endpoint and
// returns the callback query.
func (e *env) authorize(t *testing.T, authURL string) url.Values {
	t.Helper()
	u, err := e.f.Authorize(authURL)
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != testRedirectURI {
		t.Fatalf("fake redirected to %q, want %q", got, testRedirectURI)
	}
	return u.Query()
}

// login runs a whole login.
func (e *env) login(t *testing.T) (*Identity, error) {
	t.Helper()
	ctx := context.Background()
	authURL, st, err := e.c.Start(ctx, testRedirectURI)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return e.c.Finish(ctx, testRedirectURI, st, e.authorize(t, authURL))
}

// checkErr asserts err wraps want and no other sentinel, and never carries
// the client secret.
func checkErr(t *testing.T, err, want error, secret string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("error = %v, want none", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want %v", want)
	}
	for _, s := range sentinels {
		if is := errors.Is(err, s); is != (s == want) {
			t.Errorf("errors.Is(%v, %v) = %v, want %v", err, s, is, s == want)
		}
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error leaks the client secret: %v", err)
	}
}

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func TestLogin(t *testing.T) {
	workspace := upstreamtest.DefaultUser()
	workspace.HostedDomain = "example.com"
	otherDomain := workspace
	otherDomain.HostedDomain = "evil.example"
	stringTrue := upstreamtest.DefaultUser()
	stringTrue.EmailVerifiedAsString = true
	stringFalse := stringTrue
	stringFalse.EmailVerified = false
	unverified := upstreamtest.DefaultUser()
	unverified.EmailVerified = false
	const secretEcho = `{"error":"invalid_client","error_description":"client secret GOCSPX-fake-upstream-secret is not valid"}`

	tests := []struct {
		name   string
		user   *upstreamtest.User
		cfg    func(*Config)
		before func(t *testing.T, e *env) // runs before the faults are set
		faults upstreamtest.Faults
		// tamper changes what reaches Finish (after the browser came back).
		tamper  func(e *env, st *State, cb url.Values)
		wantErr error
		// noToken: Finish must fail before exchanging the code.
		noToken bool
		check   func(t *testing.T, e *env, st State, id *Identity, err error)
	}{
		{
			name: "success maps the identity and checks PKCE and nonce",
			check: func(t *testing.T, e *env, st State, id *Identity, _ error) {
				u := upstreamtest.DefaultUser()
				want := Identity{
					Upstream: "google", Subject: u.Subject, Email: u.Email, EmailVerified: true,
					Name: u.Name, GivenName: u.GivenName, FamilyName: u.FamilyName,
					Picture: u.Picture, Locale: u.Locale,
				}
				got := *id
				got.RawClaims = nil
				if !reflect.DeepEqual(got, want) {
					t.Errorf("identity = %+v\nwant       %+v", got, want)
				}
				var raw map[string]any
				if err := json.Unmarshal(id.RawClaims, &raw); err != nil {
					t.Fatalf("RawClaims: %v", err)
				}
				if raw["iss"] != e.f.URL() || raw["aud"] != e.f.ClientID() || raw["azp"] != e.f.ClientID() || raw["nonce"] != st.Nonce {
					t.Errorf("RawClaims lack the ID token's iss/aud/azp/nonce: %s", id.RawClaims)
				}
				auth := e.f.RequestsTo(upstreamtest.EndpointAuth)
				if len(auth) != 1 {
					t.Fatalf("%d authorization requests, want 1", len(auth))
				}
				q := auth[0].Query
				for k, want := range map[string]string{
					"response_type":         "code",
					"client_id":             e.f.ClientID(),
					"redirect_uri":          testRedirectURI,
					"scope":                 "openid email profile",
					"state":                 st.State,
					"nonce":                 st.Nonce,
					"code_challenge_method": "S256",
					"code_challenge":        s256(st.Verifier),
				} {
					if got := q.Get(k); got != want {
						t.Errorf("authorization request %s = %q, want %q", k, got, want)
					}
				}
				if q.Has("hd") {
					t.Errorf("hd sent without a hosted domain: %q", q.Get("hd"))
				}
				tok := e.f.RequestsTo(upstreamtest.EndpointToken)
				if len(tok) != 1 || tok[0].Status != http.StatusOK {
					t.Fatalf("token requests = %+v, want one answered 200", tok)
				}
				if tok[0].Form.Get("code_verifier") != st.Verifier || tok[0].Form.Get("redirect_uri") != testRedirectURI {
					t.Errorf("token request form = %v, want the verifier and redirect_uri", tok[0].Form)
				}
				if tok[0].ClientAuth != AuthClientSecretBasic || tok[0].Form.Has("client_secret") {
					t.Errorf("client auth = %q (form %v), want client_secret_basic only", tok[0].ClientAuth, tok[0].Form)
				}
				ui := e.f.RequestsTo(upstreamtest.EndpointUserInfo)
				if len(ui) != 1 || !ui[0].Bearer || ui[0].Status != http.StatusOK {
					t.Errorf("userinfo requests = %+v, want one Bearer request answered 200", ui)
				}
			},
		},
		{
			name: "client_secret_post when configured",
			cfg:  func(c *Config) { c.AuthMethod = AuthClientSecretPost },
			check: func(t *testing.T, e *env, _ State, _ *Identity, _ error) {
				tok := e.f.RequestsTo(upstreamtest.EndpointToken)
				if len(tok) != 1 || tok[0].ClientAuth != AuthClientSecretPost || tok[0].Form.Get("client_secret") != e.f.ClientSecret() {
					t.Errorf("token requests = %+v, want client_secret_post", tok)
				}
			},
		},
		{
			name:    "denied consent",
			faults:  upstreamtest.Faults{DenyConsent: true},
			wantErr: ErrDenied,
			noToken: true,
		},
		{
			name:    "denied consent keeps the description for the log",
			faults:  upstreamtest.Faults{DenyConsent: true, DenyDescription: "user pressed cancel"},
			wantErr: ErrDenied,
			noToken: true,
			check: func(t *testing.T, _ *env, _ State, _ *Identity, err error) {
				if !strings.Contains(err.Error(), "user pressed cancel") {
					t.Errorf("error %q lacks the upstream's description", err)
				}
			},
		},
		{
			name:    "other callback error is an upstream failure",
			tamper:  func(_ *env, _ *State, cb url.Values) { cb.Del("code"); cb.Set("error", "server_error") },
			wantErr: ErrUpstream,
			noToken: true,
		},
		{
			name:    "callback without code nor error",
			tamper:  func(_ *env, _ *State, cb url.Values) { cb.Del("code") },
			wantErr: ErrUpstream,
			noToken: true,
		},
		{
			name:    "tampered callback state",
			tamper:  func(_ *env, st *State, cb url.Values) { cb.Set("state", st.State[:len(st.State)-1]+"x") },
			wantErr: ErrState,
			noToken: true,
		},
		{
			name:    "callback without state",
			tamper:  func(_ *env, _ *State, cb url.Values) { cb.Del("state") },
			wantErr: ErrState,
			noToken: true,
		},
		{
			name:    "denial with a forged state",
			faults:  upstreamtest.Faults{DenyConsent: true},
			tamper:  func(_ *env, _ *State, cb url.Values) { cb.Set("state", "forged") },
			wantErr: ErrState,
			noToken: true,
		},
		{
			name:    "no kept state",
			tamper:  func(_ *env, st *State, _ url.Values) { *st = State{} },
			wantErr: ErrState,
			noToken: true,
		},
		{
			name:    "kept state of another upstream",
			tamper:  func(_ *env, st *State, _ url.Values) { st.Upstream = "github" },
			wantErr: ErrState,
			noToken: true,
		},
		{
			name:    "expired state",
			tamper:  func(e *env, _ *State, _ url.Values) { e.clk.Advance(DefaultMaxAge + time.Second) },
			wantErr: ErrExpired,
			noToken: true,
		},
		{
			name:   "state just within max age",
			tamper: func(e *env, _ *State, _ url.Values) { e.clk.Advance(DefaultMaxAge - time.Second) },
		},
		{
			name:    "configured max age",
			cfg:     func(c *Config) { c.MaxAge = time.Minute },
			tamper:  func(e *env, _ *State, _ url.Values) { e.clk.Advance(time.Minute + time.Second) },
			wantErr: ErrExpired,
			noToken: true,
		},
		{
			name:    "PKCE verifier mismatch is refused by the upstream",
			tamper:  func(_ *env, st *State, _ url.Values) { st.Verifier = strings.Repeat("A", 43) },
			wantErr: ErrUpstream,
			check: func(t *testing.T, e *env, _ State, _ *Identity, _ error) {
				tok := e.f.RequestsTo(upstreamtest.EndpointToken)
				if len(tok) != 1 || tok[0].Status != http.StatusBadRequest {
					t.Errorf("token requests = %+v, want one refused with 400", tok)
				}
			},
		},
		{
			name:    "nonce mismatch",
			faults:  upstreamtest.Faults{Nonce: "someone-elses-nonce"},
			wantErr: ErrNonce,
		},
		{
			name:    "nonce missing",
			faults:  upstreamtest.Faults{DropNonce: true},
			wantErr: ErrNonce,
		},
		{
			name: "replayed ID token",
			before: func(t *testing.T, e *env) {
				if _, err := e.login(t); err != nil {
					t.Fatalf("first login: %v", err)
				}
			},
			faults:  upstreamtest.Faults{ReplayIDToken: true},
			wantErr: ErrNonce,
		},
		{
			name:    "ID token signed with another key",
			faults:  upstreamtest.Faults{WrongKey: true},
			wantErr: ErrToken,
		},
		{
			name:    "ID token for another audience",
			faults:  upstreamtest.Faults{Audience: "someone-else.apps.googleusercontent.com"},
			wantErr: ErrToken,
		},
		{
			name:    "ID token authorized for another client",
			faults:  upstreamtest.Faults{AZP: "someone-else.apps.googleusercontent.com"},
			wantErr: ErrToken,
		},
		{
			name:    "ID token bound to another access token",
			faults:  upstreamtest.Faults{AtHash: "AAAAAAAAAAAAAAAAAAAAAA"},
			wantErr: ErrToken,
		},
		{
			name:    "ID token from another issuer",
			faults:  upstreamtest.Faults{Issuer: "https://evil.example"},
			wantErr: ErrToken,
		},
		{
			name:    "expired ID token",
			faults:  upstreamtest.Faults{Expired: true},
			wantErr: ErrToken,
			check: func(t *testing.T, _ *env, _ State, _ *Identity, err error) {
				var expired *oidc.TokenExpiredError
				if !errors.As(err, &expired) {
					t.Errorf("error %v is not a go-oidc TokenExpiredError", err)
				}
			},
		},
		{
			name:    "userinfo sub differs from the ID token's",
			faults:  upstreamtest.Faults{UserInfoSubject: "999"},
			wantErr: ErrToken,
		},
		{
			name:    "token endpoint answers 500",
			faults:  upstreamtest.Faults{TokenStatus: http.StatusInternalServerError},
			wantErr: ErrUpstream,
		},
		{
			name:    "token endpoint error echoing the secret is redacted",
			faults:  upstreamtest.Faults{TokenStatus: http.StatusUnauthorized, TokenBody: secretEcho},
			wantErr: ErrUpstream,
			check: func(t *testing.T, _ *env, _ State, _ *Identity, err error) {
				if !strings.Contains(err.Error(), "[redacted]") {
					t.Errorf("error %q: want the echoed secret replaced by [redacted]", err)
				}
			},
		},
		{
			name:    "userinfo answers 500",
			faults:  upstreamtest.Faults{UserInfoStatus: http.StatusInternalServerError},
			wantErr: ErrUpstream,
		},
		{
			name:    "JWKS answers 500",
			faults:  upstreamtest.Faults{JWKSStatus: http.StatusInternalServerError},
			wantErr: ErrUpstream,
		},
		{
			name:    "upstream gone before the code exchange",
			tamper:  func(e *env, _ *State, _ url.Values) { e.f.Close() },
			wantErr: ErrUpstream,
		},
		{
			name: "hosted domain allowed",
			user: &workspace,
			cfg:  func(c *Config) { c.HostedDomain = "example.com" },
			check: func(t *testing.T, e *env, _ State, id *Identity, _ error) {
				if id.HostedDomain != "example.com" {
					t.Errorf("HostedDomain = %q, want example.com", id.HostedDomain)
				}
				auth := e.f.RequestsTo(upstreamtest.EndpointAuth)
				if len(auth) != 1 || auth[0].Query.Get("hd") != "example.com" {
					t.Errorf("authorization requests = %+v, want hd=example.com", auth)
				}
			},
		},
		{
			name:    "hosted domain of another workspace",
			user:    &otherDomain,
			cfg:     func(c *Config) { c.HostedDomain = "example.com" },
			wantErr: ErrDomain,
		},
		{
			name:    "hosted domain required, consumer account",
			cfg:     func(c *Config) { c.HostedDomain = "example.com" },
			wantErr: ErrDomain,
		},
		{
			name: "email_verified as the string true",
			user: &stringTrue,
			check: func(t *testing.T, _ *env, _ State, id *Identity, _ error) {
				if !id.EmailVerified {
					t.Error(`EmailVerified = false for "true"`)
				}
			},
		},
		{
			name: "email_verified as the string false",
			user: &stringFalse,
			check: func(t *testing.T, _ *env, _ State, id *Identity, _ error) {
				if id.EmailVerified {
					t.Error(`EmailVerified = true for "false"`)
				}
			},
		},
		{
			name: "unverified email is not an error",
			user: &unverified,
			check: func(t *testing.T, _ *env, _ State, id *Identity, _ error) {
				if id.EmailVerified || id.Email != unverified.Email {
					t.Errorf("identity = %+v, want the e-mail, unverified", id)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, upstreamtest.Options{User: tc.user}, tc.cfg)
			if tc.before != nil {
				tc.before(t, e)
			}
			e.f.SetFaults(tc.faults)
			tokensBefore := len(e.f.RequestsTo(upstreamtest.EndpointToken))
			ctx := context.Background()
			authURL, st, err := e.c.Start(ctx, testRedirectURI)
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			cb := e.authorize(t, authURL)
			if tc.tamper != nil {
				tc.tamper(e, &st, cb)
			}
			id, err := e.c.Finish(ctx, testRedirectURI, st, cb)
			checkErr(t, err, tc.wantErr, e.f.ClientSecret())
			if tc.wantErr == nil && id == nil {
				t.Fatal("no identity and no error")
			}
			if tc.wantErr != nil && id != nil {
				t.Errorf("identity %+v returned with an error", id)
			}
			if tc.noToken {
				if n := len(e.f.RequestsTo(upstreamtest.EndpointToken)) - tokensBefore; n != 0 {
					t.Errorf("%d token requests, want none", n)
				}
			}
			if tc.check != nil {
				tc.check(t, e, st, id, err)
			}
		})
	}
}

func TestCodeReplay(t *testing.T) {
	e := newEnv(t, upstreamtest.Options{}, nil)
	ctx := context.Background()
	authURL, st, err := e.c.Start(ctx, testRedirectURI)
	if err != nil {
		t.Fatal(err)
	}
	cb := e.authorize(t, authURL)
	if _, err := e.c.Finish(ctx, testRedirectURI, st, cb); err != nil {
		t.Fatalf("first Finish: %v", err)
	}
	_, err = e.c.Finish(ctx, testRedirectURI, st, cb)
	checkErr(t, err, ErrUpstream, e.f.ClientSecret())
	if !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("error %q: want the upstream's invalid_grant", err)
	}
}

func TestStateSurvivesJSON(t *testing.T) {
	e := newEnv(t, upstreamtest.Options{}, nil)
	ctx := context.Background()
	authURL, st, err := e.c.Start(ctx, testRedirectURI)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var back State
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.State != st.State || back.Nonce != st.Nonce || back.Verifier != st.Verifier || back.Upstream != st.Upstream || !back.Created.Equal(st.Created) {
		t.Fatalf("State after JSON = %+v, want %+v", back, st)
	}
	if _, err := e.c.Finish(ctx, testRedirectURI, back, e.authorize(t, authURL)); err != nil {
		t.Fatalf("Finish with the decoded State: %v", err)
	}
}

func TestStart(t *testing.T) {
	e := newEnv(t, upstreamtest.Options{}, func(c *Config) {
		c.AuthParams = map[string]string{"prompt": "select_account"}
		c.Scopes = []string{"openid", "email"}
	})
	ctx := context.Background()

	t.Run("relative redirect URI", func(t *testing.T) {
		_, _, err := e.c.Start(ctx, "/callback")
		checkErr(t, err, ErrConfig, e.f.ClientSecret())
	})
	t.Run("fresh secrets each time", func(t *testing.T) {
		seen := map[string]bool{}
		for range 3 {
			authURL, st, err := e.c.Start(ctx, testRedirectURI)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range []string{st.State, st.Nonce, st.Verifier} {
				if len(v) != 43 || seen[v] {
					t.Errorf("secret %q: want 43 characters never seen before", v)
				}
				seen[v] = true
			}
			if st.Upstream != "google" || !st.Created.Equal(e.clk.Now()) {
				t.Errorf("State = %+v, want upstream google created now", st)
			}
			u, err := url.Parse(authURL)
			if err != nil {
				t.Fatal(err)
			}
			if got := u.Scheme + "://" + u.Host + u.Path; got != e.f.URL()+upstreamtest.PathAuth {
				t.Errorf("auth URL %q, want the discovered authorization endpoint", got)
			}
			q := u.Query()
			if q.Get("prompt") != "select_account" || q.Get("scope") != "openid email" {
				t.Errorf("auth URL query %v: want prompt=select_account scope=openid email", q)
			}
		}
	})
}

func TestGooglePreset(t *testing.T) {
	cfg := Config{ID: "google", Type: TypeGoogle, ClientID: "id.apps.googleusercontent.com", ClientSecret: "s"}
	d := cfg.WithDefaults()
	if d.Issuer != "https://accounts.google.com" {
		t.Errorf("Issuer = %q, want https://accounts.google.com", d.Issuer)
	}
	if strings.Join(d.Scopes, " ") != "openid email profile" {
		t.Errorf("Scopes = %q, want openid email profile", d.Scopes)
	}
	if d.Name != "Google" || d.MaxAge != 10*time.Minute {
		t.Errorf("Name, MaxAge = %q, %v; want Google, 10m", d.Name, d.MaxAge)
	}
	// Building the connector contacts nothing: discovery is lazy.
	var calls int
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		calls++
		return nil, errors.New("no network in this test")
	})}
	c, err := NewOIDC(cfg, Deps{HTTPClient: hc})
	if err != nil {
		t.Fatalf("NewOIDC: %v", err)
	}
	if c.ID() != "google" || c.Name() != "Google" || c.Config().Issuer != GoogleIssuer {
		t.Errorf("connector id, name, issuer = %q, %q, %q", c.ID(), c.Name(), c.Config().Issuer)
	}
	if calls != 0 {
		t.Errorf("NewOIDC made %d HTTP requests, want 0", calls)
	}
	// A generic OIDC config gets the same scopes but no issuer.
	if o := (Config{ID: "corp"}).WithDefaults(); o.Issuer != "" || o.Name != "corp" || o.Type != TypeOIDC {
		t.Errorf("oidc defaults = %+v", o)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestDiscoveryDownThenRecovers(t *testing.T) {
	e := newEnv(t, upstreamtest.Options{}, nil)
	ctx := context.Background()
	e.f.SetFaults(upstreamtest.Faults{Down: true})
	for i := range 2 {
		_, _, err := e.c.Start(ctx, testRedirectURI)
		checkErr(t, err, ErrUpstream, e.f.ClientSecret())
		if n := len(e.f.RequestsTo(upstreamtest.EndpointDiscovery)); n != i+1 {
			t.Fatalf("after %d failed starts, %d discovery requests: a failure must not be cached", i+1, n)
		}
	}
	e.f.SetFaults(upstreamtest.Faults{})
	id, err := e.login(t)
	if err != nil || id.Subject != upstreamtest.DefaultUser().Subject {
		t.Fatalf("login after recovery = %+v, %v", id, err)
	}
	if _, _, err := e.c.Start(ctx, testRedirectURI); err != nil {
		t.Fatal(err)
	}
	if n := len(e.f.RequestsTo(upstreamtest.EndpointDiscovery)); n != 3 {
		t.Errorf("%d discovery requests, want 3: a success must be cached", n)
	}
}

func TestDiscoveryOnceForConcurrentLogins(t *testing.T) {
	e := newEnv(t, upstreamtest.Options{}, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, _, err := e.c.Start(context.Background(), testRedirectURI)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := len(e.f.RequestsTo(upstreamtest.EndpointDiscovery)); n != 1 {
		t.Errorf("%d discovery requests for 20 concurrent starts, want 1", n)
	}
}

func TestDiscoveryIssuerMismatch(t *testing.T) {
	e := newEnv(t, upstreamtest.Options{}, func(c *Config) { c.Issuer += "/" })
	_, _, err := e.c.Start(context.Background(), testRedirectURI)
	checkErr(t, err, ErrUpstream, e.f.ClientSecret())
	var mismatch *oidc.IssuerMismatchError
	if !errors.As(err, &mismatch) {
		t.Errorf("error %v: want go-oidc's IssuerMismatchError in the chain", err)
	}
}

func TestUnreachableUpstream(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, err := NewOIDC(Config{ID: "down", Issuer: "http://" + addr, ClientID: "id", ClientSecret: "s3cr3t-value"}, Deps{Logger: discardLogger()})
	if err != nil {
		t.Fatalf("NewOIDC must not contact the upstream: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, err = c.Start(ctx, testRedirectURI)
	checkErr(t, err, ErrUpstream, "s3cr3t-value")
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("error %v: want the network error in the chain", err)
	}
}

func TestStartWaitsNoLongerThanItsContext(t *testing.T) {
	// An upstream that accepts connections and never answers.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := NewOIDC(Config{ID: "slow", Issuer: "http://" + l.Addr().String(), ClientID: "id", ClientSecret: "slow-s3cr3t"}, Deps{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	begin := time.Now()
	_, _, err = c.Start(ctx, testRedirectURI)
	checkErr(t, err, ErrUpstream, "slow-s3cr3t")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v: want context.DeadlineExceeded", err)
	}
	if d := time.Since(begin); d > 3*time.Second {
		t.Errorf("Start took %v despite a 100ms context", d)
	}
}

func TestHTTPClientFromContext(t *testing.T) {
	e := newEnv(t, upstreamtest.Options{}, nil)
	// The Deps client cannot reach anything; the context's can.
	e.c.http = &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("the Deps client was used")
	})}
	ctx := oidc.ClientContext(context.Background(), e.f.Client())
	authURL, st, err := e.c.Start(ctx, testRedirectURI)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if _, err := e.c.Finish(ctx, testRedirectURI, st, e.authorize(t, authURL)); err != nil {
		t.Fatalf("Finish: %v", err)
	}
	// Without it, the Deps client is used.
	_, err = e.c.Finish(context.Background(), testRedirectURI, st, url.Values{"state": {st.State}, "code": {"x"}})
	if err == nil || !strings.Contains(err.Error(), "the Deps client was used") {
		t.Errorf("Finish without a context client: %v, want the Deps client's error", err)
	}
}
