package provider

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestOperationalEndpoints(t *testing.T) {
	p, db := newTestProvider(t)
	h := p.Handler()
	do := func(method, path, reqID string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		if reqID != "" {
			req.Header.Set("X-Request-Id", reqID)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	// Some traffic for the metrics.
	do("POST", "/oauth2/token", "")
	do("GET", "/no/such/page", "")
	cases := []struct {
		name, path, reqID string
		status            int
		contains          []string
		header            [2]string
	}{
		{name: "healthz", path: "/healthz", status: 200, contains: []string{"ok"}},
		{name: "readyz", path: "/readyz", status: 200, contains: []string{"ready"}},
		{name: "metrics", path: "/metrics", status: 200, contains: []string{
			`manam_http_requests_total{code="401",method="POST",route="/oauth2/token"} 1`,
			`manam_http_requests_total{code="404",method="GET",route="other"} 1`,
			"manam_http_request_duration_seconds_bucket", "go_goroutines"}},
		{name: "a sane request id is kept", path: "/healthz", reqID: "abc-123_XYZ.9", status: 200, header: [2]string{"X-Request-Id", "abc-123_XYZ.9"}},
		{name: "a hostile request id is replaced", path: "/healthz", reqID: "<script>", status: 200},
		{name: "discovery", path: "/.well-known/openid-configuration", status: 200, contains: []string{`"code_challenge_methods_supported":["S256"]`, `"id_token_signing_alg_values_supported":["RS256"]`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := do("GET", tc.path, tc.reqID)
			if rec.Code != tc.status {
				t.Fatalf("status %d", rec.Code)
			}
			for _, c := range tc.contains {
				if !strings.Contains(rec.Body.String(), c) {
					t.Fatalf("body lacks %q:\n%.2000s", c, rec.Body)
				}
			}
			if tc.header[0] != "" && rec.Header().Get(tc.header[0]) != tc.header[1] {
				t.Fatalf("%s = %q", tc.header[0], rec.Header().Get(tc.header[0]))
			}
			if id := rec.Header().Get("X-Request-Id"); id == "" || strings.ContainsAny(id, "<>") {
				t.Fatalf("request id %q", id)
			}
		})
	}
	// With the database gone, readiness fails and liveness does not.
	db.Close()
	if rec := do("GET", "/readyz", ""); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("readyz with the database closed: %d", rec.Code)
	}
	if rec := do("GET", "/healthz", ""); rec.Code != http.StatusOK {
		t.Fatalf("healthz with the database closed: %d", rec.Code)
	}
}
