package idp_test

import (
	"context"
	"crypto/rand"
	"errors"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/idp/mfa"
	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

// newFactorService is a service with second factors over a fresh
// database, at a clock the test moves.
func newFactorService(t *testing.T, b storagetest.Backend, clk *fakeClock) (*idp.Service, *storage.Factors) {
	t.Helper()
	db := b.Open(t)
	pw, err := idp.NewPasswords(idp.Argon2Params{MemoryKiB: 8192, Time: 1, Parallelism: 1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := mfa.NewSealer(make([]byte, 32), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	a, fs := storage.NewAccounts(db), storage.NewFactors(db)
	svc, err := idp.New(idp.Config{}, idp.Deps{Accounts: a, Sessions: a, Consents: a, Passwords: pw, Now: clk.Now,
		Factors: &idp.FactorsConfig{Store: fs, Sealer: sealer, CodeKey: []byte("0123456789abcdef0123456789abcdef"), Issuer: "Manam"}})
	if err != nil {
		t.Fatal(err)
	}
	return svc, fs
}

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTOTPSignIn walks a TOTP account through sign-ins on an injected
// clock: skew of one step either way, replay of a used code (the same or
// an older step), expiry, another account's code, the lockout after five
// wrong codes, and single-use recovery codes.
func TestTOTPSignIn(t *testing.T) {
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			t0 := time.Date(2026, 11, 26, 9, 0, 10, 0, time.UTC)
			clk := &fakeClock{t: t0}
			svc, store := newFactorService(t, b, clk)
			ana, err := svc.CreateAccount(ctx, idp.NewAccount{Email: "ana@example.com", Password: "the right one", EmailVerified: true})
			if err != nil {
				t.Fatal(err)
			}
			bob, _ := svc.CreateAccount(ctx, idp.NewAccount{Email: "bob@example.com", Password: "the right one", EmailVerified: true})

			// Out of order: nothing to confirm yet.
			if _, err := svc.ConfirmTOTP(ctx, ana.ID, "123456"); !errors.Is(err, idp.ErrFactorState) {
				t.Fatalf("confirm before begin: %v", err)
			}
			en, err := svc.BeginTOTP(ctx, ana.ID)
			if err != nil {
				t.Fatal(err)
			}
			if step, _, _ := svc.NextStep(ctx, ana, false, ""); step != idp.StepNone {
				t.Fatalf("an unconfirmed factor counted: %v", step)
			}
			// The seed is sealed at rest.
			f, _ := store.Factor(ctx, ana.ID, idp.FactorTOTP)
			if f.Secret == en.Secret || len(f.Secret) < 40 {
				t.Fatalf("seed stored as %q", f.Secret)
			}
			if _, err := svc.ConfirmTOTP(ctx, ana.ID, "000000"); !errors.Is(err, idp.ErrBadCode) && code(t, en.Secret, t0) != "000000" {
				t.Fatalf("wrong enrolment code: %v", err)
			}
			codes, err := svc.ConfirmTOTP(ctx, ana.ID, code(t, en.Secret, t0))
			if err != nil {
				t.Fatal(err)
			}
			format := regexp.MustCompile(`^[a-z0-9]{5}-[a-z0-9]{5}$`)
			if len(codes) != 10 || !format.MatchString(codes[0]) {
				t.Fatalf("recovery codes %v", codes)
			}
			if _, err := svc.BeginTOTP(ctx, ana.ID); !errors.Is(err, idp.ErrFactorState) {
				t.Fatalf("second authenticator: %v", err)
			}
			if step, _, _ := svc.NextStep(ctx, ana, false, ""); step != idp.StepVerify {
				t.Fatalf("next step %v", step)
			}
			pending := func(a *storage.Account) string {
				tok, err := svc.BeginPending(ctx, a, []string{"pwd"}, false, "", idp.StepVerify)
				if err != nil {
					t.Fatal(err)
				}
				return tok
			}
			steps := []struct {
				name    string
				advance time.Duration
				acct    *storage.Account
				method  string
				code    func() string
				ok      bool
			}{
				{"the enrolment's code again (replay)", 0, ana, idp.FactorTOTP, func() string { return code(t, en.Secret, t0) }, false},
				{"one step ahead (skew)", 0, ana, idp.FactorTOTP, func() string { return code(t, en.Secret, t0.Add(30*time.Second)) }, true},
				{"that code again (replay)", 0, ana, idp.FactorTOTP, func() string { return code(t, en.Secret, t0.Add(30*time.Second)) }, false},
				{"an older step after a newer", 35 * time.Second, ana, idp.FactorTOTP, func() string { return code(t, en.Secret, t0) }, false},
				{"expired (two steps old)", 60 * time.Second, ana, idp.FactorTOTP, func() string { return code(t, en.Secret, clk.Now().Add(-60*time.Second)) }, false},
				{"one step behind (skew)", 0, ana, idp.FactorTOTP, func() string { return code(t, en.Secret, clk.Now().Add(-30*time.Second)) }, true},
				{"another account's code", 0, bob, idp.FactorTOTP, func() string { return code(t, en.Secret, clk.Now()) }, false},
				{"malformed", 0, ana, idp.FactorTOTP, func() string { return "12a456" }, false},
				{"unknown method", 0, ana, "email", func() string { return code(t, en.Secret, clk.Now()) }, false},
				{"a recovery code", 0, ana, idp.MethodRecovery, func() string { return codes[3] }, true},
				{"the same recovery code again", 0, ana, idp.MethodRecovery, func() string { return codes[3] }, false},
				{"a recovery code, upper case without the dash", 0, ana, idp.MethodRecovery, func() string { return "  " + upperNoDash(codes[4]) }, true},
			}
			for _, s := range steps {
				clk.Add(s.advance)
				acct, amr, err := svc.CompletePending(ctx, pending(s.acct), s.method, s.code(), idp.Source{})
				if s.ok != (err == nil) {
					t.Fatalf("%s: err %v", s.name, err)
				}
				if s.ok && (acct.ID != s.acct.ID || !slices.Contains(amr, "mfa") || !slices.Contains(amr, "pwd")) {
					t.Fatalf("%s: %v %v", s.name, acct.ID, amr)
				}
				if !s.ok && !errors.Is(err, idp.ErrBadCode) {
					t.Fatalf("%s: %v", s.name, err)
				}
			}
			if left, _ := svc.RecoveryCodesLeft(ctx, ana.ID); left != 8 {
				t.Fatalf("recovery codes left %d", left)
			}

			// Five wrong codes end the pending sign-in and lock the account:
			// then even a right code is refused.
			clk.Add(15 * time.Minute)
			tok := pending(ana)
			for i := range 5 {
				_, _, err := svc.CompletePending(ctx, tok, idp.FactorTOTP, "000001", idp.Source{})
				want := idp.ErrBadCode
				if i == 4 {
					want = idp.ErrNoPending
				}
				if !errors.Is(err, want) {
					t.Fatalf("wrong code %d: %v", i+1, err)
				}
			}
			clk.Add(31 * time.Second)
			if _, _, err := svc.CompletePending(ctx, pending(ana), idp.FactorTOTP, code(t, en.Secret, clk.Now()), idp.Source{}); !errors.Is(err, idp.ErrBadCode) {
				t.Fatalf("right code while locked: %v", err)
			}
			clk.Add(2 * time.Minute)
			if _, _, err := svc.CompletePending(ctx, pending(ana), idp.FactorTOTP, code(t, en.Secret, clk.Now()), idp.Source{}); err != nil {
				t.Fatalf("right code after the lock: %v", err)
			}

			// Removal needs proof; without it nothing changes.
			if err := svc.RemoveFactor(ctx, ana.ID, idp.FactorTOTP, idp.MethodRecovery, "aaaaa-aaaaa"); !errors.Is(err, idp.ErrBadCode) {
				t.Fatalf("removal without proof: %v", err)
			}
			if fs, _ := svc.Factors(ctx, ana.ID); len(fs) != 1 {
				t.Fatalf("factors after a refused removal: %v", fs)
			}
			if err := svc.RemoveFactor(ctx, ana.ID, idp.FactorTOTP, idp.MethodRecovery, codes[5]); err != nil {
				t.Fatal(err)
			}
			if fs, _ := svc.Factors(ctx, ana.ID); len(fs) != 0 {
				t.Fatalf("factors after removal: %v", fs)
			}
			if left, _ := svc.RecoveryCodesLeft(ctx, ana.ID); left != 0 {
				t.Fatalf("recovery codes outlived the last factor: %d", left)
			}
			if err := svc.RemoveFactor(ctx, ana.ID, idp.FactorTOTP, idp.MethodRecovery, codes[6]); !errors.Is(err, idp.ErrFactorState) {
				t.Fatalf("removing a removed factor: %v", err)
			}
		})
	}
}

// TestTrustedDevice: a remembered device skips the second factor for its
// account only, until it expires or is forgotten.
func TestTrustedDevice(t *testing.T) {
	b := storagetest.SQLite()
	ctx := context.Background()
	clk := &fakeClock{t: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
	svc, _ := newFactorService(t, b, clk)
	ana, _ := svc.CreateAccount(ctx, idp.NewAccount{Email: "ana@example.com", Password: "the right one", EmailVerified: true})
	bob, _ := svc.CreateAccount(ctx, idp.NewAccount{Email: "bob@example.com", Password: "the right one", EmailVerified: true})
	for _, a := range []*storage.Account{ana, bob} {
		en, _ := svc.BeginTOTP(ctx, a.ID)
		if _, err := svc.ConfirmTOTP(ctx, a.ID, code(t, en.Secret, clk.Now())); err != nil {
			t.Fatal(err)
		}
	}
	tok, ttl, err := svc.TrustDevice(ctx, ana.ID, "Firefox on Linux")
	if err != nil || ttl != 30*24*time.Hour {
		t.Fatal(err, ttl)
	}
	cases := []struct {
		name    string
		advance time.Duration
		acct    *storage.Account
		token   string
		want    idp.SecondStep
	}{
		{"remembered", 0, ana, tok, idp.StepTrusted},
		{"another account on the device", 0, bob, tok, idp.StepVerify},
		{"a forged cookie", 0, ana, forged(tok), idp.StepVerify},
		{"no cookie", 0, ana, "", idp.StepVerify},
		{"after 31 days", 31 * 24 * time.Hour, ana, tok, idp.StepVerify},
	}
	for _, c := range cases {
		clk.Add(c.advance)
		if got, _, err := svc.NextStep(ctx, c.acct, false, c.token); err != nil || got != c.want {
			t.Fatalf("%s: %v %v", c.name, got, err)
		}
	}
	tok2, _, _ := svc.TrustDevice(ctx, ana.ID, "Chromium")
	ds, _ := svc.TrustedDevices(ctx, ana.ID)
	if len(ds) != 1 || ds[0].Name != "Chromium" {
		t.Fatalf("devices %+v", ds)
	}
	if err := svc.ForgetDevice(ctx, ana.ID, ds[0].ID); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := svc.NextStep(ctx, ana, false, tok2); got != idp.StepVerify {
		t.Fatalf("a forgotten device still skips: %v", got)
	}
}

func upperNoDash(c string) string {
	out := []byte{}
	for i := 0; i < len(c); i++ {
		ch := c[i]
		if ch == '-' {
			continue
		}
		if ch >= 'a' && ch <= 'z' {
			ch -= 'a' - 'A'
		}
		out = append(out, ch)
	}
	return string(out)
}

// forged is a token that differs from tok in its first character.
func forged(tok string) string {
	if tok[0] == 'A' {
		return "B" + tok[1:]
	}
	return "A" + tok[1:]
}
