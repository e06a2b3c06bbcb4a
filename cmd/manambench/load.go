package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"
)

// scenario is one kind of request (or sequence of requests) to measure.
type scenario struct {
	name string
	unit string // what one iteration is: "req", "flow", "login" or "registration"
	// workers overrides loadConfig.workers when set (the login flood).
	workers int
	// setup prepares one worker before the clock starts (optional).
	setup func(ctx context.Context, w *worker) error
	// do performs one iteration and checks its response.
	do func(ctx context.Context, w *worker) error
}

// loadConfig is how a scenario is driven.
type loadConfig struct {
	workers int
	warmup  time.Duration
	dur     time.Duration
	pid     int             // server process, for its CPU time
	dead    <-chan struct{} // closed when the server has exited: stop
	dbPIDs  []int           // the database server's processes (MySQL on this machine), for their CPU time
}

// worker is one concurrent client.
type worker struct {
	id       int
	client   *http.Client
	buf      bytes.Buffer
	lat      []time.Duration
	errs     int
	warmErrs int
	samples  []string
	state    any // scenario-specific (e.g. the signed-in flow state)
}

// result is what one scenario measured.
type result struct {
	Name        string        `json:"name"`
	Unit        string        `json:"unit"`
	Workers     int           `json:"workers"`
	Duration    time.Duration `json:"duration_ns"`
	OK          int           `json:"ok"`
	Errors      int           `json:"errors"`
	WarmErrors  int           `json:"warmup_errors"`
	PerSec      float64       `json:"per_sec"`
	P50         time.Duration `json:"p50_ns"`
	P99         time.Duration `json:"p99_ns"`
	Max         time.Duration `json:"max_ns"`
	ServerCPU   time.Duration `json:"server_cpu_per_op_ns,omitempty"`
	GenCPU      time.Duration `json:"generator_cpu_per_op_ns,omitempty"`
	DBCPU       time.Duration `json:"database_cpu_per_op_ns,omitempty"`
	OtherCPUs   float64       `json:"other_processes_cpus"`
	RSSAfterKB  int64         `json:"server_rss_after_kb,omitempty"`
	AnonAfterKB int64         `json:"server_rss_anon_after_kb,omitempty"`
	HWMAfterKB  int64         `json:"server_hwm_after_kb,omitempty"`
	// PeakRSSKB is the highest VmRSS sampled every 100 ms from the
	// workers' set-up to the end of the measured window.
	PeakRSSKB  int64    `json:"server_peak_rss_during_kb,omitempty"`
	RSSSamples int      `json:"server_rss_samples,omitempty"`
	ErrSamples []string `json:"error_samples,omitempty"`
	Failed     string   `json:"failed,omitempty"` // the scenario could not run
}

// errorRate is the share of measured iterations that failed.
func (r *result) errorRate() float64 {
	if n := r.OK + r.Errors; n > 0 {
		return float64(r.Errors) / float64(n)
	}
	return 0
}

// newTransport is the keep-alive transport every worker of a run shares.
func newTransport(workers int) *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          4 * workers,
		MaxIdleConnsPerHost:   2 * workers,
		IdleConnTimeout:       60 * time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
		ResponseHeaderTimeout: 10 * time.Second,
	}
}

// newClient is a worker's client: it follows redirects that stay on the
// server (origin), like a browser within the provider, and stops at the
// first one leaving it (the redirect to the client application).
func newClient(tr http.RoundTripper, origin string, jar http.CookieJar) *http.Client {
	ou, _ := url.Parse(origin)
	return &http.Client{
		Transport: tr,
		Jar:       jar,
		Timeout:   15 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host != ou.Host || len(via) >= 10 {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
}

// fetch sends req and reads the whole body into the worker's buffer; the
// returned slice is valid until the next fetch.
func (w *worker) fetch(req *http.Request) (*http.Response, []byte, error) {
	resp, err := w.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	w.buf.Reset()
	_, err = w.buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		return resp, nil, fmt.Errorf("%s %s: reading body: %w", req.Method, req.URL.Path, err)
	}
	return resp, w.buf.Bytes(), nil
}

// statusError describes an unexpected response.
func statusError(req *http.Request, resp *http.Response, body []byte) error {
	b := body
	if len(b) > 300 {
		b = b[:300]
	}
	return fmt.Errorf("%s %s: status %d: %s", req.Method, req.URL.Path, resp.StatusCode, bytes.TrimSpace(b))
}

func (w *worker) noteError(err error) {
	if len(w.samples) < 3 {
		w.samples = append(w.samples, err.Error())
	}
}

// runLoad drives sc with cfg.workers workers against origin: set-up, then
// warm-up (not recorded), then the measured window.
func runLoad(ctx context.Context, sc scenario, origin string, cfg loadConfig) result {
	if sc.workers > 0 {
		cfg.workers = sc.workers
	}
	res := result{Name: sc.name, Unit: sc.unit, Workers: cfg.workers, Duration: cfg.dur}
	tr := newTransport(cfg.workers)
	defer tr.CloseIdleConnections()

	ws := make([]*worker, cfg.workers)
	for i := range ws {
		ws[i] = &worker{id: i, client: newClient(tr, origin, nil), lat: make([]time.Duration, 0, 1<<14)}
	}
	if sc.setup != nil {
		errs := make([]error, len(ws))
		var wg sync.WaitGroup
		for i, w := range ws {
			wg.Go(func() { errs[i] = sc.setup(ctx, w) })
		}
		wg.Wait()
		var first error
		failed := 0
		for _, err := range errs {
			if err != nil {
				failed++
				if first == nil {
					first = err
				}
			}
		}
		if first != nil {
			res.Failed = fmt.Sprintf("set-up failed for %d of %d workers; first: %v", failed, len(ws), first)
			return res
		}
	}

	start := time.Now()
	warmEnd := start.Add(cfg.warmup)
	end := warmEnd.Add(cfg.dur)
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(func() {
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				err := sc.do(ctx, w)
				d := time.Since(t0)
				switch {
				case t0.Before(warmEnd):
					if err != nil {
						w.warmErrs++
						w.noteError(fmt.Errorf("(warm-up) %w", err))
					}
				case err != nil:
					w.errs++
					w.noteError(err)
					select {
					case <-cfg.dead:
						return
					default:
					}
				default:
					w.lat = append(w.lat, d)
				}
			}
		})
	}
	var snap0, snap1 cpuSnapshot
	sleepUntil(ctx, warmEnd)
	snap0 = takeCPUSnapshot(cfg.pid, cfg.dbPIDs)
	sleepUntil(ctx, end)
	snap1 = takeCPUSnapshot(cfg.pid, cfg.dbPIDs)
	wg.Wait()

	var all []time.Duration
	for _, w := range ws {
		all = append(all, w.lat...)
		res.Errors += w.errs
		res.WarmErrors += w.warmErrs
		for _, s := range w.samples {
			if len(res.ErrSamples) < 6 && !slices.Contains(res.ErrSamples, s) {
				res.ErrSamples = append(res.ErrSamples, s)
			}
		}
	}
	slices.Sort(all)
	res.OK = len(all)
	res.PerSec = float64(res.OK) / cfg.dur.Seconds()
	res.P50 = percentile(all, 0.50)
	res.P99 = percentile(all, 0.99)
	if len(all) > 0 {
		res.Max = all[len(all)-1]
	}
	if n := res.OK + res.Errors; n > 0 && snap0.ok && snap1.ok {
		server := snap1.server - snap0.server
		self := snap1.self - snap0.self
		db := snap1.db - snap0.db
		busy := snap1.busy - snap0.busy
		res.ServerCPU = server / time.Duration(n)
		res.GenCPU = self / time.Duration(n)
		res.DBCPU = db / time.Duration(n)
		// What the rest of the machine used meanwhile, in CPUs: on a
		// shared machine, a high figure means the scenario was disturbed.
		res.OtherCPUs = max(0, float64(busy-server-self-db)/float64(snap1.at.Sub(snap0.at)))
	}
	select {
	case <-cfg.dead:
		res.Failed = "the server exited during the scenario"
	default:
	}
	if ctx.Err() != nil {
		res.Failed = "interrupted"
	}
	return res
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted))-1e-9)) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func sleepUntil(ctx context.Context, t time.Time) {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}

// cpuSnapshot is the CPU time used so far by the server, by this process
// and by the whole machine (busy time, all CPUs).
type cpuSnapshot struct {
	at                     time.Time
	server, self, db, busy time.Duration
	ok                     bool
}

func takeCPUSnapshot(pid int, dbPIDs []int) cpuSnapshot {
	s := cpuSnapshot{at: time.Now()}
	var e1, e2, e3 error
	s.server, e1 = procCPU(pid)
	s.self, e2 = procCPU(os.Getpid())
	for _, p := range dbPIDs {
		if c, err := procCPU(p); err == nil {
			s.db += c
		}
	}
	s.busy, e3 = machineBusy()
	s.ok = pid > 0 && e1 == nil && e2 == nil && e3 == nil
	return s
}
