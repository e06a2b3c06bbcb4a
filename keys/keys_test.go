package keys

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
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
		if r.RetiredAt == nil || r.RetiredAt.After(act) {
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
	second, err := m.Rotate(ctx, ES256)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := second.Signer.(*ecdsa.PrivateKey); !ok || m.Active().KID != first.KID || m.State(second) != Pending {
		t.Fatal("rotation did not make a pending ES256 key")
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
