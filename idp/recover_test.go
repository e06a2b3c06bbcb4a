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

var (
	resetToken  = regexp.MustCompile(`reset\?token=([A-Za-z0-9_-]+)`)
	changeToken = regexp.MustCompile(`change\?token=([A-Za-z0-9_-]+)`)
)

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
					Lifecycle: &idp.LifecycleConfig{Store: a, Outbox: o, InTx: db.InTx, Revoker: rev, Sessions: a}})
				if err != nil {
					t.Fatal(err)
				}
				e := &lifecycleEnv{svc: svc, outbox: o, clk: clk, links: idp.Links{Product: "Test",
					Confirm:     func(tok string) string { return "https://id.example/confirm?token=" + tok },
					Reset:       func(tok string) string { return "https://id.example/recover/reset?token=" + tok },
					ChangeEmail: func(tok string) string { return "https://id.example/account/email/change?token=" + tok }}}
				return svc, e, rev, a
			}

			t.Run("a password change ends older links and pending changes", func(t *testing.T) {
				tests := []struct {
					name   string
					change func(t *testing.T, svc *idp.Service, e *lifecycleEnv, sess *idp.Session, resetTok string)
				}{
					{name: "reset by the owner", change: func(t *testing.T, svc *idp.Service, e *lifecycleEnv, _ *idp.Session, resetTok string) {
						if _, err := svc.ResetPassword(ctx, resetTok, "the owner's new phrase", "the owner's new phrase"); err != nil {
							t.Fatal(err)
						}
					}},
					{name: "password changed on the account page", change: func(t *testing.T, svc *idp.Service, e *lifecycleEnv, sess *idp.Session, _ string) {
						if err := svc.ChangePassword(ctx, sess, "old long phrase", "the owner's new phrase", "the owner's new phrase"); err != nil {
							t.Fatal(err)
						}
					}},
				}
				for _, tt := range tests {
					t.Run(tt.name, func(t *testing.T) {
						svc, e, _, accts := setup(t)
						if _, err := svc.Register(ctx, idp.Registration{Email: "kim@example.com", Password: "old long phrase", PasswordConfirm: "old long phrase"}, e.links, idp.Source{}); err != nil {
							t.Fatal(err)
						}
						e.mails(t)
						a, _ := accts.AccountByEmail(ctx, "kim@example.com")
						tok, _, err := svc.StartSession(ctx, a, []string{"pwd"}, false)
						if err != nil {
							t.Fatal(err)
						}
						sess, err := svc.Session(ctx, tok)
						if err != nil {
							t.Fatal(err)
						}
						// Someone with the password asks for their own address,
						// and for a reset link; the owner asks for one too.
						if err := svc.RequestEmailChange(ctx, sess, "mallory@example.com", "old long phrase", e.links); err != nil {
							t.Fatal(err)
						}
						if err := svc.RequestRecovery(ctx, "kim@example.com", e.links, idp.Source{}); err != nil {
							t.Fatal(err)
						}
						e.clk.Add(2 * time.Minute)
						if err := svc.RequestRecovery(ctx, "kim@example.com", e.links, idp.Source{}); err != nil {
							t.Fatal(err)
						}
						var change string
						var resets []string
						for _, m := range e.mails(t) {
							if c := changeToken.FindStringSubmatch(m.Text); c != nil {
								change = c[1]
							}
							if r := resetToken.FindStringSubmatch(m.Text); r != nil {
								resets = append(resets, r[1])
							}
						}
						if change == "" || len(resets) != 2 {
							t.Fatalf("links: change %q, resets %v", change, resets)
						}
						tt.change(t, svc, e, sess, resets[1])
						if _, err := svc.ConfirmEmailChange(ctx, change, e.links); !errors.Is(err, idp.ErrInvalidToken) {
							t.Errorf("the e-mail change asked for before the new password: %v, want ErrInvalidToken", err)
						}
						if _, err := svc.ResetPassword(ctx, resets[0], "someone else's phrase", "someone else's phrase"); !errors.Is(err, idp.ErrInvalidToken) {
							t.Errorf("a reset link sent before the new password: %v, want ErrInvalidToken", err)
						}
						if got, _ := accts.AccountByID(ctx, a.ID); got.Email == nil || *got.Email != "kim@example.com" {
							t.Errorf("address now %v", got.Email)
						}
					})
				}
			})

			t.Run("a reset link is for the address it was mailed to", func(t *testing.T) {
				svc, e, _, accts := setup(t)
				if _, err := svc.Register(ctx, idp.Registration{Email: "lee@example.com", Password: "old long phrase", PasswordConfirm: "old long phrase"}, e.links, idp.Source{}); err != nil {
					t.Fatal(err)
				}
				e.mails(t)
				a, _ := accts.AccountByEmail(ctx, "lee@example.com")
				tok, _, _ := svc.StartSession(ctx, a, []string{"pwd"}, false)
				sess, _ := svc.Session(ctx, tok)
				if err := svc.RequestRecovery(ctx, "lee@example.com", e.links, idp.Source{}); err != nil {
					t.Fatal(err)
				}
				if err := svc.RequestEmailChange(ctx, sess, "lee.new@example.com", "old long phrase", e.links); err != nil {
					t.Fatal(err)
				}
				var reset, change string
				for _, m := range e.mails(t) {
					if r := resetToken.FindStringSubmatch(m.Text); r != nil {
						reset = r[1]
					}
					if c := changeToken.FindStringSubmatch(m.Text); c != nil {
						change = c[1]
					}
				}
				if _, err := svc.ConfirmEmailChange(ctx, change, e.links); err != nil {
					t.Fatal(err)
				}
				if _, err := svc.ResetPassword(ctx, reset, "the old mailbox's phrase", "the old mailbox's phrase"); !errors.Is(err, idp.ErrInvalidToken) {
					t.Errorf("a reset link mailed to the old address: %v, want ErrInvalidToken", err)
				}
			})

			t.Run("the account page's password check waits out a lock", func(t *testing.T) {
				svc, e, _, accts := setup(t)
				if _, err := svc.Register(ctx, idp.Registration{Email: "ray@example.com", Password: "old long phrase", PasswordConfirm: "old long phrase"}, e.links, idp.Source{}); err != nil {
					t.Fatal(err)
				}
				a, _ := accts.AccountByEmail(ctx, "ray@example.com")
				tok, _, _ := svc.StartSession(ctx, a, []string{"pwd"}, false)
				sess, _ := svc.Session(ctx, tok)
				for range 5 {
					_ = svc.RequestEmailChange(ctx, sess, "eve@example.com", "a wrong guess", e.links)
				}
				locked, _ := accts.AccountByID(ctx, a.ID)
				if locked.LockedUntil == nil {
					t.Fatal("five wrong passwords did not lock the account")
				}
				var fe idp.FieldErrors
				if err := svc.RequestEmailChange(ctx, sess, "eve@example.com", "old long phrase", e.links); !errors.As(err, &fe) || fe["current_password"] == "" {
					t.Errorf("the right password while locked: %v, want a current_password error", err)
				}
				for range 5 {
					_ = svc.RequestEmailChange(ctx, sess, "eve@example.com", "another wrong guess", e.links)
				}
				if again, _ := accts.AccountByID(ctx, a.ID); !again.LockedUntil.Equal(*locked.LockedUntil) {
					t.Errorf("guesses while locked moved the lock from %v to %v", locked.LockedUntil, again.LockedUntil)
				}
			})

			t.Run("registering a taken address tells its owner at most once a minute", func(t *testing.T) {
				svc, e, _, _ := setup(t)
				if _, err := svc.Register(ctx, idp.Registration{Email: "max@example.com", Password: "old long phrase", PasswordConfirm: "old long phrase"}, e.links, idp.Source{}); err != nil {
					t.Fatal(err)
				}
				e.mails(t)
				for range 4 {
					if _, err := svc.Register(ctx, idp.Registration{Email: "max@example.com", Password: "another long phrase", PasswordConfirm: "another long phrase"}, e.links, idp.Source{}); err != nil {
						t.Fatal(err)
					}
				}
				if m := e.mails(t); len(m) != 1 {
					t.Fatalf("%d notices in a minute, want 1", len(m))
				}
				e.clk.Add(2 * time.Minute)
				if _, err := svc.Register(ctx, idp.Registration{Email: "max@example.com", Password: "another long phrase", PasswordConfirm: "another long phrase"}, e.links, idp.Source{}); err != nil {
					t.Fatal(err)
				}
				if m := e.mails(t); len(m) != 1 {
					t.Fatalf("%d notices a minute later, want 1", len(m))
				}
			})

			t.Run("reset: password, lockout, sessions, tokens, verification", func(t *testing.T) {
				svc, e, rev, accts := setup(t)
				// An unconfirmed account, locked by failures, with a live session.
				if _, err := svc.Register(ctx, idp.Registration{Email: "sam@example.com", Password: "old long phrase", PasswordConfirm: "old long phrase"}, e.links, idp.Source{}); err != nil {
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
				if err := svc.RequestRecovery(ctx, "sam@example.com", e.links, idp.Source{}); err != nil {
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
				_ = svc.RequestRecovery(ctx, "kim@example.com", e.links, idp.Source{})
				tok := resetToken.FindStringSubmatch(e.mails(t)[0].Text)[1]
				e.clk.Add(time.Hour + time.Second)
				if _, err := svc.ResetPassword(ctx, tok, "a new long phrase", "a new long phrase"); !errors.Is(err, idp.ErrInvalidToken) {
					t.Fatalf("an expired link: %v", err)
				}
				_ = svc.RequestRecovery(ctx, "kim@example.com", e.links, idp.Source{})
				_ = svc.RequestRecovery(ctx, "kim@example.com", e.links, idp.Source{})
				if n := len(e.mails(t)); n != 1 {
					t.Fatalf("%d mails for two requests within a minute, want 1", n)
				}
				if err := svc.RequestRecovery(ctx, "nobody@example.com", e.links, idp.Source{}); err != nil || len(e.mails(t)) != 0 {
					t.Fatalf("unknown address: %v", err)
				}
			})
		})
	}
}
