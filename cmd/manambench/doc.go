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
//	cc-opaque    POST /oauth2/token grant_type=client_credentials (opaque: a sealed token, nothing written)
//	cc-jwt       the same for the JWT tenant, scope=read (RFC 9068 access token)
//	introspect   POST /oauth2/introspect of one opaque access token
//	userinfo     GET /userinfo with a bearer token from a code flow
//	code-flow    GET /oauth2/auth with a signed-in session (PKCE S256, state,
//	             nonce), then POST /oauth2/token grant_type=authorization_code;
//	             one "flow" per iteration, an ID token required (RS256 tenant)
//	code-flow-es256  the same for a tenant created with --id-token-alg ES256
//	refresh-es256  POST /oauth2/token grant_type=refresh_token for the ES256
//	             tenant, each worker rotating its own refresh token (from one
//	             untimed code flow with scope openid offline_access); a new
//	             ID token required in every answer
//	login        a password sign-in through the hosted login page, as a new
//	             browser each time (fresh cookie jar): GET /login (no
//	             challenge: the standalone page) for the CSRF cookie and
//	             hidden csrf_token, then POST /login email, password,
//	             csrf_token; a 303 to /account with a session cookie required
//	             (redirects are not followed)
//	login-flood  the same with 4 × -c workers (-flood-c to change it)
//	register     GET /register, then POST /register name, email (unique:
//	             reg-<worker>-<n>@example.com), password, password_confirm,
//	             csrf_token; a 200 "Check your e-mail" required
//
// Local accounts (issue 3). Sixteen accounts, bench1@example.com to
// bench16@example.com, are seeded with `manam user create` (so confirmed)
// when login or login-flood runs; worker i signs in as account i mod 16.
// They all have one long, unusual password, and every sign-in uses it:
// the server throttles failed sign-ins per client address (20) and locks
// an account after 5 failures, while successful sign-ins count against
// nothing. Each worker signs in once, untimed, before the clock starts, so
// a wrong password or a missing account fails the scenario there instead
// of running into the throttle.
//
// Registrations are limited per client address (5 at once, then one a
// minute), and all the load comes from 127.0.0.1: after five
// registrations the benchmark would measure the throttle's 429 answers.
// So the server runs with
// MANAM_TRUSTED_PROXIES=127.0.0.1/32 and each registration's two requests
// carry X-Forwarded-For with a fresh address of 10.0.0.0/8: the generator
// plays a load balancer in front of many clients, as in production, and the
// scenario measures what a registration costs (a hash, a transaction with
// the account, its confirmation and its mail, and the mail's delivery)
// rather than the throttle. The other scenarios send no X-Forwarded-For,
// so their client address is still the peer, 127.0.0.1. Mail goes to the
// server log (MANAM_SMTP_URL=log) at level info, below the default
// -server-log-level warn, so the log does not fill with a message per
// registration (with -server-log-level info it would).
//
// Sign-ins and registrations are bound by the password hash (argon2id).
// Before the load, when one of them runs, the tool computes argon2id in
// its own process with the server's default parameters (t=2, m=19456 KiB,
// p=1, a 16-byte salt, a 32-byte key; the benchmark does not set
// MANAM_ARGON2_*), 2 warm-ups then the mean of 10, and reports beside
// those scenarios the machine's limit, cores ÷ one hash's time, e.g.
// "logins 180/s; limit 2 cores ÷ 9.8 ms per hash = 204/s (0.88 of the
// limit)". The generator shares the cores, so the ratio stays below 1.
//
// Memory during a login flood: the server's VmRSS is sampled every 100 ms
// through every scenario (set-up included; the "RSS max during" column),
// and for login and login-flood it is set beside the bound the hashing cap
// implies: the server computes at most MANAM_HASH_CONCURRENCY hashes at
// once (default, and here, the number of CPUs), each holding 19 MiB, so
// "peak RSS during the login flood X MB (hash cap: 2 × 19 MiB = 38 MiB of
// hash memory at most)". The flood's 4 × the workers show whether more
// concurrency raises memory (it should not: extra sign-ins queue for a
// hashing slot).
//
// The server runs with MANAM_KEY_ALG=RS256 (-alg ES256 to compare); before the load, the ID token
// and the JWT access token of one flow are checked against the JWKS (alg,
// signature, issuer, audience, nonce).
//
// For each scenario it prints requests (or flows, sign-ins, registrations)
// per second and its workers, p50 and p99,
// each as a ratio to the trivial handler; the CPU time per request of the
// server, of a local MySQL server and of the generator, and the CPUs other
// processes kept busy
// meanwhile (from /proc: a shared machine shows up there); the server's
// peak RSS during the scenario, after it, and its peak so far; and errors. Then the
// server's idle RSS (after start-up, seeding and -settle, before any load)
// and peak RSS (VmHWM), and the token tables' row counts (oauth2_access_tokens,
// refresh tokens, codes, PKCE, OIDC sessions, revocations) before and after
// 200 client-credentials tokens issued one by one, untimed, before the
// scenarios. Last, the login and register figures beside their limits
// (reported, with no target), and a final "Targets" table: each of issue
// 13's targets (cc-opaque ≥ 0.35 × trivial with p99 ≤ 10 ms, introspect
// ≥ 0.30 ×, userinfo ≥ 0.25 ×, code-flow-es256 ≥ 1,200 flows/s, code-flow
// (RS256) ≥ 650 flows/s, refresh-es256 ≥ 1,200/s, cc-opaque on MariaDB
// ≥ 0.25 ×, 0 rows of growth per client-credentials token, idle RSS
// ≤ 30 MB) with the figure measured and met / NOT MET / not measured
// (a scenario not selected, failed, with more than 1 % errors, or run at
// another -c than the targets' 16). Targets are reported, never asserted: the exit status is 0 unless the
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
