package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() { os.Exit(run()) }

// options are the command-line settings.
type options struct {
	bin        string
	workers    int
	flood      int // login-flood workers
	dur        time.Duration
	warmup     time.Duration
	settle     time.Duration
	scenarios  []string
	mysqlDSN   string
	asJSON     bool
	keep       bool
	logLevel   string
	sqliteOpts string
	alg        string
}

// bench is one invocation: its options, where it reports, what it found.
type bench struct {
	opt      options
	self     string // this executable, re-run as the trivial server
	tmp      string
	out      io.Writer // the human-readable report
	progress io.Writer
	rep      report
}

func run() int {
	var opt options
	var list, trivialAddr string
	fs := flag.NewFlagSet("manambench", flag.ContinueOnError)
	fs.StringVar(&opt.bin, "bin", "bin/manam", "the manam binary to benchmark (built by make build)")
	fs.IntVar(&opt.workers, "c", 16, "concurrent workers (connections)")
	fs.IntVar(&opt.flood, "flood-c", 0, "workers of the login-flood scenario (default 4 × -c)")
	fs.DurationVar(&opt.dur, "d", 5*time.Second, "measured duration per scenario")
	fs.DurationVar(&opt.warmup, "warmup", time.Second, "unrecorded warm-up per scenario")
	fs.DurationVar(&opt.settle, "settle", time.Second, "pause after seeding before reading the idle RSS")
	fs.StringVar(&list, "scenarios", strings.Join(scenarioNames, ","), "comma-separated manam scenarios to run (the trivial baseline always runs): "+strings.Join(scenarioNames, ", "))
	fs.StringVar(&opt.mysqlDSN, "mysql", "", "MySQL/MariaDB server to run on too, mysql://user:pass@tcp(host:port)/db (default $MANAM_TEST_MYSQL_DSN; unset: SQLite only)")
	fs.BoolVar(&opt.asJSON, "json", false, "print the results as JSON on stdout (the report then goes to stderr)")
	fs.BoolVar(&opt.keep, "keep", false, "keep the temporary directory (SQLite database)")
	fs.StringVar(&opt.alg, "alg", "RS256", "signing algorithm of the server's keys (MANAM_KEY_ALG): RS256 or ES256")
	fs.StringVar(&opt.sqliteOpts, "sqlite-options", "", "options appended to the SQLite DSN, e.g. synchronous=normal")
	fs.StringVar(&opt.logLevel, "server-log-level", "warn", "the server's MANAM_LOG_LEVEL (its log is printed at the end)")
	fs.StringVar(&trivialAddr, "trivial-server", "", "")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: manambench [flags]   (see `go doc ./cmd/manambench`)")
		fs.VisitAll(func(f *flag.Flag) {
			if f.Usage == "" { // hidden
				return
			}
			fmt.Fprintf(fs.Output(), "  -%s\t%s", f.Name, f.Usage)
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
				fmt.Fprintf(fs.Output(), " (default %s)", f.DefValue)
			}
			fmt.Fprintln(fs.Output())
		})
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if trivialAddr != "" {
		return serveTrivial(trivialAddr)
	}
	if opt.mysqlDSN == "" {
		opt.mysqlDSN = os.Getenv("MANAM_TEST_MYSQL_DSN")
	}
	for _, s := range strings.Split(list, ",") {
		switch s = strings.TrimSpace(s); {
		case s == "" || s == "trivial":
		case slices.Contains(scenarioNames, s):
			if !slices.Contains(opt.scenarios, s) {
				opt.scenarios = append(opt.scenarios, s)
			}
		default:
			fmt.Fprintf(os.Stderr, "manambench: unknown scenario %q (have: %s)\n", s, strings.Join(scenarioNames, ", "))
			return 2
		}
	}
	// Keep the configured order.
	opt.scenarios = slices.DeleteFunc(slices.Clone(scenarioNames), func(s string) bool { return !slices.Contains(opt.scenarios, s) })
	if opt.workers < 1 || opt.flood < 0 || opt.dur <= 0 || opt.warmup < 0 || fs.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "manambench: -c must be ≥ 1, -flood-c ≥ 0, -d > 0, -warmup ≥ 0, and no arguments")
		return 2
	}
	if opt.flood == 0 {
		opt.flood = 4 * opt.workers
	}

	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "manambench:", err)
		return 1
	}
	if opt.bin, err = filepath.Abs(opt.bin); err == nil {
		_, err = os.Stat(opt.bin)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "manambench: %v (run make build first, or pass -bin)\n", err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "manambench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "manambench:", err)
		return 1
	}
	b := &bench{opt: opt, self: self, tmp: tmp, out: os.Stdout, progress: os.Stderr}
	if opt.asJSON {
		b.out = os.Stderr
	}
	defer func() {
		if opt.keep {
			fmt.Fprintln(b.progress, "kept", tmp)
		} else {
			os.RemoveAll(tmp)
		}
	}()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	code := b.runAll(ctx)
	b.print()
	if opt.asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(&b.rep)
	}
	if ctx.Err() != nil {
		return 130
	}
	return code
}

// runAll runs the baseline, every backend, and the baseline again. It
// returns 1 when the tool could not measure something (a server that does
// not start, a scenario that cannot run or has more than 1 % errors).
func (b *bench) runAll(ctx context.Context) int {
	o := b.opt
	b.rep = report{Workers: o.workers, Warmup: o.warmup, Duration: o.dur, CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Bin: o.bin, Started: time.Now()}
	b.logf("manambench: %d workers, %s warm-up + %s measured per scenario, %d CPUs, server %s", o.workers, o.warmup, o.dur, runtime.NumCPU(), o.bin)
	if slices.Contains(o.scenarios, "register") && (o.logLevel == "info" || o.logLevel == "debug") {
		b.logf("note: -server-log-level %s with the register scenario: every registration's mail goes to the server log (MANAM_SMTP_URL=log)", o.logLevel)
	}
	if wantsHash(o.scenarios) {
		// Before any server runs: only other processes can disturb it (reported).
		h := measureHash(2, 10)
		b.rep.Hash = &h
		b.logf("argon2id (t=%d, m=%d KiB, p=%d), in-process: %s per hash (mean of %d; min %s, max %s): limit %d CPUs ÷ %s = %s/s",
			h.TimeCost, h.MemoryKiB, h.Threads, ms(h.Mean), h.Runs, ms(h.Min), ms(h.Max), h.Cores, ms(h.Mean), commas(h.LimitPerSec))
	}

	b.rep.Baselines = append(b.rep.Baselines, b.runTrivial(ctx, "start"))
	backends := []string{"sqlite"}
	if o.mysqlDSN != "" {
		backends = append(backends, "mysql")
	} else {
		b.logf("MANAM_TEST_MYSQL_DSN not set: MySQL skipped")
	}
	for _, be := range backends {
		if ctx.Err() != nil {
			break
		}
		b.rep.Backends = append(b.rep.Backends, b.runBackend(ctx, be))
	}
	if ctx.Err() == nil {
		b.rep.Baselines = append(b.rep.Baselines, b.runTrivial(ctx, "end"))
	}
	b.rep.finish(o.workers)

	code := 0
	for _, r := range b.rep.Baselines {
		if r.Failed != "" || r.errorRate() > 0.01 {
			code = 1
		}
	}
	for _, be := range b.rep.Backends {
		if be.Failed != "" {
			code = 1
		}
		for _, r := range be.Results {
			if r.Failed != "" || r.errorRate() > 0.01 {
				code = 1
			}
		}
	}
	return code
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.progress, format+"\n", args...)
}

func (b *bench) loadConfig(p *proc, dbPIDs []int) loadConfig {
	return loadConfig{workers: b.opt.workers, warmup: b.opt.warmup, dur: b.opt.dur, pid: p.pid(), dead: p.done, dbPIDs: dbPIDs}
}

// runTrivial measures the trivial handler in a fresh process.
func (b *bench) runTrivial(ctx context.Context, when string) result {
	res := result{Name: "trivial", Unit: "req", Workers: b.opt.workers}
	addr, err := freeAddr()
	if err != nil {
		res.Failed = err.Error()
		return res
	}
	p, err := startProc("trivial server", b.self, []string{"-trivial-server", addr}, os.Environ())
	if err != nil {
		res.Failed = err.Error()
		return res
	}
	origin := "http://" + addr
	if err := waitReady(ctx, origin+"/", p, 15*time.Second); err != nil {
		_ = p.stop(5 * time.Second)
		res.Failed = err.Error()
		return res
	}
	b.logf("trivial baseline (%s) on %s ...", when, addr)
	res = runLoad(ctx, trivialScenario(origin), origin, b.loadConfig(p, nil))
	res.readRSS(p.pid())
	if err := p.stop(10 * time.Second); err != nil && res.Failed == "" {
		res.Failed = err.Error()
	}
	b.logf("  %s", oneLine(&res))
	return res
}

// runBackend starts manam on a fresh database, seeds it and runs the scenarios.
func (b *bench) runBackend(ctx context.Context, name string) (br backendResult) {
	br.Name = name
	fail := func(err error) backendResult {
		br.Failed = err.Error()
		b.logf("%s: FAILED: %v", name, err)
		return br
	}
	var dsn string
	var dbPIDs []int
	switch name {
	case "sqlite":
		dsn = "sqlite:" + filepath.Join(b.tmp, "bench.db")
		if b.opt.sqliteOpts != "" {
			dsn += "?" + b.opt.sqliteOpts
		}
	case "mysql":
		d, drop, err := createMySQL(ctx, b.opt.mysqlDSN)
		if err != nil {
			return fail(err)
		}
		defer func() {
			if err := drop(); err != nil {
				b.logf("mysql: drop database: %v", err)
				br.Notes = append(br.Notes, "drop database failed: "+err.Error())
			}
		}()
		dsn = d
		if h := b.opt.mysqlDSN; strings.Contains(h, "(127.0.0.1:") || strings.Contains(h, "(localhost:") || strings.Contains(h, "([::1]:") {
			dbPIDs = mysqlPIDs()
		}
		if len(dbPIDs) == 0 {
			br.Notes = append(br.Notes, "no local mariadbd/mysqld process found: the database's CPU time is counted under other CPUs")
		}
	}
	br.DSN = redactDSN(dsn)
	addr, err := freeAddr()
	if err != nil {
		return fail(err)
	}
	env := manamEnv(addr, dsn, "bench-"+randToken(30), b.opt.logLevel, b.opt.alg)
	origin := "http://" + addr
	b.logf("%s: starting %s serve on %s (%s)", name, filepath.Base(b.opt.bin), addr, br.DSN)
	p, err := startProc("manam serve", b.opt.bin, []string{"serve"}, env)
	if err != nil {
		return fail(err)
	}
	defer func() {
		if err := p.stop(30 * time.Second); err != nil {
			br.Notes = append(br.Notes, err.Error())
			if br.Failed == "" {
				br.Failed = err.Error()
			}
		}
		br.ServerLog = logLines(p.out.String())
	}()
	if err := waitReady(ctx, origin+"/readyz", p, 60*time.Second); err != nil {
		return fail(err)
	}

	// Seed through the same binary's command line.
	t := &target{origin: origin, floodWorkers: b.opt.flood}
	if _, err := runCLI(ctx, b.opt.bin, env, "user", "create", "--email", benchEmail, "--password", benchPassword, "--name", "Bench User", "--json"); err != nil {
		return fail(err)
	}
	out, err := runCLI(ctx, b.opt.bin, env, "tenant", "create", "--name", "Bench", "--redirect-uri", redirectURI, "--first-party",
		"--grant", "authorization_code,refresh_token,client_credentials", "--scope", "openid,profile,email,phone,offline_access", "--json")
	if err != nil {
		return fail(err)
	}
	if err := json.Unmarshal(out, &t.bench); err != nil || t.bench.ClientID == "" || t.bench.ClientSecret == "" {
		return fail(fmt.Errorf("tenant create output %q: %v", out, err))
	}
	out, err = runCLI(ctx, b.opt.bin, env, "tenant", "create", "--name", "Bench JWT", "--access-token", "jwt",
		"--grant", "client_credentials", "--scope", "read", "--json")
	if err != nil {
		return fail(err)
	}
	if err := json.Unmarshal(out, &t.jwt); err != nil || t.jwt.ClientID == "" || t.jwt.ClientSecret == "" {
		return fail(fmt.Errorf("tenant create output %q: %v", out, err))
	}
	t.benchAuth, t.jwtAuth = t.bench.basicAuth(), t.jwt.basicAuth()
	// The same tenant with ES256 ID tokens. A server without per-tenant
	// ID-token algorithms (an older build) refuses the flag: its ES256
	// scenarios are then not measured, the rest still are.
	out, err = runCLI(ctx, b.opt.bin, env, "tenant", "create", "--name", "Bench ES256", "--redirect-uri", redirectURI, "--first-party",
		"--grant", "authorization_code,refresh_token,client_credentials", "--scope", "openid,profile,email,phone,offline_access",
		"--id-token-alg", "ES256", "--json")
	if err == nil {
		err = json.Unmarshal(out, &t.es256)
	}
	if err != nil || t.es256.ClientID == "" {
		t.es256 = tenant{}
		br.Notes = append(br.Notes, fmt.Sprintf("no ES256 tenant (%v): the ES256 scenarios cannot run", err))
		b.logf("%s: no ES256 tenant: %v", name, err)
	} else {
		t.es256Auth = t.es256.basicAuth()
	}
	if wantsLogin(b.opt.scenarios) {
		t0 := time.Now()
		for i := range loginAccounts {
			email := loginEmail(i)
			if _, err := runCLI(ctx, b.opt.bin, env, "user", "create", "--email", email, "--password", loginPassword,
				"--name", fmt.Sprintf("Bench Login %d", i+1), "--json"); err != nil {
				return fail(err)
			}
			t.loginEmails = append(t.loginEmails, email)
		}
		br.LoginAccounts = len(t.loginEmails)
		b.logf("%s: seeded %d sign-in accounts in %s", name, len(t.loginEmails), time.Since(t0).Round(time.Millisecond))
	}

	// Idle: started, seeded, nothing but /readyz served yet.
	sleepUntil(ctx, time.Now().Add(b.opt.settle))
	if br.IdleRSSKB, err = procStatusKB(p.pid(), "VmRSS"); err != nil {
		return fail(err)
	}
	br.IdleAnonKB, _ = procStatusKB(p.pid(), "RssAnon")
	br.IdleFileKB, _ = procStatusKB(p.pid(), "RssFile")

	if err := t.prepare(ctx); err != nil {
		return fail(fmt.Errorf("preparing the scenarios: %w", err))
	}
	br.IDTokenAlg, br.JWTAccessTokenAlg, br.ES256IDTokenAlg = t.idTokenAlg, t.jwtAccessAlg, t.es256IDTokenAlg

	// Database growth per client-credentials token, untimed.
	g, err := b.measureGrowth(ctx, t, dsn)
	if err != nil {
		br.Notes = append(br.Notes, "database growth not measured: "+err.Error())
	} else {
		br.Growth = g
		b.logf("  %s", g.line())
	}

	for _, sc := range b.opt.scenarios {
		if ctx.Err() != nil || p.exited() {
			break
		}
		b.logf("%s: %s ...", name, sc)
		rss := sampleRSS(p.pid(), 100*time.Millisecond)
		r := runLoad(ctx, t.scenario(sc), origin, b.loadConfig(p, dbPIDs))
		r.PeakRSSKB, r.RSSSamples = rss.stop()
		r.readRSS(p.pid())
		br.Results = append(br.Results, r)
		b.logf("  %s", oneLine(&r))
		sleepUntil(ctx, time.Now().Add(300*time.Millisecond))
	}
	if p.exited() {
		if p.waitErr == nil {
			return fail(errors.New("manam serve exited with status 0 in the middle of the run: it does that only on SIGTERM or SIGINT, " +
				"so another process signalled it (something on this machine running pkill/killall on manam?); run again"))
		}
		return fail(fmt.Errorf("manam serve died during the run: %v", p.waitErr))
	}
	br.PeakRSSKB, _ = procStatusKB(p.pid(), "VmHWM")
	return br
}

// logLines are the server's non-empty output lines.
func logLines(s string) []string {
	var out []string
	for l := range strings.Lines(s) {
		if l = strings.TrimRight(l, "\r\n"); strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// readRSS records the server's memory after a scenario.
func (r *result) readRSS(pid int) {
	r.RSSAfterKB, _ = procStatusKB(pid, "VmRSS")
	r.AnonAfterKB, _ = procStatusKB(pid, "RssAnon")
	r.HWMAfterKB, _ = procStatusKB(pid, "VmHWM")
}

// redactDSN hides a MySQL password.
func redactDSN(dsn string) string {
	rest, ok := strings.CutPrefix(dsn, "mysql://")
	at := strings.Index(rest, "@")
	if !ok || at < 0 {
		return dsn
	}
	user, pass, found := strings.Cut(rest[:at], ":")
	if !found || pass == "" {
		return dsn
	}
	return "mysql://" + user + ":***" + rest[at:]
}
