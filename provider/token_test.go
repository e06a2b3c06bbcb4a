package provider

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/uuid"
	"github.com/ory/fosite"
)

// requestIDOf reads the request (grant) id sealed in an access token.
func (e *reviewEnv) requestIDOf(token string) string {
	e.t.Helper()
	c, err := e.p.openSealed(token)
	if err != nil {
		e.t.Fatalf("sealed access token: %v", err)
	}
	return c.requestID
}

// TestNewGrantsGetTimeOrderedRequestIDs: a new grant (client credentials,
// an authorization) gets a version 7 UUID, later grants sort after earlier
// ones, and the tokens of a refresh keep their grant's ID (revocation of a
// family finds its rows by it).
func TestNewGrantsGetTimeOrderedRequestIDs(t *testing.T) {
	e := newReviewEnv(t)
	svc := e.tenant(TenantSpec{Name: "Service", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	app := e.tenant(TenantSpec{Name: "App", RedirectURIs: []string{reviewRedirect}, FirstParty: true})
	_, cookie := e.user("ordered@example.com")

	first := e.requestIDOf(e.clientCredentials(svc, "read"))
	second := e.requestIDOf(e.clientCredentials(svc, "read"))
	verifier := testVerifier
	toks := e.exchange(app, reviewRedirect, e.code(app.ClientID, reviewRedirect, "openid offline_access", verifier, cookie), verifier)
	flow := e.requestIDOf(toks["access_token"].(string))

	for name, id := range map[string]string{"first client_credentials": first, "second client_credentials": second, "code flow": flow} {
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 7 {
			t.Errorf("%s: request ID %q is not a version 7 UUID (%v)", name, id, err)
		}
	}
	if !(first < second && second < flow) {
		t.Errorf("request IDs not in issue order: %s, %s, %s", first, second, flow)
	}

	rec := e.postForm("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {toks["refresh_token"].(string)}},
		func(r *http.Request) { r.SetBasicAuth(app.ClientID, app.ClientSecret) })
	m := decodeJSON(t, rec)
	if rec.Code != http.StatusOK {
		t.Fatalf("refresh: %d %v", rec.Code, m)
	}
	if got := e.requestIDOf(m["access_token"].(string)); got != flow {
		t.Errorf("refreshed access token has request ID %s, want its grant's %s", got, flow)
	}
}

// fakeTokenHandler records whether fosite's populate step reached it.
type fakeTokenHandler struct {
	grant     string
	populated bool
}

func (f *fakeTokenHandler) PopulateTokenEndpointResponse(context.Context, fosite.AccessRequester, fosite.AccessResponder) error {
	f.populated = true
	return nil
}
func (f *fakeTokenHandler) HandleTokenEndpointRequest(context.Context, fosite.AccessRequester) error {
	return nil
}
func (f *fakeTokenHandler) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool {
	return false
}
func (f *fakeTokenHandler) CanHandleTokenEndpointRequest(_ context.Context, r fosite.AccessRequester) bool {
	return r.GetGrantTypes().ExactOne(f.grant)
}

func TestQuietTokenHandler(t *testing.T) {
	tests := []struct {
		name, handles, grant string
		wantPopulated        bool
		wantErr              error
	}{
		{name: "serves its own grant", handles: "client_credentials", grant: "client_credentials", wantPopulated: true},
		{name: "another grant is not its", handles: "authorization_code", grant: "client_credentials", wantErr: fosite.ErrUnknownRequest},
		{name: "refresh handler and a code", handles: "refresh_token", grant: "authorization_code", wantErr: fosite.ErrUnknownRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inner := &fakeTokenHandler{grant: tt.handles}
			ar := fosite.NewAccessRequest(NewSession())
			ar.GrantTypes = fosite.Arguments{tt.grant}
			err := quietTokenHandler{inner}.PopulateTokenEndpointResponse(context.Background(), ar, fosite.NewAccessResponse())
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if inner.populated != tt.wantPopulated {
				t.Errorf("inner handler populated = %v, want %v", inner.populated, tt.wantPopulated)
			}
		})
	}

	// Every handler the provider composes is wrapped.
	p, _ := newTestProvider(t)
	f, ok := p.oauth.(*fosite.Fosite)
	if !ok {
		t.Fatal("provider did not compose a *fosite.Fosite")
	}
	hs := f.Config.GetTokenEndpointHandlers(context.Background())
	if len(hs) < 5 {
		t.Fatalf("only %d token handlers", len(hs))
	}
	for i, h := range hs {
		if _, ok := h.(quietTokenHandler); !ok {
			t.Errorf("token handler %d (%T) is not wrapped", i, h)
		}
	}
}
