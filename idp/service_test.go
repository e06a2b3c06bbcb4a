package idp_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newService(t *testing.T, b storagetest.Backend, clk *fakeClock, cfg idp.Config) *idp.Service {
	t.Helper()
	db := b.Open(t)
	pw, err := idp.NewPasswords(idp.Argon2Params{MemoryKiB: 8192, Time: 1, Parallelism: 1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	a := storage.NewAccounts(db)
	svc, err := idp.New(cfg, idp.Deps{Accounts: a, Sessions: a, Consents: a, Passwords: pw, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateAccount(context.Background(), idp.NewAccount{Email: "ana@example.com", Password: "the right one", EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	return svc
}

// TestLockout: five wrong passwords within the window lock the account,
// for a period that grows with each lock; while locked even the right
// password gets the generic refusal; a success resets everything.
func TestLockout(t *testing.T) {
	type step struct {
		advance  time.Duration
		password string
		ok       bool
	}
	wrong, right := "wrong password", "the right one"
	fails := func(n int) []step {
		var s []step
		for range n {
			s = append(s, step{0, wrong, false})
		}
		return s
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"four failures do not lock", append(fails(4), step{0, right, true})},
		{"five failures lock, even against the right password", append(fails(5), step{30 * time.Second, right, false})},
		{"the first lock lasts a minute", append(fails(5), step{61 * time.Second, right, true})},
		{"failures spread beyond the window do not add up", append(append(fails(4), step{16 * time.Minute, wrong, false}), append(fails(3), step{0, right, true})...)},
		{"the second lock lasts twice as long", append(append(append(fails(5), step{61 * time.Second, wrong, false}), fails(4)...),
			step{61 * time.Second, right, false}, step{61 * time.Second, right, true})},
		{"a success resets the count", append(append(fails(4), step{0, right, true}), append(fails(4), step{0, right, true})...)},
	}
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			b.Check(t)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					clk := &fakeClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
					svc := newService(t, b, clk, idp.Config{SignIn: idp.Budget{Burst: 1000, Interval: time.Second}})
					for i, st := range tc.steps {
						clk.Add(st.advance)
						_, err := svc.Authenticate(context.Background(), "ana@example.com", st.password, "198.51.100.7")
						if st.ok != (err == nil) {
							t.Fatalf("step %d (%q after %v): err = %v, want ok=%v", i, st.password, st.advance, err, st.ok)
						}
						if err != nil && !errors.Is(err, idp.ErrInvalidCredentials) {
							t.Fatalf("step %d: %v, want the generic ErrInvalidCredentials", i, err)
						}
					}
				})
			}
		})
	}
}

// TestIPThrottle: an address that keeps failing is refused without any
// password work until its budget refills; other addresses are unaffected.
func TestIPThrottle(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	svc := newService(t, storagetest.SQLite(), clk, idp.Config{SignIn: idp.Budget{Burst: 3, Interval: 30 * time.Second}, MaxFailures: 1000})
	ctx := context.Background()
	try := func(pw, ip string) error {
		_, err := svc.Authenticate(ctx, "nobody@example.com", pw, ip)
		return err
	}
	for i := range 3 {
		if err := try("x", "203.0.113.1"); !errors.Is(err, idp.ErrInvalidCredentials) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if err := try("x", "203.0.113.1"); !errors.Is(err, idp.ErrThrottled) {
		t.Fatalf("fourth attempt: %v, want ErrThrottled", err)
	}
	if _, err := svc.Authenticate(ctx, "ana@example.com", "the right one", "203.0.113.1"); !errors.Is(err, idp.ErrThrottled) {
		t.Fatalf("a throttled address still got to try a password: %v", err)
	}
	if err := try("x", "203.0.113.2"); !errors.Is(err, idp.ErrInvalidCredentials) {
		t.Fatalf("another address: %v", err)
	}
	clk.Add(31 * time.Second)
	if _, err := svc.Authenticate(ctx, "ana@example.com", "the right one", "203.0.113.1"); err != nil {
		t.Fatalf("after a refill: %v", err)
	}
}

// TestSignInByMobile: a mobile number signs in like an e-mail, national
// numbers with the default country code; the number used must be confirmed.
func TestSignInByMobile(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	db := storagetest.SQLite().Open(t)
	pw, _ := idp.NewPasswords(idp.Argon2Params{MemoryKiB: 8192, Time: 1, Parallelism: 1}, 2)
	a := storage.NewAccounts(db)
	svc, err := idp.New(idp.Config{DefaultCountryCode: "+98"}, idp.Deps{Accounts: a, Sessions: a, Consents: a, Passwords: pw, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := svc.CreateAccount(ctx, idp.NewAccount{Mobile: "09111087815", MobileSeed: "+98", Password: "mobile long phrase", MobileVerified: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateAccount(ctx, idp.NewAccount{Mobile: "+989121111111", Email: "two@example.com", Password: "mobile long phrase", EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, id string
		err      error
	}{
		{"national number", "09111087815", nil},
		{"international with spaces", "+98 911 108 7815", nil},
		{"Persian digits", "۰۹۱۱۱۰۸۷۸۱۵", nil},
		{"unknown number", "09111087816", idp.ErrInvalidCredentials},
		{"not a number", "call me", idp.ErrInvalidCredentials},
		{"an unconfirmed mobile", "09121111111", idp.ErrUnconfirmed},
		{"the same account by its confirmed e-mail", "two@example.com", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := svc.Authenticate(ctx, tc.id, "mobile long phrase", ""); !errors.Is(err, tc.err) {
				t.Fatalf("Authenticate(%q) = %v, want %v", tc.id, err, tc.err)
			}
		})
	}
}
