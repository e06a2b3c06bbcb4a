package idp

import (
	"net/netip"
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

// throttleKey is the budget a client address counts against: an IPv6
// address by its /64 (one subscriber's network; each of its 2^64
// addresses must not get a budget of its own), an IPv4-mapped address as
// the IPv4 address, anything else as it is.
func throttleKey(key string) string {
	ip, err := netip.ParseAddr(key)
	if err != nil {
		return key
	}
	ip = ip.Unmap()
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.String()
		}
	}
	return ip.String()
}

// Take spends one attempt of key's budget before the attempt is made, and
// tells whether there was one: attempts sent at once cannot all pass a
// check made before any of them is counted (Allowed, then Fail after the
// work). Refund gives it back when the attempt turns out not to count.
func (t *Throttle) Take(key string) bool {
	if t == nil || key == "" {
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.refill(throttleKey(key))
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	t.trim()
	return true
}

// Refund gives back an attempt taken with Take.
func (t *Throttle) Refund(key string) {
	if t == nil || key == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.refill(throttleKey(key))
	b.tokens = min(t.burst, b.tokens+1)
}

// trim drops full buckets past maxThrottleKeys (with t.mu held).
func (t *Throttle) trim() {
	if len(t.m) > maxThrottleKeys {
		for k, b := range t.m {
			if b.tokens+float64(t.now().Sub(b.last))/float64(t.per) >= t.burst {
				delete(t.m, k)
			}
		}
	}
}
