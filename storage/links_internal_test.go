package storage

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// TestLinksCascade: deleting an account deletes its upstream links (the
// foreign key's ON DELETE CASCADE). Package storage has no way to delete
// an account yet, so this in-package test does it by hand, on SQLite (the
// MySQL schema comes from the same model tag).
func TestLinksCascade(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "manam.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	e := "cascade@example.com"
	a := &Account{ID: "00000000-0000-4000-8000-0000000000c1", Email: &e, CreatedAt: now, UpdatedAt: now}
	if err := NewAccounts(db).CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	links := NewLinks(db)
	if err := links.CreateLink(ctx, &UpstreamLink{Upstream: "google", Subject: "1", AccountID: a.ID, CreatedAt: now, LastLoginAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := db.w.WithContext(ctx).Where("id = ?", a.ID).Delete(&Account{}).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := links.LinkBySubject(ctx, "google", "1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("link of a deleted account: %v", err)
	}
}
