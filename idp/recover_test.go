package idp_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

type recordingRevoker struct{ subjects []string }

func (r *recordingRevoker) RevokeSubject(_ context.Context, s string) error {
	r.subjects = append(r.subjects, s)
	return nil
}

var resetToken = regexp.MustCompile(`reset\?token=([A-Za-z0-9_-]+)`)

func TestRecovery(t *testing.T) {
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			b.Check(t)
			ctx := context.Background()
			setup := func(t *testing.T) (*idp.Service, *lifecycleEnv, *recordingRevoker, *storage.Accounts) {
				db := b.Open(t)
				pw, _ := idp.NewPasswords(idp.Argon2Params{MemoryKiB: 8192, Time: 1, Parallelism: 1}, 2)
				a := storage.NewAccounts(db)
				clk := &fakeClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
				rev := &recordingRevoker{}
				o := storage.NewOutbox(db)
				svc, err := idp.New(idp.Config{}, idp.Deps{Accounts: a, Sessions: a, Consents: a, Passwords: pw, Now: clk.Now,
					Lifecycle: &idp.Lifecycle{Store: a, Outbox: o, InTx: db.InTx, Revoker: rev, Sessions: a}})
				if err != nil {
					t.Fatal(err)
				}
				e := &lifecycleEnv{svc: svc, outbox: o, clk: clk, links: idp.Links{Product: "Test",
					Confirm: func(tok string) string { return "https://id.example/confirm?token=" + tok },
					Reset:   func(tok string) string { return "https://id.example/recover/reset?token=" + tok }}}
				return svc, e, rev, a
			}

			t.Run("reset: password, lockout, sessions, tokens, verification", func(t *testing.T) {
				svc, e, rev, accts := setup(t)
				// An unconfirmed account, locked by failures, with a live session.
				if _, err := svc.Register(ctx, idp.Registration{Email: "sam@example.com", Password: "old long phrase", PasswordConfirm: "old long phrase"}, e.links, ""); err != nil {
					t.Fatal(err)
				}
				e.mails(t)
				a, _ := accts.AccountByEmail(ctx, "sam@example.com")
				token, _, err := svc.StartSession(ctx, a, []string{"pwd"}, false)
				if err != nil {
					t.Fatal(err)
				}
				for range 5 {
					_, _ = svc.Authenticate(ctx, "sam@example.com", "wrong", "")
				}
				if err := svc.RequestRecovery(ctx, "sam@example.com", e.links, ""); err != nil {
					t.Fatal(err)
				}
				m := e.mails(t)
				if len(m) != 1 || !strings.Contains(m[0].Subject, "Reset") {
					t.Fatalf("recovery mail: %+v", m)
				}
				tok := resetToken.FindStringSubmatch(m[0].Text)[1]
				// A weak password leaves the link usable.
				var fe idp.FieldErrors
				if _, err := svc.ResetPassword(ctx, tok, "password", "password"); !errors.As(err, &fe) {
					t.Fatalf("weak password: %v", err)
				}
				got, err := svc.ResetPassword(ctx, tok, "a new long phrase", "a new long phrase")
				if err != nil || !got.EmailVerified || got.LockedUntil != nil || got.FailedLogins != 0 {
					t.Fatalf("reset: %+v %v", got, err)
				}
				if len(rev.subjects) != 1 || rev.subjects[0] != a.ID {
					t.Fatalf("tokens revoked for %v", rev.subjects)
				}
				if _, err := svc.Session(ctx, token); !errors.Is(err, idp.ErrNoSession) {
					t.Fatalf("the old session survived: %v", err)
				}
				if _, err := svc.Authenticate(ctx, "sam@example.com", "a new long phrase", ""); err != nil {
					t.Fatalf("the new password (lock cleared): %v", err)
				}
				if _, err := svc.ResetPassword(ctx, tok, "another long phrase", "another long phrase"); !errors.Is(err, idp.ErrInvalidToken) {
					t.Fatalf("a used link: %v", err)
				}
			})

			t.Run("links expire after an hour; requests are limited; unknown addresses get silence", func(t *testing.T) {
				svc, e, _, _ := setup(t)
				if _, err := svc.CreateAccount(ctx, idp.NewAccount{Email: "kim@example.com", Password: "kims long phrase", EmailVerified: true}); err != nil {
					t.Fatal(err)
				}
				_ = svc.RequestRecovery(ctx, "kim@example.com", e.links, "")
				tok := resetToken.FindStringSubmatch(e.mails(t)[0].Text)[1]
				e.clk.Add(time.Hour + time.Second)
				if _, err := svc.ResetPassword(ctx, tok, "a new long phrase", "a new long phrase"); !errors.Is(err, idp.ErrInvalidToken) {
					t.Fatalf("an expired link: %v", err)
				}
				_ = svc.RequestRecovery(ctx, "kim@example.com", e.links, "")
				_ = svc.RequestRecovery(ctx, "kim@example.com", e.links, "")
				if n := len(e.mails(t)); n != 1 {
					t.Fatalf("%d mails for two requests within a minute, want 1", n)
				}
				if err := svc.RequestRecovery(ctx, "nobody@example.com", e.links, ""); err != nil || len(e.mails(t)) != 0 {
					t.Fatalf("unknown address: %v", err)
				}
			})
		})
	}
}
