package storage_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

// TestSigningKeyActivation covers the activation time a rotation stores
// (migration 13) and the publication rules around it.
func TestSigningKeyActivation(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	key := func(kid string, created time.Time, activates *time.Time) *storage.SigningKey {
		return &storage.SigningKey{KID: kid, Alg: "RS256", PrivateKey: []byte("sealed-" + kid), CreatedAt: created, ActivatesAt: activates}
	}
	at := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	rows := func(t *testing.T, ks *storage.SigningKeys) map[string]storage.SigningKey {
		t.Helper()
		got, err := ks.ListKeys(bg)
		must(t, "ListKeys", err)
		m := map[string]storage.SigningKey{}
		for _, k := range got {
			m[k.KID] = k
		}
		return m
	}
	eq := func(a, b *time.Time) bool { return (a == nil) == (b == nil) && (a == nil || a.Equal(*b)) }
	want := func(t *testing.T, k storage.SigningKey, activates, retired, until *time.Time) {
		t.Helper()
		if !eq(k.ActivatesAt, activates) || !eq(k.RetiredAt, retired) || !eq(k.PublishUntil, until) {
			t.Errorf("key %s: activates %v, retired %v, published until %v; want %v, %v, %v",
				k.KID, k.ActivatesAt, k.RetiredAt, k.PublishUntil, activates, retired, until)
		}
	}
	runOnBackends(t, []dbCase{
		{"a key without an activation time activates at its creation", func(t *testing.T, e env) {
			ks := storage.NewSigningKeys(e.db)
			must(t, "AddKey", ks.AddKey(bg, key("k1", t0, nil), t0.Add(time.Hour)))
			want(t, rows(t, ks)["k1"], at(0), nil, nil)
		}},
		{"a key of the other algorithm retires nothing", func(t *testing.T, e env) {
			ks := storage.NewSigningKeys(e.db)
			must(t, "AddKey(rsa)", ks.AddKey(bg, key("rsa", t0, nil), t0))
			ec := key("ec", t0.Add(time.Hour), nil)
			ec.Alg = "ES256"
			must(t, "AddKey(ec)", ks.AddKey(bg, ec, t0.Add(2*time.Hour)))
			got := rows(t, ks)
			want(t, got["rsa"], at(0), nil, nil)
			want(t, got["ec"], at(time.Hour), nil, nil)
			// A rotation of ES256 retires the ES256 key only.
			ec2 := key("ec2", t0.Add(2*time.Hour), nil)
			ec2.Alg = "ES256"
			must(t, "AddKey(ec2)", ks.AddKey(bg, ec2, t0.Add(3*time.Hour)))
			got = rows(t, ks)
			want(t, got["rsa"], at(0), nil, nil)
			want(t, got["ec"], at(time.Hour), at(2*time.Hour), at(3*time.Hour))
		}},
		{"a pending key retires the current one at its activation", func(t *testing.T, e env) {
			ks := storage.NewSigningKeys(e.db)
			must(t, "AddKey(k1)", ks.AddKey(bg, key("k1", t0, nil), t0))
			must(t, "AddKey(k2)", ks.AddKey(bg, key("k2", t0.Add(time.Hour), at(time.Hour+time.Minute)), t0.Add(3*time.Hour)))
			got := rows(t, ks)
			want(t, got["k1"], at(0), at(time.Hour+time.Minute), at(3*time.Hour))
			want(t, got["k2"], at(time.Hour+time.Minute), nil, nil)
		}},
		{"a second rotation before the activation ends the pending key's window at its own", func(t *testing.T, e env) {
			ks := storage.NewSigningKeys(e.db)
			must(t, "AddKey(k1)", ks.AddKey(bg, key("k1", t0, nil), t0))
			must(t, "AddKey(k2)", ks.AddKey(bg, key("k2", t0.Add(time.Hour), at(time.Hour+time.Minute)), t0.Add(3*time.Hour)))
			must(t, "AddKey(k3)", ks.AddKey(bg, key("k3", t0.Add(time.Hour+30*time.Second), at(time.Hour+90*time.Second)), t0.Add(4*time.Hour)))
			got := rows(t, ks)
			want(t, got["k1"], at(0), at(time.Hour+time.Minute), at(3*time.Hour)) // already retired earlier: untouched
			want(t, got["k2"], at(time.Hour+time.Minute), at(time.Hour+90*time.Second), at(4*time.Hour))
			want(t, got["k3"], at(time.Hour+90*time.Second), nil, nil)
		}},
		{"an immediate key cancels a pending one and retires the current one at once", func(t *testing.T, e env) {
			ks := storage.NewSigningKeys(e.db)
			must(t, "AddKey(k1)", ks.AddKey(bg, key("k1", t0, nil), t0))
			must(t, "AddKey(k2)", ks.AddKey(bg, key("k2", t0.Add(time.Hour), at(time.Hour+time.Minute)), t0.Add(5*time.Hour)))
			must(t, "AddKey(k3)", ks.AddKey(bg, key("k3", t0.Add(time.Hour+10*time.Second), nil), t0.Add(4*time.Hour)))
			got := rows(t, ks)
			// Publications never shrink: k1 keeps its 5 h; k2 (pending, so
			// published indefinitely until now) gets the new 4 h.
			want(t, got["k1"], at(0), at(time.Hour+10*time.Second), at(5*time.Hour))
			want(t, got["k2"], at(time.Hour+time.Minute), at(time.Hour+10*time.Second), at(4*time.Hour))
			want(t, got["k3"], at(time.Hour+10*time.Second), nil, nil)
		}},
		{"extend publication only raises it, and only for retired keys", func(t *testing.T, e env) {
			ks := storage.NewSigningKeys(e.db)
			must(t, "AddKey(k1)", ks.AddKey(bg, key("k1", t0, nil), t0))
			must(t, "AddKey(k2)", ks.AddKey(bg, key("k2", t0.Add(time.Hour), nil), t0.Add(2*time.Hour)))
			for _, c := range []struct {
				name    string
				kid     string
				until   time.Time
				changed bool
				want    *time.Time
			}{
				{"raise", "k1", t0.Add(3 * time.Hour), true, at(3 * time.Hour)},
				{"lower: no", "k1", t0.Add(time.Hour), false, at(3 * time.Hour)},
				{"same: no", "k1", t0.Add(3 * time.Hour), false, at(3 * time.Hour)},
				{"the current key: no", "k2", t0.Add(9 * time.Hour), false, nil},
				{"unknown kid: no", "nope", t0.Add(9 * time.Hour), false, nil},
			} {
				changed, err := ks.ExtendPublication(bg, c.kid, c.until)
				if err != nil || changed != c.changed {
					t.Errorf("%s: ExtendPublication = %v, %v; want %v", c.name, changed, err, c.changed)
				}
				if k, ok := rows(t, ks)[c.kid]; ok && !eq(k.PublishUntil, c.want) {
					t.Errorf("%s: published until %v, want %v", c.name, k.PublishUntil, c.want)
				}
			}
		}},
		{"migration 13 backfills the activation of existing keys and re-runs as a no-op", func(t *testing.T, e env) {
			// Put the database back to version 12 with a key made then.
			raw := storagetest.Raw(t, e.dsn)
			if err := raw.Migrator().DropColumn(&storage.SigningKey{}, "ActivatesAt"); err != nil {
				t.Fatalf("drop column: %v", err)
			}
			if err := raw.Exec("DELETE FROM schema_migrations WHERE version = 13").Error; err != nil {
				t.Fatal(err)
			}
			if err := raw.Exec("INSERT INTO signing_keys (kid, alg, private_key, created_at) VALUES (?, ?, ?, ?)",
				"old", "RS256", []byte("x"), t0).Error; err != nil {
				t.Fatal(err)
			}
			applied, err := e.db.Migrate(context.Background())
			if err != nil || !slices.Equal(applied, []int{13}) {
				t.Fatalf("Migrate = %v, %v; want [13]", applied, err)
			}
			ks := storage.NewSigningKeys(e.db)
			want(t, rows(t, ks)["old"], at(0), nil, nil)
			applied, err = e.db.Migrate(context.Background())
			if err != nil || len(applied) != 0 {
				t.Fatalf("second Migrate = %v, %v; want nothing", applied, err)
			}
		}},
	})
}
