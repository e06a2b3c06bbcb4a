package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

// Local accounts (issue 3): password sign-ins through the hosted login
// page, registrations, and the cost of the password hash that bounds both.

const (
	// loginAccounts are seeded for the login scenarios (bench1@example.com
	// …); worker i signs in as account i mod loginAccounts.
	loginAccounts = 16
	// loginPassword is every seeded sign-in account's password. Every
	// benchmark sign-in uses it: a wrong one would spend the per-address
	// budget (20 failures) and lock the account (5 failures).
	loginPassword = "Heron-lantern quietly audits 47 brass tide clocks"
	// registerPassword is the registrations' password (the policy refuses
	// common passwords and the e-mail address itself).
	registerPassword = "Copper-finch ledger: nine amber kites over the quarry"
	// sessionCookie is the server's session cookie (idp/pages.SessionCookie).
	sessionCookie = "manam_session"
)

// The server's default argon2id parameters (MANAM_ARGON2_TIME,
// MANAM_ARGON2_MEMORY_KIB, MANAM_ARGON2_PARALLELISM; idp.DefaultArgon2),
// which the benchmark leaves unset. A test checks them against the idp
// package.
const (
	argonTime      = 2
	argonMemoryKiB = 19456
	argonThreads   = 1
	argonKeyLen    = 32
)

func loginEmail(i int) string { return fmt.Sprintf("bench%d@example.com", i+1) }

// wantsLogin tells whether scenarios include a sign-in scenario (which
// needs the sign-in accounts seeded).
func wantsLogin(scenarios []string) bool {
	for _, s := range scenarios {
		if s == "login" || s == "login-flood" {
			return true
		}
	}
	return false
}

// wantsHash tells whether scenarios include one bounded by password hashing.
func wantsHash(scenarios []string) bool {
	for _, s := range scenarios {
		if s == "login" || s == "login-flood" || s == "register" {
			return true
		}
	}
	return false
}

// noRedirects makes the worker's client stop at every redirect (the
// sign-in's 303 to /account is the answer), over the same transport.
func noRedirects(w *worker) {
	w.client = &http.Client{
		Transport:     w.client.Transport,
		Timeout:       15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// loginScenario signs in through the hosted login page, one sign-in per
// iteration, as a new browser each time (a fresh cookie jar): GET /login
// (no challenge: the standalone sign-in page) for the CSRF cookie and
// token, then POST /login, which must answer 303 to /account with a
// session cookie.
func (t *target) loginScenario(name string, workers int) scenario {
	return scenario{name: name, unit: "login", workers: workers,
		// One untimed sign-in per worker checks its account and password:
		// if it fails, the scenario stops here instead of running into
		// the throttle and the lockout.
		setup: func(ctx context.Context, w *worker) error {
			noRedirects(w)
			if len(t.loginEmails) == 0 {
				return errors.New("no sign-in accounts seeded")
			}
			email := t.loginEmails[w.id%len(t.loginEmails)]
			if err := t.signIn(ctx, w, email); err != nil {
				return fmt.Errorf("worker %d's check sign-in as %s: %w", w.id, email, err)
			}
			return nil
		},
		do: func(ctx context.Context, w *worker) error {
			return t.signIn(ctx, w, t.loginEmails[w.id%len(t.loginEmails)])
		}}
}

func (t *target) signIn(ctx context.Context, w *worker, email string) error {
	jar, _ := cookiejar.New(nil)
	w.client.Jar = jar
	req := get(ctx, t.origin+"/login", "")
	resp, body, err := w.fetch(req)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return pageError(req, resp, body)
	}
	csrf := hiddenFields(body).Get("csrf_token")
	if csrf == "" {
		return fmt.Errorf("GET /login: no csrf_token field: %.300s", body)
	}
	form := url.Values{"email": {email}, "password": {loginPassword}, "csrf_token": {csrf}}
	req = postForm(ctx, t.origin+"/login", form.Encode(), "")
	if resp, body, err = w.fetch(req); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusSeeOther {
		return pageError(req, resp, body)
	}
	if loc, err := resp.Location(); err != nil || loc.Path != "/account" {
		return fmt.Errorf("POST /login: 303 to %q, want /account", resp.Header.Get("Location"))
	}
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie && c.Value != "" {
			return nil
		}
	}
	return fmt.Errorf("POST /login: 303 without a %s cookie", sessionCookie)
}

// xffSeq numbers the registrations' client addresses.
var xffSeq atomic.Uint32

// xffAddr is the n-th address of 10.0.0.0/8 (n from 1).
func xffAddr(n uint32) string {
	return fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255)
}

// regState is a register worker's counter (unique e-mail addresses).
type regState struct{ n int }

var wantCheckMail = []byte("Check your e-mail")

// registerScenario creates one account per iteration through the hosted
// page, as a new browser each time: GET /register for the CSRF cookie and
// token, then POST /register, which must answer 200 "Check your e-mail"
// (the mail goes to the server log, below its level). Both requests carry
// X-Forwarded-For with a fresh 10.x.y.z per registration: the server trusts
// 127.0.0.1 as a proxy, so each registration comes from its own client
// address and the per-address limit (5, then one a minute) does not
// throttle the benchmark.
func (t *target) registerScenario() scenario {
	return scenario{name: "register", unit: "registration",
		setup: func(ctx context.Context, w *worker) error {
			noRedirects(w)
			w.state = &regState{}
			return nil
		},
		do: func(ctx context.Context, w *worker) error {
			st := w.state.(*regState)
			st.n++
			xff := xffAddr(xffSeq.Add(1))
			jar, _ := cookiejar.New(nil)
			w.client.Jar = jar
			req := get(ctx, t.origin+"/register", "")
			req.Header["X-Forwarded-For"] = []string{xff}
			resp, body, err := w.fetch(req)
			if err != nil {
				return err
			}
			if resp.StatusCode != http.StatusOK {
				return pageError(req, resp, body)
			}
			csrf := hiddenFields(body).Get("csrf_token")
			if csrf == "" {
				return fmt.Errorf("GET /register: no csrf_token field: %.300s", body)
			}
			form := url.Values{"name": {"Bench Registrant"}, "email": {fmt.Sprintf("reg-%d-%d@example.com", w.id, st.n)},
				"password": {registerPassword}, "password_confirm": {registerPassword}, "csrf_token": {csrf}}
			req = postForm(ctx, t.origin+"/register", form.Encode(), "")
			req.Header["X-Forwarded-For"] = []string{xff}
			if resp, body, err = w.fetch(req); err != nil {
				return err
			}
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), string(wantCheckMail)) {
				return pageError(req, resp, body)
			}
			return nil
		}}
}

var (
	pageH1    = regexp.MustCompile(`(?s)<h1>(.*?)</h1>`)
	pageAlert = regexp.MustCompile(`(?s)<(?:div|p|span) class="(?:error|field-error)"[^>]*>(.*?)</(?:div|p|span)>`)
	pagePara  = regexp.MustCompile(`(?s)<p>(.*?)</p>`)
	pageTags  = regexp.MustCompile(`<[^>]*>`)
)

// pageSummary is what an HTML page says: its heading and its error
// messages (or first paragraph), as text.
func pageSummary(body []byte) string {
	text := func(b []byte) string {
		return strings.Join(strings.Fields(html.UnescapeString(pageTags.ReplaceAllString(string(b), ""))), " ")
	}
	var parts []string
	if m := pageH1.FindSubmatch(body); m != nil {
		parts = append(parts, text(m[1]))
	}
	alerts := pageAlert.FindAllSubmatch(body, 4)
	for _, m := range alerts {
		parts = append(parts, text(m[1]))
	}
	if len(alerts) == 0 {
		if m := pagePara.FindSubmatch(body); m != nil {
			parts = append(parts, text(m[1]))
		}
	}
	return strings.Join(parts, " — ")
}

// pageError describes an unexpected answer of an HTML page (statusError
// for anything else).
func pageError(req *http.Request, resp *http.Response, body []byte) error {
	s := pageSummary(body)
	if s == "" {
		return statusError(req, resp, body)
	}
	extra := ""
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		extra = " (Retry-After " + ra + ")"
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		extra += " (Location " + loc + ")"
	}
	return fmt.Errorf("%s %s: status %d%s: %s", req.Method, req.URL.Path, resp.StatusCode, extra, s)
}

// hashTiming is one argon2id hash with the server's parameters, computed
// in this process, and the sign-in rate it allows the machine.
type hashTiming struct {
	TimeCost  int           `json:"time"`
	MemoryKiB int           `json:"memory_kib"`
	Threads   int           `json:"threads"`
	KeyLen    int           `json:"key_len"`
	Warmups   int           `json:"warmups"`
	Runs      int           `json:"runs"`
	Mean      time.Duration `json:"mean_ns"`
	Min       time.Duration `json:"min_ns"`
	Max       time.Duration `json:"max_ns"`
	// OtherCPUs are the CPUs other processes kept busy meanwhile.
	OtherCPUs float64 `json:"other_processes_cpus"`
	// Cores is the number of CPUs; LimitPerSec = Cores ÷ Mean, the most
	// hashes (sign-ins, registrations) per second the machine can compute.
	Cores       int     `json:"cores"`
	LimitPerSec float64 `json:"limit_per_sec"`
	// HashCap is the server's MANAM_HASH_CONCURRENCY (default: the number
	// of CPUs), hashes computed at once, each holding MemoryKiB.
	HashCap int `json:"server_hash_concurrency"`
}

// hashMemNote is "hash cap: 2 × 19 MiB = 38 MiB of hash memory at most".
func (h *hashTiming) hashMemNote() string {
	mib := float64(h.MemoryKiB) / 1024
	return fmt.Sprintf("hash cap: %d × %s MiB = %s MiB of hash memory at most", h.HashCap, trimFloat(mib), trimFloat(float64(h.HashCap)*mib))
}

func trimFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// measureHash times argon2id.IDKey with the server's default parameters
// (a 16-byte salt, a 32-byte key): warmups unrecorded, then runs averaged.
func measureHash(warmups, runs int) hashTiming {
	h := hashTiming{TimeCost: argonTime, MemoryKiB: argonMemoryKiB, Threads: argonThreads, KeyLen: argonKeyLen,
		Warmups: warmups, Runs: runs, Cores: runtime.NumCPU(), HashCap: runtime.NumCPU()}
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	pw := []byte(loginPassword)
	hash := func() time.Duration {
		t0 := time.Now()
		argon2.IDKey(pw, salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
		return time.Since(t0)
	}
	for range warmups {
		hash()
	}
	busy0, _ := machineBusy()
	self0, _ := procCPU(os.Getpid())
	t0 := time.Now()
	var sum time.Duration
	for i := range runs {
		d := hash()
		sum += d
		if i == 0 || d < h.Min {
			h.Min = d
		}
		h.Max = max(h.Max, d)
	}
	el := time.Since(t0)
	busy1, err1 := machineBusy()
	self1, err2 := procCPU(os.Getpid())
	if err1 == nil && err2 == nil && el > 0 {
		h.OtherCPUs = max(0, float64(busy1-busy0-(self1-self0))/float64(el))
	}
	if runs > 0 {
		h.Mean = sum / time.Duration(runs)
		h.LimitPerSec = float64(h.Cores) / h.Mean.Seconds()
	}
	// Give the hashes' memory back before the load starts.
	debug.FreeOSMemory()
	return h
}
