package main

import (
	"testing"
	"time"
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
