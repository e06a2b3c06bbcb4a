package provider

import (
	"context"
	"net/url"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/pkce"

	"github.com/manam-id/manam/storage"
)

// pkceStorage is the PKCE handler's view of the store, with deletion
// disabled.
//
// fosite v0.49.0's PKCE handler deletes the PKCE request before it checks
// the verifier, outside the token transaction. A wrong verifier therefore
// erased the challenge, and a second request for the same code with no
// verifier at all then passed as "this code never had PKCE" — a PKCE
// downgrade for confidential clients (RFC 9700 §2.1.1, §4.8). Keeping the
// row makes every attempt face the original challenge. It cannot be used
// twice: the code it belongs to is single-use and checked first, and the
// sweeper deletes the row when the code expires.
type pkceStorage struct{ *storage.FositeStore }

var _ pkce.PKCERequestStorage = pkceStorage{}

// DeletePKCERequestSession implements pkce.PKCERequestStorage: a no-op, see pkceStorage.
func (pkceStorage) DeletePKCERequestSession(context.Context, string) error { return nil }

// checkPKCEParams applies, before the user is asked to sign in, the PKCE
// rules fosite only checks once the request is answered: S256 only (the
// plain method is refused, RFC 9700 §2.1.1) and a challenge required of
// public clients.
func checkPKCEParams(ar fosite.AuthorizeRequester) error {
	f := ar.GetRequestForm()
	challenge, method := f.Get("code_challenge"), f.Get("code_challenge_method")
	if challenge == "" {
		if method != "" {
			return fosite.ErrInvalidRequest.WithHint("code_challenge_method without code_challenge.")
		}
		if ar.GetClient().IsPublic() {
			return fosite.ErrInvalidRequest.WithHint("Public clients must use PKCE (code_challenge with S256).")
		}
		return nil
	}
	if method != "S256" {
		return fosite.ErrInvalidRequest.WithHint("Clients must use code_challenge_method=S256.")
	}
	if l := len(challenge); l < 43 || l > 128 {
		return fosite.ErrInvalidRequest.WithHint("code_challenge must be 43 to 128 characters.")
	}
	return nil
}

// hasClientAuth tells whether a request tries to authenticate a client at
// all (RFC 6749 §2.3: HTTP Basic, or client_id in the body).
func hasClientAuth(auth string, form url.Values) bool {
	return auth != "" || form.Get("client_id") != ""
}
