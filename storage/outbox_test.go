package storage_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

func msg(id string, due time.Time) *storage.OutboxMessage {
	return &storage.OutboxMessage{ID: id, Channel: "mail", Recipient: id + "@example.com", Subject: "s", Text: "t",
		CreatedAt: due, NextAttemptAt: due}
}

func TestOutbox(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		run  func(t *testing.T, db *storage.DB, o *storage.Outbox)
	}{
		{"enqueued with a rolled-back change: no message", func(t *testing.T, db *storage.DB, o *storage.Outbox) {
			ctx := context.Background()
			boom := errors.New("the change failed")
			err := db.InTx(ctx, func(ctx context.Context) error {
				if err := o.Enqueue(ctx, msg("m1", t0)); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatal(err)
			}
			if _, err := o.Get(ctx, "m1"); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("message of a rolled-back change exists: %v", err)
			}
		}},
		{"only due messages, oldest first, within the limit", func(t *testing.T, _ *storage.DB, o *storage.Outbox) {
			ctx := context.Background()
			for i, d := range []time.Duration{2, 0, 1, 10} {
				if err := o.Enqueue(ctx, msg(fmt.Sprint("m", i), t0.Add(d*time.Minute))); err != nil {
					t.Fatal(err)
				}
			}
			got, err := o.Claim(ctx, "w1", t0.Add(5*time.Minute), time.Minute, 2)
			if err != nil || len(got) != 2 || got[0].ID != "m1" || got[1].ID != "m2" {
				t.Fatalf("claim = %v, %v; want m1, m2", ids(got), err)
			}
			got, _ = o.Claim(ctx, "w2", t0.Add(5*time.Minute), time.Minute, 10)
			if len(got) != 1 || got[0].ID != "m0" {
				t.Fatalf("second claim = %v; want m0 (m3 not due, m1 m2 leased)", ids(got))
			}
		}},
		{"a lease that ran out is claimed again; the late worker cannot settle", func(t *testing.T, _ *storage.DB, o *storage.Outbox) {
			ctx := context.Background()
			_ = o.Enqueue(ctx, msg("m1", t0))
			if got, _ := o.Claim(ctx, "w1", t0, time.Minute, 10); len(got) != 1 {
				t.Fatal("first claim")
			}
			if got, _ := o.Claim(ctx, "w2", t0.Add(30*time.Second), time.Minute, 10); len(got) != 0 {
				t.Fatal("claimed while leased")
			}
			if got, _ := o.Claim(ctx, "w2", t0.Add(61*time.Second), time.Minute, 10); len(got) != 1 {
				t.Fatal("an expired lease was not reclaimed")
			}
			if err := o.MarkSent(ctx, "m1", "w1", t0.Add(62*time.Second)); !errors.Is(err, storage.ErrLeaseLost) {
				t.Fatalf("late worker settled: %v", err)
			}
			if err := o.MarkSent(ctx, "m1", "w2", t0.Add(62*time.Second)); err != nil {
				t.Fatal(err)
			}
			m, _ := o.Get(ctx, "m1")
			if m.SentAt == nil || m.Attempts != 1 {
				t.Fatalf("after send: %+v", m)
			}
			if got, _ := o.Claim(ctx, "w3", t0.Add(time.Hour), time.Minute, 10); len(got) != 0 {
				t.Fatal("a sent message was claimed again")
			}
		}},
		{"failure schedules a retry; a zero retry time gives up", func(t *testing.T, _ *storage.DB, o *storage.Outbox) {
			ctx := context.Background()
			_ = o.Enqueue(ctx, msg("m1", t0))
			_, _ = o.Claim(ctx, "w", t0, time.Minute, 1)
			if err := o.MarkFailed(ctx, "m1", "w", "421 try later", t0, t0.Add(30*time.Second)); err != nil {
				t.Fatal(err)
			}
			if got, _ := o.Claim(ctx, "w", t0.Add(10*time.Second), time.Minute, 1); len(got) != 0 {
				t.Fatal("claimed before its retry time")
			}
			got, _ := o.Claim(ctx, "w", t0.Add(31*time.Second), time.Minute, 1)
			if len(got) != 1 || got[0].Attempts != 1 || got[0].LastError != "421 try later" {
				t.Fatalf("retry: %+v", got)
			}
			if err := o.MarkFailed(ctx, "m1", "w", "550 no such user", t0.Add(31*time.Second), time.Time{}); err != nil {
				t.Fatal(err)
			}
			m, _ := o.Get(ctx, "m1")
			if m.GaveUpAt == nil || m.Attempts != 2 {
				t.Fatalf("given up: %+v", m)
			}
			if got, _ := o.Claim(ctx, "w", t0.Add(48*time.Hour), time.Minute, 1); len(got) != 0 {
				t.Fatal("a given-up message was claimed")
			}
		}},
		{"concurrent workers claim disjoint sets", func(t *testing.T, _ *storage.DB, o *storage.Outbox) {
			ctx := context.Background()
			for i := range 40 {
				_ = o.Enqueue(ctx, msg(fmt.Sprintf("m%02d", i), t0))
			}
			var mu sync.Mutex
			seen := map[string]string{}
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Go(func() {
					for {
						got, err := o.Claim(ctx, fmt.Sprint("w", w), t0, time.Minute, 3)
						if err != nil {
							t.Error(err)
							return
						}
						if len(got) == 0 {
							return
						}
						mu.Lock()
						for _, m := range got {
							if prev, dup := seen[m.ID]; dup {
								t.Errorf("%s claimed by %s and w%d", m.ID, prev, w)
							}
							seen[m.ID] = fmt.Sprint("w", w)
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if len(seen) != 40 {
				t.Fatalf("%d of 40 messages claimed", len(seen))
			}
		}},
		{"sweep removes delivered and given-up messages only", func(t *testing.T, _ *storage.DB, o *storage.Outbox) {
			ctx := context.Background()
			for _, id := range []string{"sent", "dead", "pending"} {
				_ = o.Enqueue(ctx, msg(id, t0))
			}
			_, _ = o.Claim(ctx, "w", t0, time.Minute, 3)
			_ = o.MarkSent(ctx, "sent", "w", t0)
			_ = o.MarkFailed(ctx, "dead", "w", "x", t0, time.Time{})
			n, err := o.SweepSent(ctx, t0.Add(time.Hour), 10)
			if err != nil || n != 2 {
				t.Fatalf("swept %d, %v", n, err)
			}
			if _, err := o.Get(ctx, "pending"); err != nil {
				t.Fatal("a pending message was swept")
			}
		}},
	}
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			b.Check(t)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					db := b.Open(t)
					tc.run(t, db, storage.NewOutbox(db))
				})
			}
		})
	}
}

func ids(ms []storage.OutboxMessage) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}
