// Package keys owns the issuer's signing keys: it generates them (RS256 by
// default, OIDC's mandatory algorithm; ES256 on request), seals the private
// halves with AES-256-GCM under a key derived from the system secret before
// they reach storage, rotates them, and publishes the public halves as a
// JWKS (go-jose v4) with RFC 7638 thumbprints as key ids.
//
// After a rotation the earlier keys stay published (and accepted for
// verification) until every token they signed has expired. A running
// server picks up a rotation made by another process (`manam keys rotate`)
// at its next refresh, every RefreshInterval (30 s by default).
//
// It hands fosite the raw crypto.Signer (fosite's own signer speaks go-jose
// v3 and rejects a v4 JWK). It imports storage and nothing else of Manam's.
package keys
