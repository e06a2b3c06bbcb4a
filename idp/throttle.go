package idp

import (
	"sync"
	"time"
)

// Throttle limits failed attempts per key (a client address) with a token
// bucket: Burst failures at once, then one more every Per. It is held in
// memory, so each replica counts for itself; with N replicas an address
// gets at most N times the budget, and the per-account lockout (in the
// database) still applies across all of them.
type Throttle struct {
	mu    sync.Mutex
	m     map[string]*bucket
	burst float64
	per   time.Duration
	now   func() time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxThrottleKeys bounds memory under a spray of addresses: past it, full
// buckets (keys with nothing to remember) are dropped.
const maxThrottleKeys = 100_000

// NewThrottle allows burst failures per key, refilled one per per.
func NewThrottle(burst int, per time.Duration, now func() time.Time) *Throttle {
	if now == nil {
		now = time.Now
	}
	return &Throttle{m: map[string]*bucket{}, burst: float64(burst), per: per, now: now}
}

func (t *Throttle) refill(key string) *bucket {
	now := t.now()
	b, ok := t.m[key]
	if !ok {
		b = &bucket{tokens: t.burst, last: now}
		t.m[key] = b
		return b
	}
	b.tokens = min(t.burst, b.tokens+float64(now.Sub(b.last))/float64(t.per))
	b.last = now
	return b
}

// Allowed tells whether key may try again.
func (t *Throttle) Allowed(key string) bool {
	if t == nil || key == "" {
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.refill(key).tokens >= 1
}

// Fail spends one attempt of key's budget.
func (t *Throttle) Fail(key string) {
	if t == nil || key == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refill(key).tokens--
	if len(t.m) > maxThrottleKeys {
		for k, b := range t.m {
			if b.tokens+float64(t.now().Sub(b.last))/float64(t.per) >= t.burst {
				delete(t.m, k)
			}
		}
	}
}
