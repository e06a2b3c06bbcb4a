package storage_test

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

// TestFingerprint: the fingerprint covers every table, stays put across
// reads, and changes on an UPDATE that leaves the row counts alone.
func TestFingerprint(t *testing.T) {
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			db := b.Open(t)
			ctx := context.Background()
			fp := func() map[string]string {
				t.Helper()
				f, err := db.Fingerprint(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return f
			}
			first := fp()
			counts, err := db.RowCounts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, tbl := range append(mapsKeys(counts), "mfa_factors", "mfa_trusted_devices", "schema_migrations") {
				if _, ok := first[tbl]; !ok {
					t.Errorf("fingerprint lacks table %s: %v", tbl, first)
				}
			}
			accts := storage.NewAccounts(db)
			now := time.Now().UTC().Truncate(time.Second)
			e := "fp@example.com"
			if err := accts.CreateAccount(ctx, &storage.Account{ID: "00000000-0000-4000-8000-0000000000fa", Email: &e, CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
			created := fp()
			if maps.Equal(first, created) {
				t.Fatal("an INSERT left the fingerprint unchanged")
			}
			if _, err := accts.AccountByEmail(ctx, e); err != nil {
				t.Fatal(err)
			}
			if again := fp(); !maps.Equal(created, again) {
				t.Fatalf("a read changed the fingerprint: %v → %v", created, again)
			}
			before, _ := db.RowCounts(ctx)
			if err := accts.SetPasswordHash(ctx, "00000000-0000-4000-8000-0000000000fa", "$argon2id$v=19$m=8192,t=1,p=1$c2FsdA$aGFzaA"); err != nil {
				t.Fatal(err)
			}
			after, _ := db.RowCounts(ctx)
			if !maps.Equal(before, after) {
				t.Fatalf("an UPDATE changed the row counts: %v → %v", before, after)
			}
			updated := fp()
			if updated["accounts"] == created["accounts"] {
				t.Fatal("an UPDATE left the accounts fingerprint unchanged")
			}
			for k, v := range updated {
				if k != "accounts" && created[k] != v {
					t.Errorf("table %s changed: %s → %s", k, created[k], v)
				}
			}
		})
	}
}

func mapsKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
