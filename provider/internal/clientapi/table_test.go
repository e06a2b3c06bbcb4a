package clientapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/storage"
)

// TestTable: the table routes each path once, picks the endpoint by
// method (405 with Allow otherwise), mounts the paths under every prefix
// (root-only ones at the root), asks for the tenant only where needed,
// lets CORS answer a preflight, and hands every error to Fail.
func TestTable(t *testing.T) {
	answer := func(what string) Handler {
		return func(w http.ResponseWriter, r *http.Request, c *Call) error {
			tenant := ""
			if c.Tenant != nil {
				tenant = c.Tenant.ID
			}
			fmt.Fprintf(w, "%s prefix=%q tenant=%q name=%q", what, c.Prefix, tenant, c.Get("name"))
			return nil
		}
	}
	get, post := []string{http.MethodGet}, []string{http.MethodPost}
	tbl := Table{
		Endpoints: []Endpoint{
			{Methods: get, Paths: []string{"/a"}, Handle: answer("get a")},
			{Methods: post, Paths: []string{"/a", "/a2"}, Handle: answer("post a"), JSONOnly: true},
			{Methods: get, Paths: []string{"/fixed"}, Handle: answer("fixed"), NoTenant: true},
			{Methods: get, Paths: []string{"/broken"}, Handle: func(http.ResponseWriter, *http.Request, *Call) error { return errors.New("boom") }, NoTenant: true},
			{Methods: get, Paths: []string{"/{any}"}, Handle: answer("pattern"), NoTenant: true},
			{Methods: get, Paths: []string{"/root/done"}, Handle: answer("root"), NoTenant: true, Root: true},
		},
		Prefixes: []string{"", "/v2"},
		Rules:    Rules{Query: true},
		CORS: func(w http.ResponseWriter, r *http.Request) bool {
			if r.Header.Get("Origin") == "" {
				return false
			}
			w.Header().Set("Access-Control-Allow-Origin", "*")
			if r.Method == http.MethodOptions {
				w.WriteHeader(http.StatusNoContent)
				return true
			}
			return false
		},
		Tenant: func(r *http.Request, c *Call) (*storage.Tenant, error) {
			if c.Get("key") != "k1" {
				return nil, Refusal(http.StatusUnauthorized, Say("The tenant key is not valid."))
			}
			return &storage.Tenant{ID: "t1"}, nil
		},
		Fail: func(w http.ResponseWriter, r *http.Request, c *Call, err error) {
			var me *MethodError
			p := Classify(w, r, err, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)), "test")
			w.WriteHeader(p.Status)
			if errors.As(err, &me) {
				fmt.Fprintf(w, "method %v", me.Allowed)
			}
		},
	}
	r := mux.NewRouter()
	tbl.Mount(r)
	cases := []struct {
		name, method, target, ctype, body, origin string
		status                                    int
		want, allow                               string
	}{
		{name: "GET", method: "GET", target: "/a?key=k1&name=x", status: 200, want: `get a prefix="" tenant="t1" name="x"`},
		{name: "POST under a prefix", method: "POST", target: "/v2/a?key=k1", ctype: "application/json", body: `{"name":"y"}`, status: 200, want: `post a prefix="/v2" tenant="t1" name="y"`},
		{name: "a second path of the endpoint", method: "POST", target: "/a2?key=k1", ctype: "application/json", body: `{}`, status: 200, want: "post a"},
		{name: "a wrong method", method: "PUT", target: "/a?key=k1", status: 405, want: "method [GET POST]", allow: "GET, POST, OPTIONS"},
		{name: "no tenant", method: "GET", target: "/a", status: 401},
		{name: "JSON only", method: "POST", target: "/a?key=k1", ctype: "text/plain", body: `{"name":"y"}`, status: 415},
		{name: "an unreadable body", method: "POST", target: "/a?key=k1", ctype: "application/json", body: `{"name":`, status: 400},
		{name: "a fixed path before a pattern", method: "GET", target: "/fixed", status: 200, want: "fixed"},
		{name: "the pattern", method: "GET", target: "/other", status: 200, want: "pattern"},
		{name: "root only", method: "GET", target: "/root/done", status: 200, want: `root prefix=""`},
		{name: "root only, not under a prefix", method: "GET", target: "/v2/root/done", status: 404},
		{name: "a preflight", method: "OPTIONS", target: "/a", origin: "https://shop.example", status: 204},
		{name: "OPTIONS without an origin is a wrong method", method: "OPTIONS", target: "/a", status: 405, allow: "GET, POST, OPTIONS"},
		{name: "a handler's failure", method: "GET", target: "/broken", status: 503},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) || rec.Header().Get("Allow") != tc.allow {
				t.Fatalf("%d %q Allow %q", rec.Code, rec.Body, rec.Header().Get("Allow"))
			}
		})
	}
}

// TestClassify: the failures every dialect answers alike, and ours: a 503
// with no detail, logged once (at Info when the client hung up).
func TestClassify(t *testing.T) {
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name   string
		err    error
		ctx    context.Context
		status int
		msgs   int
		log    string
	}{
		{name: "a problem as it is", err: Refusal(http.StatusTeapot, Say("x")), status: http.StatusTeapot, msgs: 1},
		{name: "a wrong method", err: &MethodError{Allowed: []string{"GET"}}, status: 405, msgs: 1},
		{name: "a body too large", err: fmt.Errorf("read: %w", &http.MaxBytesError{Limit: 1}), status: 413, msgs: 1},
		{name: "not JSON", err: ErrNotJSON, status: 415, msgs: 1},
		{name: "a bad body", err: fmt.Errorf("%w: eof", ErrBadBody), status: 400, msgs: 1},
		{name: "throttled", err: idp.ErrThrottled, status: 429, msgs: 1},
		{name: "field errors", err: idp.FieldErrors{"email": "Enter a valid e-mail address.", "name": "x"}, status: 400, msgs: 2},
		{name: "ours", err: errors.New("dial tcp: refused"), status: 503, msgs: 1, log: "level=ERROR"},
		{name: "ours, the client gone", err: errors.New("context canceled"), ctx: gone, status: 503, msgs: 1, log: "level=INFO"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			req := httptest.NewRequest(http.MethodGet, "/x", nil)
			if tc.ctx != nil {
				req = req.WithContext(tc.ctx)
			}
			rec := httptest.NewRecorder()
			p := Classify(rec, req, tc.err, slog.New(slog.NewTextHandler(&log, nil)), "test")
			if p.Status != tc.status || len(p.Msgs) != tc.msgs {
				t.Fatalf("%d %v", p.Status, p.Msgs)
			}
			if (tc.status == 429) != (rec.Header().Get("Retry-After") == "60") {
				t.Fatalf("Retry-After %q", rec.Header().Get("Retry-After"))
			}
			if strings.Count(log.String(), "level=") != min(len(tc.log), 1) || !strings.Contains(log.String(), tc.log) {
				t.Fatalf("log %q", log.String())
			}
		})
	}
}

// TestSignedCookies: a signed cookie reads back only unaltered, under its
// own name and key, and before it expires.
func TestSignedCookies(t *testing.T) {
	k := Cookies{Key: bytes.Repeat([]byte("k"), 32)}
	set := func(name, payload string, ttl time.Duration) *http.Cookie {
		rec := httptest.NewRecorder()
		k.SetSigned(rec, name, payload, "/", ttl)
		return rec.Result().Cookies()[0]
	}
	good := set("c", "tenant state", time.Minute)
	if !good.HttpOnly || good.SameSite != http.SameSiteLaxMode || good.Path != "/" {
		t.Fatalf("cookie %+v", good)
	}
	cases := []struct {
		name   string
		cookie *http.Cookie
		read   string
		key    Cookies
		want   string
	}{
		{"as set", good, "c", k, "tenant state"},
		{"under another name", &http.Cookie{Name: "d", Value: good.Value}, "d", k, ""},
		{"altered", &http.Cookie{Name: "c", Value: "x" + good.Value}, "c", k, ""},
		{"another key", good, "c", Cookies{Key: bytes.Repeat([]byte("j"), 32)}, ""},
		{"expired", set("c", "old", -time.Minute), "c", k, ""},
		{"absent", &http.Cookie{Name: "other", Value: "v"}, "c", k, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.AddCookie(&http.Cookie{Name: tc.cookie.Name, Value: tc.cookie.Value})
			if got := tc.key.Signed(req, tc.read); got != tc.want {
				t.Fatalf("%q, want %q", got, tc.want)
			}
		})
	}
}
