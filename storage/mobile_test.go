package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

func TestMobileAccounts(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			b.Check(t)
			ctx := context.Background()
			a := storage.NewAccounts(storagetest.OpenDSN(t, b.NewDSN(t)))
			mobile, email := "+989111087815", "both@example.com"
			cases := []struct {
				name    string
				account storage.Account
				err     error
			}{
				{"mobile only", storage.Account{ID: "00000000-0000-4000-8000-000000000001", Mobile: &mobile}, nil},
				{"the same mobile again", storage.Account{ID: "00000000-0000-4000-8000-000000000002", Mobile: &mobile}, storage.ErrDuplicate},
				{"e-mail only: no mobile is no conflict", storage.Account{ID: "00000000-0000-4000-8000-000000000003", Email: &email}, nil},
				{"another account without a mobile", storage.Account{ID: "00000000-0000-4000-8000-000000000004"}, nil},
			}
			for _, tc := range cases {
				acct := tc.account
				acct.CreatedAt, acct.UpdatedAt = now, now
				if err := a.CreateAccount(ctx, &acct); !errors.Is(err, tc.err) {
					t.Fatalf("%s: %v, want %v", tc.name, err, tc.err)
				}
			}
			got, err := a.AccountByMobile(ctx, mobile)
			if err != nil || got.ID != "00000000-0000-4000-8000-000000000001" || got.Email != nil || got.MobileVerified {
				t.Fatalf("by mobile: %+v %v", got, err)
			}
			if _, err := a.AccountByMobile(ctx, "+989111087816"); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("unknown mobile: %v", err)
			}
		})
	}
}
