package keys

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/manam-id/manam/storage"
)

// memStore is a faithful in-memory Store (storage's own is covered by the storage suite).
type memStore struct {
	mu   sync.Mutex
	rows []storage.SigningKey
}

func (m *memStore) ListKeys(context.Context) ([]storage.SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]storage.SigningKey(nil), m.rows...), nil
}

func (m *memStore) AddKey(_ context.Context, k *storage.SigningKey, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	act := k.CreatedAt
	if k.ActivatesAt != nil {
		act = *k.ActivatesAt
	}
	k.ActivatesAt = &act
	for i := range m.rows {
		r := &m.rows[i]
		if r.Alg == k.Alg && (r.RetiredAt == nil || r.RetiredAt.After(act)) {
			at, u := act, until
			r.RetiredAt = &at
			if r.PublishUntil == nil || r.PublishUntil.Before(u) {
				r.PublishUntil = &u
			}
		}
	}
	m.rows = append(m.rows, *k)
	return nil
}

func (m *memStore) ExtendPublication(_ context.Context, kid string, until time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.rows {
		if r := &m.rows[i]; r.KID == kid && r.PublishUntil != nil && r.PublishUntil.Before(until) {
			r.PublishUntil = &until
			return true, nil
		}
	}
	return false, nil
}

func (m *memStore) DeleteUnpublished(_ context.Context, now time.Time) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var keep []storage.SigningKey
	var n int64
	for _, r := range m.rows {
		if r.RetiredAt != nil && r.PublishUntil.Before(now) {
			n++
			continue
		}
		keep = append(keep, r)
	}
	m.rows = keep
	return n, nil
}

var secret = []byte("0123456789abcdef0123456789abcdef")

func TestManagerLifecycle(t *testing.T) {
	ctx := context.Background()
	st := &memStore{}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	opts := Options{MaxTokenLifetime: time.Hour, RefreshInterval: time.Second, PropagationDelay: 2 * time.Second, Margin: time.Minute, Now: clock}
	m, err := New(ctx, st, secret, opts)
	if err != nil {
		t.Fatal(err)
	}
	first := m.Active()
	if first == nil || first.Alg != RS256 {
		t.Fatalf("first key %+v", first)
	}
	if _, ok := first.Signer.(*rsa.PrivateKey); !ok {
		t.Fatalf("RS256 signer is %T", first.Signer)
	}
	if tp, _ := Thumbprint(first.Public); tp != first.KID {
		t.Fatal("kid is not the RFC 7638 thumbprint")
	}
	// The private key is sealed at rest.
	if row := st.rows[0]; strings.Contains(string(row.PrivateKey), "PRIVATE") || len(row.PrivateKey) < 100 {
		t.Fatal("private key not sealed")
	}
	// A second manager over the same store loads the same key, not a new one.
	m2, err := New(ctx, st, secret, opts)
	if err != nil || m2.Active().KID != first.KID || len(st.rows) != 1 {
		t.Fatalf("reload made a new key: %v", err)
	}
	// The wrong secret cannot open it.
	if _, err := New(ctx, st, []byte("another-secret-another-secret-xx"), Options{Now: clock}); err == nil {
		t.Fatal("opened with the wrong secret")
	}

	now = now.Add(time.Minute)
	second, err := m.Rotate(ctx, RS256)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := second.Signer.(*rsa.PrivateKey); !ok || m.Active().KID != first.KID || m.State(second) != Pending {
		t.Fatal("rotation did not make a pending RS256 key")
	}
	// The other manager publishes it at its next refresh, and both sign
	// with it from its activation on.
	if err := m2.Refresh(ctx); err != nil || m2.Active().KID != first.KID {
		t.Fatalf("refresh did not pick up the rotation: %v", err)
	}
	now = now.Add(2 * time.Second)
	if m.Active().KID != second.KID || m2.Active().KID != second.KID {
		t.Fatal("the new key does not sign after its activation")
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(m.JWKS(), &set); err != nil || len(set.Keys) != 2 {
		t.Fatalf("JWKS during overlap: %s", m.JWKS())
	}
	for _, k := range set.Keys {
		if _, private := k["d"]; private {
			t.Fatal("JWKS publishes a private key")
		}
	}
	if _, ok := m.Lookup(first.KID); !ok {
		t.Fatal("retired key not found during its publish window")
	}
	// After the longest token lifetime (and the margin) from the activation,
	// the old key leaves the set and the store.
	now = now.Add(time.Hour + time.Minute + time.Second)
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Lookup(first.KID); ok {
		t.Fatal("expired key still published")
	}
	if n, err := m.Prune(ctx); err != nil || n != 1 || len(st.rows) != 1 {
		t.Fatalf("prune: %d %v", n, err)
	}
}

func TestSealBindsKID(t *testing.T) {
	ctx := context.Background()
	st := &memStore{}
	m, err := New(ctx, st, secret, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Moving a sealed key onto another row's kid must fail to open.
	st.rows[0].KID = "someone-else"
	if err := m.Refresh(ctx); err == nil {
		t.Fatal("a sealed key opened under another kid")
	}
}

func TestDerive(t *testing.T) {
	a, b := Derive(secret, "one"), Derive(secret, "two")
	if len(a) != 32 || string(a) == string(b) || string(a) != string(Derive(secret, "one")) {
		t.Fatal("Derive must be deterministic, 32 bytes, and separate purposes")
	}
}

// TestAlgorithms: a manager keeps one active key per algorithm of
// Options.Algs; a rotation of one leaves the other alone.
func TestAlgorithms(t *testing.T) {
	ctx := context.Background()
	both := []string{RS256, ES256}
	type env struct {
		st    *memStore
		now   time.Time
		clock func() time.Time
	}
	opts := func(e *env, algs []string) Options {
		return Options{Algs: algs, MaxTokenLifetime: time.Hour, RefreshInterval: time.Second, PropagationDelay: 2 * time.Second, Margin: time.Minute, Now: e.clock}
	}
	mustNew := func(t *testing.T, e *env, algs []string) *Manager {
		t.Helper()
		m, err := New(ctx, e.st, secret, opts(e, algs))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, c := range []struct {
		name string
		run  func(t *testing.T, e *env)
	}{
		{"a fresh store gets a key of each algorithm, signing at once", func(t *testing.T, e *env) {
			m := mustNew(t, e, both)
			rs, es := m.ActiveFor(RS256), m.ActiveFor(ES256)
			if rs == nil || es == nil || len(e.st.rows) != 2 {
				t.Fatalf("active RS256 %v, ES256 %v, %d rows; want one of each", rs, es, len(e.st.rows))
			}
			if _, ok := es.Signer.(*ecdsa.PrivateKey); !ok {
				t.Fatalf("ES256 signer is %T", es.Signer)
			}
			if m.Active().KID != rs.KID {
				t.Fatal("Active is not the default algorithm's key")
			}
			if got := m.Algs(); !slices.Contains(got, RS256) || !slices.Contains(got, ES256) {
				t.Fatalf("Algs %v, want both", got)
			}
			if kids := jwksKIDs(t, m); len(kids) != 2 {
				t.Fatalf("JWKS kids %v, want both keys", kids)
			}
		}},
		{"a rotation of ES256 leaves the RS256 key signing", func(t *testing.T, e *env) {
			m := mustNew(t, e, both)
			rs, es := m.ActiveFor(RS256), m.ActiveFor(ES256)
			k, err := m.Rotate(ctx, ES256)
			if err != nil {
				t.Fatal(err)
			}
			e.now = k.ActivatesAt
			if got := m.ActiveFor(ES256); got.KID != k.KID {
				t.Fatalf("ES256 signs with %s, want the new %s", got.KID, k.KID)
			}
			if got := m.ActiveFor(RS256); got.KID != rs.KID || got.RetiredAt != nil || m.State(got) != Active {
				t.Fatalf("RS256 key after an ES256 rotation: %+v, want %s untouched", got, rs.KID)
			}
			if old, _ := m.Lookup(es.KID); m.State(old) != Retired {
				t.Fatalf("old ES256 key %s, want retired", m.State(old))
			}
		}},
		{"an algorithm added to a running store activates after the propagation delay, older than the keys that sign", func(t *testing.T, e *env) {
			m1 := mustNew(t, e, []string{RS256})
			rs := m1.Active()
			e.now = e.now.Add(time.Hour)
			m2 := mustNew(t, e, both)
			if m2.ActiveFor(ES256) != nil {
				t.Fatal("the added ES256 key signs before other servers load it")
			}
			var added *Key
			for _, k := range m2.All() {
				if k.Alg == ES256 {
					added = k
				}
			}
			if added == nil || !added.ActivatesAt.Equal(e.now.Add(2*time.Second)) || !added.CreatedAt.Before(rs.CreatedAt) {
				t.Fatalf("added key %+v; want activation after 2 s, created before %v", added, rs.CreatedAt)
			}
			// A server of the previous release signs with the newest
			// signing key of any algorithm: still the RS256 one.
			e.now = added.ActivatesAt
			if err := m1.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			if got := newestSigning(m1.All(), e.now); got.KID != rs.KID {
				t.Fatalf("a previous-release server would sign with %s (%s), want %s", got.KID, got.Alg, rs.KID)
			}
			if got := m2.ActiveFor(ES256); got == nil || got.KID != added.KID {
				t.Fatal("the added key does not sign after its activation")
			}
			// Another start does not add a third.
			mustNew(t, e, both)
			if len(e.st.rows) != 2 {
				t.Fatalf("%d rows, want 2", len(e.st.rows))
			}
		}},
		{"an unknown algorithm is refused", func(t *testing.T, e *env) {
			if _, err := New(ctx, e.st, secret, opts(e, []string{RS256, "HS256"})); !errors.Is(err, ErrUnknownAlg) {
				t.Fatalf("New = %v, want ErrUnknownAlg", err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := &env{st: &memStore{}, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			e.clock = func() time.Time { return e.now }
			c.run(t, e)
		})
	}
}

// newestSigning is what a server of the release before per-algorithm keys
// signed with: the newest key (by creation) whose window holds now.
func newestSigning(ks []*Key, now time.Time) *Key {
	for _, k := range ks { // newest first
		if k.signsAt(now) {
			return k
		}
	}
	return nil
}
