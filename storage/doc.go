// Package storage owns Manam's persistent state: the gorm models, the
// versioned schema, and the stores that the rest of the program consumes.
//
// It implements fosite's storage interfaces (clients, authorization codes,
// PKCE, OpenID Connect sessions, access and refresh tokens, revocation and
// storage.Transactional) and the narrow stores declared by package idp and
// package keys. It imports nothing else of Manam's.
//
// # Backends
//
// Open takes a DSN: "sqlite:PATH" (the default, embedded, zero set-up) or
// "mysql://user:pass@tcp(host:port)/db" (MySQL 8 or MariaDB 10.6+).
//
// SQLite driver: github.com/glebarez/sqlite, the pure-Go port (modernc).
// The cgo driver (mattn) measured 10–30 % faster on the token endpoint on
// this hardware (see shared/PERFORMANCE-NOTES.md), but it needs a C
// toolchain at build time, breaks CGO_ENABLED=0 static builds and cross
// compilation, and fails only when opened if cgo was off. Zero set-up on a
// laptop and a static binary matter more for the embedded default; the
// production backend is MySQL/MariaDB anyway.
//
// SQLite is opened twice: one writer connection (SQLite has one write lock,
// and a single writer beats a pool, see PERFORMANCE-NOTES) used for every
// write and every transaction, and a small pool of readers (WAL lets them
// run beside the writer). Every connection runs with WAL, a busy timeout,
// foreign keys on and synchronous=FULL, so a committed write survives a
// crash of the process or of the machine. "sqlite:PATH?synchronous=normal"
// trades the last transactions on power loss for speed.
//
// # Semantics fosite relies on
//
// Not found is fosite.ErrNotFound; a used authorization code returns the
// request and fosite.ErrInvalidatedAuthorizeCode; a revoked refresh token
// returns the request and fosite.ErrInactiveToken. Token rows are keyed by a
// SHA-256 of the token signature (the OpenID session by a SHA-256 of the raw
// authorization code), never by the token itself. A stored request comes
// back with a freshly loaded *Client and the session type the caller passed
// (or the one made by the store's session factory when the caller passed nil).
package storage
