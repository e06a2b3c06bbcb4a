package delivery

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/manam-id/manam/idp/delivery/deliverytest"
	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func enqueue(t *testing.T, o *storage.Outbox, id, channel, to string, at time.Time) {
	t.Helper()
	if err := o.Enqueue(context.Background(), &storage.OutboxMessage{ID: id, Channel: channel, Recipient: to, Subject: "Confirm",
		Text: "code 123456", CreatedAt: at, NextAttemptAt: at}); err != nil {
		t.Fatal(err)
	}
}

func TestWorker(t *testing.T) {
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			b.Check(t)
			ctx := context.Background()

			t.Run("a dead SMTP server delays mail, never loses it", func(t *testing.T) {
				db := b.Open(t)
				o := storage.NewOutbox(db)
				clk := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
				// Reserve a port, keep nothing listening on it yet.
				ln, _ := net.Listen("tcp", "127.0.0.1:0")
				addr := ln.Addr().String()
				ln.Close()
				mailer, _ := NewSMTP("smtp://"+addr, SMTPOptions{Timeout: 2 * time.Second})
				w, err := NewWorker(o, mailer, LogSMS{Log: discard}, WorkerOptions{Owner: "w1", From: "no-reply@id.example", Now: clk.now, Logger: discard})
				if err != nil {
					t.Fatal(err)
				}
				enqueue(t, o, "m1", "mail", "reza@example.com", clk.now())
				if _, err := w.RunOnce(ctx); err != nil {
					t.Fatal(err)
				}
				m, _ := o.Get(ctx, "m1")
				if m.SentAt != nil || m.GaveUpAt != nil || m.Attempts != 1 || !m.NextAttemptAt.After(clk.now()) || m.LastError == "" {
					t.Fatalf("after a failed attempt: %+v", m)
				}
				// Nothing is due before the retry time.
				if n, _ := w.RunOnce(ctx); n != 0 {
					t.Fatal("retried before the backoff")
				}
				// The server comes back; at the retry time the mail goes, once.
				be := deliverytest.Start(t, deliverytest.Options{Addr: addr})
				clk.add(time.Minute)
				if n, err := w.RunOnce(ctx); n != 1 || err != nil {
					t.Fatalf("retry: %d %v", n, err)
				}
				clk.add(time.Hour)
				_, _ = w.RunOnce(ctx)
				if got := be.Messages(); len(got) != 1 || got[0].To != "reza@example.com" {
					t.Fatalf("delivered %d messages", len(got))
				}
				if m, _ := o.Get(ctx, "m1"); m.SentAt == nil || m.Attempts != 2 {
					t.Fatalf("after delivery: %+v", m)
				}
			})

			t.Run("two replicas deliver every message exactly once", func(t *testing.T) {
				dsn := b.NewDSN(t)
				o := storage.NewOutbox(storagetest.OpenDSN(t, dsn))
				be := deliverytest.Start(t, deliverytest.Options{})
				mailer, _ := NewSMTP("smtp://"+be.Addr, SMTPOptions{Timeout: 5 * time.Second})
				now := time.Now()
				for i := range 30 {
					enqueue(t, o, fmt.Sprintf("m%02d", i), "mail", fmt.Sprintf("u%02d@example.com", i), now.Add(-time.Minute))
				}
				var wg sync.WaitGroup
				for r := range 2 {
					// Each replica has its own database handle, as separate processes do.
					rdb := storagetest.OpenDSN(t, dsn)
					w, _ := NewWorker(storage.NewOutbox(rdb), mailer, LogSMS{Log: discard}, WorkerOptions{Owner: fmt.Sprint("replica-", r), From: "no-reply@id.example", Batch: 4, Logger: discard})
					wg.Go(func() {
						for {
							n, err := w.RunOnce(ctx)
							if err != nil {
								t.Error(err)
								return
							}
							if n == 0 {
								return
							}
						}
					})
				}
				wg.Wait()
				got := map[string]int{}
				for _, m := range be.Messages() {
					got[m.To]++
				}
				if len(got) != 30 {
					t.Fatalf("%d distinct recipients received mail, want 30", len(got))
				}
				for to, n := range got {
					if n != 1 {
						t.Fatalf("%s received %d copies", to, n)
					}
				}
			})

			t.Run("a refused recipient is given up at once; others go on", func(t *testing.T) {
				db := b.Open(t)
				o := storage.NewOutbox(db)
				be := deliverytest.Start(t, deliverytest.Options{RejectRcpt: "nobody@example.com"})
				mailer, _ := NewSMTP("smtp://"+be.Addr, SMTPOptions{})
				w, _ := NewWorker(o, mailer, LogSMS{Log: discard}, WorkerOptions{Owner: "w", From: "no-reply@id.example", Logger: discard})
				now := time.Now()
				enqueue(t, o, "bad", "mail", "nobody@example.com", now)
				enqueue(t, o, "good", "mail", "reza@example.com", now)
				if _, err := w.RunOnce(ctx); err != nil {
					t.Fatal(err)
				}
				bad, _ := o.Get(ctx, "bad")
				good, _ := o.Get(ctx, "good")
				if bad.GaveUpAt == nil || bad.Attempts != 1 || good.SentAt == nil {
					t.Fatalf("bad %+v good %+v", bad, good)
				}
			})

			t.Run("SMS through the gateway, retried up to the limit", func(t *testing.T) {
				db := b.Open(t)
				o := storage.NewOutbox(db)
				clk := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
				gw, _ := NewGateway(GatewayOptions{URL: "http://127.0.0.1:1/send", Timeout: time.Second})
				w, _ := NewWorker(o, LogMailer{Log: discard}, gw, WorkerOptions{Owner: "w", MaxAttempts: 3, Now: clk.now, Logger: discard})
				enqueue(t, o, "s1", "sms", "+989111087815", clk.now())
				for range 3 {
					if _, err := w.RunOnce(ctx); err != nil {
						t.Fatal(err)
					}
					clk.add(24 * time.Hour)
				}
				m, _ := o.Get(ctx, "s1")
				if m.GaveUpAt == nil || m.Attempts != 3 {
					t.Fatalf("after 3 failures: %+v", m)
				}
			})
		})
	}
}

func TestBackoff(t *testing.T) {
	w, _ := NewWorker(storage.NewOutbox(nil), LogMailer{}, LogSMS{}, WorkerOptions{Owner: "w", BackoffBase: 30 * time.Second, BackoffMax: time.Hour})
	cases := []struct {
		attempt  int
		min, max time.Duration
	}{{1, 24 * time.Second, 36 * time.Second}, {2, 48 * time.Second, 72 * time.Second}, {5, 384 * time.Second, 576 * time.Second}, {30, 48 * time.Minute, 72 * time.Minute}}
	for _, tc := range cases {
		for range 20 {
			if d := w.backoff(tc.attempt); d < tc.min || d > tc.max {
				t.Fatalf("backoff(%d) = %v, want %v..%v", tc.attempt, d, tc.min, tc.max)
			}
		}
	}
}
