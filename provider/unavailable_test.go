package provider

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/manam-id/manam/storage"
)

// TestDatabaseDown: with the database gone, readiness says so and the
// OAuth surfaces answer 503 temporarily_unavailable, not invalid_client,
// {"active":false}, invalid_token or a 500. A client-credentials token for
// a cached tenant is still issued: it costs no write.
func TestDatabaseDown(t *testing.T) {
	e := newReviewEnv(t)
	cached := e.tenant(TenantSpec{Name: "Cached", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	unseen := e.tenant(TenantSpec{Name: "Unseen", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	token := e.clientCredentials(cached, "read") // the tenant is in the cache now
	if rec := e.do(httptest.NewRequest(http.MethodGet, "/readyz", nil)); rec.Code != http.StatusOK {
		t.Fatalf("readyz before: %d", rec.Code)
	}
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}

	basic := func(c *Created) func(*http.Request) {
		return func(r *http.Request) { r.SetBasicAuth(c.ClientID, c.ClientSecret) }
	}
	tests := []struct {
		name string
		rec  func() *httptest.ResponseRecorder
	}{
		{"introspection by the cached tenant (the revocation check fails)", func() *httptest.ResponseRecorder {
			return e.postForm("/oauth2/introspect", url.Values{"token": {token}}, basic(cached))
		}},
		{"userinfo (the revocation check fails)", func() *httptest.ResponseRecorder {
			r := httptest.NewRequest(http.MethodGet, "/userinfo", nil)
			r.Header.Set("Authorization", "Bearer "+token)
			return e.do(r)
		}},
		{"token, tenant not cached (loading it fails)", func() *httptest.ResponseRecorder {
			return e.postForm("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, basic(unseen))
		}},
		{"introspection", func() *httptest.ResponseRecorder {
			return e.postForm("/oauth2/introspect", url.Values{"token": {token}}, basic(unseen))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := tt.rec()
			var body struct {
				Error string `json:"error"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != http.StatusServiceUnavailable || body.Error != "temporarily_unavailable" {
				t.Errorf("%d %s, want 503 temporarily_unavailable", rec.Code, rec.Body)
			}
		})
	}
	t.Run("AccessTokenInfo (the legacy and dialect endpoints' check)", func(t *testing.T) {
		if _, err := e.p.AccessTokenInfo(context.Background(), token); err == nil || errors.Is(err, ErrInvalidToken) || !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("AccessTokenInfo with the database down: %v, want storage.ErrUnavailable, not ErrInvalidToken", err)
		}
	})
	t.Run("token, tenant cached (nothing to write)", func(t *testing.T) {
		rec := e.postForm("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, basic(cached))
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"access_token":"mnm_at_`) {
			t.Errorf("%d %s, want a sealed token", rec.Code, rec.Body)
		}
	})
	t.Run("authorization, tenant not cached", func(t *testing.T) {
		rec := e.authorize(unseen.ClientID, reviewRedirect, "openid", testVerifier, nil, nil)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Location") != "" {
			t.Errorf("%d Location %q, want a 503 page", rec.Code, rec.Header().Get("Location"))
		}
	})
	t.Run("readyz", func(t *testing.T) {
		if rec := e.do(httptest.NewRequest(http.MethodGet, "/readyz", nil)); rec.Code != http.StatusServiceUnavailable {
			t.Errorf("readyz: %d", rec.Code)
		}
	})
}

// TestClientClosedIsNotAServerFailure: a request whose client went away
// and whose work failed for that is recorded as 499, not as a 5xx.
func TestClientClosedIsNotAServerFailure(t *testing.T) {
	e := newReviewEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest(http.MethodGet, "/readyz", nil).WithContext(ctx)
	e.do(req)
	e.do(httptest.NewRequest(http.MethodGet, "/readyz", nil))
	metrics := e.do(httptest.NewRequest(http.MethodGet, "/metrics", nil)).Body.String()
	for _, want := range []string{`code="499",method="GET",route="/readyz"} 1`, `code="200",method="GET",route="/readyz"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(metrics, `code="503",method="GET",route="/readyz"`) {
		t.Error("the abandoned request counted as a 503")
	}
}
