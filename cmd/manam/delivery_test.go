package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/manam-id/manam/idp/delivery/deliverytest"
	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

// TestServerDeliversOutbox: a message written to the outbox (as a request
// that changes state would) reaches a real SMTP server through the running
// server's worker, from MANAM_MAIL_FROM.
func TestServerDeliversOutbox(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			mail := deliverytest.Start(t, deliverytest.Options{})
			dsn := be.dsn(t)
			startServer(t, dsn, map[string]string{"MANAM_SMTP_URL": "smtp://" + mail.Addr, "MANAM_MAIL_FROM": "Manam <id@manam.example>"})
			db := storagetest.OpenDSN(t, dsn)
			now := time.Now()
			if err := storage.NewOutbox(db).Enqueue(context.Background(), &storage.OutboxMessage{ID: "m1", Channel: "mail", Recipient: "reza@example.com",
				Subject: "Welcome", Text: "Hello", HTML: "<p>Hello</p>", CreatedAt: now, NextAttemptAt: now}); err != nil {
				t.Fatal(err)
			}
			got := mail.Wait(t, 1)
			p, err := deliverytest.Parse(got[0].Data)
			if err != nil || got[0].From != "id@manam.example" || got[0].To != "reza@example.com" || p.Subject != "Welcome" || p.HTML != "<p>Hello</p>" {
				t.Fatalf("received %+v (%v)", got[0], err)
			}
			waitFor(t, "the message to be recorded as sent", func() bool {
				m, err := storage.NewOutbox(db).Get(context.Background(), "m1")
				return err == nil && m.SentAt != nil
			})
		})
	}
}

func TestDeliveryConfig(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want string // "" valid, else part of the error
	}{
		{"defaults: log", nil, ""},
		{"smtp", map[string]string{"MANAM_SMTP_URL": "smtp://u:p@mail.example.com:587"}, ""},
		{"smtps", map[string]string{"MANAM_SMTP_URL": "smtps://mail.example.com"}, ""},
		{"bad smtp URL", map[string]string{"MANAM_SMTP_URL": "mail.example.com:25"}, "MANAM_SMTP_URL"},
		{"bad sender", map[string]string{"MANAM_MAIL_FROM": "not an address"}, "MANAM_MAIL_FROM"},
		{"gateway", map[string]string{"MANAM_SMS_URL": "https://sms.example/send", "MANAM_SMS_AUTH_HEADER": "Authorization: Bearer k"}, ""},
		{"bad gateway header", map[string]string{"MANAM_SMS_URL": "https://sms.example/send", "MANAM_SMS_AUTH_HEADER": "Bearer k"}, "MANAM_SMS_URL"},
		{"bad gateway template", map[string]string{"MANAM_SMS_URL": "https://sms.example/send", "MANAM_SMS_BODY_TEMPLATE": "{{.Nope"}, "MANAM_SMS_URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadConfig(newFlags("serve"), envOf(tc.env))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tc.env == nil && c.mailFrom() != "no-reply@localhost" {
					t.Fatalf("default sender %q", c.mailFrom())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error naming %s, got %v", tc.want, err)
			}
		})
	}
}
