package idp

import (
	"context"
	"fmt"
	"slices"

	"github.com/manam-id/manam/storage"
)

// The one sign-in sequence. Every way into an account (a password on the
// hosted page or through a client dialect, an upstream identity, and next
// a passkey) proves a first factor its own way, then hands the account to
// SignIn, which decides the rest the same way for all of them: the
// tenant's membership, the second factor (asked, enrolled, or satisfied
// by a remembered device), and the session. A surface only translates
// the Outcome into its own answer: a redirect, a cookie, a JSON body.

// SignInAttempt is a sign-in whose first factor is proven.
type SignInAttempt struct {
	Account *storage.Account
	// AMR are the methods proven so far (RFC 8176: "pwd", "fed", …).
	AMR []string
	// TenantID is the tenant signed in through ("" for Manam's own pages).
	TenantID string
	// JoinVia, when set with TenantID, makes the account the tenant's
	// member first (JoinedBySignIn). The hosted pages leave it empty: the
	// authorization request the sign-in resumes joins.
	JoinVia string
	// WantMFA: the tenant requires a second factor, or the request asked
	// for one (acr_values). An account with a factor is always asked.
	WantMFA bool
	// Device is the browser's remembered-device token ("" for none).
	Device   string
	Remember bool
	// Replaces is the browser's previous session token: it ends first.
	Replaces string
	// PendFactor and PendEnrolment: the surface can carry a half-done
	// sign-in (a cookie) to a second-factor page, or to enrolment. Without
	// it the Outcome only says what is needed.
	PendFactor, PendEnrolment bool
	// Links are the surface's links for the sign-in code's message.
	Links Links
}

// OutcomeKind is where a sign-in stands.
type OutcomeKind int

const (
	// SignedIn: the session has started.
	SignedIn OutcomeKind = iota
	// NeedsFactor: the account's second factor must be proven.
	NeedsFactor
	// NeedsEnrolment: a second factor is required and the account has none.
	NeedsEnrolment
)

// Outcome is the result of SignIn.
type Outcome struct {
	Kind OutcomeKind
	// Session and Token (its cookie value) when SignedIn; AMR is the
	// session's methods ("mfa" added for a remembered device).
	Session *Session
	AMR     []string
	// Token is the session's cookie value when SignedIn, and the pending
	// sign-in's cookie value when NeedsFactor or NeedsEnrolment was
	// carried (PendFactor, PendEnrolment).
	Token string
	// Method is the factor to ask first (NeedsFactor).
	Method string
	// CodeNotSent: the SMS code a NeedsFactor sign-in sent at once could
	// not be sent (the surface decides whether that matters).
	CodeNotSent error
}

// SignIn runs the sign-in sequence after a first factor; see SignInAttempt.
// Its errors are failures (the database), never a refusal of the user.
func (s *Service) SignIn(ctx context.Context, a SignInAttempt) (Outcome, error) {
	if a.TenantID != "" && a.JoinVia != "" {
		if err := s.Join(ctx, a.Account.ID, a.TenantID, a.JoinVia); err != nil {
			return Outcome{}, fmt.Errorf("idp: sign-in: %w", err)
		}
	}
	step, method, err := s.NextStep(ctx, a.Account, a.WantMFA, a.Device)
	if err != nil {
		return Outcome{}, fmt.Errorf("idp: sign-in: %w", err)
	}
	switch step {
	case StepVerify:
		out := Outcome{Kind: NeedsFactor, Method: method}
		if !a.PendFactor {
			return out, nil
		}
		if out.Token, err = s.BeginPending(ctx, a.Account, a.AMR, a.Remember, a.TenantID, step); err != nil {
			return Outcome{}, fmt.Errorf("idp: sign-in: %w", err)
		}
		if method == FactorSMS {
			// Only a phone: its code goes now.
			out.CodeNotSent = s.SendFactorCode(ctx, a.Account.ID, a.Links)
		}
		return out, nil
	case StepEnrol:
		out := Outcome{Kind: NeedsEnrolment}
		if !a.PendEnrolment {
			return out, nil
		}
		if out.Token, err = s.BeginPending(ctx, a.Account, a.AMR, a.Remember, a.TenantID, step); err != nil {
			return Outcome{}, fmt.Errorf("idp: sign-in: %w", err)
		}
		return out, nil
	}
	amr := a.AMR
	if step == StepTrusted {
		amr = append(slices.Clone(amr), "mfa")
	}
	return s.startSignedIn(ctx, a, amr)
}

// FinishSignIn starts the session of a sign-in whose second factor was
// proven (CompletePending's account and methods).
func (s *Service) FinishSignIn(ctx context.Context, acct *storage.Account, amr []string, remember bool, replaces string) (Outcome, error) {
	return s.startSignedIn(ctx, SignInAttempt{Account: acct, Remember: remember, Replaces: replaces}, amr)
}

// startSignedIn ends the browser's previous session and starts the new one.
func (s *Service) startSignedIn(ctx context.Context, a SignInAttempt, amr []string) (Outcome, error) {
	if a.Replaces != "" {
		if err := s.EndSession(ctx, a.Replaces); err != nil {
			// The new session replaces it in the browser either way.
			s.log.WarnContext(ctx, "ending the previous session failed", "err", err)
		}
	}
	token, sess, err := s.StartSession(ctx, a.Account, amr, a.Remember)
	if err != nil {
		return Outcome{}, fmt.Errorf("idp: sign-in: %w", err)
	}
	return Outcome{Kind: SignedIn, Session: sess, AMR: amr, Token: token}, nil
}
