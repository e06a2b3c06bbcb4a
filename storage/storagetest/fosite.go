package storagetest

import (
	"context"
	"errors"
	"net/url"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
	"github.com/ory/fosite/token/jwt"
)

// FositeStorage is the part of fosite's storage that Manam enables: what the
// conformance suite exercises.
type FositeStorage interface {
	fosite.ClientManager
	oauth2.CoreStorage
	oauth2.TokenRevocationStorage
	openid.OpenIDConnectRequestStorage
	pkce.PKCERequestStorage
}

// Harness makes stores for the suite.
type Harness struct {
	// New returns a fresh, empty store for t (and releases it when t ends).
	New func(t *testing.T) FositeStorage
	// AddClient registers c with s, so GetClient (and every stored request
	// of c) can find it.
	AddClient func(t *testing.T, s FositeStorage, c fosite.Client)
}

// fositeCase is one named subtest; each runs on a store of its own.
type fositeCase struct {
	name string
	run  func(t *testing.T, f *fixture)
}

// RunFosite runs the fosite storage conformance suite: the semantics fosite
// v0.49.0's handlers rely on, which fosite's own storage.MemoryStore has
// too. Every subtest gets a fresh store from h and runs in parallel.
func RunFosite(t *testing.T, h Harness) {
	t.Helper()
	runCases(t, h, fositeCases())
}

func runCases(t *testing.T, h Harness, cases []fositeCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, newFixture(t, h))
		})
	}
}

func fositeCases() []fositeCase {
	return []fositeCase{
		{"Client/Unknown", func(t *testing.T, f *fixture) {
			_, err := f.s.GetClient(f.ctx, "no-such-client")
			wantErrIs(t, "GetClient(unknown)", err, fosite.ErrNotFound)
		}},
		{"Client/Known", func(t *testing.T, f *fixture) {
			c, err := f.s.GetClient(f.ctx, f.client.ID)
			if err != nil {
				t.Fatalf("GetClient: %v", err)
			}
			want := f.client
			if c.GetID() != want.ID {
				t.Errorf("GetID = %q, want %q", c.GetID(), want.ID)
			}
			if string(c.GetHashedSecret()) != string(want.Secret) {
				t.Errorf("GetHashedSecret = %q, want %q", c.GetHashedSecret(), want.Secret)
			}
			eqStrings(t, "GetRedirectURIs", c.GetRedirectURIs(), want.RedirectURIs)
			eqStrings(t, "GetGrantTypes", c.GetGrantTypes(), want.GrantTypes)
			eqStrings(t, "GetResponseTypes", c.GetResponseTypes(), want.ResponseTypes)
			eqStrings(t, "GetScopes", c.GetScopes(), want.Scopes)
			if c.IsPublic() != want.Public {
				t.Errorf("IsPublic = %v, want %v", c.IsPublic(), want.Public)
			}
		}},

		// Authorization codes.
		{"AuthorizeCode/RoundTrip", func(t *testing.T, f *fixture) {
			req, sig := f.newRequest("alice"), f.sig()
			must(t, "CreateAuthorizeCodeSession", f.s.CreateAuthorizeCodeSession(f.ctx, sig, req))
			got, err := f.s.GetAuthorizeCodeSession(f.ctx, sig, new(openid.DefaultSession))
			if err != nil {
				t.Fatalf("GetAuthorizeCodeSession: %v", err)
			}
			assertRequest(t, req, got)
		}},
		{"AuthorizeCode/Unknown", func(t *testing.T, f *fixture) {
			_, err := f.s.GetAuthorizeCodeSession(f.ctx, f.sig(), new(openid.DefaultSession))
			wantErrIs(t, "GetAuthorizeCodeSession(unknown)", err, fosite.ErrNotFound)
		}},
		{"AuthorizeCode/Invalidated", func(t *testing.T, f *fixture) {
			// fosite needs the request of a used code, to revoke the tokens issued from it.
			req, sig := f.newRequest("alice"), f.sig()
			must(t, "CreateAuthorizeCodeSession", f.s.CreateAuthorizeCodeSession(f.ctx, sig, req))
			must(t, "InvalidateAuthorizeCodeSession", f.s.InvalidateAuthorizeCodeSession(f.ctx, sig))
			got, err := f.s.GetAuthorizeCodeSession(f.ctx, sig, new(openid.DefaultSession))
			wantErrIs(t, "GetAuthorizeCodeSession(used)", err, fosite.ErrInvalidatedAuthorizeCode)
			assertRequest(t, req, got)
		}},
		{"AuthorizeCode/InvalidateIsPerCode", func(t *testing.T, f *fixture) {
			a, b := f.newRequest("alice"), f.newRequest("alice")
			sa, sb := f.sig(), f.sig()
			must(t, "CreateAuthorizeCodeSession", f.s.CreateAuthorizeCodeSession(f.ctx, sa, a))
			must(t, "CreateAuthorizeCodeSession", f.s.CreateAuthorizeCodeSession(f.ctx, sb, b))
			must(t, "InvalidateAuthorizeCodeSession", f.s.InvalidateAuthorizeCodeSession(f.ctx, sa))
			got, err := f.s.GetAuthorizeCodeSession(f.ctx, sb, new(openid.DefaultSession))
			if err != nil {
				t.Fatalf("GetAuthorizeCodeSession(other code): %v", err)
			}
			assertRequest(t, b, got)
		}},
		{"AuthorizeCode/ReplayRevokesTokens", func(t *testing.T, f *fixture) {
			// The code flow as fosite runs it (flow_authorize_code_token.go):
			// exchange, then a replay of the code revokes what it issued.
			authz, code := f.newRequest("alice"), f.sig()
			must(t, "CreateAuthorizeCodeSession", f.s.CreateAuthorizeCodeSession(f.ctx, code, authz))
			must(t, "InvalidateAuthorizeCodeSession", f.s.InvalidateAuthorizeCodeSession(f.ctx, code))
			tokenReq := f.newRequest("alice")
			tokenReq.SetID(authz.GetID())
			at, rt := f.sig(), f.sig()
			must(t, "CreateAccessTokenSession", f.s.CreateAccessTokenSession(f.ctx, at, tokenReq))
			must(t, "CreateRefreshTokenSession", f.s.CreateRefreshTokenSession(f.ctx, rt, at, tokenReq))

			used, err := f.s.GetAuthorizeCodeSession(f.ctx, code, new(openid.DefaultSession))
			wantErrIs(t, "GetAuthorizeCodeSession(replayed)", err, fosite.ErrInvalidatedAuthorizeCode)
			if used == nil {
				t.Fatal("GetAuthorizeCodeSession(replayed) returned no request")
			}
			must(t, "RevokeAccessToken", f.s.RevokeAccessToken(f.ctx, used.GetID()))
			must(t, "RevokeRefreshToken", f.s.RevokeRefreshToken(f.ctx, used.GetID()))
			_, err = f.s.GetAccessTokenSession(f.ctx, at, new(openid.DefaultSession))
			wantErrIs(t, "GetAccessTokenSession(after replay)", err, fosite.ErrNotFound)
			_, err = f.s.GetRefreshTokenSession(f.ctx, rt, new(openid.DefaultSession))
			wantErrIs(t, "GetRefreshTokenSession(after replay)", err, fosite.ErrInactiveToken)
		}},

		// PKCE.
		{"PKCE/RoundTrip", func(t *testing.T, f *fixture) {
			req, sig := f.newRequest("alice"), f.sig()
			must(t, "CreatePKCERequestSession", f.s.CreatePKCERequestSession(f.ctx, sig, req))
			got, err := f.s.GetPKCERequestSession(f.ctx, sig, new(openid.DefaultSession))
			if err != nil {
				t.Fatalf("GetPKCERequestSession: %v", err)
			}
			assertRequest(t, req, got)
		}},
		{"PKCE/Unknown", func(t *testing.T, f *fixture) {
			_, err := f.s.GetPKCERequestSession(f.ctx, f.sig(), new(openid.DefaultSession))
			wantErrIs(t, "GetPKCERequestSession(unknown)", err, fosite.ErrNotFound)
		}},
		{"PKCE/Delete", func(t *testing.T, f *fixture) {
			a, b := f.newRequest("alice"), f.newRequest("bob")
			sa, sb := f.sig(), f.sig()
			must(t, "CreatePKCERequestSession", f.s.CreatePKCERequestSession(f.ctx, sa, a))
			must(t, "CreatePKCERequestSession", f.s.CreatePKCERequestSession(f.ctx, sb, b))
			must(t, "DeletePKCERequestSession", f.s.DeletePKCERequestSession(f.ctx, sa))
			_, err := f.s.GetPKCERequestSession(f.ctx, sa, new(openid.DefaultSession))
			wantErrIs(t, "GetPKCERequestSession(deleted)", err, fosite.ErrNotFound)
			got, err := f.s.GetPKCERequestSession(f.ctx, sb, new(openid.DefaultSession))
			if err != nil {
				t.Fatalf("GetPKCERequestSession(other): %v", err)
			}
			assertRequest(t, b, got)
		}},

		// OpenID Connect sessions, keyed by the authorization code itself.
		{"OpenIDConnect/RoundTrip", func(t *testing.T, f *fixture) {
			req, code := f.newRequest("alice"), f.sig()
			must(t, "CreateOpenIDConnectSession", f.s.CreateOpenIDConnectSession(f.ctx, code, req))
			got, err := f.s.GetOpenIDConnectSession(f.ctx, code, f.tokenRequest())
			if err != nil {
				t.Fatalf("GetOpenIDConnectSession: %v", err)
			}
			assertRequest(t, req, got)
		}},
		{"OpenIDConnect/Missing", func(t *testing.T, f *fixture) {
			// flow_explicit_token.go tests errors.Is(err, openid.ErrNoSessionFound)
			// (which is fosite.ErrNotFound) to tell "no openid scope" from a failure.
			_, err := f.s.GetOpenIDConnectSession(f.ctx, f.sig(), f.tokenRequest())
			wantErrIs(t, "GetOpenIDConnectSession(unknown)", err, openid.ErrNoSessionFound)
			wantErrIs(t, "GetOpenIDConnectSession(unknown)", err, fosite.ErrNotFound)
		}},
		{"OpenIDConnect/Delete", func(t *testing.T, f *fixture) {
			a, b := f.newRequest("alice"), f.newRequest("bob")
			ca, cb := f.sig(), f.sig()
			must(t, "CreateOpenIDConnectSession", f.s.CreateOpenIDConnectSession(f.ctx, ca, a))
			must(t, "CreateOpenIDConnectSession", f.s.CreateOpenIDConnectSession(f.ctx, cb, b))
			must(t, "DeleteOpenIDConnectSession", f.s.DeleteOpenIDConnectSession(f.ctx, ca))
			_, err := f.s.GetOpenIDConnectSession(f.ctx, ca, f.tokenRequest())
			wantErrIs(t, "GetOpenIDConnectSession(deleted)", err, openid.ErrNoSessionFound)
			got, err := f.s.GetOpenIDConnectSession(f.ctx, cb, f.tokenRequest())
			if err != nil {
				t.Fatalf("GetOpenIDConnectSession(other): %v", err)
			}
			assertRequest(t, b, got)
		}},

		// Access tokens.
		{"AccessToken/RoundTrip", func(t *testing.T, f *fixture) {
			req, sig := f.newRequest("alice"), f.sig()
			must(t, "CreateAccessTokenSession", f.s.CreateAccessTokenSession(f.ctx, sig, req))
			got, err := f.s.GetAccessTokenSession(f.ctx, sig, new(openid.DefaultSession))
			if err != nil {
				t.Fatalf("GetAccessTokenSession: %v", err)
			}
			assertRequest(t, req, got)
		}},
		{"AccessToken/Unknown", func(t *testing.T, f *fixture) {
			_, err := f.s.GetAccessTokenSession(f.ctx, f.sig(), new(openid.DefaultSession))
			wantErrIs(t, "GetAccessTokenSession(unknown)", err, fosite.ErrNotFound)
		}},
		{"AccessToken/Delete", func(t *testing.T, f *fixture) {
			a, b := f.newRequest("alice"), f.newRequest("bob")
			sa, sb := f.sig(), f.sig()
			must(t, "CreateAccessTokenSession", f.s.CreateAccessTokenSession(f.ctx, sa, a))
			must(t, "CreateAccessTokenSession", f.s.CreateAccessTokenSession(f.ctx, sb, b))
			must(t, "DeleteAccessTokenSession", f.s.DeleteAccessTokenSession(f.ctx, sa))
			_, err := f.s.GetAccessTokenSession(f.ctx, sa, new(openid.DefaultSession))
			wantErrIs(t, "GetAccessTokenSession(deleted)", err, fosite.ErrNotFound)
			f.wantAccessToken(t, sb, b)
		}},
		{"AccessToken/RevokeByRequestID", func(t *testing.T, f *fixture) {
			a, b := f.newRequest("alice"), f.newRequest("alice")
			sa, sb := f.sig(), f.sig()
			must(t, "CreateAccessTokenSession", f.s.CreateAccessTokenSession(f.ctx, sa, a))
			must(t, "CreateAccessTokenSession", f.s.CreateAccessTokenSession(f.ctx, sb, b))
			must(t, "RevokeAccessToken", f.s.RevokeAccessToken(f.ctx, a.GetID()))
			_, err := f.s.GetAccessTokenSession(f.ctx, sa, new(openid.DefaultSession))
			wantErrIs(t, "GetAccessTokenSession(revoked)", err, fosite.ErrNotFound)
			f.wantAccessToken(t, sb, b)
		}},

		// Refresh tokens.
		{"RefreshToken/RoundTrip", func(t *testing.T, f *fixture) {
			req, at, rt := f.newRequest("alice"), f.sig(), f.sig()
			must(t, "CreateRefreshTokenSession", f.s.CreateRefreshTokenSession(f.ctx, rt, at, req))
			got, err := f.s.GetRefreshTokenSession(f.ctx, rt, new(openid.DefaultSession))
			if err != nil {
				t.Fatalf("GetRefreshTokenSession: %v", err)
			}
			assertRequest(t, req, got)
		}},
		{"RefreshToken/Unknown", func(t *testing.T, f *fixture) {
			_, err := f.s.GetRefreshTokenSession(f.ctx, f.sig(), new(openid.DefaultSession))
			wantErrIs(t, "GetRefreshTokenSession(unknown)", err, fosite.ErrNotFound)
		}},
		{"RefreshToken/Delete", func(t *testing.T, f *fixture) {
			a, b := f.newRequest("alice"), f.newRequest("bob")
			sa, sb := f.sig(), f.sig()
			must(t, "CreateRefreshTokenSession", f.s.CreateRefreshTokenSession(f.ctx, sa, f.sig(), a))
			must(t, "CreateRefreshTokenSession", f.s.CreateRefreshTokenSession(f.ctx, sb, f.sig(), b))
			must(t, "DeleteRefreshTokenSession", f.s.DeleteRefreshTokenSession(f.ctx, sa))
			_, err := f.s.GetRefreshTokenSession(f.ctx, sa, new(openid.DefaultSession))
			wantErrIs(t, "GetRefreshTokenSession(deleted)", err, fosite.ErrNotFound)
			f.wantRefreshToken(t, sb, b)
		}},
		{"RefreshToken/RevokeByRequestID", func(t *testing.T, f *fixture) {
			a, b := f.newRequest("alice"), f.newRequest("alice")
			sa, sb := f.sig(), f.sig()
			must(t, "CreateRefreshTokenSession", f.s.CreateRefreshTokenSession(f.ctx, sa, f.sig(), a))
			must(t, "CreateRefreshTokenSession", f.s.CreateRefreshTokenSession(f.ctx, sb, f.sig(), b))
			must(t, "RevokeRefreshToken", f.s.RevokeRefreshToken(f.ctx, a.GetID()))
			// A revoked refresh token comes back with its request, so that
			// fosite can detect reuse and revoke what was issued since.
			got, err := f.s.GetRefreshTokenSession(f.ctx, sa, new(openid.DefaultSession))
			wantErrIs(t, "GetRefreshTokenSession(revoked)", err, fosite.ErrInactiveToken)
			assertRequest(t, a, got)
			f.wantRefreshToken(t, sb, b)
		}},
		{"RefreshToken/Rotate", func(t *testing.T, f *fixture) {
			// flow_refresh.go PopulateTokenEndpointResponse: rotate the presented
			// token, then store the new pair under the same request id.
			other, oat, ort := f.newRequest("alice"), f.sig(), f.sig()
			must(t, "CreateAccessTokenSession", f.s.CreateAccessTokenSession(f.ctx, oat, other))
			must(t, "CreateRefreshTokenSession", f.s.CreateRefreshTokenSession(f.ctx, ort, oat, other))
			fam := f.family(t)
			must(t, "RotateRefreshToken", f.s.RotateRefreshToken(f.ctx, fam.req.GetID(), fam.rt1))
			got, err := f.s.GetRefreshTokenSession(f.ctx, fam.rt1, new(openid.DefaultSession))
			wantErrIs(t, "GetRefreshTokenSession(rotated)", err, fosite.ErrInactiveToken)
			assertRequest(t, fam.req, got)
			_, err = f.s.GetAccessTokenSession(f.ctx, fam.at1, new(openid.DefaultSession))
			wantErrIs(t, "GetAccessTokenSession(of rotated)", err, fosite.ErrNotFound)

			fam.refresh(t, f)
			f.wantRefreshToken(t, fam.rt2, fam.req2)
			f.wantAccessToken(t, fam.at2, fam.req2)
			f.wantRefreshToken(t, ort, other)
			f.wantAccessToken(t, oat, other)
		}},
		{"RefreshToken/ReuseRevokesFamily", func(t *testing.T, f *fixture) {
			fam := f.family(t)
			must(t, "RotateRefreshToken", f.s.RotateRefreshToken(f.ctx, fam.req.GetID(), fam.rt1))
			fam.refresh(t, f)

			// flow_refresh.go handleRefreshTokenReuse, on presenting rt1 again.
			orig, err := f.s.GetRefreshTokenSession(f.ctx, fam.rt1, new(openid.DefaultSession))
			wantErrIs(t, "GetRefreshTokenSession(reused)", err, fosite.ErrInactiveToken)
			if orig == nil {
				t.Fatal("GetRefreshTokenSession(reused) returned no request")
			}
			must(t, "DeleteRefreshTokenSession", f.s.DeleteRefreshTokenSession(f.ctx, fam.rt1))
			mustOrNotFound(t, "RevokeRefreshToken", f.s.RevokeRefreshToken(f.ctx, orig.GetID()))
			mustOrNotFound(t, "RevokeAccessToken", f.s.RevokeAccessToken(f.ctx, orig.GetID()))

			_, err = f.s.GetRefreshTokenSession(f.ctx, fam.rt2, new(openid.DefaultSession))
			wantErrIs(t, "GetRefreshTokenSession(successor after reuse)", err, fosite.ErrInactiveToken)
			_, err = f.s.GetAccessTokenSession(f.ctx, fam.at2, new(openid.DefaultSession))
			wantErrIs(t, "GetAccessTokenSession(successor after reuse)", err, fosite.ErrNotFound)
			_, err = f.s.GetRefreshTokenSession(f.ctx, fam.rt1, new(openid.DefaultSession))
			wantErrIs(t, "GetRefreshTokenSession(reused, deleted)", err, fosite.ErrNotFound)
		}},

		// Revocation and storage in general.
		{"Revoke/UnknownRequestID", func(t *testing.T, f *fixture) {
			// fosite accepts nil or ErrNotFound here (flow_refresh.go, revocation).
			mustOrNotFound(t, "RevokeRefreshToken(unknown)", f.s.RevokeRefreshToken(f.ctx, "no-such-request"))
			mustOrNotFound(t, "RevokeAccessToken(unknown)", f.s.RevokeAccessToken(f.ctx, "no-such-request"))
			req, at, rt := f.newRequest("alice"), f.sig(), f.sig()
			must(t, "CreateAccessTokenSession", f.s.CreateAccessTokenSession(f.ctx, at, req))
			must(t, "CreateRefreshTokenSession", f.s.CreateRefreshTokenSession(f.ctx, rt, at, req))
			mustOrNotFound(t, "RevokeRefreshToken(unknown)", f.s.RevokeRefreshToken(f.ctx, "no-such-request"))
			mustOrNotFound(t, "RevokeAccessToken(unknown)", f.s.RevokeAccessToken(f.ctx, "no-such-request"))
			f.wantAccessToken(t, at, req)
			f.wantRefreshToken(t, rt, req)
		}},
		{"NilSessionArgument", func(t *testing.T, f *fixture) {
			// Revocation and introspection paths pass a nil session: the
			// stored session must still come back.
			req, at, rt := f.newRequest("alice"), f.sig(), f.sig()
			must(t, "CreateAccessTokenSession", f.s.CreateAccessTokenSession(f.ctx, at, req))
			must(t, "CreateRefreshTokenSession", f.s.CreateRefreshTokenSession(f.ctx, rt, at, req))
			got, err := f.s.GetAccessTokenSession(f.ctx, at, nil)
			if err != nil {
				t.Fatalf("GetAccessTokenSession(nil session): %v", err)
			}
			assertRequest(t, req, got)
			got, err = f.s.GetRefreshTokenSession(f.ctx, rt, nil)
			if err != nil {
				t.Fatalf("GetRefreshTokenSession(nil session): %v", err)
			}
			assertRequest(t, req, got)
		}},
		{"SignatureSpacesAreSeparate", func(t *testing.T, f *fixture) {
			// One signature in every table names five different things.
			sig := f.sig()
			code, pk, oidc, at, rt := f.newRequest("a"), f.newRequest("b"), f.newRequest("c"), f.newRequest("d"), f.newRequest("e")
			must(t, "CreateAuthorizeCodeSession", f.s.CreateAuthorizeCodeSession(f.ctx, sig, code))
			must(t, "CreatePKCERequestSession", f.s.CreatePKCERequestSession(f.ctx, sig, pk))
			must(t, "CreateOpenIDConnectSession", f.s.CreateOpenIDConnectSession(f.ctx, sig, oidc))
			must(t, "CreateAccessTokenSession", f.s.CreateAccessTokenSession(f.ctx, sig, at))
			must(t, "CreateRefreshTokenSession", f.s.CreateRefreshTokenSession(f.ctx, sig, sig, rt))
			must(t, "DeleteAccessTokenSession", f.s.DeleteAccessTokenSession(f.ctx, sig))

			got, err := f.s.GetAuthorizeCodeSession(f.ctx, sig, new(openid.DefaultSession))
			if err != nil {
				t.Fatalf("GetAuthorizeCodeSession: %v", err)
			}
			assertRequest(t, code, got)
			got, err = f.s.GetPKCERequestSession(f.ctx, sig, new(openid.DefaultSession))
			if err != nil {
				t.Fatalf("GetPKCERequestSession: %v", err)
			}
			assertRequest(t, pk, got)
			got, err = f.s.GetOpenIDConnectSession(f.ctx, sig, f.tokenRequest())
			if err != nil {
				t.Fatalf("GetOpenIDConnectSession: %v", err)
			}
			assertRequest(t, oidc, got)
			_, err = f.s.GetAccessTokenSession(f.ctx, sig, new(openid.DefaultSession))
			wantErrIs(t, "GetAccessTokenSession(deleted)", err, fosite.ErrNotFound)
			f.wantRefreshToken(t, sig, rt)
		}},
	}
}

// --- fixture ----------------------------------------------------------------------

// fixture is one subtest's store, with a registered client.
type fixture struct {
	ctx    context.Context
	s      FositeStorage
	client *fosite.DefaultClient
	now    time.Time
}

func newFixture(t *testing.T, h Harness) *fixture {
	t.Helper()
	s := h.New(t)
	c := &fosite.DefaultClient{
		ID:            "client-" + randomHex(6),
		Secret:        []byte("hashed-secret-" + randomHex(4)),
		RedirectURIs:  []string{"https://app.example.com/callback", "http://127.0.0.1/cb"},
		GrantTypes:    []string{"authorization_code", "refresh_token"},
		ResponseTypes: []string{"code"},
		Scopes:        []string{"openid", "offline_access", "profile", "email"},
	}
	h.AddClient(t, s, c)
	return &fixture{
		ctx:    context.Background(),
		s:      s,
		client: c,
		// Whole seconds: MySQL keeps milliseconds only.
		now: time.Now().UTC().Truncate(time.Second),
	}
}

// sig is a fresh token signature.
func (f *fixture) sig() string { return "sig-" + randomHex(16) }

// newRequest is a request of f's client for subject, every field set.
func (f *fixture) newRequest(subject string) *fosite.Request {
	sess := &openid.DefaultSession{
		Subject:  subject,
		Username: subject + "@example.com",
		Claims: &jwt.IDTokenClaims{
			Subject:  subject,
			Nonce:    "nonce-" + randomHex(4),
			AuthTime: f.now.Add(-time.Minute),
		},
		Headers: &jwt.Headers{Extra: map[string]any{}},
		ExpiresAt: map[fosite.TokenType]time.Time{
			fosite.AuthorizeCode: f.now.Add(10 * time.Minute),
			fosite.AccessToken:   f.now.Add(time.Hour),
			fosite.RefreshToken:  f.now.Add(30 * 24 * time.Hour),
		},
	}
	return &fosite.Request{
		ID:                "req-" + randomHex(12),
		RequestedAt:       f.now.Add(-2 * time.Second),
		Client:            f.client,
		RequestedScope:    fosite.Arguments{"openid", "offline_access", "profile"},
		GrantedScope:      fosite.Arguments{"openid", "offline_access"},
		RequestedAudience: fosite.Arguments{"https://api.example.com", "https://other.example.com"},
		GrantedAudience:   fosite.Arguments{"https://api.example.com"},
		Form: url.Values{
			"redirect_uri":  {"https://app.example.com/callback"},
			"response_type": {"code"},
			"state":         {"state-" + randomHex(4)},
			"claims":        {`{"id_token":{"email":null}}`},
			"repeated":      {"one", "two & three"},
		},
		Session: sess,
	}
}

// tokenRequest is what the token endpoint hands GetOpenIDConnectSession:
// a request carrying a fresh session.
func (f *fixture) tokenRequest() *fosite.AccessRequest {
	r := fosite.NewAccessRequest(new(openid.DefaultSession))
	r.Client = f.client
	return r
}

func (f *fixture) wantAccessToken(t *testing.T, sig string, want *fosite.Request) {
	t.Helper()
	got, err := f.s.GetAccessTokenSession(f.ctx, sig, new(openid.DefaultSession))
	if err != nil {
		t.Fatalf("GetAccessTokenSession(%s): %v", want.GetSession().GetSubject(), err)
	}
	assertRequest(t, want, got)
}

func (f *fixture) wantRefreshToken(t *testing.T, sig string, want *fosite.Request) {
	t.Helper()
	got, err := f.s.GetRefreshTokenSession(f.ctx, sig, new(openid.DefaultSession))
	if err != nil {
		t.Fatalf("GetRefreshTokenSession(%s): %v, want an active token", want.GetSession().GetSubject(), err)
	}
	assertRequest(t, want, got)
}

// tokenFamily is one request's tokens before and after a refresh.
type tokenFamily struct {
	req, req2          *fosite.Request
	at1, rt1, at2, rt2 string
}

// family stores an access and refresh token pair for a fresh request.
func (f *fixture) family(t *testing.T) *tokenFamily {
	t.Helper()
	fam := &tokenFamily{req: f.newRequest("alice"), at1: f.sig(), rt1: f.sig()}
	must(t, "CreateAccessTokenSession", f.s.CreateAccessTokenSession(f.ctx, fam.at1, fam.req))
	must(t, "CreateRefreshTokenSession", f.s.CreateRefreshTokenSession(f.ctx, fam.rt1, fam.at1, fam.req))
	return fam
}

// refresh stores the pair a refresh issues: a new request value with the
// original request id, as fosite does (storeReq.SetID).
func (fam *tokenFamily) refresh(t *testing.T, f *fixture) {
	t.Helper()
	fam.req2 = f.newRequest(fam.req.GetSession().GetSubject())
	fam.req2.SetID(fam.req.GetID())
	fam.at2, fam.rt2 = f.sig(), f.sig()
	must(t, "CreateAccessTokenSession", f.s.CreateAccessTokenSession(f.ctx, fam.at2, fam.req2))
	must(t, "CreateRefreshTokenSession", f.s.CreateRefreshTokenSession(f.ctx, fam.rt2, fam.at2, fam.req2))
}

// --- assertions ------------------------------------------------------------------

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func mustOrNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, fosite.ErrNotFound) {
		t.Fatalf("%s: %v, want nil or fosite.ErrNotFound", what, err)
	}
}

func wantErrIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want errors.Is(err, %v)", what, err, target)
	}
}

func eqStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

// assertRequest checks that got is want, as stored and read back.
func assertRequest(t *testing.T, want *fosite.Request, got fosite.Requester) {
	t.Helper()
	if got == nil {
		t.Fatalf("got no request, want request %s", want.ID)
	}
	if got.GetID() != want.ID {
		t.Errorf("request ID = %q, want %q", got.GetID(), want.ID)
	}
	if got.GetClient() == nil {
		t.Errorf("request has no client")
	} else if got.GetClient().GetID() != want.Client.GetID() {
		t.Errorf("client ID = %q, want %q", got.GetClient().GetID(), want.Client.GetID())
	}
	if !got.GetRequestedAt().Equal(want.RequestedAt) {
		t.Errorf("requested at = %v, want %v", got.GetRequestedAt(), want.RequestedAt)
	}
	eqStrings(t, "requested scopes", got.GetRequestedScopes(), want.RequestedScope)
	eqStrings(t, "granted scopes", got.GetGrantedScopes(), want.GrantedScope)
	eqStrings(t, "requested audience", got.GetRequestedAudience(), want.RequestedAudience)
	eqStrings(t, "granted audience", got.GetGrantedAudience(), want.GrantedAudience)
	if !reflect.DeepEqual(got.GetRequestForm(), want.Form) {
		t.Errorf("form = %v, want %v", got.GetRequestForm(), want.Form)
	}
	assertSession(t, want.Session.(*openid.DefaultSession), got.GetSession())
}

func assertSession(t *testing.T, want *openid.DefaultSession, gotSession fosite.Session) {
	t.Helper()
	got, ok := gotSession.(*openid.DefaultSession)
	if !ok {
		t.Fatalf("session is %T, want *openid.DefaultSession", gotSession)
	}
	if got.Subject != want.Subject {
		t.Errorf("session subject = %q, want %q", got.Subject, want.Subject)
	}
	if got.Username != want.Username {
		t.Errorf("session username = %q, want %q", got.Username, want.Username)
	}
	if got.IDTokenClaims().Subject != want.Claims.Subject {
		t.Errorf("id token subject = %q, want %q", got.IDTokenClaims().Subject, want.Claims.Subject)
	}
	if got.IDTokenClaims().Nonce != want.Claims.Nonce {
		t.Errorf("id token nonce = %q, want %q", got.IDTokenClaims().Nonce, want.Claims.Nonce)
	}
	if !got.IDTokenClaims().AuthTime.Equal(want.Claims.AuthTime) {
		t.Errorf("id token auth_time = %v, want %v", got.IDTokenClaims().AuthTime, want.Claims.AuthTime)
	}
	for _, tt := range []fosite.TokenType{fosite.AuthorizeCode, fosite.AccessToken, fosite.RefreshToken} {
		if g, w := got.GetExpiresAt(tt), want.ExpiresAt[tt]; !g.Equal(w) {
			t.Errorf("session expiry of %s = %v, want %v", tt, g, w)
		}
	}
}
