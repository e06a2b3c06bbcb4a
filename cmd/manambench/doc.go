// Command manambench is Manam's load benchmark: `make bench` runs it after
// `make build`.
//
// It measures the real server, as shipped: it starts the binary built by
// `make build` (-bin, default bin/manam) as a subprocess with `manam serve`
// on a free 127.0.0.1 port and a fresh database, seeds it through the same
// binary's command line (a user, an opaque-token tenant and a JWT-token
// tenant), and drives it with an in-process HTTP load generator: -c workers
// (default 16), each with its own http.Client over one shared keep-alive
// transport, for a warm-up (-warmup, default 1s, not recorded) and then a
// measured window (-d, default 5s). Every response's status is checked
// (and the body where it matters); errors are counted and shown, and a
// scenario with more than 1 % errors makes the tool exit non-zero.
//
// The yardstick is a trivial net/http handler returning a fixed 164-byte
// JSON body, run as a separate process too (this program re-executed with
// the hidden -trivial-server flag), measured by the same generator at the
// same concurrency at the start and again at the end; ratios use the mean
// of the two runs. The generator and the server share the machine's CPUs,
// so a ratio says more than an absolute figure, and the generator's own
// cost weighs on both sides of it.
//
// Scenarios (-scenarios selects a comma-separated subset):
//
//	trivial      GET / on the trivial server (the baseline, always run)
//	discovery    GET /.well-known/openid-configuration
//	cc-opaque    POST /oauth2/token grant_type=client_credentials (opaque, persisted token)
//	cc-jwt       the same for the JWT tenant, scope=read (RFC 9068 access token)
//	introspect   POST /oauth2/introspect of one opaque access token
//	userinfo     GET /userinfo with a bearer token from a code flow
//	code-flow    GET /oauth2/auth with a signed-in session (PKCE S256, state,
//	             nonce), then POST /oauth2/token grant_type=authorization_code;
//	             one "flow" per iteration, an ID token required
//
// The server runs with MANAM_KEY_ALG=RS256 (-alg ES256 to compare); before the load, the ID token
// and the JWT access token of one flow are checked against the JWKS (alg,
// signature, issuer, audience, nonce).
//
// For each scenario it prints requests (or flows) per second, p50 and p99,
// each as a ratio to the trivial handler; the CPU time per request of the
// server, of a local MySQL server and of the generator, and the CPUs other
// processes kept busy
// meanwhile (from /proc: a shared machine shows up there); the server's
// RSS after the scenario and its peak so far; and errors. Then the
// server's idle RSS (after start-up, seeding and -settle, before any load)
// and peak RSS (VmHWM), and whether the performance targets are met.
// Targets are reported, never asserted: the exit status is 0 unless the
// tool could not measure (a server that does not start, a scenario that
// cannot run or has more than 1 % errors).
//
// Backends: SQLite always; MySQL/MariaDB too when MANAM_TEST_MYSQL_DSN is
// set (mysql://user:pass@tcp(host:port)/db): a database named
// manam_bench_<random> is created on that server and dropped afterwards.
//
// Other flags: -json prints the results as one JSON document on stdout
// (the human-readable report then goes to stderr); -keep keeps the
// temporary directory (the SQLite database); -server-log-level sets the
// server's MANAM_LOG_LEVEL (warn by default: anything it logs is printed
// at the end, as a warning sign). The servers are started with Pdeathsig,
// so they do not outlive this program.
package main
