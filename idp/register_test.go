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

func TestCheckPassword(t *testing.T) {
	cases := []struct {
		name, pw, email string
		bad             string // part of the message, "" for accepted
	}{
		{"long phrase", "correct horse battery staple", "a@example.com", ""},
		{"too short", "Ab1!xyz", "", "at least 8"},
		{"eight runes of Persian are enough", "گذرواژه‌خوب", "", ""},
		{"too long", strings.Repeat("a", 129), "", "at most 128"},
		{"common", "password123", "", "too common"},
		{"common, other case", "PassWord123", "", "too common"},
		{"common from deep in the list", "22081987", "", "too common"},
		{"the e-mail itself", "Reza@Example.com", "reza@example.com", "must not be"},
		{"the e-mail's local part", "rezarezareza", "rezarezareza@example.com", "must not be"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := idp.CheckPassword(tc.pw, tc.email)
			if (tc.bad == "") != (got == "") || !strings.Contains(got, tc.bad) {
				t.Fatalf("CheckPassword(%q) = %q, want %q", tc.pw, got, tc.bad)
			}
		})
	}
}

var tokenInLink = regexp.MustCompile(`token=([A-Za-z0-9_-]+)`)

type lifecycleEnv struct {
	svc    *idp.Service
	outbox *storage.Outbox
	clk    *fakeClock
	links  idp.Links
}

func newLifecycle(t *testing.T, b storagetest.Backend) *lifecycleEnv {
	t.Helper()
	db := b.Open(t)
	pw, _ := idp.NewPasswords(idp.Argon2Params{MemoryKiB: 8192, Time: 1, Parallelism: 1}, 2)
	a := storage.NewAccounts(db)
	clk := &fakeClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	o := storage.NewOutbox(db)
	svc, err := idp.New(idp.Config{}, idp.Deps{Accounts: a, Sessions: a, Consents: a, Passwords: pw, Now: clk.Now,
		Lifecycle: &idp.LifecycleConfig{Store: a, Outbox: o, InTx: db.InTx}})
	if err != nil {
		t.Fatal(err)
	}
	return &lifecycleEnv{svc: svc, outbox: o, clk: clk, links: idp.Links{Product: "Test",
		Confirm: func(tok string) string { return "https://id.example/confirm?token=" + tok }, SignIn: "https://id.example/"}}
}

// mails returns the mails queued so far (claiming them).
func (e *lifecycleEnv) mails(t *testing.T) []storage.OutboxMessage {
	t.Helper()
	at := e.clk.Now().Add(time.Hour)
	ms, err := e.outbox.Claim(context.Background(), "test", at, time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if err := e.outbox.MarkSent(context.Background(), m.ID, "test", at); err != nil {
			t.Fatal(err)
		}
	}
	return ms
}

func TestRegistrationLifecycle(t *testing.T) {
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			b.Check(t)
			ctx := context.Background()
			reg := idp.Registration{Email: "Mina@Example.com", Password: "a long and unusual phrase", PasswordConfirm: "a long and unusual phrase", Name: "Mina"}

			t.Run("every field problem at once, nothing written", func(t *testing.T) {
				e := newLifecycle(t, b)
				_, err := e.svc.Register(ctx, idp.Registration{Email: "x", Password: "short", Name: strings.Repeat("n", 201)}, e.links, idp.Source{})
				var fe idp.FieldErrors
				if !errors.As(err, &fe) || fe["email"] == "" || fe["password"] == "" || fe["name"] == "" || !errors.Is(err, idp.ErrInvalidInput) {
					t.Fatalf("got %v", err)
				}
				_, err = e.svc.Register(ctx, idp.Registration{Email: "a@example.com", Password: "a long and unusual phrase", PasswordConfirm: "different"}, e.links, idp.Source{})
				if !errors.As(err, &fe) || fe["password_confirm"] == "" {
					t.Fatalf("mismatched confirmation: %v", err)
				}
				if m := e.mails(t); len(m) != 0 {
					t.Fatalf("mail queued for invalid input: %d", len(m))
				}
			})

			t.Run("confirm once, within a day", func(t *testing.T) {
				e := newLifecycle(t, b)
				a, err := e.svc.Register(ctx, reg, e.links, idp.Source{})
				if err != nil || a == nil || a.EmailVerified || *a.Email != "mina@example.com" {
					t.Fatalf("register: %+v %v", a, err)
				}
				if _, err := e.svc.Authenticate(ctx, "mina@example.com", reg.Password, ""); !errors.Is(err, idp.ErrUnconfirmed) {
					t.Fatalf("unconfirmed sign-in: %v", err)
				}
				m := e.mails(t)
				if len(m) != 1 || m[0].Recipient != "mina@example.com" || !strings.Contains(m[0].HTML, "Confirm my address") {
					t.Fatalf("mail: %+v", m)
				}
				token := tokenInLink.FindStringSubmatch(m[0].Text)[1]
				if _, err := e.svc.ConfirmEmail(ctx, token+"x"); !errors.Is(err, idp.ErrInvalidToken) {
					t.Fatalf("forged token: %v", err)
				}
				got, err := e.svc.ConfirmEmail(ctx, token)
				if err != nil || !got.EmailVerified {
					t.Fatalf("confirm: %+v %v", got, err)
				}
				if _, err := e.svc.ConfirmEmail(ctx, token); !errors.Is(err, idp.ErrInvalidToken) {
					t.Fatalf("second use: %v", err)
				}
				if _, err := e.svc.Authenticate(ctx, "mina@example.com", reg.Password, ""); err != nil {
					t.Fatalf("sign-in after confirming: %v", err)
				}
			})

			t.Run("an expired link does not confirm; resend is limited", func(t *testing.T) {
				e := newLifecycle(t, b)
				if _, err := e.svc.Register(ctx, reg, e.links, idp.Source{}); err != nil {
					t.Fatal(err)
				}
				token := tokenInLink.FindStringSubmatch(e.mails(t)[0].Text)[1]
				e.clk.Add(24*time.Hour + time.Second)
				if _, err := e.svc.ConfirmEmail(ctx, token); !errors.Is(err, idp.ErrInvalidToken) {
					t.Fatalf("expired: %v", err)
				}
				// One resend a minute, five a day; the same answer either way.
				sent := 0
				for range 12 {
					if err := e.svc.ResendConfirmation(ctx, "mina@example.com", e.links); err != nil {
						t.Fatal(err)
					}
					sent += len(e.mails(t))
					e.clk.Add(30 * time.Second)
				}
				if sent != 5 {
					t.Fatalf("%d resends in 6 minutes, want 5 (one a minute, five a day)", sent)
				}
				// Unknown addresses get the same silence.
				if err := e.svc.ResendConfirmation(ctx, "nobody@example.com", e.links); err != nil || len(e.mails(t)) != 0 {
					t.Fatalf("resend to an unknown address: %v", err)
				}
			})

			t.Run("a known address: no account, a mail to its owner", func(t *testing.T) {
				e := newLifecycle(t, b)
				if _, err := e.svc.Register(ctx, reg, e.links, idp.Source{}); err != nil {
					t.Fatal(err)
				}
				e.mails(t)
				again := reg
				again.Email = "mina@example.com"
				a, err := e.svc.Register(ctx, again, e.links, idp.Source{})
				if err != nil || a != nil {
					t.Fatalf("second registration: %+v %v", a, err)
				}
				m := e.mails(t)
				if len(m) != 1 || !strings.Contains(m[0].Subject, "already have") || strings.Contains(m[0].Text, "token=") {
					t.Fatalf("owner's mail: %+v", m)
				}
			})
		})
	}
}

// TestConfirmationTenant: a confirmation link remembers the tenant it was
// mailed for, so a tenant's surface can refuse another tenant's link.
func TestConfirmationTenant(t *testing.T) {
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			b.Check(t)
			ctx := context.Background()
			e := newLifecycle(t, b)
			reg := idp.Registration{Email: "nima@example.com", Password: "a long and unusual phrase", PasswordConfirm: "a long and unusual phrase"}
			if _, err := e.svc.Register(ctx, reg, e.links, idp.Source{}); err != nil {
				t.Fatal(err)
			}
			first := tokenInLink.FindStringSubmatch(e.mails(t)[0].Text)[1]
			e.clk.t = e.clk.t.Add(2 * time.Minute) // past the resend limit
			links := e.links
			links.ClientID = "tenant-a"
			if err := e.svc.ResendConfirmation(ctx, "nima@example.com", links); err != nil {
				t.Fatal(err)
			}
			second := tokenInLink.FindStringSubmatch(e.mails(t)[0].Text)[1]
			if _, client, err := e.svc.ConfirmEmailFor(ctx, second); err != nil || client != "tenant-a" {
				t.Fatalf("the resent link: tenant %q, %v", client, err)
			}
			if a, client, err := e.svc.ConfirmEmailFor(ctx, first); err != nil || client != "" || !a.EmailVerified {
				t.Fatalf("the first link: tenant %q, %v", client, err)
			}
		})
	}
}
