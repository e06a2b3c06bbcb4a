package provider

import (
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	mysqldriver "github.com/go-sql-driver/mysql"

	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

// failFirst makes the first n operations whose name starts with prefix
// fail with err, and counts every failure it caused.
func failFirst(prefix string, n int32, err error) (storage.FaultHook, *atomic.Int32) {
	var caused atomic.Int32
	return func(op string) error {
		if strings.HasPrefix(op, prefix) && caused.Load() < n {
			caused.Add(1)
			return err
		}
		return nil
	}, &caused
}

// TestTokenDeadlockIsNotReuse: a transaction of the token endpoint that
// MySQL picks as a deadlock victim (1213) or that waits out a lock (1205)
// changed nothing. It runs again; if it keeps losing, the answer is 503
// temporarily_unavailable and the grant is alive — it was read as reuse
// and the grant revoked (the user signed out) before.
func TestTokenDeadlockIsNotReuse(t *testing.T) {
	deadlock := &mysqldriver.MySQLError{Number: 1213, Message: "Deadlock found when trying to get lock; try restarting transaction"}
	lockWait := &mysqldriver.MySQLError{Number: 1205, Message: "Lock wait timeout exceeded; try restarting transaction"}
	cases := []struct {
		name   string
		op     string // the statement that loses
		err    error
		times  int32
		status int // of the request that meets the fault
	}{
		{"refresh, one deadlock: run again, succeeds", "update oauth2_refresh_tokens", deadlock, 1, http.StatusOK},
		{"refresh, deadlocks every time: 503", "update oauth2_refresh_tokens", deadlock, 1000, http.StatusServiceUnavailable},
		{"refresh, lock wait timeouts every time: 503", "update oauth2_refresh_tokens", lockWait, 1000, http.StatusServiceUnavailable},
		{"refresh, the new token's insert deadlocks: run again", "exec", deadlock, 1, http.StatusOK},
	}
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					e := newReviewEnvOn(t, b)
					app := e.tenant(TenantSpec{Name: "App", RedirectURIs: []string{reviewRedirect}, FirstParty: true})
					_, cookie := e.user("deadlock@example.com")
					toks := e.exchange(app, reviewRedirect, e.code(app.ClientID, reviewRedirect, "openid offline_access", testVerifier, cookie), testVerifier)
					rt := toks["refresh_token"].(string)
					refresh := func(rt string) (int, map[string]any) {
						rec := e.postForm("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}},
							func(r *http.Request) { r.SetBasicAuth(app.ClientID, app.ClientSecret) })
						return rec.Code, decodeJSON(t, rec)
					}

					hook, caused := failFirst(tc.op, tc.times, tc.err)
					e.db.SetFaultHook(hook)
					status, body := refresh(rt)
					e.db.SetFaultHook(nil)
					if caused.Load() == 0 {
						t.Fatalf("the fault at %q was never hit", tc.op)
					}
					if status != tc.status {
						t.Fatalf("refresh under the fault: %d %v, want %d", status, body, tc.status)
					}
					if status == http.StatusServiceUnavailable {
						if body["error"] != "temporarily_unavailable" {
							t.Fatalf("503 with error %v", body["error"])
						}
						// Nothing changed: the same refresh token still works.
						if status, body := refresh(rt); status != http.StatusOK {
							t.Fatalf("after the outage, the grant is dead: %d %v", status, body)
						}
						return
					}
					// The rotation happened exactly once: the new token works.
					if status, body := refresh(body["refresh_token"].(string)); status != http.StatusOK {
						t.Fatalf("the new refresh token: %d %v", status, body)
					}
				})
			}
		})
	}
}
