package idp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// BucketStore keeps token buckets where every replica sees them
// (storage.Throttles). Take spends one attempt of bucket id (burst at
// once, one more every interval) atomically and tells whether there was
// one; Refund gives one back. An error is a failure of the store, never an
// answer.
type BucketStore interface {
	Take(ctx context.Context, id string, now time.Time, burst int, interval time.Duration) (bool, error)
	Refund(ctx context.Context, id string, interval time.Duration) error
}

// Budget is the size of a throttle: Burst attempts at once, then one more
// every Interval.
type Budget struct {
	Burst    int
	Interval time.Duration
}

// Valid tells whether the budget allows anything and refills.
func (b Budget) Valid() bool { return b.Burst >= 1 && b.Interval >= time.Millisecond }

func (b Budget) String() string { return fmt.Sprintf("%d/%v", b.Burst, b.Interval) }

// Throttle limits attempts per key with a token bucket of its Budget, kept
// in a BucketStore: held in the database, every replica spends the same
// budget.
type Throttle struct {
	store  BucketStore
	name   string
	budget Budget
	now    func() time.Time
}

// NewThrottle is the throttle name (which keeps its buckets apart from
// other throttles') with budget b over store (nil: NewMemoryBuckets, one
// process's memory).
func NewThrottle(store BucketStore, name string, b Budget, now func() time.Time) *Throttle {
	if store == nil {
		store = NewMemoryBuckets()
	}
	if now == nil {
		now = time.Now
	}
	return &Throttle{store: store, name: name, budget: b, now: now}
}

// Budget is the throttle's size.
func (t *Throttle) Budget() Budget { return t.budget }

// id is the stored name of key's bucket: a hash, so the table holds no
// address or identifier.
func (t *Throttle) id(key string) string {
	sum := sha256.Sum256([]byte(t.name + "\x00" + key))
	return hex.EncodeToString(sum[:])
}

// Take spends one attempt of key's budget before the attempt is made, and
// tells whether there was one: attempts sent at once cannot all pass a
// check made before any of them is counted. Refund gives it back when the
// attempt turns out not to count. An empty key is not limited. A failure
// of the store is an error: the caller answers 503, neither "too many
// attempts" nor an unlimited pass.
func (t *Throttle) Take(ctx context.Context, key string) (bool, error) {
	if t == nil || key == "" {
		return true, nil
	}
	ok, err := t.store.Take(ctx, t.id(key), t.now(), t.budget.Burst, t.budget.Interval)
	if err != nil {
		return false, fmt.Errorf("idp: throttle %s: %w", t.name, err)
	}
	return ok, nil
}

// Refund gives back an attempt taken with Take.
func (t *Throttle) Refund(ctx context.Context, key string) error {
	if t == nil || key == "" {
		return nil
	}
	if err := t.store.Refund(ctx, t.id(key), t.budget.Interval); err != nil {
		return fmt.Errorf("idp: throttle %s: %w", t.name, err)
	}
	return nil
}

// AddrKey is the budget a client address counts against: an IPv6 address
// by its /64 (one subscriber's network; each of its 2^64 addresses must
// not get a budget of its own), an IPv4-mapped address as the IPv4
// address, anything else as it is; "" for no address.
func AddrKey(addr string) string {
	if addr == "" {
		return ""
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return "addr " + addr
	}
	ip = ip.Unmap()
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return "addr " + p.String()
		}
	}
	return "addr " + ip.String()
}

// MemoryBuckets is a BucketStore in one process's memory, for tests and
// tools: each replica would count for itself. The same arithmetic as
// storage.Throttles: a bucket is the time it will be full again.
type MemoryBuckets struct {
	mu  sync.Mutex
	tat map[string]int64 // Unix ms
}

// maxMemoryBuckets bounds memory under a spray of keys: past it, full
// buckets (nothing to remember) are dropped.
const maxMemoryBuckets = 100_000

// NewMemoryBuckets returns an empty in-memory store.
func NewMemoryBuckets() *MemoryBuckets {
	return &MemoryBuckets{tat: map[string]int64{}}
}

// Take implements BucketStore.
func (m *MemoryBuckets) Take(_ context.Context, id string, now time.Time, burst int, interval time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, iv := now.UnixMilli(), interval.Milliseconds()
	tat := max(m.tat[id], n)
	if tat > n+int64(burst-1)*iv {
		return false, nil
	}
	m.tat[id] = tat + iv
	if len(m.tat) > maxMemoryBuckets {
		for k, v := range m.tat {
			if v <= n {
				delete(m.tat, k)
			}
		}
	}
	return true, nil
}

// Refund implements BucketStore.
func (m *MemoryBuckets) Refund(_ context.Context, id string, interval time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.tat[id]; ok {
		m.tat[id] = v - interval.Milliseconds()
	}
	return nil
}
