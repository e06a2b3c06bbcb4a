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

// revoked records RevokeSubject calls.
type revoked []string

func (r *revoked) RevokeSubject(_ context.Context, subject string) error {
	*r = append(*r, subject)
	return nil
}

// TestChangePasswordRecent: 003's password change without the current
// password works only for a recent sign-in; problems change nothing; a
// change ends the other sessions and the account's tokens.
func TestChangePasswordRecent(t *testing.T) {
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			b.Check(t)
			ctx := context.Background()
			db := b.Open(t)
			pw, _ := idp.NewPasswords(idp.Argon2Params{MemoryKiB: 8192, Time: 1, Parallelism: 1}, 2)
			a := storage.NewAccounts(db)
			clk := &fakeClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
			var rv revoked
			svc, err := idp.New(idp.Config{}, idp.Deps{Accounts: a, Sessions: a, Consents: a, Passwords: pw, Now: clk.Now,
				Lifecycle: &idp.LifecycleConfig{Store: a, Outbox: storage.NewOutbox(db), InTx: db.InTx, Revoker: &rv, Sessions: a}})
			if err != nil {
				t.Fatal(err)
			}
			const old, next = "a long and unusual phrase", "another long phrase here"
			acct, err := svc.CreateAccount(ctx, idp.NewAccount{Email: "mina@example.com", Password: old, EmailVerified: true})
			if err != nil {
				t.Fatal(err)
			}
			_, sess, _ := svc.StartSession(ctx, acct, []string{"pwd"}, false)
			otherTok, _, _ := svc.StartSession(ctx, acct, []string{"pwd"}, false)
			signsIn := func(p string) bool {
				_, err := svc.Authenticate(ctx, "mina@example.com", p, "")
				return err == nil
			}
			tests := []struct {
				name          string
				after         time.Duration
				password, cfm string
				want          func(error) bool
			}{
				{"too weak", time.Minute, "short", "short", func(err error) bool { var fe idp.FieldErrors; return errors.As(err, &fe) && fe["password"] != "" }},
				{"different confirmation", time.Minute, next, "something else entirely", func(err error) bool {
					var fe idp.FieldErrors
					return errors.As(err, &fe) && fe["password_confirm"] != ""
				}},
				{"a sign-in older than the limit", 11 * time.Minute, next, next, func(err error) bool { return errors.Is(err, idp.ErrStaleSession) }},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					clk.Add(tc.after)
					defer clk.Add(-tc.after)
					if err := svc.ChangePasswordRecent(ctx, sess, 10*time.Minute, tc.password, tc.cfm); !tc.want(err) {
						t.Fatalf("err = %v", err)
					}
					if !signsIn(old) || len(rv) != 0 {
						t.Fatal("a refused change changed something")
					}
				})
			}
			clk.Add(9 * time.Minute)
			if err := svc.ChangePasswordRecent(ctx, sess, 10*time.Minute, next, next); err != nil {
				t.Fatal(err)
			}
			if signsIn(old) || !signsIn(next) || len(rv) != 1 || rv[0] != acct.ID {
				t.Fatalf("after the change: revoked %v", rv)
			}
			if _, err := svc.Session(ctx, otherTok); !errors.Is(err, idp.ErrNoSession) {
				t.Fatalf("the other session: %v", err)
			}
		})
	}
}
