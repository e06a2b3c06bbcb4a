// Package legacy serves the legacy Manam REST API (the documents
// shared/seeds/000 and 001) at / and /manam/, as a thin translation onto
// the same account service (idp) and the same fosite tokens (provider):
// no second account system, no second token system.
//
// It owns the documented request variants (JSON, form, query, GET with a
// body, the documents' unquoted JSON), the documented response shapes and
// status codes, the tenant key (customer_token / apieco_key, or a trusted
// gateway's X-Consumer-ID), and the cookie session of the second version's
// two-factor walkthroughs. Every choice where the documents are ambiguous
// is recorded in docs/legacy-api.md.
//
// Its endpoints, parameters, cookies and shared failures run on
// provider/internal/clientapi; it also owns Login with Manam (an issuer
// redirect of the provider) and the Google link (a return flow of the
// hosted pages).
//
// It imports provider (for tokens), provider/internal/clientapi, idp,
// idp/i18n and storage, and nothing imports it but cmd/manam.
package legacy
