// Package dialects serves the client dialects of the seed documents
// shared/seeds/002 (vendor authorization), 003 (authorization API) and 004
// (JWT auth API) as thin translations onto the same accounts (idp) and the
// same fosite tokens (provider): no second account system, no second token
// system.
//
// None of these clients sends a tenant key, so each mount serves one
// tenant, under a path prefix or on a Host of its own (MANAM_DIALECTS). The
// package owns the documented paths and spellings of each dialect, the
// request bodies they send (JSON under any content type), the documented
// response and error shapes (one function per dialect writes every
// failure), the 003 session cookie and member key, and the 004 captcha
// check. Every choice where a document is ambiguous is recorded in
// docs/dialects.md.
//
// Its endpoint table, body reading, cookies and shared failures are
// provider/internal/clientapi's.
//
// It imports provider (for tokens), provider/internal/clientapi, idp,
// idp/i18n and storage. It must not import provider/legacy, upstream,
// keys or gorm, and nothing imports it but cmd/manam.
package dialects
