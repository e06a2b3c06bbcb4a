package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Errors a caller maps to a page or to an OAuth error redirect. Every error
// Start and Finish return wraps exactly one of them (with %w), but for a
// failure to read Deps.Rand; the rest of the message is detail for the log,
// never for the user. Errors never contain the client secret.
var (
	// ErrDenied: the upstream answered error=access_denied (the user
	// refused consent or cancelled). The upstream's error_description, if
	// any, is in the message, for the log only.
	ErrDenied = errors.New("upstream: access denied")
	// ErrState: the kept State is missing or incomplete, belongs to another
	// upstream, or the callback's state does not match it (RFC 6749 §10.12).
	ErrState = errors.New("upstream: state mismatch")
	// ErrExpired: the kept State is older than Config.MaxAge.
	ErrExpired = errors.New("upstream: login expired")
	// ErrNonce: the ID token's nonce is missing or differs from the kept
	// one (OIDC Core §3.1.3.7 step 11): a replayed or injected ID token.
	ErrNonce = errors.New("upstream: nonce mismatch")
	// ErrToken: the ID token is invalid (signature, algorithm, issuer,
	// audience, azp, expiry, at_hash) or the userinfo subject differs from
	// the ID token's (OIDC Core §5.3.2).
	ErrToken = errors.New("upstream: invalid ID token")
	// ErrUpstream: the upstream failed or misbehaved: discovery, network,
	// timeouts, 5xx, a refused code exchange, malformed responses, or an
	// error other than access_denied on the callback.
	ErrUpstream = errors.New("upstream: upstream failure")
	// ErrDomain: the account is outside Config.HostedDomain.
	ErrDomain = errors.New("upstream: hosted domain not allowed")
	// ErrConfig: a Config (or a redirect URI given to Start or Finish) is
	// invalid.
	ErrConfig = errors.New("upstream: invalid configuration")
)

// Identity is what an upstream vouches for after a login. Subject is stable
// and unique within the upstream; (Upstream, Subject) is the link key. An
// unverified e-mail is not an error: EmailVerified is false and the caller
// decides.
type Identity struct {
	Upstream      string // Config.ID of the connector that produced it
	Subject       string // the ID token's sub
	Email         string
	EmailVerified bool // accepts true and "true" (some providers send strings)
	Name          string
	GivenName     string
	FamilyName    string
	Picture       string
	Locale        string
	Birthdate     string
	HostedDomain  string // Google's hd claim (Workspace domain), from the ID token
	// RawClaims is the JSON object of the userinfo claims overlaid with the
	// ID token's (the signed token wins on a conflict).
	RawClaims json.RawMessage
}

// State is the per-login secret state Start returns. The caller keeps it
// where the browser cannot read or alter it (an encrypted, signed cookie or
// a server-side session) and gives it back to Finish. It is single-use: the
// caller drops it once Finish has been called.
type State struct {
	Upstream string    `json:"u"` // Config.ID of the connector that made it
	State    string    `json:"s"` // the OAuth state parameter (RFC 6749 §10.12)
	Nonce    string    `json:"n"` // the OIDC nonce (OIDC Core §3.1.2.1)
	Verifier string    `json:"v"` // the PKCE code verifier (RFC 7636)
	Created  time.Time `json:"t"`
}

// Connector is one upstream identity provider.
type Connector interface {
	// ID is the configured id, e.g. "google"; stable, used in URLs.
	ID() string
	// Name is the display name, e.g. "Google".
	Name() string
	// Start returns the URL to send the browser to and the State the
	// caller must keep to finish the login. redirectURI is the absolute
	// callback URL registered with the upstream.
	Start(ctx context.Context, redirectURI string) (authURL string, st State, err error)
	// Finish handles the callback's query (state, code or error) against
	// the kept State and returns the verified identity. redirectURI must be
	// the one given to Start.
	Finish(ctx context.Context, redirectURI string, st State, callback url.Values) (*Identity, error)
}

// DefaultHTTPTimeout bounds every request to an upstream when Deps.HTTPClient
// is nil, and bounds discovery.
const DefaultHTTPTimeout = 10 * time.Second

// Deps are the collaborators of a connector. The zero value is usable.
type Deps struct {
	// HTTPClient talks to the upstream. Default: a client with a 10 s
	// timeout. A client carried by the request context (oauth2.HTTPClient,
	// as set by oidc.ClientContext) takes precedence.
	HTTPClient *http.Client
	// Now is the clock (State age, ID token expiry). Default time.Now.
	Now func() time.Time
	// Rand is the source of state, nonce and PKCE verifier. Default
	// crypto/rand.Reader.
	Rand io.Reader
	// Logger receives one line when an upstream's discovery succeeds.
	// Failures are returned, not logged: the caller logs them once.
	// Default slog.Default().
	Logger *slog.Logger
}
