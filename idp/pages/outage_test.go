package pages

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestOutagePages: every 503 page of the hosted pages goes through one of
// these helpers. Each answers 503 with its own title and message, never
// the error, logs what failed with the error and its attributes, and only
// a failed sign-in counts as a sign-in outcome ("error").
func TestOutagePages(t *testing.T) {
	cause := errors.New("injected: connection refused to 10.0.0.7")
	cases := []struct {
		name       string
		call       func(p *Pages, w http.ResponseWriter, r *http.Request)
		title, msg string
		log        []string
		observed   string
	}{
		{"sign-in, counted", func(p *Pages, w http.ResponseWriter, r *http.Request) {
			p.unavailable(w, r, "upstream sign-in failed", cause, "upstream", "google")
		}, "Sign-in unavailable", "Sign-in is unavailable right now. Please try again in a moment.",
			[]string{`msg="upstream sign-in failed"`, "upstream=google", `err="injected: connection refused to 10.0.0.7"`}, "error"},
		{"around a sign-in, not counted", func(p *Pages, w http.ResponseWriter, r *http.Request) {
			p.signInUnavailable(w, r, "pending link failed", cause)
		}, "Sign-in unavailable", "Sign-in is unavailable right now. Please try again in a moment.",
			[]string{`msg="pending link failed"`, `err="injected`}, ""},
		{"any other page", func(p *Pages, w http.ResponseWriter, r *http.Request) {
			p.failed(w, r, "password reset failed", cause)
		}, "Unavailable", "This is unavailable right now. Please try again in a moment.",
			[]string{`msg="password reset failed"`, `err="injected`}, ""},
		{"a page's own message", func(p *Pages, w http.ResponseWriter, r *http.Request) {
			p.outageError(w, r, cause, "Unavailable", "Registration is unavailable right now. Please try again in a moment.", "registration failed")
		}, "Unavailable", "Registration is unavailable right now. Please try again in a moment.",
			[]string{`msg="registration failed"`, `err="injected`}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			var observed []string
			p, err := New(Deps{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Observer: func(o string) { observed = append(observed, o) }})
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			tc.call(p, rec, httptest.NewRequest("POST", "/x", nil))
			body := rec.Body.String()
			if rec.Code != http.StatusServiceUnavailable || !strings.Contains(body, tc.title) || !strings.Contains(body, tc.msg) {
				t.Fatalf("got %d, want 503 with %q and %q:\n%s", rec.Code, tc.title, tc.msg, body)
			}
			if strings.Contains(body, "10.0.0.7") || strings.Contains(body, "injected") {
				t.Fatalf("the page shows the error:\n%s", body)
			}
			for _, want := range tc.log {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("log %q lacks %s", logs.String(), want)
				}
			}
			if got := strings.Join(observed, ","); got != tc.observed {
				t.Errorf("observed %q, want %q", got, tc.observed)
			}
		})
	}
}
