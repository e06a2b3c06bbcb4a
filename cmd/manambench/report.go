package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// report is everything one invocation measured (also the -json output).
type report struct {
	Started   time.Time       `json:"started"`
	Workers   int             `json:"workers"`
	Warmup    time.Duration   `json:"warmup_ns"`
	Duration  time.Duration   `json:"duration_ns"`
	CPUs      int             `json:"cpus"`
	GoVersion string          `json:"go_version"`
	Bin       string          `json:"bin"`
	Baselines []result        `json:"baselines"`
	Baseline  baseline        `json:"baseline_mean"`
	Backends  []backendResult `json:"backends"`
	Targets   []targetCheck   `json:"targets"`
	// Hash is one argon2id hash timed in this process (when a login or
	// register scenario runs): the machine's limit for those.
	Hash *hashTiming `json:"argon2id,omitempty"`
}

// baseline is the mean of the trivial runs that worked: what ratios divide by.
type baseline struct {
	Runs   int           `json:"runs"`
	PerSec float64       `json:"per_sec"`
	P50    time.Duration `json:"p50_ns"`
	P99    time.Duration `json:"p99_ns"`
}

// backendResult is one database's run.
type backendResult struct {
	Name              string   `json:"name"`
	DSN               string   `json:"dsn"`
	Results           []result `json:"scenarios"`
	IdleRSSKB         int64    `json:"idle_rss_kb"`
	IdleAnonKB        int64    `json:"idle_rss_anon_kb"`
	IdleFileKB        int64    `json:"idle_rss_file_kb"`
	PeakRSSKB         int64    `json:"peak_rss_kb"`
	IDTokenAlg        string   `json:"id_token_alg"`
	JWTAccessTokenAlg string   `json:"jwt_access_token_alg"`
	ES256IDTokenAlg   string   `json:"es256_tenant_id_token_alg,omitempty"`
	Growth            *growth  `json:"token_table_growth,omitempty"`
	LoginAccounts     int      `json:"login_accounts,omitempty"`
	ServerLog         []string `json:"server_log,omitempty"`
	Notes             []string `json:"notes,omitempty"`
	Failed            string   `json:"failed,omitempty"`
}

func (br *backendResult) find(name string) *result {
	for i := range br.Results {
		if br.Results[i].Name == name {
			return &br.Results[i]
		}
	}
	return nil
}

// targetCheck is one performance target of the issue, for one backend.
type targetCheck struct {
	Backend  string `json:"backend"`
	Target   string `json:"target"`
	Measured string `json:"measured"`
	// Status is "met", "NOT MET" or "not measured"; "reported" for a
	// figure set beside a limit rather than a target.
	Status string `json:"status"`
	// Limit marks a figure beside a machine limit, not one of the targets.
	Limit bool `json:"limit,omitempty"`
}

const (
	loginLimit    = "password sign-ins (GET + POST /login) vs the machine's limit, cores ÷ one argon2id hash"
	floodLimit    = "the same with %d workers (login flood)"
	registerLimit = "registrations (GET + POST /register) vs the same limit (one hash each)"
	floodRSSLimit = "server memory during a login flood vs the hash cap (MANAM_HASH_CONCURRENCY × argon2id memory)"
)

// finish computes the baseline mean and checks the targets.
func (r *report) finish(workers int) {
	var sumRPS float64
	var sum50, sum99 time.Duration
	for _, b := range r.Baselines {
		if b.Failed == "" && b.OK > 0 {
			r.Baseline.Runs++
			sumRPS += b.PerSec
			sum50 += b.P50
			sum99 += b.P99
		}
	}
	if n := r.Baseline.Runs; n > 0 {
		r.Baseline.PerSec = sumRPS / float64(n)
		r.Baseline.P50 = sum50 / time.Duration(n)
		r.Baseline.P99 = sum99 / time.Duration(n)
	}
	for i := range r.Backends {
		be := &r.Backends[i]
		r.Targets = append(r.Targets, evaluateTargets(be, r.Baseline, workers)...)
		// Figures beside a limit: reported, no target to meet.
		limit := func(target, scenario, what string) {
			res := be.find(scenario)
			if res == nil || res.OK == 0 || r.Hash == nil || r.Hash.LimitPerSec == 0 {
				r.Targets = append(r.Targets, targetCheck{Backend: be.Name, Target: target, Measured: "-", Status: "not measured", Limit: true})
				return
			}
			m := fmt.Sprintf("%s %s/s at %d workers, p99 %s; limit %s (%.2f of the limit)", what, commas(res.PerSec), res.Workers, ms(res.P99),
				r.Hash.limitNote(), res.PerSec/r.Hash.LimitPerSec)
			if res.Errors > 0 {
				m += fmt.Sprintf(", %d errors", res.Errors)
			}
			r.Targets = append(r.Targets, targetCheck{Backend: be.Name, Target: target, Measured: m, Status: "reported", Limit: true})
		}
		limit(loginLimit, "login", "logins")
		floodWorkers := 4 * workers
		if fl := be.find("login-flood"); fl != nil {
			floodWorkers = fl.Workers
		}
		limit(fmt.Sprintf(floodLimit, floodWorkers), "login-flood", "logins")
		limit(registerLimit, "register", "registrations")
		if m := be.floodRSS(r.Hash); m != "" {
			r.Targets = append(r.Targets, targetCheck{Backend: be.Name, Target: floodRSSLimit, Measured: m, Status: "reported", Limit: true})
		} else {
			r.Targets = append(r.Targets, targetCheck{Backend: be.Name, Target: floodRSSLimit, Measured: "-", Status: "not measured", Limit: true})
		}
	}
}

// limitNote is "2 cores ÷ 9.8 ms per hash = 204/s".
func (h *hashTiming) limitNote() string {
	return fmt.Sprintf("%d cores ÷ %s per hash = %s/s", h.Cores, ms(h.Mean), commas(h.LimitPerSec))
}

// floodRSS is "peak RSS during the login flood X MB (64 workers), Y MB
// during login (16 workers); idle Z MB (hash cap: …)", or "" when neither
// login scenario ran.
func (be *backendResult) floodRSS(h *hashTiming) string {
	var parts []string
	for _, n := range []string{"login-flood", "login"} {
		res := be.find(n)
		if res == nil || res.PeakRSSKB == 0 {
			continue
		}
		if n == "login-flood" {
			parts = append(parts, fmt.Sprintf("peak RSS during the login flood %s (%d workers)", mb(res.PeakRSSKB), res.Workers))
		} else if len(parts) == 0 {
			parts = append(parts, fmt.Sprintf("peak RSS during login %s (%d workers)", mb(res.PeakRSSKB), res.Workers))
		} else {
			parts = append(parts, fmt.Sprintf("%s during login (%d workers)", mb(res.PeakRSSKB), res.Workers))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	s := strings.Join(parts, ", ")
	if be.IdleRSSKB > 0 {
		s += ", idle " + mb(be.IdleRSSKB)
	}
	if h != nil {
		s += " (" + h.hashMemNote() + ")"
	}
	return s
}

// print writes the human-readable report.
func (b *bench) print() {
	r, w := &b.rep, b.out
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Manam load benchmark — %s\n", r.Started.Format(time.RFC3339))
	fmt.Fprintf(w, "%d concurrent workers (keep-alive, one connection each), %s warm-up + %s measured per scenario; %d CPUs shared by generator and server; %s; %s\n",
		r.Workers, r.Warmup, r.Duration, r.CPUs, r.GoVersion, r.Bin)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Trivial baseline: plain net/http handler, fixed 164-byte JSON body, separate process, same generator:")
	names := []string{"start", "end"}
	for i, bl := range r.Baselines {
		fmt.Fprintf(w, "  run %d (%s): ", i+1, names[min(i, 1)])
		if bl.Failed != "" {
			fmt.Fprintf(w, "FAILED: %s\n", bl.Failed)
			continue
		}
		disturbed := ""
		if bl.OtherCPUs >= 0.25 {
			disturbed = " — disturbed by other processes"
		}
		fmt.Fprintf(w, "%s req/s, p50 %s, p99 %s, server CPU %s/req, generator CPU %s/req, other processes %.2f CPUs%s%s\n",
			commas(bl.PerSec), ms(bl.P50), ms(bl.P99), us(bl.ServerCPU), us(bl.GenCPU), bl.OtherCPUs, disturbed, errNote(&bl))
	}
	if r.Baseline.Runs > 0 {
		fmt.Fprintf(w, "  ratios below divide by the mean of %d baseline run(s): %s req/s, p50 %s, p99 %s\n",
			r.Baseline.Runs, commas(r.Baseline.PerSec), ms(r.Baseline.P50), ms(r.Baseline.P99))
		if len(r.Baselines) == 2 && r.Baselines[0].PerSec > 0 && r.Baselines[1].PerSec > 0 {
			a, c := r.Baselines[0].PerSec, r.Baselines[1].PerSec
			if d := (a - c) / ((a + c) / 2); d > 0.10 || d < -0.10 {
				fmt.Fprintf(w, "  note: the two baseline runs differ by %.0f %%: the machine is noisy, read ratios with that margin\n", 100*abs(d))
			}
		}
	} else {
		fmt.Fprintln(w, "  no usable baseline run: ratios not computed")
	}
	fmt.Fprintln(w, "  ×trivial: throughput = manam ÷ trivial (higher is better); latency = manam ÷ trivial (lower is better).")
	fmt.Fprintln(w, "  srv / db / gen CPU/op: CPU time per request (or flow) of the server process, of the local MySQL server (all of")
	fmt.Fprintln(w, "  it, whoever else uses it), of this generator; other CPUs: CPUs kept busy by any other process during the")
	fmt.Fprintln(w, "  measured window (0 on a quiet machine; from 0.25 on, the scenario is flagged as disturbed). RSS max during: the")
	fmt.Fprintln(w, "  server's VmRSS sampled every 100 ms through the scenario (set-up included); peak so far: its VmHWM.")
	if h := r.Hash; h != nil {
		fmt.Fprintln(w)
		disturbed := ""
		if h.OtherCPUs >= 0.25 {
			disturbed = " — disturbed by other processes"
		}
		fmt.Fprintf(w, "Password hash: argon2id with the server's defaults (t=%d, m=%d KiB, p=%d, %d-byte key, 16-byte salt), computed in this process\n",
			h.TimeCost, h.MemoryKiB, h.Threads, h.KeyLen)
		fmt.Fprintf(w, "  before the load: %s per hash (mean of %d after %d warm-ups; min %s, max %s; other processes %.2f CPUs%s)\n",
			ms(h.Mean), h.Runs, h.Warmups, ms(h.Min), ms(h.Max), h.OtherCPUs, disturbed)
		fmt.Fprintf(w, "  the machine's limit for sign-ins and registrations (one hash each): %s\n", h.limitNote())
		fmt.Fprintf(w, "  the server computes at most %d hashes at once (MANAM_HASH_CONCURRENCY, default the number of CPUs) — %s\n", h.HashCap, h.hashMemNote())
	}

	for _, be := range r.Backends {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "== %s (%s) ==\n", be.Name, be.DSN)
		if be.Failed != "" {
			fmt.Fprintf(w, "!!! FAILED: %s\n", be.Failed)
		}
		if len(be.Results) > 0 {
			b.table(w, be.Results)
		}
		if be.IdleRSSKB > 0 || be.PeakRSSKB > 0 {
			fmt.Fprintf(w, "server RSS: idle %s (anonymous %s + file-backed %s; after start-up, seeding and %s, before any load), peak %s (VmHWM, whole run, sign-ins included)\n",
				mb(be.IdleRSSKB), mb(be.IdleAnonKB), mb(be.IdleFileKB), b.opt.settle, mb(be.PeakRSSKB))
		}
		if m := be.floodRSS(r.Hash); m != "" {
			fmt.Fprintf(w, "login flood: %s\n", m)
		}
		if be.LoginAccounts > 0 {
			fmt.Fprintf(w, "sign-ins: %d seeded accounts (bench1… @example.com), worker i signs in as account i mod %d, a new browser (cookie jar) each time\n", be.LoginAccounts, be.LoginAccounts)
		}
		if be.IDTokenAlg != "" {
			fmt.Fprintf(w, "ID tokens %s (ES256 tenant: %s), JWT access tokens %s (signatures checked against the JWKS before the load)\n",
				be.IDTokenAlg, orDash(be.ES256IDTokenAlg), be.JWTAccessTokenAlg)
		}
		if be.Growth != nil {
			fmt.Fprintln(w, be.Growth.line())
		}
		for _, res := range be.Results {
			if res.Failed != "" {
				fmt.Fprintf(w, "!!! %s could not run: %s\n", res.Name, res.Failed)
			}
			if res.Errors > 0 || res.WarmErrors > 0 {
				fmt.Fprintf(w, "!!! %s: %d ERRORS in %d measured %ss (%.2f %%), %d during warm-up; first ones:\n", res.Name, res.Errors, res.Errors+res.OK, res.Unit, 100*res.errorRate(), res.WarmErrors)
				for _, s := range res.ErrSamples {
					fmt.Fprintf(w, "      %s\n", s)
				}
			}
		}
		var noisy []string
		for _, res := range be.Results {
			if res.OtherCPUs >= 0.25 {
				noisy = append(noisy, fmt.Sprintf("%s (%.2f)", res.Name, res.OtherCPUs))
			}
		}
		if len(noisy) > 0 {
			fmt.Fprintf(w, "note: other processes used ≥ 0.25 CPUs during %s: those figures are disturbed\n", strings.Join(noisy, ", "))
		}
		for _, n := range be.Notes {
			fmt.Fprintf(w, "note: %s\n", n)
		}
		if len(be.ServerLog) > 0 {
			fmt.Fprintf(w, "!!! the server logged %d line(s) at level warn or above:\n", len(be.ServerLog))
			for i, l := range be.ServerLog {
				if i == 20 {
					fmt.Fprintf(w, "      … %d more\n", len(be.ServerLog)-i)
					break
				}
				fmt.Fprintf(w, "      %s\n", l)
			}
		} else if be.Failed == "" {
			fmt.Fprintln(w, "server log: nothing at level warn or above")
		}
	}

	fmt.Fprintln(w)
	var limits, targets []targetCheck
	for _, t := range r.Targets {
		if t.Limit {
			if t.Status != "not measured" { // its scenario was not selected
				limits = append(limits, t)
			}
		} else {
			targets = append(targets, t)
		}
	}
	if len(limits) > 0 {
		fmt.Fprintln(w, "Limits (reported, no target):")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, t := range limits {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", t.Backend, t.Target, t.Measured, strings.ToUpper(t.Status[:1])+t.Status[1:])
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "Targets (issue 13; reported, not asserted):")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  backend\ttarget\tmeasured\tstatus")
	for _, t := range targets {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", t.Backend, t.Target, t.Measured, strings.ToUpper(t.Status[:1])+t.Status[1:])
	}
	tw.Flush()
	fmt.Fprintf(w, "  (MB = 10^6 bytes; ratios divide by the mean of the baseline runs above, %s req/s; %d concurrent workers)\n", commas(r.Baseline.PerSec), r.Workers)
}

func (b *bench) table(w io.Writer, rs []result) {
	bl := b.rep.Baseline
	ratio := func(x, y float64) string {
		if y == 0 || x == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", x/y)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tworkers\tper s\t×trivial\tp50\t×trivial\tp99\t×trivial\tmax\tsrv CPU/op\tdb CPU/op\tgen CPU/op\tother CPUs\tRSS max during\tRSS after\tpeak so far\terrors\t")
	for i := range rs {
		r := &rs[i]
		if r.Failed != "" && r.OK == 0 {
			fmt.Fprintf(tw, "%s\t%d\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\tFAILED\t\n", r.Name, r.Workers)
			continue
		}
		errs := "0"
		if r.Errors > 0 {
			errs = fmt.Sprintf("!! %d (%.2f%%)", r.Errors, 100*r.errorRate())
		}
		fmt.Fprintf(tw, "%s\t%d\t%s %s/s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%s\t%s\t%s\t%s\t\n", r.Name, r.Workers,
			commas(r.PerSec), r.Unit, ratio(r.PerSec, bl.PerSec),
			ms(r.P50), ratio(float64(r.P50), float64(bl.P50)),
			ms(r.P99), ratio(float64(r.P99), float64(bl.P99)),
			ms(r.Max), us(r.ServerCPU), us(r.DBCPU), us(r.GenCPU), r.OtherCPUs, mb(r.PeakRSSKB), mb(r.RSSAfterKB), mb(r.HWMAfterKB), errs)
	}
	tw.Flush()
}

// oneLine is a progress summary of a result.
func oneLine(r *result) string {
	if r.Failed != "" {
		return "FAILED: " + r.Failed
	}
	rss := ""
	if r.PeakRSSKB > 0 {
		rss = ", server RSS at most " + mb(r.PeakRSSKB)
	}
	return fmt.Sprintf("%s %s/s, p50 %s, p99 %s, server CPU %s/%s%s, other processes %.2f CPUs%s", commas(r.PerSec), r.Unit, ms(r.P50), ms(r.P99), us(r.ServerCPU), r.Unit, rss, r.OtherCPUs, errNote(r))
}

func errNote(r *result) string {
	if r.Errors == 0 && r.WarmErrors == 0 {
		return ""
	}
	return fmt.Sprintf(" — !!! %d ERRORS (%.2f %%), %d in warm-up: %s", r.Errors, 100*r.errorRate(), r.WarmErrors, strings.Join(r.ErrSamples, " | "))
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

func us(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}

func mb(kb int64) string {
	if kb == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MB", float64(kb)*1024/1e6)
}

// commas formats a rate as an integer with thousands separators.
func commas(f float64) string {
	s := strconv.FormatInt(int64(f+0.5), 10)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
