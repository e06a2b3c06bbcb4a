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
// Throttles (throttle.go) keep one GCRA bucket per row, spent with one
// upsert whose arithmetic runs in SQL, so replicas share every budget.

// # Schema migrations
//
// The schema is a numbered list of steps (migrations in migrate.go, the
// steps in migrations.go), each recorded in schema_migrations once applied.
// Every server runs the missing ones at start (`manam migrate` does only
// that); on MySQL a named lock serialises replicas, on SQLite each step is
// one BEGIN IMMEDIATE transaction. The rules for a new step:
//
//  1. Append it: `{14, "what it does", migrateWhat},` and the function.
//     Numbers run 1, 2, … without gaps (TestMigrationsNumbered); two
//     branches that both append take two numbers.
//  2. Explicit DDL for each dialect, written out (`if isMySQL(tx)` or the
//     helpers createTables / addColumns / createIndexes), never gorm's
//     AutoMigrate or AddColumn of a model: the models change, a step must
//     not, or a fresh database and an upgraded one would differ. The type
//     for each Go kind, and the MySQL table options, are in migrations.go.
//  3. A step that has shipped is frozen: never edit it (a database that
//     ran it is never touched by it again). Correct a mistake with a new
//     step.
//  4. Each statement is guarded (the helpers skip what exists): MySQL
//     commits DDL at once, so a step cut short by a crash runs again.
//  5. Expand only, so the previous release keeps working on the new
//     schema while servers are replaced one by one: a new column is
//     nullable or has a DEFAULT (the previous release's INSERTs do not
//     name it); nothing it reads is dropped, renamed or narrowed — that
//     waits for a later release, once no server reads it.
//  6. Add the model to models in export_test.go; TestModelsFitSchema checks
//     that the schema holds every model field (a model changed without a
//     step fails there), TestUpgradeFromReleases and TestUpgradeFromLevels
//     that an upgraded database ends with a fresh one's schema.
//
// Steps 1–13 were AutoMigrate and AddColumn calls until then; their DDL is
// exactly what gorm generated for them, so the databases those releases
// made match. Step 4 also converts MySQL tables of the first release,
// which had the server's default collation, to utf8mb4_bin
// (binaryCollation). Schema (schema.go) reads a database's schema from its
// catalogue, for the comparisons.
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
