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

// fedEnv is a service with federation over a real database.
type fedEnv struct {
	svc   *idp.Service
	db    *storage.DB
	clk   *fakeClock
	links *storage.Links
}

func newFedService(t *testing.T, b storagetest.Backend) fedEnv {
	t.Helper()
	db := b.Open(t)
	pw, err := idp.NewPasswords(idp.Argon2Params{MemoryKiB: 8192, Time: 1, Parallelism: 1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	a, links := storage.NewAccounts(db), storage.NewLinks(db)
	svc, err := idp.New(idp.Config{}, idp.Deps{Accounts: a, Sessions: a, Consents: a, Passwords: pw, Now: clk.Now, Links: links})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := svc.CreateAccount(ctx, idp.NewAccount{Email: "ana@example.com", Password: "the right one", EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	if err := storage.NewTenants(db).Create(ctx, &storage.Tenant{ID: "shop", Name: "Shop", CustomerToken: "ct-shop", AccessTokenFormat: "opaque"}); err != nil {
		t.Fatal(err)
	}
	return fedEnv{svc: svc, db: db, clk: clk, links: links}
}

func google(sub, email string, verified bool) idp.FederatedIdentity {
	return idp.FederatedIdentity{Upstream: "google", Subject: sub, Email: email, EmailVerified: verified, Name: "Ada Lovelace",
		GivenName: "Ada", FamilyName: "Lovelace", Picture: "https://example.com/ada.png", Locale: "en", Birthdate: "1815-12-10",
		RawClaims: []byte(`{"sub":"` + sub + `"}`)}
}

func TestFederationPolicy(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		run  func(t *testing.T, e fedEnv)
	}{
		{"a new identity makes a confirmed account without a password, linked and a member", func(t *testing.T, e fedEnv) {
			a, err := e.svc.SignInUpstream(ctx, google("1", "Ada@Example.com", true), "shop", "")
			if err != nil {
				t.Fatal(err)
			}
			if a.Email == nil || *a.Email != "ada@example.com" || !a.EmailVerified || idp.HasPassword(a) || a.FirstName != "Ada" ||
				a.LastName != "Lovelace" || a.Name != "Ada Lovelace" || a.PictureURL == "" || a.Birthday == nil {
				t.Fatalf("account %+v", a)
			}
			if _, err := e.svc.Authenticate(ctx, "ada@example.com", "", ""); !errors.Is(err, idp.ErrInvalidCredentials) {
				t.Fatalf("an empty password signed in to a passwordless account: %v", err)
			}
			again, err := e.svc.SignInUpstream(ctx, google("1", "ada@example.com", true), "shop", "")
			if err != nil || again.ID != a.ID {
				t.Fatalf("second sign-in %v %v", again, err)
			}
			m, err := storage.NewAccounts(e.db).Membership(ctx, a.ID, "shop")
			if err != nil || m.JoinedVia != idp.JoinedByUpstream {
				t.Fatalf("membership %+v %v", m, err)
			}
		}},
		{"an unverified new e-mail is not given to the new account", func(t *testing.T, e fedEnv) {
			a, err := e.svc.SignInUpstream(ctx, google("2", "nobody@example.com", false), "", "")
			if err != nil || a.Email != nil || a.EmailVerified {
				t.Fatalf("account %+v %v", a, err)
			}
		}},
		{"an unverified e-mail of an existing account is refused, nothing written", func(t *testing.T, e fedEnv) {
			before, _ := e.db.RowCounts(ctx)
			_, err := e.svc.SignInUpstream(ctx, google("3", "ana@example.com", false), "shop", "")
			if !errors.Is(err, idp.ErrUnverifiedEmail) {
				t.Fatalf("err = %v", err)
			}
			after, _ := e.db.RowCounts(ctx)
			for k, v := range before {
				if after[k] != v {
					t.Errorf("%s: %d rows, was %d", k, after[k], v)
				}
			}
		}},
		{"a verified e-mail of an account with a password needs the password once", func(t *testing.T, e fedEnv) {
			_, err := e.svc.SignInUpstream(ctx, google("4", "ana@example.com", true), "shop", "flow-1")
			var need *idp.LinkPasswordRequired
			if !errors.As(err, &need) || need.Email != "ana@example.com" || need.Token == "" {
				t.Fatalf("err = %v", err)
			}
			info, err := e.svc.PendingLink(ctx, need.Token)
			if err != nil || info.Flow != "flow-1" || info.Upstream != "google" {
				t.Fatalf("pending %+v %v", info, err)
			}
			if _, _, err := e.svc.CompleteLink(ctx, need.Token, "wrong", "shop", idp.Source{}); !errors.Is(err, idp.ErrInvalidCredentials) {
				t.Fatalf("wrong password: %v", err)
			}
			acct, _ := storage.NewAccounts(e.db).AccountByEmail(ctx, "ana@example.com")
			if acct.FailedLogins != 1 {
				t.Fatalf("the wrong password was not counted: %d", acct.FailedLogins)
			}
			a, flow, err := e.svc.CompleteLink(ctx, need.Token, "the right one", "shop", idp.Source{})
			if err != nil || flow != "flow-1" || a.ID != acct.ID {
				t.Fatalf("right password: %v %q %v", a, flow, err)
			}
			if _, _, err := e.svc.CompleteLink(ctx, need.Token, "the right one", "shop", idp.Source{}); !errors.Is(err, idp.ErrLinkExpired) {
				t.Fatalf("second use: %v", err)
			}
			again, err := e.svc.SignInUpstream(ctx, google("4", "ana@example.com", true), "shop", "")
			if err != nil || again.ID != acct.ID {
				t.Fatalf("linked sign-in: %v %v", again, err)
			}
		}},
		{"a pending link expires after 10 minutes", func(t *testing.T, e fedEnv) {
			_, err := e.svc.SignInUpstream(ctx, google("5", "ana@example.com", true), "", "")
			var need *idp.LinkPasswordRequired
			if !errors.As(err, &need) {
				t.Fatal(err)
			}
			e.clk.Add(idp.PendingLinkTTL + time.Second)
			if _, _, err := e.svc.CompleteLink(ctx, need.Token, "the right one", "", idp.Source{}); !errors.Is(err, idp.ErrLinkExpired) {
				t.Fatalf("expired: %v", err)
			}
			if _, err := e.svc.PendingLink(ctx, "forged"); !errors.Is(err, idp.ErrLinkExpired) {
				t.Fatalf("forged: %v", err)
			}
		}},
		{"a verified e-mail of an account without a password links at once", func(t *testing.T, e fedEnv) {
			a, err := e.svc.SignInUpstream(ctx, google("6", "grace@example.com", true), "", "")
			if err != nil {
				t.Fatal(err)
			}
			corp := google("c6", "grace@example.com", true)
			corp.Upstream = "corp"
			b, err := e.svc.SignInUpstream(ctx, corp, "", "")
			if err != nil || b.ID != a.ID {
				t.Fatalf("second upstream: %v %v", b, err)
			}
			ls, _ := e.svc.Links(ctx, a.ID)
			if len(ls) != 2 {
				t.Fatalf("links %v", ls)
			}
		}},
		{"unlinking the last way to sign in is refused", func(t *testing.T, e fedEnv) {
			a, err := e.svc.SignInUpstream(ctx, google("7", "hopper@example.com", true), "", "")
			if err != nil {
				t.Fatal(err)
			}
			if err := e.svc.Unlink(ctx, a.ID, "google", "7"); !errors.Is(err, idp.ErrLastSignIn) {
				t.Fatalf("last link: %v", err)
			}
			corp := google("c7", "hopper@example.com", true)
			corp.Upstream = "corp"
			if _, err := e.svc.SignInUpstream(ctx, corp, "", ""); err != nil {
				t.Fatal(err)
			}
			if err := e.svc.Unlink(ctx, a.ID, "google", "7"); err != nil {
				t.Fatalf("one of two: %v", err)
			}
			if err := e.svc.Unlink(ctx, a.ID, "google", "7"); !errors.Is(err, idp.ErrInvalidInput) {
				t.Fatalf("gone: %v", err)
			}
			if err := e.svc.Unlink(ctx, a.ID, "corp", "c7"); !errors.Is(err, idp.ErrLastSignIn) {
				t.Fatalf("last: %v", err)
			}
		}},
		{"a profile refresh on each sign-in", func(t *testing.T, e fedEnv) {
			if _, err := e.svc.SignInUpstream(ctx, google("8", "kay@example.com", true), "", ""); err != nil {
				t.Fatal(err)
			}
			id := google("8", "kay@example.com", true)
			id.Name, id.RawClaims = "Kay", []byte(`{"sub":"8","name":"Kay"}`)
			if _, err := e.svc.SignInUpstream(ctx, id, "", ""); err != nil {
				t.Fatal(err)
			}
			l, err := e.links.LinkBySubject(ctx, "google", "8")
			if err != nil || l.Name != "Kay" || l.RawClaims != `{"sub":"8","name":"Kay"}` {
				t.Fatalf("link %+v %v", l, err)
			}
		}},
		{"bad identities are refused", func(t *testing.T, e fedEnv) {
			for _, id := range []idp.FederatedIdentity{{Upstream: "google"}, {Subject: "x"}, {Upstream: "google", Subject: string(make([]byte, 300))}} {
				if _, err := e.svc.SignInUpstream(ctx, id, "", ""); !errors.Is(err, idp.ErrInvalidInput) {
					t.Errorf("%+v: %v", id, err)
				}
			}
		}},
	}
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			b.Check(t)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { c.run(t, newFedService(t, b)) })
			}
		})
	}
}
