package idp_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

// knownEnv is a service whose throttles live in the database, with device
// cookies, the accounts ana and bob, and a small lock: three failures from
// unknown sources lock an account; a known source has three of its own.
type knownEnv struct {
	svc      *idp.Service
	accounts *storage.Accounts
	clk      *fakeClock
	ana, bob *storage.Account
}

func newKnownEnv(t *testing.T, b storagetest.Backend, buckets func(*storage.DB) idp.BucketStore) knownEnv {
	t.Helper()
	db := b.Open(t)
	clk := &fakeClock{t: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)}
	pw, err := idp.NewPasswords(idp.Argon2Params{MemoryKiB: 8192, Time: 1, Parallelism: 1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	a := storage.NewAccounts(db)
	svc, err := idp.New(idp.Config{MaxFailures: 3, Known: idp.Budget{Burst: 3, Interval: time.Hour}},
		idp.Deps{Accounts: a, Sessions: a, Consents: a, Passwords: pw, Now: clk.Now, Buckets: buckets(db), DeviceKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	e := knownEnv{svc: svc, accounts: a, clk: clk}
	for _, p := range []struct {
		email string
		into  **storage.Account
	}{{"ana@example.com", &e.ana}, {"bob@example.com", &e.bob}} {
		acct, err := svc.CreateAccount(context.Background(), idp.NewAccount{Email: p.email, Password: "the right one", EmailVerified: true})
		if err != nil {
			t.Fatal(err)
		}
		*p.into = acct
	}
	return e
}

func dbBuckets(db *storage.DB) idp.BucketStore { return storage.NewThrottles(db) }

const right, wrong = "the right one", "a wrong guess"

// TestKnownSources: an attacker's failures lock the account for unknown
// sources only; the owner's device (a device cookie from an earlier
// sign-in) and a tenant's back end still sign in, each with a budget of
// its own that its own failures spend.
func TestKnownSources(t *testing.T) {
	ctx := context.Background()
	attacker := func(i int) idp.Source { return idp.FromAddr("198.51.100." + string(rune('1'+i))) }
	try := func(e knownEnv, src idp.Source, email, pw string) error {
		_, err := e.svc.AuthenticateFor(ctx, "", email, pw, src)
		return err
	}
	lockAna := func(t *testing.T, e knownEnv) {
		t.Helper()
		for i := range 3 {
			if err := try(e, attacker(i), "ana@example.com", wrong); !errors.Is(err, idp.ErrInvalidCredentials) {
				t.Fatalf("attacker's guess %d: %v", i, err)
			}
		}
		if err := try(e, attacker(5), "ana@example.com", right); !errors.Is(err, idp.ErrInvalidCredentials) {
			t.Fatalf("after three failures, the right password from an unknown source: %v, want the lock's refusal", err)
		}
	}
	cases := []struct {
		name string
		run  func(t *testing.T, e knownEnv)
	}{
		{"the owner's device signs in while the account is locked for unknown sources", func(t *testing.T, e knownEnv) {
			device := idp.Source{Addr: "203.0.113.9", Device: e.svc.DeviceToken(e.ana.ID)}
			lockAna(t, e)
			if err := try(e, device, "ana@example.com", right); err != nil {
				t.Fatalf("the owner's device was locked out by the attacker: %v", err)
			}
			// The owner's sign-in does not reset the attacker's lock.
			if err := try(e, attacker(6), "ana@example.com", right); !errors.Is(err, idp.ErrInvalidCredentials) {
				t.Fatalf("the lock for unknown sources ended with the owner's sign-in: %v", err)
			}
		}},
		{"the owner's device is locked by its own failures, not the account", func(t *testing.T, e knownEnv) {
			device := idp.Source{Addr: "203.0.113.9", Device: e.svc.DeviceToken(e.ana.ID)}
			for i := range 3 {
				if err := try(e, device, "ana@example.com", wrong); !errors.Is(err, idp.ErrInvalidCredentials) {
					t.Fatalf("device's guess %d: %v", i, err)
				}
			}
			if err := try(e, device, "ana@example.com", right); !errors.Is(err, idp.ErrThrottled) {
				t.Fatalf("after its own three failures the device still signs in: %v", err)
			}
			// Its failures were its own: unknown sources are not locked.
			if err := try(e, attacker(0), "ana@example.com", right); err != nil {
				t.Fatalf("a device's failures locked the account for everyone: %v", err)
			}
			e.clk.Add(time.Hour)
			if err := try(e, device, "ana@example.com", right); err != nil {
				t.Fatalf("an hour later: %v", err)
			}
		}},
		{"a device cookie of another account, or a forged one, is an unknown source", func(t *testing.T, e knownEnv) {
			lockAna(t, e)
			for name, dev := range map[string]string{"bob's": e.svc.DeviceToken(e.bob.ID), "forged": "v1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
				"truncated": e.svc.DeviceToken(e.ana.ID)[:40]} {
				if err := try(e, idp.Source{Addr: "203.0.113.9", Device: dev}, "ana@example.com", right); !errors.Is(err, idp.ErrInvalidCredentials) {
					t.Errorf("%s device cookie passed the lock: %v", name, err)
				}
			}
		}},
		{"an expired device cookie is an unknown source", func(t *testing.T, e knownEnv) {
			dev := e.svc.DeviceToken(e.ana.ID)
			e.clk.Add(idp.DeviceTTL + time.Hour)
			lockAna(t, e)
			if err := try(e, idp.Source{Device: dev}, "ana@example.com", right); !errors.Is(err, idp.ErrInvalidCredentials) {
				t.Fatalf("a year-old device cookie passed the lock: %v", err)
			}
		}},
		{"a tenant's back end signs its end user in while the account is locked for unknown sources", func(t *testing.T, e knownEnv) {
			backend := idp.Source{Backend: "shop"}
			lockAna(t, e)
			if err := try(e, backend, "ana@example.com", right); err != nil {
				t.Fatalf("the tenant's back end was locked out by the attacker: %v", err)
			}
			// Its own failures spend its budget for this end user only.
			for range 3 {
				_ = try(e, backend, "bob@example.com", wrong)
			}
			if err := try(e, backend, "bob@example.com", right); !errors.Is(err, idp.ErrThrottled) {
				t.Fatalf("bob after three failures through the back end: %v, want ErrThrottled", err)
			}
			if err := try(e, backend, "ana@example.com", right); err != nil {
				t.Fatalf("bob's failures through the back end stopped ana: %v", err)
			}
			if err := try(e, idp.Source{Backend: "other"}, "bob@example.com", right); err != nil {
				t.Fatalf("another tenant's back end shares the budget: %v", err)
			}
			if err := try(e, attacker(7), "bob@example.com", right); err != nil {
				t.Fatalf("failures through a back end locked bob for unknown sources: %v", err)
			}
		}},
		{"a back end's budget is per account, whatever identifier or spelling names it", func(t *testing.T, e knownEnv) {
			backend := idp.Source{Backend: "shop"}
			for _, id := range []string{"bob@example.com", "BOB@example.com", " bob@example.com"} {
				_ = try(e, backend, id, wrong)
			}
			if err := try(e, backend, "Bob@Example.com", right); !errors.Is(err, idp.ErrThrottled) {
				t.Fatalf("a spelling got a budget of its own: %v", err)
			}
		}},
	}
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			b.Check(t)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(t, newKnownEnv(t, b, dbBuckets))
				})
			}
		})
	}
}

// failingBuckets is a bucket store whose database is down.
type failingBuckets struct{}

var errDown = errors.New("storage: database unavailable")

func (failingBuckets) Take(context.Context, string, time.Time, int, time.Duration) (bool, error) {
	return false, errDown
}
func (failingBuckets) Refund(context.Context, string, time.Duration) error { return errDown }

// TestThrottleStoreDown: when the throttle's store fails, nothing is
// guessed and the caller gets the failure (a 503), neither "too many
// attempts" nor an unthrottled attempt.
func TestThrottleStoreDown(t *testing.T) {
	e := newKnownEnv(t, storagetest.SQLite(), func(*storage.DB) idp.BucketStore { return failingBuckets{} })
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"sign-in": func() error {
			_, err := e.svc.AuthenticateFor(ctx, "", "ana@example.com", wrong, idp.FromAddr("198.51.100.1"))
			return err
		},
		"sign-in from a back end": func() error {
			_, err := e.svc.AuthenticateFor(ctx, "", "ana@example.com", wrong, idp.Source{Backend: "shop"})
			return err
		},
	} {
		err := call()
		if !errors.Is(err, errDown) || errors.Is(err, idp.ErrThrottled) || errors.Is(err, idp.ErrInvalidCredentials) {
			t.Errorf("%s with the throttle down: %v, want the store's failure", name, err)
		}
	}
	a, err := e.accounts.AccountByEmail(ctx, "ana@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if a.FailedLogins != 0 {
		t.Fatalf("a guess was checked while the throttle was down (%d failures counted)", a.FailedLogins)
	}
}
