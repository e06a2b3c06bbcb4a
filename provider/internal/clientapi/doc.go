// Package clientapi is the machinery the client dialects share
// (provider/legacy, the legacy Manam API; provider/dialects, the
// documents 002–004): reading a request's parameters from the bodies
// their documents send (Read, Rules), the endpoint table that mounts a
// dialect's documented paths and hands each request to its handler
// (Table, Endpoint, Call), the failures every dialect answers alike
// (Problem, Classify; each dialect writes them in its own shape), the
// signed cookies (Cookies), and the small interfaces through which a
// dialect uses the accounts (idp) and the tokens (provider) (deps.go).
//
// A new client dialect is a package beside these two: its endpoint table,
// its handlers (thin translations onto idp and provider), and one failure
// writer; see docs/design.md.
//
// It imports provider's public API, idp, idp/i18n and storage. Only the
// dialects import it; the OAuth core (provider) does not know it exists.
package clientapi
