// Package upstream owns federation: logging a person in with another
// identity provider (Google, or any OpenID Connect provider) and returning
// the identity it vouches for.
//
// A Connector has two steps. Start gives the URL to send the browser to and
// a State the caller keeps (encrypted and signed, or server-side) until the
// callback; Finish takes the callback's query and that State and returns a
// verified Identity. OIDC is the one implementation: discovery on first use
// (cached once it succeeds, retried after a failure, so a server starts
// while an upstream is down), authorization code with PKCE S256 (RFC 7636),
// state (RFC 6749 §10.12) and nonce (OIDC Core §3.1.2.1), the ID token
// verified with go-oidc (§3.1.3.7), then userinfo (whose sub must match,
// §5.3.2), over golang.org/x/oauth2. Google is a preset of it (TypeGoogle):
// issuer https://accounts.google.com, scopes openid email profile, and an
// optional Workspace restriction (HostedDomain: the hd parameter and a
// check of the ID token's hd claim).
//
// Upstreams are declared as a []Config (parsed by cmd, client secrets from
// the environment), validated with every problem reported at once, and
// gathered by New into a Set. HTTP goes through Deps.HTTPClient (10 s
// timeout by default) unless the context carries one (oauth2.HTTPClient /
// oidc.ClientContext). Failures are the sentinels ErrDenied, ErrState,
// ErrExpired, ErrNonce, ErrToken, ErrUpstream, ErrDomain and ErrConfig,
// wrapped with a detail for the log that never includes the client secret;
// the caller maps them to a page or an OAuth error once. An unverified
// e-mail is not an error: Identity.EmailVerified says so and the caller
// decides.
//
// Linking an Identity to an account, sessions and pages belong to the
// caller. This package must not import idp, storage, provider, keys or
// cmd: it imports no Manam package. Package upstreamtest is a fake Google
// for tests.
package upstream
