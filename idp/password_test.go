package idp

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

var testParams = Argon2Params{MemoryKiB: 8192, Time: 1, Parallelism: 1}

func TestPasswordsVerify(t *testing.T) {
	ctx := context.Background()
	pw, err := NewPasswords(testParams, 2)
	if err != nil {
		t.Fatal(err)
	}
	argon, err := pw.Hash(ctx, "hunter2hunter2")
	if err != nil {
		t.Fatal(err)
	}
	weaker, _ := (&Passwords{p: Argon2Params{MemoryKiB: 8192, Time: 2, Parallelism: 1}, slots: make(chan struct{}, 1)}).Hash(ctx, "hunter2hunter2")
	bc, _ := bcrypt.GenerateFromPassword([]byte("hunter2hunter2"), bcrypt.MinCost)
	cases := []struct {
		name               string
		hash, password     string
		ok, rehash, hasErr bool
	}{
		{"argon2id right", argon, "hunter2hunter2", true, false, false},
		{"argon2id wrong", argon, "hunter2hunter3", false, false, false},
		{"argon2id other parameters: rehash", weaker, "hunter2hunter2", true, true, false},
		{"bcrypt right: upgrade", string(bc), "hunter2hunter2", true, true, false},
		{"bcrypt wrong", string(bc), "nope-nope", false, false, false},
		{"unknown format", "md5$abc", "x", false, false, true},
		{"argon2id truncated", argon[:len(argon)-30], "hunter2hunter2", false, false, true},
		{"argon2id absurd memory", "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$c2FsdHNhbHRzYWx0c2FsdA", "x", false, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, rehash, err := pw.Verify(ctx, tc.hash, tc.password)
			if ok != tc.ok || rehash != tc.rehash || (err != nil) != tc.hasErr {
				t.Fatalf("Verify = %v, %v, %v; want %v, %v, err %v", ok, rehash, err, tc.ok, tc.rehash, tc.hasErr)
			}
		})
	}
	if !strings.HasPrefix(argon, "$argon2id$v=19$m=8192,t=1,p=1$") {
		t.Fatalf("PHC format: %s", argon)
	}
}

// TestPasswordsConcurrencyCap: no more than the cap hash at once, however many ask.
func TestPasswordsConcurrencyCap(t *testing.T) {
	pw, err := NewPasswords(testParams, 2)
	if err != nil {
		t.Fatal(err)
	}
	var cur, peak atomic.Int32
	// Observe the semaphore itself: its length is the number of hashes running.
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				n := int32(len(pw.slots))
				cur.Store(n)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
			}
		}
	}()
	var wg sync.WaitGroup
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = pw.Hash(context.Background(), "password-password")
		}()
	}
	wg.Wait()
	close(stop)
	if peak.Load() > 2 {
		t.Fatalf("%d hashes ran at once, cap 2", peak.Load())
	}
	// A caller that gives up while queued gets its context's error.
	for range 2 {
		pw.slots <- struct{}{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := pw.Hash(ctx, "password-password"); err == nil {
		t.Fatal("hash ran past a full semaphore")
	}
}

func TestNormalizeEmail(t *testing.T) {
	cases := []struct {
		name, in, want string
		bad            bool
	}{
		{"plain", "alice@example.com", "alice@example.com", false},
		{"case folded", "Alice@Example.COM", "alice@example.com", false},
		{"spaces trimmed", "  bob@example.org ", "bob@example.org", false},
		{"display name", "Alice <alice@example.com>", "", true},
		{"no domain dot", "alice@localhost", "", true},
		{"no at", "alice.example.com", "", true},
		{"empty", "", "", true},
		{"too long", strings.Repeat("a", 250) + "@example.com", "", true},
		{"two ats", "a@b@example.com", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeEmail(tc.in)
			if (err != nil) != tc.bad || got != tc.want {
				t.Fatalf("NormalizeEmail(%q) = %q, %v", tc.in, got, err)
			}
		})
	}
}

// TestWasteCostsAVerification: the dummy used for unknown accounts has the
// live parameters, so it costs a full verification, and matches nothing.
func TestWasteCostsAVerification(t *testing.T) {
	pw, err := NewPasswords(testParams, 1)
	if err != nil {
		t.Fatal(err)
	}
	p, _, _, err := parseArgon2(pw.dummy)
	if err != nil || p != testParams {
		t.Fatalf("dummy %q has parameters %+v, %v", pw.dummy, p, err)
	}
	if ok, _, err := pw.Verify(context.Background(), pw.dummy, ""); ok || err != nil {
		t.Fatal("the dummy hash matched")
	}
}

// FuzzParseArgon2: a stored hash string never panics the parser, and what
// it accepts has bounded cost parameters (a hostile row cannot make a
// verification allocate gigabytes).
func FuzzParseArgon2(f *testing.F) {
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$c3Vtc3Vtc3Vtc3Vtc3Vtc3Vtc3Vtc3Vtc3Vtc3U")
	f.Add("$argon2id$v=19$m=1,t=1,p=1$$")
	f.Fuzz(func(t *testing.T, h string) {
		p, salt, sum, err := parseArgon2(h)
		if err != nil {
			return
		}
		if p.MemoryKiB > 4*1024*1024 || p.Time < 1 || p.Time > 100 || p.Parallelism < 1 || len(salt) < 8 || len(sum) < 16 || len(sum) > 64 {
			t.Fatalf("accepted %q as %+v", h, p)
		}
	})
}

// TestCommonPasswordList: the embedded list is whole (10,000 entries, the
// most common first) and looked up case-insensitively.
func TestCommonPasswordList(t *testing.T) {
	if n := len(commonPasswords); n < 9900 || n > 10000 {
		t.Fatalf("%d common passwords embedded, want 10,000 (less case duplicates)", n)
	}
	for _, pw := range []string{"12345678", "PASSWORD", "Qwertyuiop"} {
		if CheckPassword(pw) == "" {
			t.Errorf("%q accepted", pw)
		}
	}
}
