package storage_test

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

// TestThrottles: the shared token buckets, on every backend.
func TestThrottles(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	take := func(t *testing.T, s *storage.Throttles, id string, at time.Time) bool {
		t.Helper()
		ok, err := s.Take(bg, id, at, 3, time.Minute)
		must(t, "Take", err)
		return ok
	}
	takes := func(t *testing.T, s *storage.Throttles, id string, at time.Time, n int) []bool {
		t.Helper()
		var out []bool
		for range n {
			out = append(out, take(t, s, id, at))
		}
		return out
	}
	runOnBackends(t, []dbCase{
		{"the burst, then none", func(t *testing.T, e env) {
			if got := takes(t, storage.NewThrottles(e.db), "a", t0, 5); !slices.Equal(got, []bool{true, true, true, false, false}) {
				t.Fatalf("takes = %v, want three then none", got)
			}
		}},
		{"one more every interval, never more than the burst", func(t *testing.T, e env) {
			s := storage.NewThrottles(e.db)
			takes(t, s, "a", t0, 3)
			if got := takes(t, s, "a", t0.Add(90*time.Second), 3); !slices.Equal(got, []bool{true, false, false}) {
				t.Fatalf("a minute and a half later: %v, want one", got)
			}
			// Idle for an hour: full again, and no fuller.
			if got := takes(t, s, "a", t0.Add(time.Hour), 4); !slices.Equal(got, []bool{true, true, true, false}) {
				t.Fatalf("an hour later: %v, want the burst of three", got)
			}
		}},
		{"a refund gives back exactly one", func(t *testing.T, e env) {
			s := storage.NewThrottles(e.db)
			takes(t, s, "a", t0, 3)
			must(t, "Refund", s.Refund(bg, "a", time.Minute))
			if got := takes(t, s, "a", t0, 2); !slices.Equal(got, []bool{true, false}) {
				t.Fatalf("after a refund: %v, want one", got)
			}
			// A refund to a full (or unknown) bucket adds nothing beyond the burst.
			must(t, "Refund", s.Refund(bg, "fresh", time.Minute))
			must(t, "Refund", s.Refund(bg, "fresh", time.Minute))
			if got := takes(t, s, "fresh", t0, 4); !slices.Equal(got, []bool{true, true, true, false}) {
				t.Fatalf("a refunded fresh bucket: %v, want the burst of three", got)
			}
		}},
		{"buckets are independent", func(t *testing.T, e env) {
			s := storage.NewThrottles(e.db)
			takes(t, s, "a", t0, 3)
			if !take(t, s, "b", t0) {
				t.Fatal("an empty bucket emptied another")
			}
		}},
		{"attempts at once from two replicas: exactly the burst passes", func(t *testing.T, e env) {
			// Two handles on one database are two servers.
			replicas := []*storage.Throttles{storage.NewThrottles(e.db), storage.NewThrottles(storagetest.OpenDSN(t, e.dsn))}
			for round, burst := range []int{7, 1} {
				id := fmt.Sprintf("round-%d", round)
				var passed atomic.Int32
				var wg sync.WaitGroup
				for i := range 60 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						ok, err := replicas[i%2].Take(bg, id, t0, burst, time.Hour)
						if err != nil {
							t.Errorf("Take: %v", err)
						}
						if ok {
							passed.Add(1)
						}
					}()
				}
				wg.Wait()
				if int(passed.Load()) != burst {
					t.Fatalf("%d of 60 attempts at once passed a burst of %d", passed.Load(), burst)
				}
			}
		}},
		{"sweep deletes the buckets that are full again, only those", func(t *testing.T, e env) {
			s := storage.NewThrottles(e.db)
			takes(t, s, "spent", t0, 3) // full again at t0 + 3 min
			takes(t, s, "one", t0, 1)   // full again at t0 + 1 min
			n, err := s.Sweep(bg, t0.Add(2*time.Minute), 100)
			if err != nil || n != 1 {
				t.Fatalf("Sweep = %d, %v; want 1 (the bucket full again)", n, err)
			}
			// Two minutes after three attempts: two are back, not three.
			if got := takes(t, s, "spent", t0.Add(2*time.Minute), 3); !slices.Equal(got, []bool{true, true, false}) {
				t.Fatalf("after the sweep: %v, want two of three (the sweep changed a bucket that still counts)", got)
			}
		}},
		{"a tenant's back ends round-trip", func(t *testing.T, e env) {
			ts := storage.NewTenants(e.db)
			tn := addTenant(t, e.db, "shop")
			if tn.BackendCIDRs != nil {
				t.Fatalf("a new tenant has back ends %v", tn.BackendCIDRs)
			}
			must(t, "Modify", ts.Modify(bg, "shop", func(x *storage.Tenant) error {
				x.BackendCIDRs = []string{"10.0.0.0/8", "2001:db8::/48"}
				return nil
			}))
			got, err := ts.Get(bg, "shop")
			must(t, "Get", err)
			if !slices.Equal(got.BackendCIDRs, []string{"10.0.0.0/8", "2001:db8::/48"}) {
				t.Fatalf("back ends = %v", got.BackendCIDRs)
			}
		}},
	})
}
