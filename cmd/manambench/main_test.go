package main

import (
	"strings"
	"testing"
	"time"

	"github.com/manam-id/manam/idp"
)

func TestTrivialBodyIs164Bytes(t *testing.T) {
	if len(trivialBody) != 164 {
		t.Fatalf("trivial body is %d bytes, want 164", len(trivialBody))
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	if p := percentile(d, 0.50); p != 50 {
		t.Errorf("p50 = %d, want 50", p)
	}
	if p := percentile(d, 0.99); p != 99 {
		t.Errorf("p99 = %d, want 99", p)
	}
	if p := percentile(d[:1], 0.99); p != 1 {
		t.Errorf("p99 of one = %d", p)
	}
	if p := percentile(nil, 0.5); p != 0 {
		t.Errorf("p50 of none = %d", p)
	}
}

func TestCommas(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.4: "1,234,567", 12345: "12,345"} {
		if got := commas(in); got != want {
			t.Errorf("commas(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestHiddenFields(t *testing.T) {
	body := []byte(`<form><input type="hidden" name="csrf_token" value="a&#43;b&amp;c">` +
		`<input type="hidden" name="challenge" value="x.y"><input id="email" name="email"></form>`)
	f := hiddenFields(body)
	if f.Get("csrf_token") != "a+b&c" || f.Get("challenge") != "x.y" || f.Has("email") {
		t.Fatalf("fields %v", f)
	}
}

func TestRedactDSN(t *testing.T) {
	for in, want := range map[string]string{
		"mysql://root:@tcp(127.0.0.1:3306)/x": "mysql://root:@tcp(127.0.0.1:3306)/x",
		"mysql://u:s3cret@tcp(db:3306)/x?a=b": "mysql://u:***@tcp(db:3306)/x?a=b",
		"sqlite:/tmp/bench.db":                "sqlite:/tmp/bench.db",
	} {
		if got := redactDSN(in); got != want {
			t.Errorf("redactDSN(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestXFFAddr(t *testing.T) {
	for n, want := range map[uint32]string{1: "10.0.0.1", 256: "10.0.1.0", 1<<16 + 2: "10.1.0.2", 1<<24 - 1: "10.255.255.255"} {
		if got := xffAddr(n); got != want {
			t.Errorf("xffAddr(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestPageSummary(t *testing.T) {
	for body, want := range map[string]string{
		`<html><body><main><h1>Too many attempts</h1>` + "\n" + `<p>There were too many failed sign-ins &amp; more.</p><p class="sub">Reference: <span>x</span></p></main>`: "Too many attempts — There were too many failed sign-ins & more.",
		`<h1>Sign in</h1><div class="error" role="alert">Wrong e-mail or password.</div><form><p>x</p></form>`:                                                              "Sign in — Wrong e-mail or password.",
		`<h1>Create an account</h1><div class="field-error" id="email-error">Enter a valid e-mail address.</div>` +
			`<div class="field-error" id="password-error">This password is too common. Choose another.</div>`: "Create an account — Enter a valid e-mail address. — This password is too common. Choose another.",
		`{"error":"x"}`: "",
	} {
		if got := pageSummary([]byte(body)); got != want {
			t.Errorf("pageSummary(%q) = %q, want %q", body, got, want)
		}
	}
}

// The in-process hash timing assumes the server's default parameters.
func TestArgon2ParamsAreTheServerDefaults(t *testing.T) {
	d := idp.DefaultArgon2
	if d.Time != argonTime || d.MemoryKiB != argonMemoryKiB || int(d.Parallelism) != argonThreads {
		t.Fatalf("idp.DefaultArgon2 = %+v; the benchmark times t=%d m=%d p=%d", d, argonTime, argonMemoryKiB, argonThreads)
	}
}

// A password the policy refused would fail the seeding or every registration.
func TestBenchPasswordsPassThePolicy(t *testing.T) {
	if msg := idp.CheckPassword(loginPassword, loginEmail(0)); msg != "" {
		t.Errorf("sign-in password: %s", msg)
	}
	if msg := idp.CheckPassword(registerPassword, "reg-0-1@example.com"); msg != "" {
		t.Errorf("registration password: %s", msg)
	}
}

func TestEveryScenarioNameHasAScenario(t *testing.T) {
	tg := &target{origin: "http://127.0.0.1:1", loginEmails: []string{loginEmail(0)}, floodWorkers: 64}
	for _, n := range scenarioNames {
		sc := tg.scenario(n)
		if sc.name != n || sc.do == nil {
			t.Errorf("scenario %q: %+v", n, sc)
		}
	}
	if w := tg.scenario("login-flood").workers; w != 64 {
		t.Errorf("login-flood workers = %d", w)
	}
}

func TestFloodRSSLine(t *testing.T) {
	be := backendResult{IdleRSSKB: 30000, Results: []result{
		{Name: "login", Workers: 16, PeakRSSKB: 100000},
		{Name: "login-flood", Workers: 64, PeakRSSKB: 101000},
	}}
	h := &hashTiming{MemoryKiB: argonMemoryKiB, HashCap: 2}
	got := be.floodRSS(h)
	want := "peak RSS during the login flood 103.4 MB (64 workers), 102.4 MB during login (16 workers), idle 30.7 MB (hash cap: 2 × 19 MiB = 38 MiB of hash memory at most)"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if !strings.Contains((&hashTiming{MemoryKiB: 65536, HashCap: 4}).hashMemNote(), "4 × 64 MiB = 256 MiB") {
		t.Error("hashMemNote")
	}
}
