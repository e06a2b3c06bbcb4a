package idp_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

// TestSignInThrottleAtOnce: wrong passwords sent at once from one address
// get no more password checks than its budget (the budget used to be
// checked before any of them was counted, so all of them were tried).
func TestSignInThrottleAtOnce(t *testing.T) {
	db := storagetest.OpenDSN(t, "sqlite:"+t.TempDir()+"/t.db")
	pw, _ := idp.NewPasswords(idp.Argon2Params{MemoryKiB: 8192, Time: 1, Parallelism: 1}, 2)
	a := storage.NewAccounts(db)
	svc, err := idp.New(idp.Config{SignIn: idp.Budget{Burst: 5, Interval: 30 * time.Second}}, idp.Deps{Accounts: a, Sessions: a, Consents: a, Passwords: pw})
	if err != nil {
		t.Fatal(err)
	}
	var checked, throttled atomic.Int32
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := svc.Authenticate(context.Background(), "nobody@example.com", "guess number "+string(rune('a'+i%26)), "2001:db8:7:7::"+string(rune('1'+i%9)))
			switch {
			case errors.Is(err, idp.ErrThrottled):
				throttled.Add(1)
			case errors.Is(err, idp.ErrInvalidCredentials):
				checked.Add(1)
			default:
				t.Errorf("sign-in: %v", err)
			}
		}()
	}
	wg.Wait()
	if checked.Load() != 5 || throttled.Load() != 35 {
		t.Fatalf("%d guesses checked and %d throttled from one /64, want 5 and 35", checked.Load(), throttled.Load())
	}
}
