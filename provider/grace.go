package provider

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ory/fosite"

	"github.com/manam-id/manam/idp/mfa"
	"github.com/manam-id/manam/keys"
	"github.com/manam-id/manam/storage"
)

// Refresh-token grace (per tenant, RefreshGraceSeconds): a client whose
// refresh answer was lost (a crash, a timeout, a second tab) presents the
// rotated token again. Within the tenant's grace period after the
// rotation, and while the successor it got is still the live token of its
// family, that returns the very answer the rotation gave: the same
// access and refresh tokens, nothing new minted. After it, or once the
// successor has itself been used, the rotated token is reuse again and
// revokes the family (RFC 9700 §4.14.2). The answer is kept sealed, in
// the rotation's own transaction, and dropped with the family or after
// storage.MaxRefreshGrace.

// graceAnswer is what is kept of a rotation's answer.
type graceAnswer struct {
	Response  map[string]any `json:"response"`   // the token response's parameters, expires_in aside
	Subject   string         `json:"subject"`    // whose grant it is (the dialects need it)
	ExpiresAt time.Time      `json:"expires_at"` // of the access token: expires_in is counted from now
}

// graceReplay is what the grace check answers instead of running the
// grant: the kept answer. It travels as the error of the store's read
// (the only way out of fosite's refresh handler) and exchange turns it
// into the response.
type graceReplay struct {
	answer    graceAnswer
	clientID  string // the tenant the token was issued to
	requestID string // its grant
}

func (*graceReplay) Error() string { return "refresh token within its grace period: the kept answer" }

// graceSealer seals kept answers under a key of their own.
func graceSealer(secret []byte) (*mfa.Sealer, error) {
	return mfa.NewSealer(keys.Derive(secret, "refresh grace"), rand.Reader)
}

// graceView is the store fosite composes over, with the grace check in
// the refresh handler's one read of the presented token: a token read as
// rotated (ErrInactiveToken, which fosite answers by revoking the family)
// whose tenant has a grace period, within it, and whose successor is
// still live, comes back as a graceReplay error instead. fosite returns
// it wrapped in server_error, and exchange answers the kept answer. The
// check must sit on this read: a check made before it could see the
// token still active and fosite's read then see it rotated (reuse).
type graceView struct {
	*storage.FositeStore
	p *Provider
}

// GetRefreshTokenSession implements oauth2.RefreshTokenStorage.
func (v graceView) GetRefreshTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	req, err := v.FositeStore.GetRefreshTokenSession(ctx, signature, session)
	if !errors.Is(err, fosite.ErrInactiveToken) || req == nil {
		return req, err
	}
	grace := refreshGraceOf(req.GetClient())
	if grace <= 0 {
		return req, err
	}
	kept, gerr := v.p.store.GetRefreshGrace(ctx, signature)
	if gerr != nil {
		return nil, gerr // unavailable: never reuse
	}
	if kept == nil || !kept.SuccessorActive || kept.ClientID != req.GetClient().GetID() || time.Since(kept.RotatedAt) > grace {
		return req, err
	}
	plain, oerr := v.p.graceSealer.Open(kept.Sealed, signature)
	if oerr != nil {
		return nil, fmt.Errorf("provider: kept refresh answer: %w", oerr)
	}
	var a graceAnswer
	if uerr := json.Unmarshal(plain, &a); uerr != nil {
		return nil, fmt.Errorf("provider: kept refresh answer: %w", uerr)
	}
	return req, &graceReplay{answer: a, clientID: kept.ClientID, requestID: req.GetID()}
}

// refreshGrace is the grace period of the request's tenant (0 for none).
func refreshGrace(ar fosite.AccessRequester) time.Duration {
	if ar == nil {
		return 0
	}
	return refreshGraceOf(ar.GetClient())
}

// refreshGraceOf is a tenant's grace period (0 for none).
func refreshGraceOf(c fosite.Client) time.Duration {
	sc, ok := c.(*storage.Client)
	if !ok {
		return 0
	}
	return min(sc.RefreshGrace, storage.MaxRefreshGrace)
}

// replayResponse rebuilds the kept answer, with expires_in counted from now.
func replayResponse(ar fosite.AccessRequester, a graceAnswer) fosite.AccessResponder {
	resp := fosite.NewAccessResponse()
	for k, v := range a.Response {
		switch k {
		case "access_token":
			s, _ := v.(string)
			resp.SetAccessToken(s)
		case "token_type":
			s, _ := v.(string)
			resp.SetTokenType(s)
		case "expires_in":
		default:
			resp.SetExtra(k, v)
		}
	}
	resp.SetExpiresIn(max(time.Until(a.ExpiresAt).Round(time.Second), 0))
	if s, ok := ar.GetSession().(*Session); ok {
		s.Subject = a.Subject
		s.SetExpiresAt(fosite.AccessToken, a.ExpiresAt)
	}
	return resp
}

// rotateWithGrace runs fosite's refresh (NewAccessResponse) inside a
// transaction of its own, which fosite's handler joins, and keeps the
// sealed answer in it: the rotation and its kept answer commit together.
func (p *Provider) rotateWithGrace(ctx context.Context, ar fosite.AccessRequester) (fosite.AccessResponder, error) {
	txc, err := p.store.BeginTX(context.WithoutCancel(ctx))
	if err != nil {
		return nil, err
	}
	resp, err := p.oauth.NewAccessResponse(txc, ar)
	if err == nil {
		err = p.keepAnswer(txc, ar, resp)
	}
	if err != nil {
		return nil, errors.Join(err, p.store.Rollback(txc))
	}
	if err := p.store.Commit(txc); err != nil {
		return nil, err
	}
	return resp, nil
}

// keepAnswer seals the answer of a rotation, bound to the rotated token.
func (p *Provider) keepAnswer(ctx context.Context, ar fosite.AccessRequester, resp fosite.AccessResponder) error {
	next, _ := resp.GetExtra("refresh_token").(string)
	if next == "" {
		return nil // no successor (offline_access withdrawn): nothing to replay
	}
	m := resp.ToMap()
	delete(m, "expires_in")
	a := graceAnswer{Response: m, Subject: ar.GetSession().GetSubject(), ExpiresAt: ar.GetSession().GetExpiresAt(fosite.AccessToken)}
	if a.ExpiresAt.IsZero() {
		a.ExpiresAt = time.Now().Add(p.cfg.AccessTokenLifespan)
	}
	plain, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("provider: keep refresh answer: %w", err)
	}
	sig := p.refreshTokens.RefreshTokenSignature(ctx, ar.GetRequestForm().Get("refresh_token"))
	sealed, err := p.graceSealer.Seal(plain, sig)
	if err != nil {
		return fmt.Errorf("provider: keep refresh answer: %w", err)
	}
	return p.store.SetRefreshGrace(ctx, ar.GetID(), ar.GetClient().GetID(), sig,
		p.refreshTokens.RefreshTokenSignature(ctx, next), sealed)
}
