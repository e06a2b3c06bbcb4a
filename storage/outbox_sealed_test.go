package storage_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/manam-id/manam/idp/mfa"
	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

// TestOutboxSealedBodies: with a sealer, a message's bodies (which carry
// confirmation and reset links and one-time codes) are stored encrypted,
// bound to their row; the worker's claim gets them back in the clear;
// delivering (or giving up) empties them.
func TestOutboxSealedBodies(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	sealer, err := mfa.NewSealer(key, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const link = "https://id.example/recover/reset?token=SECRET-RESET-TOKEN-0123456789"
	now := time.Now().UTC()
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			b.Check(t)
			ctx := context.Background()
			dsn := b.NewDSN(t)
			db := storagetest.OpenDSN(t, dsn)
			o := storage.NewOutbox(db).WithSealer(sealer)
			for _, id := range []string{"sent", "given-up"} {
				if err := o.Enqueue(ctx, &storage.OutboxMessage{ID: id, Channel: "mail", Recipient: "kim@example.com", Subject: "Reset",
					Text: "Open " + link, HTML: "<a href=\"" + link + "\">reset</a>", CreatedAt: now, NextAttemptAt: now}); err != nil {
					t.Fatal(err)
				}
			}
			// Without the key the rows say nothing, and in the file the link is nowhere.
			if _, err := storage.NewOutbox(db).Get(ctx, "sent"); err == nil {
				t.Error("a sealed message read without the key")
			}
			if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
				for _, f := range []string{path, path + "-wal"} {
					raw, _ := os.ReadFile(f)
					if bytes.Contains(raw, []byte("SECRET-RESET-TOKEN")) {
						t.Errorf("%s holds the link in the clear", f)
					}
				}
			}
			ms, err := o.Claim(ctx, "w1", now, time.Minute, 10)
			if err != nil || len(ms) != 2 {
				t.Fatalf("claim: %v %v", ms, err)
			}
			for _, m := range ms {
				if !strings.Contains(m.Text, link) || !strings.Contains(m.HTML, link) {
					t.Fatalf("claimed bodies: %q %q", m.Text, m.HTML)
				}
			}
			if err := o.MarkSent(ctx, "sent", "w1", now); err != nil {
				t.Fatal(err)
			}
			if err := o.MarkFailed(ctx, "given-up", "w1", "refused", now, time.Time{}); err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{"sent", "given-up"} {
				m, err := o.Get(ctx, id)
				if err != nil || m.Text != "" || m.HTML != "" {
					t.Errorf("%s: bodies kept after delivery: %q %q %v", id, m.Text, m.HTML, err)
				}
			}
		})
	}
}
