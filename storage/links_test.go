package storage_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

// TestLinks is the upstream link store's conformance suite, on every backend.
func TestLinks(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	type env struct {
		db    *storage.DB
		links *storage.Links
		ids   []string
	}
	setup := func(t *testing.T, b storagetest.Backend) env {
		db := b.Open(t)
		accts := storage.NewAccounts(db)
		var ids []string
		for i := range 2 {
			e := fmt.Sprintf("l%d@example.com", i)
			a := &storage.Account{ID: fmt.Sprintf("00000000-0000-4000-8000-00000000001%d", i), Email: &e, CreatedAt: now, UpdatedAt: now}
			if err := accts.CreateAccount(context.Background(), a); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, a.ID)
		}
		return env{db: db, links: storage.NewLinks(db), ids: ids}
	}
	link := func(acct, up, sub string) *storage.UpstreamLink {
		return &storage.UpstreamLink{Upstream: up, Subject: sub, AccountID: acct, Email: "l@example.com", GivenName: "Ada",
			FamilyName: "Lovelace", Name: "Ada Lovelace", Picture: "https://example.com/a.png", Locale: "en", Birthdate: "1815-12-10",
			RawClaims: `{"sub":"` + sub + `"}`, CreatedAt: now, LastLoginAt: now}
	}
	cases := []struct {
		name string
		run  func(t *testing.T, e env)
	}{
		{"create, find, list", func(t *testing.T, e env) {
			ctx := context.Background()
			if err := e.links.CreateLink(ctx, link(e.ids[0], "google", "42")); err != nil {
				t.Fatal(err)
			}
			if err := e.links.CreateLink(ctx, link(e.ids[0], "corp", "42")); err != nil {
				t.Fatal("the same subject at another upstream:", err)
			}
			got, err := e.links.LinkBySubject(ctx, "google", "42")
			if err != nil || got.AccountID != e.ids[0] || got.GivenName != "Ada" || got.Birthdate != "1815-12-10" ||
				got.RawClaims != `{"sub":"42"}` || !got.CreatedAt.Equal(now) {
				t.Fatalf("LinkBySubject = %+v, %v", got, err)
			}
			ls, err := e.links.LinksOf(ctx, e.ids[0])
			if err != nil || len(ls) != 2 {
				t.Fatalf("LinksOf = %v, %v", ls, err)
			}
			if ls, err := e.links.LinksOf(ctx, e.ids[1]); err != nil || len(ls) != 0 {
				t.Fatalf("LinksOf(other) = %v, %v", ls, err)
			}
		}},
		{"unknown identity", func(t *testing.T, e env) {
			_, err := e.links.LinkBySubject(context.Background(), "google", "nobody")
			if !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("err = %v, want ErrNotFound", err)
			}
		}},
		{"an identity links one account only", func(t *testing.T, e env) {
			ctx := context.Background()
			if err := e.links.CreateLink(ctx, link(e.ids[0], "google", "7")); err != nil {
				t.Fatal(err)
			}
			err := e.links.CreateLink(ctx, link(e.ids[1], "google", "7"))
			if !errors.Is(err, storage.ErrDuplicate) {
				t.Fatalf("err = %v, want ErrDuplicate", err)
			}
			got, _ := e.links.LinkBySubject(ctx, "google", "7")
			if got.AccountID != e.ids[0] {
				t.Fatal("the duplicate replaced the link")
			}
		}},
		{"unknown account", func(t *testing.T, e env) {
			err := e.links.CreateLink(context.Background(), link("00000000-0000-4000-8000-00000000dead", "google", "8"))
			if !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("err = %v, want ErrNotFound", err)
			}
		}},
		{"touch refreshes the profile", func(t *testing.T, e env) {
			ctx := context.Background()
			if err := e.links.CreateLink(ctx, link(e.ids[0], "google", "9")); err != nil {
				t.Fatal(err)
			}
			later := now.Add(time.Hour)
			if err := e.links.TouchLink(ctx, "google", "9", storage.UpstreamLink{Email: "new@example.com", Name: "Ada King", LastLoginAt: later, RawClaims: "{}"}); err != nil {
				t.Fatal(err)
			}
			got, err := e.links.LinkBySubject(ctx, "google", "9")
			if err != nil || got.Email != "new@example.com" || got.Name != "Ada King" || got.GivenName != "" || !got.LastLoginAt.Equal(later) || !got.CreatedAt.Equal(now) {
				t.Fatalf("after touch %+v, %v", got, err)
			}
			if err := e.links.TouchLink(ctx, "google", "nobody", storage.UpstreamLink{LastLoginAt: later}); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("touch unknown: %v", err)
			}
		}},
		{"delete is per account", func(t *testing.T, e env) {
			ctx := context.Background()
			if err := e.links.CreateLink(ctx, link(e.ids[0], "google", "10")); err != nil {
				t.Fatal(err)
			}
			if err := e.links.DeleteLink(ctx, e.ids[1], "google", "10"); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("another account deleted the link: %v", err)
			}
			if err := e.links.DeleteLink(ctx, e.ids[0], "google", "10"); err != nil {
				t.Fatal(err)
			}
			if err := e.links.DeleteLink(ctx, e.ids[0], "google", "10"); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("second delete: %v", err)
			}
		}},
		{"pending links are single use and expire", func(t *testing.T, e env) {
			ctx := context.Background()
			p := &storage.PendingUpstreamLink{ID: "aa", AccountID: e.ids[0], Identity: `{"sub":"1"}`, Flow: "challenge", CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
			if err := e.links.CreatePendingLink(ctx, p); err != nil {
				t.Fatal(err)
			}
			if got, err := e.links.PendingLink(ctx, "aa", now.Add(time.Minute)); err != nil || got.Identity != `{"sub":"1"}` || got.Flow != "challenge" {
				t.Fatalf("PendingLink = %+v, %v", got, err)
			}
			if _, err := e.links.PendingLink(ctx, "aa", now.Add(11*time.Minute)); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("expired pending link: %v", err)
			}
			if err := e.links.UsePendingLink(ctx, "aa", now.Add(11*time.Minute)); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("used an expired pending link: %v", err)
			}
			var wins atomic.Int32
			var wg sync.WaitGroup
			for range 6 {
				wg.Go(func() {
					if err := e.links.UsePendingLink(ctx, "aa", now.Add(time.Minute)); err == nil {
						wins.Add(1)
					} else if !errors.Is(err, storage.ErrNotFound) {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if wins.Load() != 1 {
				t.Fatalf("%d uses succeeded, want 1", wins.Load())
			}
			// Creating another drops the expired ones.
			old := &storage.PendingUpstreamLink{ID: "bb", AccountID: e.ids[0], CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
			if err := e.links.CreatePendingLink(ctx, old); err != nil {
				t.Fatal(err)
			}
			if err := e.links.CreatePendingLink(ctx, &storage.PendingUpstreamLink{ID: "cc", AccountID: e.ids[0], CreatedAt: now.Add(time.Hour), ExpiresAt: now.Add(2 * time.Hour)}); err != nil {
				t.Fatal(err)
			}
			counts, err := e.db.RowCounts(ctx)
			if err != nil || counts["upstream_links_pending"] != 1 {
				t.Fatalf("pending rows %v, %v", counts, err)
			}
		}},
		{"in a transaction, a rollback leaves nothing", func(t *testing.T, e env) {
			ctx := context.Background()
			boom := errors.New("boom")
			err := e.db.InTx(ctx, func(ctx context.Context) error {
				if err := e.links.CreateLink(ctx, link(e.ids[0], "google", "12")); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatal(err)
			}
			if _, err := e.links.LinkBySubject(ctx, "google", "12"); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("rolled-back link exists: %v", err)
			}
		}},
	}
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			b.Check(t)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { c.run(t, setup(t, b)) })
			}
		})
	}
}
