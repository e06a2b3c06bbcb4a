package legacy

import (
	"encoding/json"
	"net/http"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/provider"
	"github.com/manam-id/manam/provider/internal/clientapi"
)

// "Google Log In" (GET /googlelogin/{key}, /manam/googlelogin/{key}): the
// tenant whose key the link carries signs someone in with Google,
// outside any authorization request. The hosted pages run the sign-in
// (the upstream, a link's password proof, a second factor) and return to
// googleDonePath, which answers the documents' JSON.

// googleDonePath is where a Google sign-in of the link returns.
const googleDonePath = "/upstream/legacy/done"

// Federation is what the Google link needs of the hosted pages
// (pages.Pages): an upstream sign-in for a tenant outside any
// authorization request, and who signed in once it returns.
type Federation interface {
	StartUpstreamFor(w http.ResponseWriter, r *http.Request, upstreamID, clientID, returnPath string)
	UpstreamReturned(w http.ResponseWriter, r *http.Request, returnPath string) (clientID string, sess *idp.Session, ok bool)
}

// googleLogin serves GET /googlelogin/{key}: the Google sign-in starts.
func (a *API) googleLogin(w http.ResponseWriter, r *http.Request, c *call) error {
	if a.Federation == nil {
		return errNoGoogle
	}
	a.Federation.StartUpstreamFor(w, r, "google", c.Tenant.ID, googleDonePath)
	return nil
}

var errNoGoogle = &clientapi.Problem{Status: http.StatusNotFound, Msgs: []clientapi.Phrase{clientapi.Say("This way of signing in is not offered here.")}, Location: "/"}

// googleDone serves GET /upstream/legacy/done?t=…: where the Google
// sign-in of googleLogin lands once signed in, in the browser that signed
// in; the pages answer anything else.
func (a *API) googleDone(w http.ResponseWriter, r *http.Request, c *call) error {
	if a.Federation == nil {
		return errNoGoogle
	}
	clientID, sess, ok := a.Federation.UpstreamReturned(w, r, googleDonePath)
	if !ok {
		return nil
	}
	return a.googleSignedIn(w, r, clientID, sess)
}

// googleSignedIn answers the JSON the documents show for the Google link
// (001: access_token, username, fullname, email, roles, permissions,
// "other user info"). The access token is a real one of the tenant's (its
// format, the openid email profile scopes it may have), valid at
// /userinfo and introspection like any other.
func (a *API) googleSignedIn(w http.ResponseWriter, r *http.Request, clientID string, sess *idp.Session) error {
	ctx := r.Context()
	if err := a.IDP.Join(ctx, sess.Account.ID, clientID, idp.JoinedByUpstream); err != nil {
		return err
	}
	t, err := a.Tenants.Get(ctx, clientID)
	if err != nil {
		return err
	}
	tok, err := a.Tokens.IssueFor(ctx, clientapi.ClientOf(t), provider.IssueRequest{Session: sess, Grant: "urn:manam:legacy:googlelogin"})
	if err != nil {
		return err
	}
	acct := sess.Account
	email, username := "", ""
	if acct.Email != nil {
		email, username = *acct.Email, *acct.Email
	} else if acct.Mobile != nil {
		username = *acct.Mobile
	}
	roles := []string{}
	if m, err := a.IDP.Membership(ctx, acct.ID, clientID); err == nil && m.Role != "" {
		roles = append(roles, m.Role)
	}
	out := map[string]any{
		"access_token": tok.AccessToken, "token_type": "bearer", "expires_in": tok.ExpiresIn,
		"username": username, "fullname": acct.Name, "email": email, "roles": roles, "permissions": []string{},
		"firstname": acct.FirstName, "lastname": acct.LastName, "picture": acct.PictureURL,
		"oauth2_provider": "", "oauth2_user_info": map[string]any{},
	}
	if links, err := a.IDP.Links(ctx, acct.ID); err == nil {
		for _, l := range links {
			if l.Upstream == "google" {
				out["oauth2_provider"], out["oauth2_user_info"] = "google", rawJSON(l.RawClaims)
			}
		}
	}
	a.write(w, http.StatusOK, out)
	return nil
}

// rawJSON passes stored JSON through as is (an empty object if it is not JSON).
type rawJSON string

// MarshalJSON implements json.Marshaler.
func (r rawJSON) MarshalJSON() ([]byte, error) {
	if r == "" || !json.Valid([]byte(r)) {
		return []byte("{}"), nil
	}
	return []byte(r), nil
}
