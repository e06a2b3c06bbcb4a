package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/manam-id/manam/provider"
)

// TestLogLinesCarryRequestID: a line logged while serving a request carries
// the request's id (the X-Request-Id the client sent or was given) even
// when the code that logs it passed only the context; a line that named
// the id itself is not given a second one.
func TestLogLinesCarryRequestID(t *testing.T) {
	srv := startServer(t, "sqlite:"+t.TempDir()+"/m.db", map[string]string{"MANAM_LOG_FORMAT": "text"})
	app := srv.createTenant(t, "--name", "Logs", "--redirect-uri", "https://logs.example/cb", "--allow-unconfirmed")

	const id = "req-logs-0123456789"
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/auth/register",
		strings.NewReader(`{"email":"logs@example.com","password":"a long enough password","confirm_password":"a long enough password"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("customer_token", app.CustomerToken)
	req.Header.Set("X-Request-Id", id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 300 || resp.Header.Get("X-Request-Id") != id {
		t.Fatalf("register: %d %s, X-Request-Id %q", resp.StatusCode, body, resp.Header.Get("X-Request-Id"))
	}
	var line string
	for _, l := range strings.Split(srv.log.String(), "\n") {
		if strings.Contains(l, `msg="account joined tenant"`) {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("no 'account joined tenant' line in the log:\n%s", srv.log.String())
	}
	if !strings.Contains(line, "request_id="+id) {
		t.Errorf("log line lacks the request id %s: %s", id, line)
	}

	// The handler itself, with named cases.
	tests := []struct {
		name  string
		log   func(*slog.Logger, context.Context)
		wantN int // occurrences of request_id= in the line
	}{
		{name: "context only", log: func(l *slog.Logger, ctx context.Context) { l.InfoContext(ctx, "x") }, wantN: 1},
		{name: "id already named", log: func(l *slog.Logger, ctx context.Context) { l.InfoContext(ctx, "x", "request_id", "given") }, wantN: 1},
		{name: "no context", log: func(l *slog.Logger, ctx context.Context) { l.Info("x") }, wantN: 0},
		{name: "logger with attributes", log: func(l *slog.Logger, ctx context.Context) { l.With("a", 1).InfoContext(ctx, "x") }, wantN: 1},
	}
	ctx := provider.WithRequestID(context.Background(), "ctx-id-0123456789")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(slog.New(requestIDHandler{slog.NewTextHandler(&buf, nil)}), ctx)
			if n := strings.Count(buf.String(), "request_id="); n != tt.wantN {
				t.Errorf("%d request ids in %q, want %d", n, buf.String(), tt.wantN)
			}
		})
	}
}
