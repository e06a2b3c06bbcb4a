package provider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/pkce"
	"github.com/ory/fosite/token/jwt"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/idp/mfa"
	"github.com/manam-id/manam/idp/pages"
	"github.com/manam-id/manam/keys"
	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/upstream"
)

// Config is the provider's part of Manam's configuration.
type Config struct {
	// Issuer is the issuer URL exactly as clients see it (no trailing slash).
	Issuer string
	// Lifespans; zero means the default in brackets.
	AccessTokenLifespan  time.Duration // 1 h
	RefreshTokenLifespan time.Duration // 30 days
	IDTokenLifespan      time.Duration // 1 h
	AuthCodeLifespan     time.Duration // 5 min
	// ChallengeLifespan is how long a login or consent page stays valid. 30 min.
	ChallengeLifespan time.Duration
	// InsecureDebugErrors sends fosite's debug detail to clients. Never in production.
	InsecureDebugErrors bool
	// MaxBodyBytes caps request bodies. 64 KiB.
	MaxBodyBytes int64
	// TrustedProxies are the proxies (load balancers) whose
	// X-Forwarded-For names the client; without them the client is the
	// connection's peer.
	TrustedProxies []netip.Prefix
	// AccessTokenKeyID is the seal key id of new access tokens (≥ 1; 0
	// means 1). Raising it by one rotates the seal key: tokens sealed
	// under the previous id open until they expire (and a server still on
	// the previous id opens the new ones), older ids do not.
	AccessTokenKeyID int
	// MetricsElsewhere leaves /metrics off the public handler: the
	// operator serves MetricsHandler on a listener of its own.
	MetricsElsewhere bool
}

func (c *Config) defaults() {
	if c.AccessTokenLifespan == 0 {
		c.AccessTokenLifespan = time.Hour
	}
	if c.RefreshTokenLifespan == 0 {
		c.RefreshTokenLifespan = 30 * 24 * time.Hour
	}
	if c.IDTokenLifespan == 0 {
		c.IDTokenLifespan = time.Hour
	}
	if c.AuthCodeLifespan == 0 {
		c.AuthCodeLifespan = 5 * time.Minute
	}
	if c.ChallengeLifespan == 0 {
		c.ChallengeLifespan = 30 * time.Minute
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 64 << 10
	}
}

// MaxTokenLifetime is the longest a JWT this provider signs stays valid:
// how long a retired signing key must stay published.
func (c Config) MaxTokenLifetime() time.Duration {
	c.defaults()
	return max(c.AccessTokenLifespan, c.IDTokenLifespan)
}

// Deps are the provider's collaborators.
type Deps struct {
	DB      *storage.DB
	Keys    *keys.Manager
	IDP     *idp.Service
	Secret  []byte // the system secret; subkeys are derived per purpose
	Logger  *slog.Logger
	Metrics prometheus.Registerer // nil: a private registry
	// Upstreams are the identity providers offered on the login page (nil:
	// none); UpstreamKey (32 bytes) seals their per-login state.
	Upstreams   *upstream.Set
	UpstreamKey []byte
	// IssuerRedirects are paths on the issuer that any tenant's
	// authorization request may name as its redirect URI, and then only
	// them (issuerredirect.go): the callbacks of first-party surfaces that
	// exchange the code on the tenant's behalf (the legacy API's Login
	// with Manam).
	IssuerRedirects []string
}

// Provider serves the OAuth 2.0 / OpenID Connect surface.
type Provider struct {
	cfg       Config
	oauth     fosite.OAuth2Provider
	fc        *fosite.Config // fosite's configuration: its handlers, for the grants of grant.go
	store     *storage.FositeStore
	tenants   *storage.Tenants
	db        *storage.DB
	keys      *keys.Manager
	idp       *idp.Service
	pages     *pages.Pages
	signer    *keySigner
	challenge []byte
	log       *slog.Logger
	metrics   *metrics
	gatherer  prometheus.Gatherer
	issuerURL *url.URL
	tokens    oauth2.AccessTokenStrategy // issues access tokens outside a grant (the legacy surfaces)
	// refreshTokens issues refresh tokens outside a grant (the legacy surfaces).
	refreshTokens oauth2.RefreshTokenStrategy
	hasher        fosite.Hasher // client secrets
	graceSealer   *mfa.Sealer   // kept refresh answers (grace.go)
	// view is the store fosite composes over; issuerRedirects are the
	// absolute issuer redirects (issuerredirect.go).
	view            graceView
	issuerRedirects []string
	sealer          *accessSealer // access tokens (sealed.go)
}

// New builds the provider.
func New(cfg Config, d Deps) (*Provider, error) {
	cfg.defaults()
	iss, err := url.Parse(cfg.Issuer)
	if err != nil || (iss.Scheme != "https" && iss.Scheme != "http") || iss.Host == "" || iss.RawQuery != "" || iss.Fragment != "" || strings.HasSuffix(cfg.Issuer, "/") {
		return nil, fmt.Errorf("provider: issuer %q must be an absolute http(s) URL without query, fragment or trailing slash", cfg.Issuer)
	}
	if d.DB == nil || d.Keys == nil || d.IDP == nil || len(d.Secret) < 32 {
		return nil, errors.New("provider: missing dependency")
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	reg, ok := d.Metrics.(*prometheus.Registry)
	if d.Metrics == nil || !ok {
		reg = prometheus.NewRegistry()
	}
	p := &Provider{
		cfg:       cfg,
		store:     NewStore(d.DB),
		tenants:   storage.NewTenants(d.DB),
		db:        d.DB,
		keys:      d.Keys,
		idp:       d.IDP,
		signer:    &keySigner{keys: d.Keys},
		challenge: keys.Derive(d.Secret, "login challenge"),
		log:       d.Logger,
		metrics:   newMetrics(reg),
		gatherer:  reg,
		issuerURL: iss,
		hasher:    &secretHasher{key: keys.Derive(d.Secret, "client secrets")},
	}
	if p.sealer, err = newAccessSealer(d.Secret, cfg.AccessTokenKeyID); err != nil {
		return nil, err
	}
	// Revocation rows are kept as long as the longest access token lives.
	d.DB.SetMaxAccessTokenLifetime(cfg.AccessTokenLifespan)
	for _, path := range d.IssuerRedirects {
		p.issuerRedirects = append(p.issuerRedirects, cfg.Issuer+path)
	}
	if err := p.composeFosite(keys.Derive(d.Secret, "fosite hmac")); err != nil {
		return nil, err
	}
	if p.graceSealer, err = graceSealer(d.Secret); err != nil {
		return nil, err
	}
	p.pages, err = pages.New(pages.Deps{
		Service:  d.IDP,
		Flow:     p,
		CSRF:     pages.NewCSRF(keys.Derive(d.Secret, "csrf"), iss.Scheme == "https"),
		Secure:   iss.Scheme == "https",
		Logger:   d.Logger,
		Observer: func(outcome string) { p.metrics.logins.WithLabelValues(outcome).Inc() },
		ClientIP: p.ClientIP,
		Issuer:   cfg.Issuer,
		// Federation.
		Upstreams:   d.Upstreams,
		UpstreamKey: d.UpstreamKey,
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// composeFosite sets fosite up: its configuration, the token strategies
// (per-tenant access-token format, key-id-aware signer), the grants and
// endpoints Manam serves over the store view with the refresh grace
// (graceView), PKCE wired by hand, and every token handler made quiet.
// Nothing here knows who calls the provider: see grant.go and
// issuerredirect.go for the callers that identify a client themselves.
func (p *Provider) composeFosite(hmacSecret []byte) error {
	fc := &fosite.Config{
		AccessTokenLifespan:         p.cfg.AccessTokenLifespan,
		RefreshTokenLifespan:        p.cfg.RefreshTokenLifespan,
		AuthorizeCodeLifespan:       p.cfg.AuthCodeLifespan,
		IDTokenLifespan:             p.cfg.IDTokenLifespan,
		IDTokenIssuer:               p.cfg.Issuer,
		AccessTokenIssuer:           p.cfg.Issuer,
		TokenURL:                    p.cfg.Issuer + "/oauth2/token",
		GlobalSecret:                hmacSecret,
		SendDebugMessagesToClients:  p.cfg.InsecureDebugErrors,
		EnforcePKCEForPublicClients: true,
		ScopeStrategy:               fosite.ExactScopeStrategy,
		AudienceMatchingStrategy:    fosite.ExactAudienceMatchingStrategy,
		ClientSecretsHasher:         p.hasher,
		JWTScopeClaimKey:            jwt.JWTScopeFieldString,
		MinParameterEntropy:         fosite.MinParameterEntropy,
		RefreshTokenScopes:          []string{"offline_access"},
		AllowedPromptValues:         []string{"none", "login", "consent"},
	}
	hmacStrategy := compose.NewOAuth2HMACStrategy(fc)
	strategy := &compose.CommonStrategy{
		CoreStrategy: &tenantStrategy{
			HMACSHAStrategy: hmacStrategy,
			jwt:             &oauth2.DefaultJWTStrategy{Signer: p.signer, HMACSHAStrategy: hmacStrategy, Config: fc},
			sealer:          p.sealer,
			lifespan:        p.cfg.AccessTokenLifespan,
		},
		OpenIDConnectTokenStrategy: newIDTokenStrategy(p.keys, fc), // the tenant's algorithm (idtoken.go)
		Signer:                     p.signer,
	}
	p.tokens, p.refreshTokens = strategy, strategy
	p.view = graceView{FositeStore: p.store, p: p}
	oauth, ok := compose.Compose(fc, p.view, strategy,
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2ClientCredentialsGrantFactory,
		compose.OAuth2RefreshTokenGrantFactory,
		compose.OpenIDConnectExplicitFactory,
		compose.OpenIDConnectRefreshFactory,
		compose.OAuth2TokenIntrospectionFactory,
		compose.OAuth2TokenRevocationFactory,
	).(*fosite.Fosite)
	if !ok {
		return errors.New("provider: fosite did not compose a *fosite.Fosite")
	}
	p.oauth, p.fc = oauth, fc
	// PKCE, wired by hand so its storage cannot delete the challenge early (see pkceStorage).
	fc.TokenEndpointHandlers.Append(&pkce.Handler{AuthorizeCodeStrategy: strategy, Storage: pkceStorage{p.store}, Config: fc})
	fc.AuthorizeEndpointHandlers.Append(&pkce.Handler{AuthorizeCodeStrategy: strategy, Storage: pkceStorage{p.store}, Config: fc})
	for i, h := range fc.TokenEndpointHandlers {
		fc.TokenEndpointHandlers[i] = quietTokenHandler{h}
	}
	return nil
}

// Pages are the hosted pages (for a client dialect that starts an
// upstream sign-in of its own: pages.StartUpstreamFor).
func (p *Provider) Pages() *pages.Pages { return p.pages }

// Store is the fosite store (for the sweeper and the legacy dialects).
func (p *Provider) Store() *storage.FositeStore { return p.store }

// Handler returns every route behind the middleware, with the routes of
// the mounts (the legacy surfaces) added first.
func (p *Provider) Handler(mounts ...Mount) http.Handler {
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.pages.Error(w, r, http.StatusNotFound, "Not found", "There is no page at this address.")
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusMethodNotAllowed, "invalid_request", "method not allowed")
	})
	r.Use(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			noteRoute(req)
			h.ServeHTTP(w, req)
		})
	})
	for _, m := range mounts {
		m(r)
	}
	r.HandleFunc("/.well-known/openid-configuration", p.discovery).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/.well-known/jwks.json", p.jwks).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/oauth2/auth", p.authorize).Methods(http.MethodGet, http.MethodPost)
	r.HandleFunc("/oauth2/auth/resume", p.resume).Methods(http.MethodGet)
	r.HandleFunc("/oauth2/token", p.token)
	r.HandleFunc("/oauth2/introspect", p.introspect)
	r.HandleFunc("/oauth2/revoke", p.revoke)
	r.HandleFunc("/userinfo", p.userinfo).Methods(http.MethodGet, http.MethodPost)
	r.HandleFunc("/oauth2/logout", p.logout).Methods(http.MethodGet, http.MethodPost)
	r.HandleFunc("/login", p.pages.Login).Methods(http.MethodGet, http.MethodPost)
	r.HandleFunc("/consent", p.pages.Consent).Methods(http.MethodGet, http.MethodPost)
	r.HandleFunc("/register", p.pages.Register).Methods(http.MethodGet, http.MethodPost)
	r.HandleFunc("/confirm", p.pages.Confirm).Methods(http.MethodGet)
	r.HandleFunc("/confirm/resend", p.pages.Resend).Methods(http.MethodPost)
	r.HandleFunc("/confirm/sms", p.pages.ConfirmSMS).Methods(http.MethodPost)
	r.HandleFunc("/confirm/sms/resend", p.pages.ResendSMS).Methods(http.MethodPost)
	r.HandleFunc("/recover", p.pages.Recover).Methods(http.MethodGet, http.MethodPost)
	r.HandleFunc("/recover/reset", p.pages.Reset).Methods(http.MethodGet, http.MethodPost)
	r.HandleFunc("/recover/code", p.pages.ResetCode).Methods(http.MethodPost)
	r.HandleFunc("/", p.pages.Home).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/account", p.pages.Account).Methods(http.MethodGet)
	r.HandleFunc("/account/profile", p.pages.AccountProfile).Methods(http.MethodPost)
	r.HandleFunc("/account/password", p.pages.AccountPassword).Methods(http.MethodPost)
	r.HandleFunc("/login/2fa", p.pages.SecondFactor).Methods(http.MethodGet, http.MethodPost)
	r.HandleFunc("/login/2fa/enrol", p.pages.Enrol).Methods(http.MethodGet)
	r.HandleFunc("/login/2fa/enrolled", p.pages.Enrolled).Methods(http.MethodPost)
	r.HandleFunc("/login/2fa/email", p.pages.FactorEmail).Methods(http.MethodPost)
	r.HandleFunc("/login/2fa/email/confirm", p.pages.FactorEmailConfirm).Methods(http.MethodGet)
	r.HandleFunc("/account/2fa/email/confirm", p.pages.AccountFactorEmailConfirm).Methods(http.MethodGet)
	r.HandleFunc("/2fa/totp", p.pages.EnrolTOTP).Methods(http.MethodPost)
	r.HandleFunc("/2fa/totp/confirm", p.pages.ConfirmTOTPEnrolment).Methods(http.MethodPost)
	r.HandleFunc("/2fa/sms", p.pages.EnrolSMS).Methods(http.MethodPost)
	r.HandleFunc("/2fa/sms/confirm", p.pages.ConfirmSMSEnrolment).Methods(http.MethodPost)
	r.HandleFunc("/account/2fa/remove", p.pages.FactorChange).Methods(http.MethodPost)
	r.HandleFunc("/account/2fa/recovery", p.pages.FactorChange).Methods(http.MethodPost)
	r.HandleFunc("/account/2fa/send-code", p.pages.FactorChange).Methods(http.MethodPost)
	r.HandleFunc("/account/devices/forget", p.pages.ForgetDevice).Methods(http.MethodPost)
	r.HandleFunc("/account/email", p.pages.AccountEmail).Methods(http.MethodPost)
	r.HandleFunc("/account/email/confirm", p.pages.AccountEmailConfirm).Methods(http.MethodGet)
	r.HandleFunc("/account/mobile", p.pages.AccountMobile).Methods(http.MethodPost)
	r.HandleFunc("/account/mobile/confirm", p.pages.AccountMobileConfirm).Methods(http.MethodPost)
	r.HandleFunc("/upstream/{id}/start", p.pages.UpstreamStart).Methods(http.MethodGet)
	r.HandleFunc("/upstream/{id}/callback", p.pages.UpstreamCallback).Methods(http.MethodGet)
	r.HandleFunc("/upstream/link", p.pages.UpstreamLink).Methods(http.MethodGet, http.MethodPost)
	r.HandleFunc("/account/upstream/unlink", p.pages.AccountUnlink).Methods(http.MethodPost)
	r.HandleFunc("/oauth2/auth/fail", p.authFail).Methods(http.MethodGet)
	r.HandleFunc("/healthz", p.healthz).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/readyz", p.readyz).Methods(http.MethodGet, http.MethodHead)
	if !p.cfg.MetricsElsewhere {
		r.Handle("/metrics", p.MetricsHandler()).Methods(http.MethodGet)
	}
	return p.middleware(r)
}

// Router exposes route templates to the metrics middleware.
func routeName(r *http.Request) string {
	if rt := mux.CurrentRoute(r); rt != nil {
		if t, err := rt.GetPathTemplate(); err == nil {
			return t
		}
	}
	return "other"
}

// decodeSegment decodes one base64url JSON segment.
func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// writeJSON writes v as a JSON response that must not be cached.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeJSONError writes an RFC 6749 §5.2 error body.
func writeJSONError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// withTimeout bounds a background database check.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}

// NewStore is the fosite store over db with Manam's session type (for
// commands that sweep or revoke without serving).
func NewStore(db *storage.DB) *storage.FositeStore {
	return storage.NewFositeStore(db, newFositeSession)
}

// ClientIP is the address a request comes from: the peer, or, when the peer
// is a trusted proxy, the right-most X-Forwarded-For entry that is not one.
func (p *Provider) ClientIP(r *http.Request) string {
	peer := pages.PeerIP(r)
	addr, err := netip.ParseAddr(peer)
	if err != nil || !p.trusted(addr) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer
		}
		if !p.trusted(a) {
			return a.String()
		}
	}
	return peer
}

func (p *Provider) trusted(a netip.Addr) bool { return InPrefixes(a, p.cfg.TrustedProxies) }
