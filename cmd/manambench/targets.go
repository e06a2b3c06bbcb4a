package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strings"
	"time"

	_ "github.com/glebarez/go-sqlite" // database/sql driver "sqlite", to count rows
)

// Issue 13's targets ("Targets" table). SQLite ones are checked on the
// sqlite backend, the MariaDB one on the mysql backend; the database growth
// on both.
const (
	tgtCC         = "client credentials, opaque: ≥ 0.35 × trivial, p99 ≤ 10 ms"
	tgtIntrospect = "introspection of an active token: ≥ 0.30 × trivial"
	tgtUserinfo   = "userinfo: ≥ 0.25 × trivial"
	tgtFlowES256  = "code flow with a session, ES256 ID token: ≥ 1,200 flows/s"
	tgtFlowRS256  = "code flow with a session, RS256 ID token: ≥ 650 flows/s"
	tgtRefresh    = "refresh, ES256 ID token: ≥ 1,200/s"
	tgtCCMySQL    = "client credentials on MariaDB: ≥ 0.25 × trivial"
	tgtGrowth     = "database growth per client-credentials token: 0 rows"
	tgtIdleRSS    = "idle RSS: ≤ 30 MB"
)

// tokenTables are the tables a token grant can write to; the growth step
// counts their rows. A table the server does not have counts as -1.
var tokenTables = []string{"oauth2_access_tokens", "oauth2_refresh_tokens", "oauth2_authorize_codes",
	"oauth2_pkce_requests", "oauth2_oidc_sessions", "oauth2_revocations"}

// growthTokens is how many client-credentials tokens the growth step issues.
const growthTokens = 200

// growth is the token tables' row counts before and after growthTokens
// client-credentials tokens.
type growth struct {
	Tokens int              `json:"tokens"`
	Before map[string]int64 `json:"before"`
	After  map[string]int64 `json:"after"`
}

// added is the rows added to the tables both counts saw.
func (g *growth) added() int64 {
	var n int64
	for _, tb := range tokenTables {
		a, okA := g.After[tb]
		b, okB := g.Before[tb]
		if okA && okB && a >= 0 && b >= 0 {
			n += a - b
		}
	}
	return n
}

// line is "rows before → after 200 client-credentials tokens: t1 0 → 0, …".
func (g *growth) line() string {
	var parts []string
	for _, tb := range tokenTables {
		b, a := g.Before[tb], g.After[tb]
		if b < 0 || a < 0 {
			parts = append(parts, tb+" (no such table)")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %d → %d", tb, b, a))
	}
	return fmt.Sprintf("token tables' rows before → after %d client-credentials tokens: %s (%+d rows, %.2f per token)",
		g.Tokens, strings.Join(parts, ", "), g.added(), float64(g.added())/float64(max(g.Tokens, 1)))
}

// openCount opens the server's database for counting rows.
func openCount(dsn string) (*sql.DB, error) {
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		path, _, _ = strings.Cut(path, "?")
		return sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	}
	if rest, ok := strings.CutPrefix(dsn, "mysql://"); ok {
		return sql.Open("mysql", rest)
	}
	return nil, fmt.Errorf("unknown DSN %q", redactDSN(dsn))
}

func countRows(ctx context.Context, db *sql.DB) map[string]int64 {
	m := make(map[string]int64, len(tokenTables))
	for _, tb := range tokenTables {
		var n int64
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+tb).Scan(&n); err != nil {
			n = -1
		}
		m[tb] = n
	}
	return m
}

// measureGrowth counts the token tables' rows, issues growthTokens
// client-credentials tokens one after the other, and counts again.
func (b *bench) measureGrowth(ctx context.Context, t *target, dsn string) (*growth, error) {
	db, err := openCount(dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return nil, err
	}
	g := &growth{Tokens: growthTokens, Before: countRows(ctx, db)}
	tr := newTransport(1)
	defer tr.CloseIdleConnections()
	w := &worker{client: newClient(tr, t.origin, nil)}
	for range growthTokens {
		if _, err := w.expect(postForm(ctx, t.origin+"/oauth2/token", "grant_type=client_credentials", t.benchAuth), http.StatusOK, wantAccessToken); err != nil {
			return nil, err
		}
	}
	g.After = countRows(ctx, db)
	return g, nil
}

// evaluateTargets checks issue 13's targets for one backend against the
// baseline; it never fails: what did not run is "not measured".
func evaluateTargets(be *backendResult, bl baseline, workers int) []targetCheck {
	var out []targetCheck
	add := func(target, measured string, measuredOK, met bool) {
		st := "not measured"
		if measuredOK {
			st = "NOT MET"
			if met {
				st = "met"
			}
		}
		out = append(out, targetCheck{Backend: be.Name, Target: target, Measured: measured, Status: st})
	}
	usable := func(name string) *result {
		r := be.find(name)
		if r == nil || r.Failed != "" || r.OK == 0 || r.errorRate() > 0.01 {
			return nil
		}
		return r
	}
	errNote := func(r *result) string {
		if r.Errors > 0 {
			return fmt.Sprintf(", %d errors", r.Errors)
		}
		return ""
	}
	concurrency := func(m string) string {
		if workers != 16 {
			return m + " — not the target's 16 concurrent"
		}
		return m
	}
	// ratio: scenario ≥ min × trivial (and p99 ≤ maxP99 when set).
	ratio := func(target, name string, minRatio float64, maxP99 time.Duration) {
		r := usable(name)
		if r == nil || bl.Runs == 0 || bl.PerSec == 0 {
			add(target, "-", false, false)
			return
		}
		x := r.PerSec / bl.PerSec
		m := fmt.Sprintf("%.2f × (%s/s of %s/s), p99 %s", x, commas(r.PerSec), commas(bl.PerSec), ms(r.P99)) + errNote(r)
		met := x >= minRatio && r.Errors == 0 && (maxP99 == 0 || r.P99 <= maxP99)
		add(target, concurrency(m), workers == 16, met)
	}
	// rate: scenario ≥ min per second with ID tokens of alg.
	rate := func(target, name string, min float64, alg, gotAlg string) {
		r := usable(name)
		if r == nil {
			add(target, "-", false, false)
			return
		}
		m := fmt.Sprintf("%s %s/s (%.2f × trivial), p99 %s, ID tokens %s", commas(r.PerSec), r.Unit, r.PerSec/max(bl.PerSec, 1), ms(r.P99), gotAlg) + errNote(r)
		add(target, concurrency(m), workers == 16 && gotAlg == alg, r.PerSec >= min && r.Errors == 0)
	}
	switch be.Name {
	case "sqlite":
		ratio(tgtCC, "cc-opaque", 0.35, 10*time.Millisecond)
		ratio(tgtIntrospect, "introspect", 0.30, 0)
		ratio(tgtUserinfo, "userinfo", 0.25, 0)
		rate(tgtFlowES256, "code-flow-es256", 1200, "ES256", be.ES256IDTokenAlg)
		rate(tgtFlowRS256, "code-flow", 650, "RS256", be.IDTokenAlg)
		rate(tgtRefresh, "refresh-es256", 1200, "ES256", be.ES256IDTokenAlg)
	case "mysql":
		ratio(tgtCCMySQL, "cc-opaque", 0.25, 0)
	}
	if g := be.Growth; g != nil {
		m := fmt.Sprintf("%+d rows after %d tokens (oauth2_access_tokens %d → %d)", g.added(), g.Tokens, g.Before["oauth2_access_tokens"], g.After["oauth2_access_tokens"])
		add(tgtGrowth, m, true, g.added() == 0)
	} else {
		add(tgtGrowth, "-", false, false)
	}
	if be.IdleRSSKB > 0 {
		add(tgtIdleRSS, mb(be.IdleRSSKB), true, be.IdleRSSKB*1024 <= 30e6)
	} else {
		add(tgtIdleRSS, "-", false, false)
	}
	return out
}
