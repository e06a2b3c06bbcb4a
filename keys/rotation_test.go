package keys

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

// testClock is an injected clock that tests move by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *testClock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

// countingStore counts the reloads (ListKeys) a manager makes.
type countingStore struct {
	Store
	mu    sync.Mutex
	lists int
}

func (c *countingStore) ListKeys(ctx context.Context) ([]storage.SigningKey, error) {
	c.mu.Lock()
	c.lists++
	c.mu.Unlock()
	return c.Store.ListKeys(ctx)
}

func (c *countingStore) reloads() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lists
}

// Test timings: a server reloads every 30 s and a rotation activates 60 s
// after it is made; tokens live an hour; a retired key stays published 5
// minutes beyond that.
const (
	tRefresh     = 30 * time.Second
	tPropagation = time.Minute
	tLifetime    = time.Hour
	tMargin      = 5 * time.Minute
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// rotEnv is one database shared by several "servers" (managers), each
// with its own options, all on one injected clock.
type rotEnv struct {
	t     *testing.T
	ctx   context.Context
	store Store
	clock *testClock
}

// server starts a manager, as a server (or the CLI) would, with opts over the test timings.
func (e *rotEnv) server(opts Options) (*Manager, *countingStore) {
	e.t.Helper()
	if opts.MaxTokenLifetime == 0 {
		opts.MaxTokenLifetime = tLifetime
	}
	if opts.RefreshInterval == 0 {
		opts.RefreshInterval = tRefresh
	}
	if opts.PropagationDelay == 0 {
		opts.PropagationDelay = tPropagation
	}
	if opts.Margin == 0 {
		opts.Margin = tMargin
	}
	opts.Now = e.clock.Now
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cs := &countingStore{Store: e.store}
	m, err := New(e.ctx, cs, secret, opts)
	if err != nil {
		e.t.Fatalf("keys.New: %v", err)
	}
	return m, cs
}

func (e *rotEnv) refresh(m *Manager) {
	e.t.Helper()
	if err := m.Refresh(e.ctx); err != nil {
		e.t.Fatalf("Refresh: %v", err)
	}
}

func (e *rotEnv) rotate(m *Manager, alg string) *Key {
	e.t.Helper()
	k, err := m.Rotate(e.ctx, alg)
	if err != nil {
		e.t.Fatalf("Rotate: %v", err)
	}
	return k
}

// row is the stored row of kid (nil: deleted).
func (e *rotEnv) row(kid string) *storage.SigningKey {
	e.t.Helper()
	rows, err := e.store.ListKeys(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := range rows {
		if rows[i].KID == kid {
			return &rows[i]
		}
	}
	return nil
}

func wantActive(t *testing.T, what string, m *Manager, kid string) {
	t.Helper()
	if k := m.Active(); k == nil || k.KID != kid {
		t.Fatalf("%s: signing key %v, want %s", what, k, kid)
	}
}

func jwksKIDs(t *testing.T, m *Manager) []string {
	t.Helper()
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
			D   string `json:"d"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(m.JWKS(), &set); err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	var out []string
	for _, k := range set.Keys {
		if k.D != "" {
			t.Fatal("JWKS publishes a private key")
		}
		out = append(out, k.KID)
	}
	return out
}

func wantPublished(t *testing.T, what string, m *Manager, kid string, published bool) {
	t.Helper()
	_, found := m.Lookup(kid)
	inJWKS := slices.Contains(jwksKIDs(t, m), kid)
	if found != published || inJWKS != published {
		t.Fatalf("%s: key %s found %v, in the JWKS %v; want %v", what, kid, found, inJWKS, published)
	}
}

// runRotationCases runs every case on a fresh migrated database of every
// backend (SQLite always, MySQL/MariaDB when MANAM_TEST_MYSQL_DSN is set).
func runRotationCases(t *testing.T, cases []struct {
	name string
	run  func(t *testing.T, e *rotEnv)
}) {
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			b.Check(t)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					db := b.Open(t)
					c.run(t, &rotEnv{t: t, ctx: context.Background(), store: storage.NewSigningKeys(db), clock: &testClock{now: t0}})
				})
			}
		})
	}
}

func TestRotation(t *testing.T) {
	runRotationCases(t, []struct {
		name string
		run  func(t *testing.T, e *rotEnv)
	}{
		{"a rotation does not change the signing key until activation", func(t *testing.T, e *rotEnv) {
			cli, _ := e.server(Options{})
			srv, _ := e.server(Options{})
			old := cli.Active()
			wantActive(t, "before the rotation", srv, old.KID)

			e.clock.Add(10 * time.Second)
			k := e.rotate(cli, RS256)
			if !k.ActivatesAt.Equal(t0.Add(10*time.Second + tPropagation)) {
				t.Fatalf("activates at %v, want the rotation + %s", k.ActivatesAt, tPropagation)
			}
			if st := cli.State(k); st != Pending {
				t.Fatalf("new key state %s, want pending", st)
			}
			wantActive(t, "the rotating process, right after", cli, old.KID)
			e.refresh(srv)
			wantActive(t, "a server that reloaded", srv, old.KID)
			if st := srv.State(old); st != Active {
				t.Fatalf("old key state %s before the activation, want active", st)
			}

			e.clock.Set(k.ActivatesAt.Add(-time.Millisecond))
			wantActive(t, "just before the activation", srv, old.KID)
			e.clock.Set(k.ActivatesAt)
			// No reload needed: the server loaded the key and its activation time.
			wantActive(t, "at the activation, without a reload", srv, k.KID)
			wantActive(t, "the rotating process at the activation", cli, k.KID)
			if st := srv.State(old); st != Retired {
				t.Fatalf("old key state %s after the activation, want retired", st)
			}
		}},
		{"the JWKS contains the pending key immediately", func(t *testing.T, e *rotEnv) {
			cli, _ := e.server(Options{})
			srv, _ := e.server(Options{})
			old := cli.Active()
			k := e.rotate(cli, RS256)
			wantPublished(t, "the rotating process", cli, k.KID, true)
			wantPublished(t, "the rotating process, old key", cli, old.KID, true)
			wantPublished(t, "a server before its reload", srv, k.KID, false)
			e.refresh(srv) // within one RefreshInterval, well before the activation
			if e.clock.Now().After(k.ActivatesAt) {
				t.Fatal("test is wrong: refreshed after the activation")
			}
			wantPublished(t, "a server after its reload", srv, k.KID, true)
			if kids := jwksKIDs(t, srv); len(kids) != 2 || kids[0] != k.KID {
				t.Fatalf("JWKS kids %v, want the new key first, then the old", kids)
			}
		}},
		{"a verifier that has not reloaded accepts a key it has not loaded yet", func(t *testing.T, e *rotEnv) {
			srvA, _ := e.server(Options{})
			srvB, countB := e.server(Options{})
			// A rotates and switches; B has not reloaded yet (its 30 s tick is later).
			e.clock.Add(time.Second)
			k, err := srvA.RotateNow(e.ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			wantActive(t, "server A after --now", srvA, k.KID)
			wantPublished(t, "server B before any reload", srvB, k.KID, false)
			before := countB.reloads()
			got, err := srvB.Verifier(e.ctx, k.KID)
			if err != nil || got.KID != k.KID {
				t.Fatalf("Verifier(new kid) = %v, %v; want the key after one reload", got, err)
			}
			if n := countB.reloads() - before; n != 1 {
				t.Fatalf("%d reloads, want 1", n)
			}
			// A known kid never reloads.
			if _, err := srvB.Verifier(e.ctx, k.KID); err != nil || countB.reloads()-before != 1 {
				t.Fatalf("Verifier(known kid): %v, %d reloads", err, countB.reloads()-before)
			}
		}},
		{"the reload on an unknown kid is rate-limited", func(t *testing.T, e *rotEnv) {
			srv, count := e.server(Options{})
			unknown := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" // well formed, names no key
			for _, c := range []struct {
				name        string
				advance     time.Duration
				kid         string
				wantReloads int
			}{
				{"first unknown kid reloads", 0, unknown, 1},
				{"again at once: no reload", 0, unknown, 0},
				{"again within the second: no reload", 999 * time.Millisecond, unknown, 0},
				{"a second later: reloads", time.Millisecond, unknown, 1},
				{"malformed kid: never reloads", 5 * time.Second, "not-a-thumbprint", 0},
				{"too long a kid: never reloads", 0, unknown + "A", 0},
				{"empty kid: never reloads", 0, "", 0},
			} {
				e.clock.Add(c.advance)
				before := count.reloads()
				_, err := srv.Verifier(e.ctx, c.kid)
				if !errors.Is(err, ErrUnknownKey) {
					t.Fatalf("%s: err %v, want ErrUnknownKey", c.name, err)
				}
				if n := count.reloads() - before; n != c.wantReloads {
					t.Fatalf("%s: %d reloads, want %d", c.name, n, c.wantReloads)
				}
			}
			// A rotation made by another process is found at the next allowed reload.
			other, _ := e.server(Options{})
			k := e.rotate(other, "")
			if _, err := srv.Verifier(e.ctx, k.KID); err != nil {
				t.Fatalf("a reload is due (5 s since the last): %v", err)
			}
		}},
		{"a retired key disappears only after the retention", func(t *testing.T, e *rotEnv) {
			cli, _ := e.server(Options{})
			srv, _ := e.server(Options{})
			old := cli.Active()
			rotatedAt := e.clock.Now()
			k := e.rotate(cli, "")
			e.refresh(srv)
			retention := tPropagation + tLifetime + tMargin
			if r := e.row(old.KID); r.PublishUntil == nil || !r.PublishUntil.Equal(rotatedAt.Add(retention)) || !r.RetiredAt.Equal(k.ActivatesAt) {
				t.Fatalf("old key retired %v until %v; want retired at the activation %v, published until %v",
					r.RetiredAt, r.PublishUntil, k.ActivatesAt, rotatedAt.Add(retention))
			}
			// The server signs with the old key until the activation, then reloads.
			e.clock.Set(k.ActivatesAt.Add(tRefresh))
			e.refresh(srv)
			for _, c := range []struct {
				name      string
				at        time.Time
				published bool
				pruned    int64
			}{
				{"the last instant of the retention", rotatedAt.Add(retention), true, 0},
				{"after the retention", rotatedAt.Add(retention + time.Second), false, 1},
			} {
				e.clock.Set(c.at)
				e.refresh(srv)
				wantPublished(t, c.name, srv, old.KID, c.published)
				wantPublished(t, c.name+" (new key)", srv, k.KID, true)
				if n, err := srv.Prune(e.ctx); err != nil || n != c.pruned {
					t.Fatalf("%s: Prune = %d, %v; want %d", c.name, n, err, c.pruned)
				}
			}
			if e.row(old.KID) != nil || e.row(k.KID) == nil {
				t.Fatal("prune deleted the wrong keys")
			}
		}},
		{"the retention follows the servers' token lifetime, not only the CLI's", func(t *testing.T, e *rotEnv) {
			cli, _ := e.server(Options{MaxTokenLifetime: 10 * time.Minute})
			srv, _ := e.server(Options{MaxTokenLifetime: 3 * time.Hour})
			old := cli.Active()
			k := e.rotate(cli, "")
			e.clock.Add(tRefresh)
			e.refresh(srv) // loads the pending key: its switch is at the activation
			e.clock.Set(k.ActivatesAt.Add(tRefresh / 2))
			e.refresh(srv) // the first reload after its switch
			want := k.ActivatesAt.Add(3*time.Hour + tMargin)
			if r := e.row(old.KID); r.PublishUntil == nil || !r.PublishUntil.Equal(want) {
				t.Fatalf("old key published until %v, want %v (its last signature + the server's lifetime + margin)", r.PublishUntil, want)
			}
			// A server with a shorter lifetime never shortens it.
			short, _ := e.server(Options{MaxTokenLifetime: time.Minute})
			e.clock.Add(tRefresh)
			e.refresh(short)
			if r := e.row(old.KID); !r.PublishUntil.Equal(want) {
				t.Fatalf("publication shortened to %v", r.PublishUntil)
			}
			e.clock.Set(want.Add(-time.Second))
			e.refresh(short)
			wantPublished(t, "well after the CLI's own retention", short, old.KID, true)
		}},
		{"a server that switched late keeps the old key published for its tokens", func(t *testing.T, e *rotEnv) {
			cli, _ := e.server(Options{})
			lagging, _ := e.server(Options{})
			old := cli.Active()
			k := e.rotate(cli, "")
			// Its reloads failed until well after the activation: it signed with
			// the old key until it reloaded.
			late := k.ActivatesAt.Add(20 * time.Minute)
			e.clock.Set(late)
			wantActive(t, "the lagging server", lagging, old.KID)
			e.refresh(lagging)
			wantActive(t, "the lagging server after its reload", lagging, k.KID)
			want := late.Add(tLifetime + tMargin)
			if r := e.row(old.KID); r.PublishUntil == nil || !r.PublishUntil.Equal(want) {
				t.Fatalf("old key published until %v, want %v", r.PublishUntil, want)
			}
		}},
		{"an emergency rotation signs at once and cancels a pending key", func(t *testing.T, e *rotEnv) {
			cli, _ := e.server(Options{})
			old := cli.Active()
			pending := e.rotate(cli, "")
			e.clock.Add(10 * time.Second)
			now, err := cli.RotateNow(e.ctx, RS256)
			if err != nil {
				t.Fatal(err)
			}
			wantActive(t, "after --now", cli, now.KID)
			for _, c := range []struct {
				name  string
				key   *Key
				state string
			}{
				{"the previous active key", old, Retired},
				{"the cancelled pending key", pending, Retired},
				{"the emergency key", now, Active},
			} {
				k, ok := cli.Lookup(c.key.KID)
				if !ok || cli.State(k) != c.state {
					t.Fatalf("%s: found %v, state %v; want %s", c.name, ok, k, c.state)
				}
			}
			// The cancelled key never signs, even after its activation time.
			e.clock.Set(pending.ActivatesAt.Add(time.Second))
			wantActive(t, "after the cancelled activation", cli, now.KID)
			// Both replaced keys stay published for the full retention.
			for _, kid := range []string{old.KID, pending.KID} {
				if r := e.row(kid); r.PublishUntil == nil || r.PublishUntil.Before(t0.Add(tPropagation+tLifetime+tMargin)) {
					t.Fatalf("key %s published until %v only", kid, r.PublishUntil)
				}
			}
		}},
		{"two rotations in a row: the middle key signs between the activations", func(t *testing.T, e *rotEnv) {
			cli, _ := e.server(Options{})
			old := cli.Active()
			mid := e.rotate(cli, "")
			e.clock.Add(20 * time.Second)
			last := e.rotate(cli, "")
			for _, c := range []struct {
				at   time.Time
				want string
			}{
				{mid.ActivatesAt.Add(-time.Second), old.KID},
				{mid.ActivatesAt, mid.KID},
				{last.ActivatesAt.Add(-time.Second), mid.KID},
				{last.ActivatesAt, last.KID},
			} {
				e.clock.Set(c.at)
				wantActive(t, c.at.Sub(t0).String()+" after the start", cli, c.want)
			}
		}},
	})
}

func TestOptionsValidation(t *testing.T) {
	m, err := New(context.Background(), &memStore{}, secret, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if o := m.Options(); o.RefreshInterval != 30*time.Second || o.PropagationDelay != time.Minute || m.JWKSMaxAge() != 30*time.Second ||
		m.Retention() != time.Minute+24*time.Hour+5*time.Minute {
		t.Fatalf("defaults: refresh %s, propagation %s, JWKS max-age %s, retention %s", o.RefreshInterval, o.PropagationDelay, m.JWKSMaxAge(), m.Retention())
	}
	for _, c := range []struct {
		name string
		opts Options
		ok   bool
	}{
		{"defaults", Options{}, true},
		{"propagation shorter than the refresh", Options{RefreshInterval: time.Minute, PropagationDelay: 30 * time.Second}, false},
		{"propagation equal to the refresh", Options{RefreshInterval: time.Minute, PropagationDelay: time.Minute}, true},
		{"default propagation follows the refresh", Options{RefreshInterval: 5 * time.Minute}, true},
		{"negative margin", Options{Margin: -time.Second}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := New(context.Background(), &memStore{}, secret, c.opts)
			if (err == nil) != c.ok {
				t.Fatalf("New: %v, want ok=%v", err, c.ok)
			}
			if err == nil && m.Options().PropagationDelay < m.Options().RefreshInterval {
				t.Fatalf("propagation %s < refresh %s", m.Options().PropagationDelay, m.Options().RefreshInterval)
			}
		})
	}
}
