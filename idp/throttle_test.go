package idp

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// take spends an attempt of addr's budget (the in-memory store cannot fail).
func take(th *Throttle, addr string) bool {
	ok, err := th.Take(context.Background(), AddrKey(addr))
	if err != nil {
		panic(err)
	}
	return ok
}

func TestThrottle(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		run  func(t *testing.T, th *Throttle, clock *time.Time)
	}{
		{"the burst, then no more", func(t *testing.T, th *Throttle, _ *time.Time) {
			for i := range 3 {
				if !take(th, "192.0.2.1") {
					t.Fatalf("attempt %d refused", i+1)
				}
			}
			if take(th, "192.0.2.1") {
				t.Fatal("a fourth attempt within the burst of 3")
			}
		}},
		{"attempts at once never pass the burst", func(t *testing.T, th *Throttle, _ *time.Time) {
			var ok atomic.Int32
			var wg sync.WaitGroup
			for range 100 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if take(th, "192.0.2.2") {
						ok.Add(1)
					}
				}()
			}
			wg.Wait()
			if ok.Load() != 3 {
				t.Fatalf("%d of 100 attempts at once passed, want 3", ok.Load())
			}
		}},
		{"a refund gives an attempt back", func(t *testing.T, th *Throttle, _ *time.Time) {
			for range 3 {
				take(th, "192.0.2.3")
			}
			_ = th.Refund(context.Background(), AddrKey("192.0.2.3"))
			if !take(th, "192.0.2.3") || take(th, "192.0.2.3") {
				t.Fatal("a refund did not give back exactly one attempt")
			}
		}},
		{"refills one per period", func(t *testing.T, th *Throttle, clock *time.Time) {
			for range 3 {
				take(th, "192.0.2.4")
			}
			*clock = clock.Add(time.Minute)
			if !take(th, "192.0.2.4") || take(th, "192.0.2.4") {
				t.Fatal("want exactly one attempt back a period later")
			}
		}},
		{"an IPv6 /64 is one budget", func(t *testing.T, th *Throttle, _ *time.Time) {
			for _, a := range []string{"2001:db8:1:1::1", "2001:db8:1:1::2", "2001:db8:1:1:ffff::9"} {
				if !take(th, a) {
					t.Fatalf("%s refused within the burst", a)
				}
			}
			if take(th, "2001:db8:1:1::42") {
				t.Fatal("another address of the same /64 got a budget of its own")
			}
			if !take(th, "2001:db8:1:2::1") {
				t.Fatal("the next /64 shares the budget")
			}
		}},
		{"an IPv4-mapped address is its IPv4 address", func(t *testing.T, th *Throttle, _ *time.Time) {
			for range 3 {
				take(th, "192.0.2.5")
			}
			if take(th, "::ffff:192.0.2.5") {
				t.Fatal("the IPv4-mapped form got a budget of its own")
			}
		}},
		{"no address, no limit", func(t *testing.T, th *Throttle, _ *time.Time) {
			for range 10 {
				if !take(th, "") {
					t.Fatal("an unknown address was throttled")
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := t0
			th := NewThrottle(NewMemoryBuckets(), "test", Budget{3, time.Minute}, func() time.Time { return clock })
			tt.run(t, th, &clock)
		})
	}
}
