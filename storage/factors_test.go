package storage_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

// TestFactors is the second-factor store on every backend: enrolments
// replace each other until confirmed, a TOTP step advances once under
// concurrency, recovery codes and pending sign-ins are single use,
// trusted devices expire, and the last factor takes its codes and devices.
func TestFactors(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			b.Check(t)
			ctx := context.Background()
			db := b.Open(t)
			accts, fs := storage.NewAccounts(db), storage.NewFactors(db)
			e := "f@example.com"
			acct := &storage.Account{ID: "00000000-0000-4000-8000-0000000000f1", Email: &e, CreatedAt: now, UpdatedAt: now}
			if err := accts.CreateAccount(ctx, acct); err != nil {
				t.Fatal(err)
			}
			id := acct.ID
			t.Run("enrolments replace each other until confirmed", func(t *testing.T) {
				for _, fid := range []string{"f-1", "f-2"} {
					if err := fs.PutFactor(ctx, &storage.Factor{ID: fid, AccountID: id, Kind: "totp", Secret: "sealed-" + fid, CreatedAt: now}); err != nil {
						t.Fatal(err)
					}
				}
				f, err := fs.Factor(ctx, id, "totp")
				if err != nil || f.ID != "f-2" || f.Confirmed {
					t.Fatalf("factor %+v %v", f, err)
				}
				if got, _ := fs.ConfirmedFactors(ctx, id); len(got) != 0 {
					t.Fatalf("an unconfirmed factor listed: %+v", got)
				}
				if err := fs.ConfirmFactor(ctx, "f-1", 5, now); !errors.Is(err, storage.ErrConflict) {
					t.Fatalf("confirming a replaced enrolment: %v", err)
				}
				if err := fs.ConfirmFactor(ctx, "f-2", 5, now); err != nil {
					t.Fatal(err)
				}
				if err := fs.ConfirmFactor(ctx, "f-2", 6, now); !errors.Is(err, storage.ErrConflict) {
					t.Fatalf("confirming twice: %v", err)
				}
				if err := fs.PutFactor(ctx, &storage.Factor{ID: "f-3", AccountID: id, Kind: "totp", CreatedAt: now}); !errors.Is(err, storage.ErrDuplicate) {
					t.Fatalf("a second confirmed TOTP: %v", err)
				}
				if got, _ := fs.ConfirmedFactors(ctx, id); len(got) != 1 || got[0].LastStep != 5 || got[0].Secret != "sealed-f-2" {
					t.Fatalf("confirmed %+v", got)
				}
			})
			t.Run("a step advances once, even concurrently", func(t *testing.T) {
				var wins atomic.Int32
				var wg sync.WaitGroup
				for range 8 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if err := fs.AdvanceStep(ctx, "f-2", 7); err == nil {
							wins.Add(1)
						} else if !errors.Is(err, storage.ErrConflict) {
							t.Error(err)
						}
					}()
				}
				wg.Wait()
				if wins.Load() != 1 {
					t.Fatalf("%d uses of one step won", wins.Load())
				}
				if err := fs.AdvanceStep(ctx, "f-2", 6); !errors.Is(err, storage.ErrConflict) {
					t.Fatalf("an older step: %v", err)
				}
			})
			t.Run("recovery codes are single use and replaced as a set", func(t *testing.T) {
				if err := fs.ReplaceRecoveryCodes(ctx, id, []string{"h1", "h2", "h3"}, now); err != nil {
					t.Fatal(err)
				}
				if err := fs.UseRecoveryCode(ctx, id, "h2", now); err != nil {
					t.Fatal(err)
				}
				cases := []struct{ name, account, hash string }{{"used", id, "h2"}, {"unknown", id, "h9"}, {"another account's", "other", "h1"}}
				for _, c := range cases {
					if err := fs.UseRecoveryCode(ctx, c.account, c.hash, now); !errors.Is(err, storage.ErrNotFound) {
						t.Fatalf("%s code: %v", c.name, err)
					}
				}
				if n, _ := fs.RecoveryCodesLeft(ctx, id); n != 2 {
					t.Fatalf("left %d", n)
				}
				if err := fs.ReplaceRecoveryCodes(ctx, id, []string{"h4"}, now); err != nil {
					t.Fatal(err)
				}
				if err := fs.UseRecoveryCode(ctx, id, "h1", now); !errors.Is(err, storage.ErrNotFound) {
					t.Fatalf("an old code after replacement: %v", err)
				}
			})
			t.Run("pending sign-ins: wrong codes end them, taken once", func(t *testing.T) {
				p := &storage.PendingLogin{ID: "p1", AccountID: id, AMR: "pwd", CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
				if err := fs.CreatePending(ctx, p); err != nil {
					t.Fatal(err)
				}
				if _, err := fs.Pending(ctx, "p1", now.Add(11*time.Minute)); !errors.Is(err, storage.ErrNotFound) {
					t.Fatalf("an expired pending sign-in: %v", err)
				}
				for i := range 4 {
					if err := fs.PendingFailed(ctx, "p1", 5); err != nil {
						t.Fatalf("wrong code %d: %v", i+1, err)
					}
				}
				if err := fs.PendingFailed(ctx, "p1", 5); !errors.Is(err, storage.ErrUsed) {
					t.Fatalf("fifth wrong code: %v", err)
				}
				if _, err := fs.Pending(ctx, "p1", now); !errors.Is(err, storage.ErrNotFound) {
					t.Fatalf("after five wrong codes: %v", err)
				}
				_ = fs.CreatePending(ctx, &storage.PendingLogin{ID: "p2", AccountID: id, AMR: "pwd", CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)})
				if err := fs.TakePending(ctx, "p2"); err != nil {
					t.Fatal(err)
				}
				if err := fs.TakePending(ctx, "p2"); !errors.Is(err, storage.ErrNotFound) {
					t.Fatalf("taken twice: %v", err)
				}
			})
			t.Run("trusted devices expire and the last factor takes them", func(t *testing.T) {
				for _, d := range []storage.TrustedDevice{{ID: "d1", Name: "a"}, {ID: "d2", Name: "b"}} {
					d.AccountID, d.CreatedAt, d.LastUsedAt, d.ExpiresAt = id, now, now, now.Add(24*time.Hour)
					if err := fs.CreateTrustedDevice(ctx, &d); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := fs.TrustedDevice(ctx, "d1", "other", now); !errors.Is(err, storage.ErrNotFound) {
					t.Fatalf("another account's device: %v", err)
				}
				if _, err := fs.TrustedDevice(ctx, "d1", id, now.Add(25*time.Hour)); !errors.Is(err, storage.ErrNotFound) {
					t.Fatalf("an expired device: %v", err)
				}
				if err := fs.DeleteTrustedDevice(ctx, id, "d1"); err != nil {
					t.Fatal(err)
				}
				if ds, _ := fs.TrustedDevices(ctx, id, now); len(ds) != 1 || ds[0].ID != "d2" {
					t.Fatalf("devices %+v", ds)
				}
				if err := fs.DeleteFactor(ctx, id, "totp"); err != nil {
					t.Fatal(err)
				}
				if err := fs.DeleteFactor(ctx, id, "totp"); !errors.Is(err, storage.ErrNotFound) {
					t.Fatalf("deleting twice: %v", err)
				}
				ds, _ := fs.TrustedDevices(ctx, id, now)
				n, _ := fs.RecoveryCodesLeft(ctx, id)
				if len(ds) != 0 || n != 0 {
					t.Fatalf("the last factor left %d devices and %d codes", len(ds), n)
				}
			})
		})
	}
}
