package upstream

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// OIDC is the generic OpenID Connect connector: discovery, authorization
// code with PKCE (S256), state and nonce, the ID token verified with go-oidc,
// then userinfo. Discovery happens on first use and is cached once it
// succeeds; a failure is returned and retried by the next login, so a server
// starts while its upstreams are down. It is safe for concurrent use.
type OIDC struct {
	cfg  Config
	http *http.Client
	now  func() time.Time
	rand io.Reader
	log  *slog.Logger

	mu   sync.Mutex
	disc *discovered    // set once discovery succeeds
	call *discoveryCall // the discovery in flight, if any
}

var _ Connector = (*OIDC)(nil)

// discovered is what discovery yields, immutable once built.
type discovered struct {
	provider *oidc.Provider
	oauth    oauth2.Config // RedirectURL left empty: it is per call
	verifier *oidc.IDTokenVerifier
}

type discoveryCall struct {
	done chan struct{}
	res  *discovered
	err  error
}

// NewOIDC validates cfg and returns its connector. It does not contact the
// upstream.
func NewOIDC(cfg Config, deps Deps) (*OIDC, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &OIDC{
		cfg:  cfg.WithDefaults(),
		http: deps.HTTPClient,
		now:  deps.Now,
		rand: deps.Rand,
		log:  deps.Logger,
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.rand == nil {
		c.rand = rand.Reader
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	return c, nil
}

// ID implements Connector.
func (c *OIDC) ID() string { return c.cfg.ID }

// Name implements Connector.
func (c *OIDC) Name() string { return c.cfg.Name }

// Config returns the connector's configuration, defaults applied.
func (c *OIDC) Config() Config {
	cfg := c.cfg
	cfg.Scopes = slices.Clone(cfg.Scopes)
	return cfg
}

// Start implements Connector. It discovers the upstream if needed
// (ErrUpstream when that fails).
func (c *OIDC) Start(ctx context.Context, redirectURI string) (_ string, _ State, err error) {
	defer func() { err = c.redact(err) }()
	if err := checkRedirectURI(redirectURI); err != nil {
		return "", State{}, err
	}
	d, err := c.discover(ctx)
	if err != nil {
		return "", State{}, err
	}
	st := State{Upstream: c.cfg.ID, Created: c.now()}
	for _, p := range []*string{&st.State, &st.Nonce, &st.Verifier} {
		if *p, err = c.random(); err != nil {
			return "", State{}, err
		}
	}
	oc := d.oauth
	oc.RedirectURL = redirectURI
	opts := []oauth2.AuthCodeOption{
		oidc.Nonce(st.Nonce),                    // OIDC Core §3.1.2.1
		oauth2.S256ChallengeOption(st.Verifier), // RFC 7636 §4.3
	}
	if c.cfg.HostedDomain != "" {
		opts = append(opts, oauth2.SetAuthURLParam("hd", c.cfg.HostedDomain))
	}
	for k, v := range c.cfg.AuthParams {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	return oc.AuthCodeURL(st.State, opts...), st, nil
}

// Finish implements Connector. The checks run in this order: the kept
// State, the callback's state, the State's age, the callback's error, the
// code exchange, the ID token (signature, issuer, audience, expiry, azp),
// its nonce, its at_hash, the hosted domain, then userinfo.
func (c *OIDC) Finish(ctx context.Context, redirectURI string, st State, callback url.Values) (_ *Identity, err error) {
	defer func() { err = c.redact(err) }()
	if err := checkRedirectURI(redirectURI); err != nil {
		return nil, err
	}
	// RFC 6749 §10.12: bind the callback to the browser that started it.
	if st.Upstream != c.cfg.ID || st.State == "" || st.Nonce == "" || st.Verifier == "" || st.Created.IsZero() {
		return nil, c.errf(ErrState, "kept state is missing, incomplete or for upstream %q", st.Upstream)
	}
	if subtle.ConstantTimeCompare([]byte(callback.Get("state")), []byte(st.State)) != 1 {
		return nil, c.errf(ErrState, "callback state does not match the kept state")
	}
	if age := c.now().Sub(st.Created); age > c.cfg.MaxAge {
		return nil, c.errf(ErrExpired, "login started %s ago (max %s)", age.Round(time.Second), c.cfg.MaxAge)
	}
	// RFC 6749 §4.1.2.1: an error response instead of a code.
	if code := callback.Get("error"); code != "" {
		kind := ErrUpstream
		if code == "access_denied" {
			kind = ErrDenied
		}
		return nil, c.errf(kind, "callback error=%q error_description=%q", clip(code), clip(callback.Get("error_description")))
	}
	code := callback.Get("code")
	if code == "" {
		return nil, c.errf(ErrUpstream, "callback has neither code nor error")
	}

	d, err := c.discover(ctx)
	if err != nil {
		return nil, err
	}
	hctx := oidc.ClientContext(ctx, c.client(ctx))
	oc := d.oauth
	oc.RedirectURL = redirectURI
	tok, err := oc.Exchange(hctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return nil, c.errf(ErrUpstream, "token endpoint: %s", describeRetrieveError(re))
		}
		return nil, c.errf(ErrUpstream, "token endpoint: %w", err)
	}
	rawIDToken, _ := tok.Extra("id_token").(string)
	if rawIDToken == "" {
		return nil, c.errf(ErrUpstream, "token response has no id_token")
	}

	// OIDC Core §3.1.3.7: signature, alg, iss, aud, exp.
	note := &keyFetchNote{}
	idt, err := d.verifier.Verify(context.WithValue(hctx, keyFetchNoteKey{}, note), rawIDToken)
	if err != nil {
		if note.err != nil {
			return nil, c.errf(ErrUpstream, "fetching the upstream's signing keys: %w", note.err)
		}
		if ctx.Err() != nil {
			return nil, c.errf(ErrUpstream, "verifying the ID token: %w", ctx.Err())
		}
		return nil, c.errf(ErrToken, "%w", err)
	}
	idClaims := map[string]json.RawMessage{}
	if err := idt.Claims(&idClaims); err != nil {
		return nil, c.errf(ErrToken, "claims: %w", err)
	}
	var tc struct {
		AZP string `json:"azp"`
		HD  string `json:"hd"`
	}
	if err := idt.Claims(&tc); err != nil {
		return nil, c.errf(ErrToken, "azp or hd claim: %w", err)
	}
	// OIDC Core §3.1.3.7 steps 4-5: azp, when present or when there are
	// several audiences, names this client.
	if (len(idt.Audience) > 1 || tc.AZP != "") && tc.AZP != c.cfg.ClientID {
		return nil, c.errf(ErrToken, "azp %q is not this client", clip(tc.AZP))
	}
	if idt.Subject == "" {
		return nil, c.errf(ErrToken, "no sub claim")
	}
	// OIDC Core §3.1.3.7 step 11.
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		return nil, c.errf(ErrNonce, "ID token nonce does not match the kept nonce")
	}
	// OIDC Core §3.1.3.8: at_hash, when present, binds the access token.
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, c.errf(ErrToken, "at_hash: %w", err)
		}
	}
	// Google's hd claim is the only proof of the Workspace domain; the hd
	// request parameter is a hint to the account chooser.
	if c.cfg.HostedDomain != "" && !strings.EqualFold(tc.HD, c.cfg.HostedDomain) {
		return nil, c.errf(ErrDomain, "hd claim %q, want %q", clip(tc.HD), c.cfg.HostedDomain)
	}

	merged := map[string]json.RawMessage{}
	if d.provider.UserInfoEndpoint() != "" {
		ui, err := d.provider.UserInfo(hctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return nil, c.errf(ErrUpstream, "userinfo: %w", err)
		}
		// OIDC Core §5.3.2: the userinfo sub must be the ID token's.
		if ui.Subject != idt.Subject {
			return nil, c.errf(ErrToken, "userinfo sub %q differs from the ID token's %q", clip(ui.Subject), clip(idt.Subject))
		}
		if err := ui.Claims(&merged); err != nil {
			return nil, c.errf(ErrUpstream, "userinfo claims: %w", err)
		}
	}
	for k, v := range idClaims { // the signed token wins
		merged[k] = v
	}
	raw, err := json.Marshal(merged)
	if err != nil {
		return nil, c.errf(ErrUpstream, "claims: %w", err)
	}
	id, err := identityFromClaims(raw)
	if err != nil {
		return nil, c.errf(ErrUpstream, "claims: %w", err)
	}
	id.Upstream = c.cfg.ID
	id.Subject = idt.Subject
	id.HostedDomain = tc.HD
	return id, nil
}

// client is the HTTP client for a call: the context's, else Deps'.
func (c *OIDC) client(ctx context.Context) *http.Client {
	if hc, ok := ctx.Value(oauth2.HTTPClient).(*http.Client); ok && hc != nil {
		return hc
	}
	return c.http
}

// discover returns the cached discovery, or runs it (once for all
// concurrent callers, bounded by DefaultHTTPTimeout and not by the first
// caller's cancellation). A failure is not cached.
func (c *OIDC) discover(ctx context.Context) (*discovered, error) {
	c.mu.Lock()
	if d := c.disc; d != nil {
		c.mu.Unlock()
		return d, nil
	}
	call := c.call
	if call == nil {
		call = &discoveryCall{done: make(chan struct{})}
		c.call = call
		hc := c.client(ctx)
		dctx, cancel := context.WithTimeout(oidc.ClientContext(context.WithoutCancel(ctx), hc), DefaultHTTPTimeout)
		go func() {
			defer cancel()
			d, err := c.doDiscover(dctx, hc)
			c.mu.Lock()
			if err == nil {
				c.disc = d
			}
			c.call = nil
			c.mu.Unlock()
			call.res, call.err = d, err
			close(call.done)
		}()
	}
	c.mu.Unlock()
	select {
	case <-call.done:
		return call.res, call.err
	case <-ctx.Done():
		return nil, c.errf(ErrUpstream, "waiting for discovery: %w", ctx.Err())
	}
}

// providerMetadata holds the discovery fields go-oidc does not expose.
type providerMetadata struct {
	JWKSURI     string   `json:"jwks_uri"`
	Algs        []string `json:"id_token_signing_alg_values_supported"`
	AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
}

func (c *OIDC) doDiscover(ctx context.Context, hc *http.Client) (*discovered, error) {
	// OIDC Discovery §4.3: the discovered issuer must equal the configured one.
	p, err := oidc.NewProvider(ctx, c.cfg.Issuer)
	if err != nil {
		return nil, c.errf(ErrUpstream, "discovery of %s: %w", c.cfg.Issuer, err)
	}
	var meta providerMetadata
	if err := p.Claims(&meta); err != nil {
		return nil, c.errf(ErrUpstream, "discovery of %s: %w", c.cfg.Issuer, err)
	}
	ep := p.Endpoint()
	for name, u := range map[string]string{
		"authorization_endpoint": ep.AuthURL,
		"token_endpoint":         ep.TokenURL,
		"jwks_uri":               meta.JWKSURI,
	} {
		if err := checkIssuer(u); err != nil {
			return nil, c.errf(ErrUpstream, "discovery of %s: %s: %v", c.cfg.Issuer, name, err)
		}
	}
	if u := p.UserInfoEndpoint(); u != "" {
		if err := checkIssuer(u); err != nil {
			return nil, c.errf(ErrUpstream, "discovery of %s: userinfo_endpoint: %v", c.cfg.Issuer, err)
		}
	}
	ep.AuthStyle = authStyle(c.cfg.AuthMethod, meta.AuthMethods)
	keys := &keySet{inner: oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), hc), meta.JWKSURI)}
	verifier := oidc.NewVerifier(c.cfg.Issuer, keys, &oidc.Config{
		ClientID:             c.cfg.ClientID,
		SupportedSigningAlgs: signingAlgs(meta.Algs),
		Now:                  c.now,
	})
	c.log.Info("upstream discovered", "upstream", c.cfg.ID, "issuer", c.cfg.Issuer)
	return &discovered{
		provider: p,
		oauth: oauth2.Config{
			ClientID:     c.cfg.ClientID,
			ClientSecret: string(c.cfg.ClientSecret),
			Endpoint:     ep,
			Scopes:       slices.Clone(c.cfg.Scopes),
		},
		verifier: verifier,
	}, nil
}

// authStyle picks the token endpoint's client authentication: the
// configured one, else basic when advertised or when nothing is (the OIDC
// Discovery default), else post.
func authStyle(configured string, advertised []string) oauth2.AuthStyle {
	switch {
	case configured == AuthClientSecretBasic:
		return oauth2.AuthStyleInHeader
	case configured == AuthClientSecretPost:
		return oauth2.AuthStyleInParams
	case len(advertised) == 0 || slices.Contains(advertised, AuthClientSecretBasic):
		return oauth2.AuthStyleInHeader
	case slices.Contains(advertised, AuthClientSecretPost):
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleInHeader
}

// signingAlgs keeps the advertised asymmetric algorithms; empty means
// go-oidc's default, RS256 (OIDC's mandatory algorithm). "none" and HMAC
// are never accepted.
func signingAlgs(advertised []string) []string {
	var out []string
	for _, a := range advertised {
		switch a {
		case oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512,
			oidc.PS256, oidc.PS384, oidc.PS512, oidc.EdDSA:
			out = append(out, a)
		}
	}
	return out
}

// keySet wraps go-oidc's remote key set to tell a failure to fetch the keys
// (ErrUpstream) from a bad signature (ErrToken): go-oidc flattens both into
// one string.
type keySet struct{ inner oidc.KeySet }

type keyFetchNoteKey struct{}

type keyFetchNote struct{ err error }

func (k *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := k.inner.VerifySignature(ctx, jwt)
	if err != nil && keyFetchFailed(err) {
		if n, ok := ctx.Value(keyFetchNoteKey{}).(*keyFetchNote); ok {
			n.err = err
		}
	}
	return payload, err
}

func keyFetchFailed(err error) bool {
	var ue *url.Error
	return errors.As(err, &ue) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		strings.HasPrefix(err.Error(), "fetching keys") // go-oidc's wrapping of a failed JWKS fetch
}

// random returns 256 random bits, base64url: a valid state, nonce and PKCE
// verifier (43 characters, RFC 7636 §4.1).
func (c *OIDC) random() (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(c.rand, b); err != nil {
		return "", fmt.Errorf("upstream: %s: reading randomness: %w", c.cfg.ID, err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// errf wraps kind with the upstream's id and a detail for the log.
func (c *OIDC) errf(kind error, format string, args ...any) error {
	return fmt.Errorf("%w: %s: "+format, append([]any{kind, c.cfg.ID}, args...)...)
}

// redact makes sure no error carries the client secret, whatever an
// upstream echoes back. The sentinel (and a context error) survive; the
// rest of the chain, which holds the secret, does not.
func (c *OIDC) redact(err error) error {
	secret := string(c.cfg.ClientSecret)
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	r := &redactedError{msg: strings.ReplaceAll(err.Error(), secret, redacted)}
	for _, s := range []error{ErrDenied, ErrState, ErrExpired, ErrNonce, ErrToken, ErrUpstream, ErrDomain, ErrConfig,
		context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, s) {
			r.kinds = append(r.kinds, s)
		}
	}
	return r
}

type redactedError struct {
	msg   string
	kinds []error
}

func (e *redactedError) Error() string   { return e.msg }
func (e *redactedError) Unwrap() []error { return e.kinds }

// describeRetrieveError summarises a token endpoint error without dumping
// its whole body into the log.
func describeRetrieveError(re *oauth2.RetrieveError) string {
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	if re.ErrorCode != "" {
		return fmt.Sprintf("HTTP %d error=%q error_description=%q", status, clip(re.ErrorCode), clip(re.ErrorDescription))
	}
	return fmt.Sprintf("HTTP %d body=%q", status, clip(string(re.Body)))
}

// clip bounds a value an upstream controls before it reaches a log line.
func clip(s string) string {
	const max = 200
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
