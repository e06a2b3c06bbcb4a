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
// SQLite driver: github.com/glebarez/sqlite, the pure-Go port (modernc),
// by default; mattn's cgo driver with `go build -tags sqlite_cgo`. Measured
// with `make bench` on the 2-core development machine (opaque client
// credentials, 16 concurrent, trivial net/http handler ≈ 40,000 req/s in
// the same run; 2026-11-26):
//
//	driver   synchronous  req/s   p99     server CPU/req
//	pure Go  FULL         4,605   7.5 ms  243 µs
//	pure Go  NORMAL       6,040   7.4 ms  212 µs
//	cgo      FULL         5,940   5.9 ms  189 µs
//	cgo      NORMAL       8,015   5.7 ms  161 µs
//
// The cgo driver is 25–30 % faster. The default stays pure Go because zero
// set-up matters more for the embedded default: it needs no C toolchain
// (Windows and minimal containers have none), keeps CGO_ENABLED=0 static
// builds and cross-compilation, and cannot fail only at run time the way a
// cgo driver compiled with cgo off does. Production load belongs on
// MySQL/MariaDB; a single-node SQLite deployment that needs the extra
// throughput builds with -tags sqlite_cgo (make test runs the storage and
// end-to-end suites against that build too).
//
// SQLite is opened twice: one writer connection (SQLite has one write lock,
// and a single writer beats a pool, see PERFORMANCE-NOTES) used for every
// write and every transaction, and a small pool of readers (WAL lets them
// run beside the writer). Every connection runs with WAL, a busy timeout,
// foreign keys on and synchronous=FULL, so a committed write survives a
// crash of the process or of the machine. "sqlite:PATH?synchronous=normal"
// keeps every commit across a crash of the process but may lose the last
// ones on power loss or an OS crash (never corrupting), for 30 % more
// throughput (table above).
//
// Writes outside a transaction go through a group commit (batch.go): one
// goroutine owns the writer and commits every waiting write together, and
// WAL checkpoints run in the background instead of inside a request's
// commit. The WAL keeper (wal.go) bounds the log, empties it when writes
// are idle, and refuses writes (ErrDiskFull, an ErrUnavailable; Ready says
// so too) while the disk is below a free-space reserve, so SQLite can still
// checkpoint and recovers by itself once space is freed. Tenants are cached
// for ClientCacheTTL.
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
