package provider

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/manam-id/manam/storage"
)

// TestGrantsForAnIdentifiedClient: IssueFor, RefreshFor and
// ExchangeCodeFor run for the client they are given, and nothing else
// authenticates it: another tenant's client is refused, and the refresh
// goes through the same rotation, reuse detection and grace period as
// /oauth2/token.
func TestGrantsForAnIdentifiedClient(t *testing.T) {
	e := newReviewEnv(t)
	ctx := context.Background()
	a := e.tenant(TenantSpec{Name: "A", FirstParty: true, RedirectURIs: []string{reviewRedirect}, TenantSettings: storage.TenantSettings{RefreshGraceSeconds: 30}})
	b := e.tenant(TenantSpec{Name: "B", RedirectURIs: []string{reviewRedirect}})
	clientA, err := e.p.Client(ctx, a.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	clientB, err := e.p.Client(ctx, b.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	acct, cookie := e.user("grants@example.com")
	sess, err := e.p.idp.Session(ctx, cookie.Value)
	if err != nil {
		t.Fatal(err)
	}

	issued, err := e.p.IssueFor(ctx, clientA, IssueRequest{Session: sess, Refresh: true})
	if err != nil || issued.RefreshToken == "" || issued.Subject != acct.ID {
		t.Fatalf("IssueFor: %+v, %v", issued, err)
	}
	if _, err := e.p.IssueFor(ctx, nil, IssueRequest{Session: sess}); !errors.Is(err, ErrUnknownClient) {
		t.Fatalf("IssueFor without a client: %v", err)
	}

	t.Run("refresh", func(t *testing.T) {
		if _, err := e.p.RefreshFor(ctx, clientB, issued.RefreshToken); !errors.Is(err, ErrTokenRefused) {
			t.Fatalf("another tenant's refresh: %v", err)
		}
		next, err := e.p.RefreshFor(ctx, clientA, issued.RefreshToken)
		if err != nil || next.Subject != acct.ID || next.IDToken == "" || next.RefreshToken == "" || next.RefreshToken == issued.RefreshToken {
			t.Fatalf("refresh: %+v, %v", next, err)
		}
		// Within the tenant's grace period the rotated token returns the
		// same answer (the grace check of /oauth2/token).
		again, err := e.p.RefreshFor(ctx, clientA, issued.RefreshToken)
		if err != nil || again.AccessToken != next.AccessToken || again.RefreshToken != next.RefreshToken {
			t.Fatalf("the rotated token within grace: %+v, %v", again, err)
		}
		// Once its successor is used, the rotated token is reuse: the
		// family is revoked (RFC 9700 §4.14).
		third, err := e.p.RefreshFor(ctx, clientA, next.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.p.RefreshFor(ctx, clientA, issued.RefreshToken); !errors.Is(err, ErrTokenRefused) {
			t.Fatalf("reuse after the successor was used: %v", err)
		}
		if _, err := e.p.RefreshFor(ctx, clientA, third.RefreshToken); !errors.Is(err, ErrTokenRefused) {
			t.Fatalf("the family after a reuse: %v", err)
		}
	})

	t.Run("code", func(t *testing.T) {
		code := e.code(a.ClientID, reviewRedirect, "openid email", testVerifier, cookie)
		refused := []struct {
			name     string
			client   *storage.Client
			verifier string
			redirect string
		}{
			{"another tenant", clientB, testVerifier, reviewRedirect},
			{"a wrong verifier", clientA, testVerifier + "x", reviewRedirect},
			{"another redirect URI", clientA, testVerifier, "http://localhost:9999/other"},
		}
		for _, tc := range refused {
			if _, err := e.p.ExchangeCodeFor(ctx, tc.client, code, tc.verifier, tc.redirect); !errors.Is(err, ErrTokenRefused) {
				t.Fatalf("%s: %v", tc.name, err)
			}
		}
		tok, err := e.p.ExchangeCodeFor(ctx, clientA, code, testVerifier, reviewRedirect)
		if err != nil || tok.Subject != acct.ID || tok.IDToken == "" {
			t.Fatalf("exchange: %+v, %v", tok, err)
		}
		if _, err := e.p.ExchangeCodeFor(ctx, clientA, code, testVerifier, reviewRedirect); !errors.Is(err, ErrTokenRefused) {
			t.Fatalf("a used code: %v", err)
		}
	})
}

// TestIssuerRedirect: an authorization request that names an issuer
// redirect may use it for any tenant, and only then; other requests see
// the tenant's registered redirect URIs, and a provider without issuer
// redirects refuses the same request with an error page.
func TestIssuerRedirect(t *testing.T) {
	e := newReviewEnv(t)
	with, err := New(e.p.cfg, Deps{DB: e.db, Keys: e.p.keys, IDP: e.p.idp, Secret: testSecret, IssuerRedirects: []string{"/first-party/callback"}})
	if err != nil {
		t.Fatal(err)
	}
	a := e.tenant(TenantSpec{Name: "A", FirstParty: true, RedirectURIs: []string{reviewRedirect}})
	_, cookie := e.user("redirects@example.com")
	callback := e.p.cfg.Issuer + "/first-party/callback"
	cases := []struct {
		name     string
		h        http.Handler
		redirect string
		want     string // where the code goes; "" for an error page
	}{
		{"the issuer redirect", with.Handler(), callback, callback},
		{"the tenant's own, beside it", with.Handler(), reviewRedirect, reviewRedirect},
		{"a path under the issuer redirect", with.Handler(), callback + "/x", ""},
		{"no issuer redirects configured", e.h, callback, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"client_id": {a.ClientID}, "response_type": {"code"}, "redirect_uri": {tc.redirect}, "scope": {"openid"},
				"state": {"state-123456789"}, "code_challenge": {s256(testVerifier)}, "code_challenge_method": {"S256"}}
			req := httptest.NewRequest(http.MethodGet, "/oauth2/auth?"+q.Encode(), nil)
			req.AddCookie(cookie)
			rec := httptest.NewRecorder()
			tc.h.ServeHTTP(rec, req)
			loc, _ := url.Parse(rec.Header().Get("Location"))
			if tc.want == "" {
				if rec.Code != http.StatusBadRequest || rec.Header().Get("Location") != "" {
					t.Fatalf("want an error page, got %d Location %q", rec.Code, rec.Header().Get("Location"))
				}
				return
			}
			if rec.Code != http.StatusSeeOther || loc == nil || loc.Query().Get("code") == "" || loc.Scheme+"://"+loc.Host+loc.Path != tc.want {
				t.Fatalf("want a code at %s, got %d Location %q", tc.want, rec.Code, rec.Header().Get("Location"))
			}
		})
	}
}
