package main

import (
	"testing"
	"time"
)

func TestEvaluateTargets(t *testing.T) {
	bl := baseline{Runs: 2, PerSec: 10000, P50: time.Millisecond, P99: 2 * time.Millisecond}
	res := func(name string, perSec float64, p99 time.Duration) result {
		return result{Name: name, Unit: "req", OK: 1000, PerSec: perSec, P99: p99}
	}
	noGrowth := &growth{Tokens: 200,
		Before: map[string]int64{"oauth2_access_tokens": 5, "oauth2_revocations": 0},
		After:  map[string]int64{"oauth2_access_tokens": 5, "oauth2_revocations": 0}}
	allMet := backendResult{Name: "sqlite", IDTokenAlg: "RS256", ES256IDTokenAlg: "ES256", IdleRSSKB: 29000, Growth: noGrowth,
		Results: []result{
			res("cc-opaque", 3500, 10*time.Millisecond),
			res("introspect", 3000, 0),
			res("userinfo", 2500, 0),
			res("code-flow-es256", 1200, 0),
			res("code-flow", 650, 0),
			res("refresh-es256", 1200, 0),
		}}
	statuses := func(cs []targetCheck) map[string]string {
		m := map[string]string{}
		for _, c := range cs {
			m[c.Target] = c.Status
		}
		return m
	}
	tests := []struct {
		name    string
		be      func() backendResult
		workers int
		want    map[string]string // target → status; unlisted targets are not checked
		count   int
	}{
		{name: "every sqlite target met at its boundary", be: func() backendResult { return allMet }, workers: 16, count: 8,
			want: map[string]string{tgtCC: "met", tgtIntrospect: "met", tgtUserinfo: "met", tgtFlowES256: "met",
				tgtFlowRS256: "met", tgtRefresh: "met", tgtGrowth: "met", tgtIdleRSS: "met"}},
		{name: "just below each target", workers: 16, count: 8, be: func() backendResult {
			be := allMet
			be.IdleRSSKB = 29300 // 30.003 MB
			be.Growth = &growth{Tokens: 200,
				Before: map[string]int64{"oauth2_access_tokens": 5},
				After:  map[string]int64{"oauth2_access_tokens": 205}}
			be.Results = []result{res("cc-opaque", 3499, time.Millisecond), res("introspect", 2999, 0), res("userinfo", 2499, 0),
				res("code-flow-es256", 1199, 0), res("code-flow", 649, 0), res("refresh-es256", 1199, 0)}
			return be
		}, want: map[string]string{tgtCC: "NOT MET", tgtIntrospect: "NOT MET", tgtUserinfo: "NOT MET", tgtFlowES256: "NOT MET",
			tgtFlowRS256: "NOT MET", tgtRefresh: "NOT MET", tgtGrowth: "NOT MET", tgtIdleRSS: "NOT MET"}},
		{name: "cc fast enough but p99 over 10 ms", workers: 16, count: 8, be: func() backendResult {
			be := allMet
			be.Results = []result{res("cc-opaque", 5000, 11*time.Millisecond)}
			return be
		}, want: map[string]string{tgtCC: "NOT MET", tgtIntrospect: "not measured", tgtFlowES256: "not measured"}},
		{name: "errors above 1 % make a scenario unusable", workers: 16, count: 8, be: func() backendResult {
			be := allMet
			r := res("cc-opaque", 5000, time.Millisecond)
			r.Errors = 20
			be.Results = []result{r}
			return be
		}, want: map[string]string{tgtCC: "not measured"}},
		{name: "a few errors: measured, not met", workers: 16, count: 8, be: func() backendResult {
			be := allMet
			r := res("cc-opaque", 5000, time.Millisecond)
			r.Errors = 1
			be.Results = []result{r}
			return be
		}, want: map[string]string{tgtCC: "NOT MET"}},
		{name: "ES256 flow with RS256 tokens is not the target", workers: 16, count: 8, be: func() backendResult {
			be := allMet
			be.ES256IDTokenAlg = ""
			return be
		}, want: map[string]string{tgtFlowES256: "not measured", tgtRefresh: "not measured", tgtFlowRS256: "met"}},
		{name: "other concurrency is not the target's", workers: 32, count: 8, be: func() backendResult { return allMet },
			want: map[string]string{tgtCC: "not measured", tgtFlowRS256: "not measured", tgtGrowth: "met", tgtIdleRSS: "met"}},
		{name: "mysql: the MariaDB ratio, growth and idle RSS", workers: 16, count: 3, be: func() backendResult {
			return backendResult{Name: "mysql", IdleRSSKB: 40000, Results: []result{res("cc-opaque", 2500, 50*time.Millisecond)}}
		}, want: map[string]string{tgtCCMySQL: "met", tgtGrowth: "not measured", tgtIdleRSS: "NOT MET"}},
		{name: "mysql below 0.25", workers: 16, count: 3, be: func() backendResult {
			return backendResult{Name: "mysql", Results: []result{res("cc-opaque", 2499, time.Millisecond)}}
		}, want: map[string]string{tgtCCMySQL: "NOT MET", tgtIdleRSS: "not measured"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			be := tc.be()
			got := evaluateTargets(&be, bl, tc.workers)
			if len(got) != tc.count {
				t.Errorf("%d checks, want %d: %+v", len(got), tc.count, got)
			}
			st := statuses(got)
			for target, want := range tc.want {
				if st[target] != want {
					t.Errorf("%s: %q, want %q (all: %v)", target, st[target], want, st)
				}
			}
		})
	}
	t.Run("no baseline: ratios not measured", func(t *testing.T) {
		be := allMet
		st := statuses(evaluateTargets(&be, baseline{}, 16))
		if st[tgtCC] != "not measured" || st[tgtFlowRS256] != "met" {
			t.Errorf("%v", st)
		}
	})
}

func TestGrowth(t *testing.T) {
	tests := []struct {
		name  string
		g     growth
		added int64
		line  string
	}{
		{name: "no rows", g: growth{Tokens: 200,
			Before: map[string]int64{"oauth2_access_tokens": 3, "oauth2_refresh_tokens": 1, "oauth2_authorize_codes": 0, "oauth2_pkce_requests": 0, "oauth2_oidc_sessions": 0, "oauth2_revocations": 0},
			After:  map[string]int64{"oauth2_access_tokens": 3, "oauth2_refresh_tokens": 1, "oauth2_authorize_codes": 0, "oauth2_pkce_requests": 0, "oauth2_oidc_sessions": 0, "oauth2_revocations": 0}},
			line: "token tables' rows before → after 200 client-credentials tokens: oauth2_access_tokens 3 → 3, oauth2_refresh_tokens 1 → 1, oauth2_authorize_codes 0 → 0, oauth2_pkce_requests 0 → 0, oauth2_oidc_sessions 0 → 0, oauth2_revocations 0 → 0 (+0 rows, 0.00 per token)"},
		{name: "a row per token, revocation table missing", added: 200, g: growth{Tokens: 200,
			Before: map[string]int64{"oauth2_access_tokens": 3, "oauth2_refresh_tokens": 0, "oauth2_authorize_codes": 0, "oauth2_pkce_requests": 0, "oauth2_oidc_sessions": 0, "oauth2_revocations": -1},
			After:  map[string]int64{"oauth2_access_tokens": 203, "oauth2_refresh_tokens": 0, "oauth2_authorize_codes": 0, "oauth2_pkce_requests": 0, "oauth2_oidc_sessions": 0, "oauth2_revocations": -1}},
			line: "token tables' rows before → after 200 client-credentials tokens: oauth2_access_tokens 3 → 203, oauth2_refresh_tokens 0 → 0, oauth2_authorize_codes 0 → 0, oauth2_pkce_requests 0 → 0, oauth2_oidc_sessions 0 → 0, oauth2_revocations (no such table) (+200 rows, 1.00 per token)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.g.added(); got != tc.added {
				t.Errorf("added = %d, want %d", got, tc.added)
			}
			if got := tc.g.line(); got != tc.line {
				t.Errorf("line\n got %s\nwant %s", got, tc.line)
			}
		})
	}
}

func TestOpenCountDSN(t *testing.T) {
	for _, tc := range []struct {
		name, dsn string
		ok        bool
	}{
		{"sqlite", "sqlite:/tmp/x/bench.db?synchronous=normal", true},
		{"mysql", "mysql://root:@tcp(127.0.0.1:3306)/x", true},
		{"unknown", "postgres://x", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := openCount(tc.dsn)
			if (err == nil) != tc.ok {
				t.Fatalf("openCount(%q): %v", tc.dsn, err)
			}
			if db != nil {
				db.Close()
			}
		})
	}
}
