// Package upstreamtest is a fake Google for tests: an httptest server with
// Google's OpenID endpoints (discovery, authorization, token, JWKS,
// userinfo), claim names and error codes, driven by the test.
//
// The authorization endpoint signs the configured User in at once: it
// answers 302 to redirect_uri with code and state, so a browser, or an HTTP
// client following redirects, completes a login through it unattended. The
// token endpoint checks the client (client_secret_basic or
// client_secret_post), the code (single use, 10 min), redirect_uri and the
// PKCE verifier, and returns an RS256 ID token with Google's claims (iss,
// azp, aud, sub, email, email_verified, at_hash, name, picture, given_name,
// family_name, locale, hd, iat, exp, nonce). Faults make it misbehave
// (deny consent, fail, sign with the wrong key, wrong audience or nonce,
// expired tokens, a different userinfo sub, go down); Requests records what
// it received.
//
//	f := upstreamtest.New(t, upstreamtest.Options{})
//	cfg := upstream.Config{ID: "google", Type: upstream.TypeGoogle,
//		Issuer: f.URL(), ClientID: f.ClientID(),
//		ClientSecret: upstream.Secret(f.ClientSecret())}
//	f.SetUser(upstreamtest.User{Subject: "42", Email: "a@example.com", EmailVerified: true})
//	f.SetFaults(upstreamtest.Faults{DenyConsent: true})
//
// It imports no Manam package, so package upstream's own tests use it too.
package upstreamtest
