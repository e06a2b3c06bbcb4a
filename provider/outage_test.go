package provider

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/storage/storagetest"
)

// failAt fails the k-th database operation (1-based) a request makes, and
// remembers which one it was and how many there were. Background work of
// the process (SQLite checkpoints, the signing-key refresh) is not counted.
type failAt struct {
	mu     sync.Mutex
	k, n   int
	failed string
}

func (f *failAt) hook(op string) error {
	if strings.Contains(op, "PRAGMA") || strings.Contains(op, "signing_keys") {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	if f.n == f.k {
		f.failed = op
		return errors.New("injected: connection refused")
	}
	return nil
}

// surface is how one surface must answer: its success, and its 503.
type surface struct {
	ok          func(*httptest.ResponseRecorder) bool
	unavailable func(*httptest.ResponseRecorder) bool
}

var (
	tokenSurface = surface{
		ok: func(rec *httptest.ResponseRecorder) bool { return rec.Code == http.StatusOK },
		unavailable: func(rec *httptest.ResponseRecorder) bool {
			var body struct{ Error string }
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			return rec.Code == http.StatusServiceUnavailable && body.Error == "temporarily_unavailable"
		},
	}
	// The authorization endpoint answers 503 with its page, or redirects
	// temporarily_unavailable to a verified redirect URI (RFC 6749 §4.1.2.1).
	authorizeSurface = surface{
		ok: func(rec *httptest.ResponseRecorder) bool {
			loc, err := url.Parse(rec.Header().Get("Location"))
			return rec.Code == http.StatusSeeOther && err == nil && !loc.Query().Has("error")
		},
		unavailable: func(rec *httptest.ResponseRecorder) bool {
			if rec.Code == http.StatusServiceUnavailable {
				return strings.Contains(rec.Body.String(), "try again")
			}
			loc, err := url.Parse(rec.Header().Get("Location"))
			return err == nil && loc.Query().Get("error") == "temporarily_unavailable"
		},
	}
	pageSurface = func(okCode int) surface {
		return surface{
			ok: func(rec *httptest.ResponseRecorder) bool {
				return rec.Code == okCode && (okCode != http.StatusSeeOther || strings.Contains(rec.Header().Get("Location"), "/oauth2/auth/resume"))
			},
			unavailable: func(rec *httptest.ResponseRecorder) bool {
				return rec.Code == http.StatusServiceUnavailable && strings.Contains(rec.Body.String(), "try again in a moment")
			},
		}
	}
)

// TestStorageFailureAtEveryCall: a request of the hosted pages, the
// authorization endpoint or the token endpoint meets a database failure at
// each of its calls in turn, and each time answers its surface's 503 (or,
// for a call whose failure it may ignore, its ordinary success): never a
// 500, an "expired" page, a "wrong password", invalid_grant or
// server_error. Before, /login read any failure as "Sign-in link
// expired" and the authorization endpoint redirected server_error.
func TestStorageFailureAtEveryCall(t *testing.T) {
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) { testStorageFailureAtEveryCall(t, b) })
	}
}

func testStorageFailureAtEveryCall(t *testing.T, b storagetest.Backend) {
	e := newReviewEnvOn(t, b)
	ctx := context.Background()
	app := e.tenant(TenantSpec{Name: "App", RedirectURIs: []string{reviewRedirect}, FirstParty: true})
	third := e.tenant(TenantSpec{Name: "Third", RedirectURIs: []string{reviewRedirect}})
	graceSpec := TenantSpec{Name: "Grace", RedirectURIs: []string{reviewRedirect}, FirstParty: true}
	graceSpec.RefreshGraceSeconds = 30
	grace := e.tenant(graceSpec)
	svc := e.tenant(TenantSpec{Name: "Service", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	const email, password = "outage@example.com", "a long enough password"
	if _, err := e.p.idp.CreateAccount(ctx, idp.NewAccount{Email: email, Password: password, EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	cookie := e.signIn(idp.NewAccount{Email: "outage2@example.com", Password: password, EmailVerified: true})
	basic := func(c *Created) func(*http.Request) {
		return func(r *http.Request) { r.SetBasicAuth(c.ClientID, c.ClientSecret) }
	}
	authForm := func(c *Created) url.Values {
		return url.Values{"client_id": {c.ClientID}, "response_type": {"code"}, "redirect_uri": {reviewRedirect}, "scope": {"openid offline_access"},
			"state": {"state-123456789"}, "nonce": {"nonce-123456789"}, "code_challenge": {s256(testVerifier)}, "code_challenge_method": {"S256"}}
	}
	refreshToken := func(c *Created) string {
		return e.exchange(c, reviewRedirect, e.code(c.ClientID, reviewRedirect, "openid offline_access", testVerifier, cookie), testVerifier)["refresh_token"].(string)
	}
	withCookie := func(req *http.Request, cs ...*http.Cookie) *http.Request {
		for _, c := range cs {
			req.AddCookie(c)
		}
		return req
	}

	scenarios := []struct {
		name    string
		surface surface
		prepare func() func() *httptest.ResponseRecorder // fault-free set-up; returns the request
	}{
		{"authorize, signed in", authorizeSurface, func() func() *httptest.ResponseRecorder {
			return func() *httptest.ResponseRecorder {
				return e.authorize(app.ClientID, reviewRedirect, "openid offline_access", testVerifier, cookie, nil)
			}
		}},
		{"authorize, not signed in", authorizeSurface, func() func() *httptest.ResponseRecorder {
			return func() *httptest.ResponseRecorder {
				return e.authorize(app.ClientID, reviewRedirect, "openid", testVerifier, nil, nil)
			}
		}},
		{"sign-in page", pageSurface(http.StatusOK), func() func() *httptest.ResponseRecorder {
			ch := e.p.mintChallenge(authForm(app), time.Now())
			return func() *httptest.ResponseRecorder {
				return e.do(httptest.NewRequest(http.MethodGet, "/login?challenge="+url.QueryEscape(ch), nil))
			}
		}},
		{"sign-in", pageSurface(http.StatusSeeOther), func() func() *httptest.ResponseRecorder {
			csrf, f := e.loginForm(e.p.mintChallenge(authForm(app), time.Now()))
			f.Set("email", email)
			f.Set("password", password)
			return func() *httptest.ResponseRecorder {
				return e.postForm("/login", f, func(r *http.Request) { r.AddCookie(csrf) })
			}
		}},
		{"consent page", pageSurface(http.StatusOK), func() func() *httptest.ResponseRecorder {
			ch := e.p.mintChallenge(authForm(third), time.Now())
			return func() *httptest.ResponseRecorder {
				return e.do(withCookie(httptest.NewRequest(http.MethodGet, "/consent?challenge="+url.QueryEscape(ch), nil), cookie))
			}
		}},
		{"token: code", tokenSurface, func() func() *httptest.ResponseRecorder {
			code := e.code(app.ClientID, reviewRedirect, "openid offline_access", testVerifier, cookie)
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {reviewRedirect}, "code_verifier": {testVerifier}}
			return func() *httptest.ResponseRecorder { return e.postForm("/oauth2/token", form, basic(app)) }
		}},
		{"token: refresh", tokenSurface, func() func() *httptest.ResponseRecorder {
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken(app)}}
			return func() *httptest.ResponseRecorder { return e.postForm("/oauth2/token", form, basic(app)) }
		}},
		{"token: refresh with a grace period", tokenSurface, func() func() *httptest.ResponseRecorder {
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken(grace)}}
			return func() *httptest.ResponseRecorder { return e.postForm("/oauth2/token", form, basic(grace)) }
		}},
		{"token: client credentials", tokenSurface, func() func() *httptest.ResponseRecorder {
			form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}
			return func() *httptest.ResponseRecorder { return e.postForm("/oauth2/token", form, basic(svc)) }
		}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			for k := 1; ; k++ {
				run := sc.prepare()
				f := &failAt{k: k}
				e.db.SetFaultHook(f.hook)
				rec := run()
				e.db.SetFaultHook(nil)
				if f.failed == "" { // the request made fewer than k calls: all were tried
					if !sc.surface.ok(rec) {
						t.Fatalf("without a fault: %d %.300s", rec.Code, rec.Body)
					}
					t.Logf("%d database calls, each failed in turn", k-1)
					return
				}
				if !sc.surface.unavailable(rec) && !sc.surface.ok(rec) {
					t.Errorf("call %d (%s) failed: answered %d Location %q %.300s", k, f.failed, rec.Code, rec.Header().Get("Location"), rec.Body)
				}
				if k > 100 {
					t.Fatal("more than 100 database calls")
				}
			}
		})
	}
}
