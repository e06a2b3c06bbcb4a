// Package provider is Manam's OAuth 2.0 / OpenID Connect surface, built on
// fosite v0.49.0: discovery, JWKS, authorize (with the hosted login and
// consent pages of idp/pages), token, introspection, revocation, userinfo
// and RP-initiated logout, plus the operational endpoints (/healthz,
// /readyz, /metrics) and the HTTP middleware every route runs through.
//
// It owns the fosite session type and claim mapping, the key-id-aware JWT
// signer handed to fosite, the per-tenant access-token format, the keyed
// client-secret hash, and the one place fosite errors become responses.
// fosite stays behind this package and storage: nothing else imports it.
//
// Client dialects use its public API only: tokens for a tenant they have
// identified (IssueFor, RefreshFor, ExchangeCodeFor: the client is a
// parameter) and issuer redirects (Deps.IssuerRedirects). It imports no
// dialect and no dialect's machinery (provider/internal/clientapi), and
// nothing a dialect does reaches fosite but the client it hands over.
package provider
