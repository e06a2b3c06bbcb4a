package storage_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

func TestMemberships(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			b.Check(t)
			ctx := context.Background()
			db := b.Open(t)
			accts, tenants := storage.NewAccounts(db), storage.NewTenants(db)
			for _, id := range []string{"t1", "t2"} {
				if err := tenants.Create(ctx, &storage.Tenant{ID: id, Name: id, CustomerToken: "ct-" + id, AccessTokenFormat: "opaque", CreatedAt: now, UpdatedAt: now}); err != nil {
					t.Fatal(err)
				}
			}
			var ids []string
			for i := range 5 {
				e := fmt.Sprintf("m%d@example.com", i)
				a := &storage.Account{ID: fmt.Sprintf("00000000-0000-4000-8000-00000000000%d", i), Email: &e, CreatedAt: now, UpdatedAt: now}
				if err := accts.CreateAccount(ctx, a); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, a.ID)
			}
			t.Run("joining is idempotent and keeps how the account joined", func(t *testing.T) {
				if j, err := accts.EnsureMembership(ctx, ids[0], "t1", "registration", now); err != nil || !j {
					t.Fatalf("first join: %v %v", j, err)
				}
				if j, err := accts.EnsureMembership(ctx, ids[0], "t1", "sign-in", now); err != nil || j {
					t.Fatalf("second join: %v %v", j, err)
				}
				m, err := accts.Membership(ctx, ids[0], "t1")
				if err != nil || m.JoinedVia != "registration" || m.CustomFields == nil {
					t.Fatalf("membership %+v %v", m, err)
				}
				if _, err := accts.Membership(ctx, ids[0], "t2"); err == nil {
					t.Fatal("a member of t1 is a member of t2")
				}
			})
			t.Run("concurrent first sign-ins join once", func(t *testing.T) {
				var joined atomic.Int32
				var wg sync.WaitGroup
				for range 8 {
					wg.Go(func() {
						j, err := accts.EnsureMembership(ctx, ids[1], "t2", "sign-in", now)
						if err != nil {
							t.Error(err)
						}
						if j {
							joined.Add(1)
						}
					})
				}
				wg.Wait()
				if joined.Load() != 1 {
					t.Fatalf("%d joins reported, want 1", joined.Load())
				}
			})
			t.Run("members are listed per tenant, in pages", func(t *testing.T) {
				for _, id := range ids[2:] {
					if _, err := accts.EnsureMembership(ctx, id, "t1", "sign-in", now); err != nil {
						t.Fatal(err)
					}
				}
				var seen []string
				after := ""
				for {
					page, err := accts.Members(ctx, "t1", after, 2)
					if err != nil {
						t.Fatal(err)
					}
					if len(page) == 0 {
						break
					}
					for _, m := range page {
						seen = append(seen, m.AccountID)
						after = m.AccountID
					}
				}
				if len(seen) != 4 { // ids[0] and ids[2:]
					t.Fatalf("t1 members %v", seen)
				}
			})
			t.Run("deleting a tenant ends its memberships", func(t *testing.T) {
				if err := tenants.Delete(ctx, "t2"); err != nil {
					t.Fatal(err)
				}
				if _, err := accts.Membership(ctx, ids[1], "t2"); err == nil {
					t.Fatal("membership of a deleted tenant survived")
				}
			})
		})
	}
}
