package storage_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

// TestCheckCodeConcurrent: of many concurrent tries of one one-time code,
// exactly one right try wins, and after a burst of wrong tries the code is
// dead (on MySQL a plain SELECT reads a snapshot, so every try saw the
// code unused before the locking read).
func TestCheckCodeConcurrent(t *testing.T) {
	now := time.Now().UTC()
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			b.Check(t)
			ctx := context.Background()
			db := storagetest.OpenDSN(t, b.NewDSN(t))
			a := storage.NewAccounts(db)
			email := "code@example.com"
			acct := storage.Account{ID: "00000000-0000-4000-8000-0000000000c1", Email: &email, CreatedAt: now, UpdatedAt: now}
			if err := a.CreateAccount(ctx, &acct); err != nil {
				t.Fatal(err)
			}
			newCode := func(id string) {
				t.Helper()
				if err := a.CreateConfirmation(ctx, &storage.Confirmation{ID: id, AccountID: acct.ID, Purpose: "sms", Target: "+4915112345678",
					CodeHash: "right", CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}); err != nil {
					t.Fatal(err)
				}
			}
			try := func(n int, hash string) (wins, used, other int) {
				var mu sync.Mutex
				var wg sync.WaitGroup
				for range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, err := a.CheckCode(ctx, acct.ID, "sms", now, 5, func(stored string) bool { return stored == hash })
						mu.Lock()
						defer mu.Unlock()
						switch {
						case err == nil:
							wins++
						case errors.Is(err, storage.ErrUsed) || errors.Is(err, storage.ErrNotFound):
							used++
						default:
							other++
							t.Logf("try: %v", err)
						}
					}()
				}
				wg.Wait()
				return
			}

			tests := []struct {
				name     string
				id, hash string
				tries    int
				wantWins int
			}{
				{name: "right code, tried at once", id: "c1", hash: "right", tries: 12, wantWins: 1},
				{name: "wrong code, tried at once", id: "c2", hash: "wrong", tries: 12, wantWins: 0},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					newCode(tt.id)
					wins, _, other := try(tt.tries, tt.hash)
					if wins != tt.wantWins || other != 0 {
						t.Fatalf("%d wins, %d failures other than used/wrong; want %d wins", wins, other, tt.wantWins)
					}
					// Nothing is left to win: the code is used, or dead.
					if wins, _, _ := try(1, "right"); wins != 0 {
						t.Error("the code worked again after the race")
					}
				})
			}
		})
	}
}
