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

var sixDigits = regexp.MustCompile(`\b(\d{6})\b`)

func TestMobileRegistration(t *testing.T) {
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			b.Check(t)
			ctx := context.Background()
			db := b.Open(t)
			pw, _ := idp.NewPasswords(idp.Argon2Params{MemoryKiB: 8192, Time: 1, Parallelism: 1}, 2)
			a := storage.NewAccounts(db)
			o := storage.NewOutbox(db)
			clk := &fakeClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
			svc, err := idp.New(idp.Config{DefaultCountryCode: "+98"}, idp.Deps{Accounts: a, Sessions: a, Consents: a, Passwords: pw, Now: clk.Now,
				Lifecycle: &idp.LifecycleConfig{Store: a, Outbox: o, InTx: db.InTx, CodeKey: []byte("code key for tests, 32 bytes long")}})
			if err != nil {
				t.Fatal(err)
			}
			e := &lifecycleEnv{svc: svc, outbox: o, clk: clk}
			reg := idp.Registration{Email: "09111087815", Password: "mobile long phrase", PasswordConfirm: "mobile long phrase"}
			acct, err := svc.Register(ctx, reg, idp.Links{Product: "Test"}, idp.Source{})
			if err != nil || acct == nil || acct.Mobile == nil || *acct.Mobile != "+989111087815" || acct.Email != nil {
				t.Fatalf("register: %+v %v", acct, err)
			}
			sms := e.mails(t)
			if len(sms) != 1 || sms[0].Channel != "sms" || sms[0].Recipient != "+989111087815" {
				t.Fatalf("SMS %+v", sms)
			}
			code := sixDigits.FindStringSubmatch(sms[0].Text)[1]
			if n, _ := db.RowCounts(ctx); n["confirmations"] != 1 {
				t.Fatalf("confirmations: %v", n)
			}
			// Expired after ten minutes.
			clk.Add(10*time.Minute + time.Second)
			if _, err := svc.ConfirmMobile(ctx, "09111087815", code); !errors.Is(err, idp.ErrInvalidToken) {
				t.Fatalf("an expired code: %v", err)
			}
			// Resend: once a minute, five a day.
			sent := 0
			for range 8 {
				if err := svc.ResendCode(ctx, "+98 911 108 7815", idp.Links{Product: "Test"}); err != nil {
					t.Fatal(err)
				}
				for _, m := range e.mails(t) {
					sent++
					code = sixDigits.FindStringSubmatch(m.Text)[1]
				}
				clk.Add(30 * time.Second)
			}
			if sent != 4 {
				t.Fatalf("%d codes in 4 minutes, want 4 (one a minute)", sent)
			}
			got, err := svc.ConfirmMobile(ctx, "۰۹۱۱۱۰۸۷۸۱۵", code)
			if err != nil || !got.MobileVerified {
				t.Fatalf("confirm with the newest code: %+v %v", got, err)
			}
			if _, err := svc.ConfirmMobile(ctx, "09111087815", code); !errors.Is(err, idp.ErrInvalidToken) {
				t.Fatalf("a used code: %v", err)
			}
			if strings.Contains(sms[0].Text, "%!") {
				t.Fatalf("badly formatted SMS: %q", sms[0].Text)
			}
		})
	}
}
