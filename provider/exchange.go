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

// exchange runs a token request through fosite (NewAccessRequest, then
// NewAccessResponse) for /oauth2/token and for the grants the dialects run
// on a tenant's behalf. A transaction that lost to a concurrent one is run
// again, with jitter; if it keeps losing the answer is 503
// temporarily_unavailable. A storage error is never read as reuse of the
// code or refresh token (grantError).
func (p *Provider) exchange(ctx context.Context, r *http.Request) (fosite.AccessRequester, fosite.AccessResponder, error) {
	for attempt := 1; ; attempt++ {
		ar, resp, err := p.exchangeOnce(ctx, r)
		if err == nil {
			return ar, resp, nil
		}
		if replay := (*graceReplay)(nil); errors.As(err, &replay) {
			return p.replay(ctx, ar, replay)
		}
		if lostRefreshRace(err) && refreshGrace(ar) > 0 && attempt < maxGrantAttempts {
			// Another request rotated this token first, and has committed
			// (our UPDATE waited for it): the grace check now finds its answer.
			continue
		}
		if storage.IsRetryable(err) && attempt < maxGrantAttempts {
			p.log.WarnContext(ctx, "token request lost a database race; running it again", "request_id", RequestID(ctx), "attempt", attempt)
			select {
			case <-time.After(time.Duration(1+rand.IntN(10*attempt)) * time.Millisecond):
			case <-ctx.Done():
				return ar, nil, p.grantError(ctx, ar, err)
			}
			continue
		}
		return ar, nil, p.grantError(ctx, ar, err)
	}
}

// exchangeOnce is one attempt of exchange.
func (p *Provider) exchangeOnce(ctx context.Context, r *http.Request) (fosite.AccessRequester, fosite.AccessResponder, error) {
	sess := NewSession()
	ar, err := p.oauth.NewAccessRequest(ctx, r, sess)
	if err != nil {
		return ar, nil, err
	}
	if ar.GetGrantTypes().ExactOne("client_credentials") {
		// A new grant (no earlier request to inherit an ID from).
		ar.SetID(newRequestID())
		// fosite has checked the scopes against the tenant's; grant them.
		for _, s := range ar.GetRequestedScopes() {
			ar.GrantScope(s)
		}
		sess.Subject = ar.GetClient().GetID()
		sess.ClientID = ar.GetClient().GetID()
		grantDefaultAudience(ar)
	}
	if ar.GetGrantTypes().ExactOne("refresh_token") && refreshGrace(ar) > 0 {
		resp, err := p.rotateWithGrace(ctx, ar)
		return ar, resp, err
	}
	resp, err := p.oauth.NewAccessResponse(ctx, ar)
	return ar, resp, err
}

// replay answers a refresh within its grace period with the kept answer,
// to the tenant the token was issued to. Anyone else presenting it is a
// reuse of a stolen token: the family is revoked, as fosite does.
func (p *Provider) replay(ctx context.Context, ar fosite.AccessRequester, r *graceReplay) (fosite.AccessRequester, fosite.AccessResponder, error) {
	if ar == nil || ar.GetClient() == nil || ar.GetClient().GetID() != r.clientID {
		ctx := context.WithoutCancel(ctx)
		if err := errors.Join(p.store.RevokeAccessToken(ctx, r.requestID), p.store.RevokeRefreshToken(ctx, r.requestID)); err != nil {
			return ar, nil, unavailable(err)
		}
		return ar, nil, fosite.ErrInvalidGrant.WithHint("The refresh token was issued to another client.")
	}
	return ar, replayResponse(ar, r.answer), nil
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
			ctx := context.WithoutCancel(ctx)
			if rerr := errors.Join(p.store.RevokeAccessToken(ctx, ar.GetID()), p.store.RevokeRefreshToken(ctx, ar.GetID())); rerr != nil {
				p.log.ErrorContext(ctx, "revoking the tokens of a reused grant failed", "request_id", RequestID(ctx), "err", rerr)
			}
		}
		return fosite.ErrInvalidGrant.WithHint("The authorization code or refresh token was used more than once.")
	}
	return unavailable(err)
}
