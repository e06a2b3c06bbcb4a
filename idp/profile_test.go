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

func TestParseProfile(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	svc := newService(t, storagetest.SQLite(), clk, idp.Config{})
	good := idp.ProfileInput{Name: "Reza", FirstName: "رضا", LastName: "رادمنش", NationalCode: "۰۴۹۹۳۷۰۸۹۹", Birthday: "۱۳۷۰/۰۱/۰۳",
		PictureURL: "https://cdn.example/r.png", Address: "Tehran", PostalCode: "1234567890", MaritalStatus: "married",
		FacebookID: "reza.r", InstagramID: "@reza_r", TwitterID: "reza-r", LinkedInID: "reza", Document: "A123", Telephone: "+98 21 1234-5678"}
	if _, p, fe := svc.ParseProfile(good); len(fe) != 0 || p.NationalCode != "0499370899" || p.BirthdayCalendar != "solar_hijri" ||
		p.Birthday.Format("2006-01-02") != "1991-03-23" || p.InstagramID != "reza_r" || idp.FormatBirthday(p) != "1370-01-03" {
		t.Fatalf("good profile: %+v %v", p, fe)
	}
	cases := []struct {
		name  string
		mod   func(*idp.ProfileInput)
		field string
	}{
		{"national code check digit", func(p *idp.ProfileInput) { p.NationalCode = "0499370898" }, "national_code"},
		{"national code length", func(p *idp.ProfileInput) { p.NationalCode = "12345" }, "national_code"},
		{"Solar Hijri day that does not exist", func(p *idp.ProfileInput) { p.Birthday = "1402-12-30" }, "birthday"},
		{"Gregorian day that does not exist", func(p *idp.ProfileInput) { p.Birthday = "1991-02-30" }, "birthday"},
		{"birthday in the future", func(p *idp.ProfileInput) { p.Birthday = "2030-01-01" }, "birthday"},
		{"birthday not a date", func(p *idp.ProfileInput) { p.Birthday = "yesterday" }, "birthday"},
		{"picture over http", func(p *idp.ProfileInput) { p.PictureURL = "http://cdn.example/r.png" }, "picture_url"},
		{"picture javascript", func(p *idp.ProfileInput) { p.PictureURL = "javascript:alert(1)" }, "picture_url"},
		{"postal code", func(p *idp.ProfileInput) { p.PostalCode = "12" }, "postal_code"},
		{"marital status", func(p *idp.ProfileInput) { p.MaritalStatus = "complicated" }, "marital_status"},
		{"handle with a space", func(p *idp.ProfileInput) { p.TwitterID = "reza r" }, "twitter_id"},
		{"telephone letters", func(p *idp.ProfileInput) { p.Telephone = "call me" }, "telephone"},
		{"markup in a name", func(p *idp.ProfileInput) { p.FirstName = "<b>Reza</b>" }, "first_name"},
		{"oversized address", func(p *idp.ProfileInput) { p.Address = string(make([]byte, 501)) }, "address"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := good
			tc.mod(&in)
			_, _, fe := svc.ParseProfile(in)
			if len(fe) != 1 || fe[tc.field] == "" {
				t.Fatalf("errors %v, want exactly one for %s", fe, tc.field)
			}
		})
	}
}

func TestSaveProfile(t *testing.T) {
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			b.Check(t)
			clk := &fakeClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
			db := b.Open(t)
			pw, _ := idp.NewPasswords(idp.Argon2Params{MemoryKiB: 8192, Time: 1, Parallelism: 1}, 2)
			a := storage.NewAccounts(db)
			svc, _ := idp.New(idp.Config{}, idp.Deps{Accounts: a, Sessions: a, Consents: a, Passwords: pw, Now: clk.Now})
			ctx := context.Background()
			acct, err := svc.CreateAccount(ctx, idp.NewAccount{Email: "p@example.com", Password: "a long phrase here", EmailVerified: true})
			if err != nil {
				t.Fatal(err)
			}
			in := idp.ProfileInput{Name: "P", FirstName: "Parisa", NationalCode: "0013542419", Birthday: "1370-01-03", MaritalStatus: "single"}
			if err := svc.SaveProfile(ctx, acct.ID, in); err != nil {
				t.Fatal(err)
			}
			bad := in
			bad.NationalCode = "0013542418"
			bad.FirstName = "Changed"
			if err := svc.SaveProfile(ctx, acct.ID, bad); !errors.Is(err, idp.ErrInvalidInput) {
				t.Fatalf("invalid profile: %v", err)
			}
			got, _ := svc.Account(ctx, acct.ID)
			if got.FirstName != "Parisa" || got.NationalCode != "0013542419" || idp.FormatBirthday(got.Profile) != "1370-01-03" || got.MaritalStatus != "single" {
				t.Fatalf("stored profile %+v", got.Profile)
			}
		})
	}
}
