package provider

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/ory/fosite"

	"github.com/manam-id/manam/storage"
)

// maxGrantAttempts bounds how often one token request runs again after its
// transaction lost to a concurrent one (a MySQL deadlock victim or lock
// wait timeout). The loser changed nothing, so running it again is safe.
const maxGrantAttempts = 4

// attempt is one try of a token request: the access request fosite's
// token-endpoint handlers accepted, and its response.
type attempt func(ctx context.Context) (fosite.AccessRequester, fosite.AccessResponder, error)

// exchange runs a token request, for /oauth2/token (fromHTTP) and for a
// client its caller identified (grantFor). A transaction that lost to a
// concurrent one is run again, with jitter; if it keeps losing the answer
// is 503 temporarily_unavailable. A refresh within its tenant's grace
// period answers the kept answer (replay). A storage error is never read
// as reuse of the code or refresh token (grantError).
func (p *Provider) exchange(ctx context.Context, try attempt) (fosite.AccessRequester, fosite.AccessResponder, error) {
	for n := 1; ; n++ {
		ar, resp, err := try(ctx)
		if err == nil {
			return ar, resp, nil
		}
		if replay := (*graceReplay)(nil); errors.As(err, &replay) {
			return p.replay(ctx, ar, replay)
		}
		if lostRefreshRace(err) && refreshGrace(ar) > 0 && n < maxGrantAttempts {
			// Another request rotated this token first, and has committed
			// (our UPDATE waited for it): the grace check now finds its answer.
			continue
		}
		if storage.IsRetryable(err) && n < maxGrantAttempts {
			p.log.WarnContext(ctx, "token request lost a database race; running it again", "request_id", RequestID(ctx), "attempt", n)
			select {
			case <-time.After(time.Duration(1+rand.IntN(10*n)) * time.Millisecond):
			case <-ctx.Done():
				return ar, nil, p.grantError(ctx, ar, err)
			}
			continue
		}
		return ar, nil, p.grantError(ctx, ar, err)
	}
}

// fromHTTP is the attempt of a request to /oauth2/token: fosite reads it,
// authenticates its client and runs its token-endpoint handlers
// (NewAccessRequest), then respond.
func (p *Provider) fromHTTP(r *http.Request) attempt {
	return func(ctx context.Context) (fosite.AccessRequester, fosite.AccessResponder, error) {
		ar, err := p.oauth.NewAccessRequest(ctx, r, NewSession())
		if err != nil {
			return ar, nil, err
		}
		resp, err := p.respond(ctx, ar)
		return ar, resp, err
	}
}

// respond answers an access request that fosite's token-endpoint handlers
// accepted, its client known however it was: a client_credentials grant
// gets its subject and scopes, a refresh of a tenant with a grace period
// rotates in a transaction that keeps its answer, and the rest is
// fosite's NewAccessResponse.
func (p *Provider) respond(ctx context.Context, ar fosite.AccessRequester) (fosite.AccessResponder, error) {
	if ar.GetGrantTypes().ExactOne("client_credentials") {
		// A new grant (no earlier request to inherit an ID from).
		ar.SetID(newRequestID())
		// fosite has checked the scopes against the tenant's; grant them.
		for _, s := range ar.GetRequestedScopes() {
			ar.GrantScope(s)
		}
		if sess, ok := ar.GetSession().(*Session); ok {
			sess.Subject = ar.GetClient().GetID()
			sess.ClientID = ar.GetClient().GetID()
		}
		grantDefaultAudience(ar)
	}
	if ar.GetGrantTypes().ExactOne("refresh_token") && refreshGrace(ar) > 0 {
		return p.rotateWithGrace(ctx, ar)
	}
	return p.oauth.NewAccessResponse(ctx, ar)
}

// replay answers a refresh within its grace period with the kept answer,
// to the tenant the token was issued to. Anyone else presenting it is a
// reuse of a stolen token: the family is revoked, as fosite does.
func (p *Provider) replay(ctx context.Context, ar fosite.AccessRequester, r *graceReplay) (fosite.AccessRequester, fosite.AccessResponder, error) {
	if ar == nil || ar.GetClient() == nil || ar.GetClient().GetID() != r.clientID {
		if err := p.revokeGrant(ctx, r.requestID); err != nil {
			return ar, nil, unavailable(err)
		}
		return ar, nil, fosite.ErrInvalidGrant.WithHint("The refresh token was issued to another client.")
	}
	return ar, replayResponse(ar, r.answer), nil
}

// revokeGrant ends every access and refresh token of a grant (a reuse),
// whether or not the caller is still there.
func (p *Provider) revokeGrant(ctx context.Context, requestID string) error {
	ctx = context.WithoutCancel(ctx)
	return errors.Join(p.store.RevokeAccessToken(ctx, requestID), p.store.RevokeRefreshToken(ctx, requestID))
}

// lostRefreshRace: the refresh token was rotated by a concurrent request
// between this request's read and its write.
func lostRefreshRace(err error) bool {
	return errors.Is(err, fosite.ErrSerializationFailure) || errors.Is(err, storage.ErrConflict)
}

// grantError maps a failed grant. A lost race on a code or a refresh token
// is the client's problem (invalid_grant), not a server error; a failure
// of the database is 503, and never evidence of reuse.
func (p *Provider) grantError(ctx context.Context, ar fosite.AccessRequester, err error) error {
	if storage.IsRetryable(err) {
		// A transaction that kept losing to concurrent ones: nothing was
		// written, the code or token is as it was. Try again later.
		return fosite.ErrTemporarilyUnavailable.WithWrap(err).WithDebug(storageCause(err))
	}
	if errors.Is(err, storage.ErrConflict) || errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) ||
		errors.Is(err, fosite.ErrInactiveToken) || errors.Is(err, fosite.ErrSerializationFailure) {
		// Another request used this code or refresh token between our read
		// and our write: a reuse that fosite's own check could not see.
		// Deny it and revoke what the grant issued — the winner's tokens
		// included (RFC 6749 §4.1.2, RFC 9700 §4.14) — as fosite does for
		// a reuse it does see.
		if ar != nil && ar.GetID() != "" && (ar.GetGrantTypes().ExactOne("authorization_code") || ar.GetGrantTypes().ExactOne("refresh_token")) {
			if rerr := p.revokeGrant(ctx, ar.GetID()); rerr != nil {
				p.log.ErrorContext(ctx, "revoking the tokens of a reused grant failed", "request_id", RequestID(ctx), "err", rerr)
			}
		}
		return fosite.ErrInvalidGrant.WithHint("The authorization code or refresh token was used more than once.")
	}
	return unavailable(err)
}
