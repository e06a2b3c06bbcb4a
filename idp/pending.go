package idp

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/manam-id/manam/idp/mfa"
	"github.com/manam-id/manam/storage"
)

// SecondStep says what a sign-in that proved its first factor still needs.
type SecondStep int

const (
	// StepNone: nothing; the session can start.
	StepNone SecondStep = iota
	// StepVerify: the account's second factor.
	StepVerify
	// StepEnrol: the sign-in needs a second factor the account does not
	// have yet: it enrols one first.
	StepEnrol
	// StepTrusted: none, because this device is remembered after a
	// second factor proved on it (the sign-in counts as "mfa").
	StepTrusted
)

// NextStep decides whether a sign-in of acct needs a second factor:
// always when the account has one (unless deviceToken is a device it
// trusted), and when wantMFA says the tenant requires one or the request
// asked for one (then an account without a factor enrols first). With
// StepVerify comes the method to ask for first ("totp", else "sms").
func (s *SecondFactors) NextStep(ctx context.Context, acct *storage.Account, wantMFA bool, deviceToken string) (SecondStep, string, error) {
	if s.mfa == nil {
		return StepNone, "", nil
	}
	fs, err := s.rows.ConfirmedFactors(ctx, acct.ID)
	if err != nil {
		return StepNone, "", err
	}
	if len(fs) > 0 {
		if deviceToken != "" {
			if id, err := mfa.DeviceTokenID(deviceToken); err == nil {
				if _, err := s.trusted.TrustedDevice(ctx, id, acct.ID, s.now()); err == nil {
					return StepTrusted, "", nil
				} else if !errors.Is(err, storage.ErrNotFound) {
					return StepNone, "", err
				}
			}
		}
		return StepVerify, fs[0].Kind, nil
	}
	if wantMFA {
		return StepEnrol, "", nil
	}
	return StepNone, "", nil
}

// Pending is a half-done sign-in with its account.
type Pending struct {
	Row     *storage.PendingLogin
	Account *storage.Account
}

// AMR is the methods the pending sign-in proved so far.
func (p *Pending) AMR() []string { return strings.Fields(p.Row.AMR) }

// BeginPending records a first factor proved and returns the cookie value
// (shown once, stored only hashed) that carries the sign-in to its second.
func (s *SecondFactors) BeginPending(ctx context.Context, acct *storage.Account, amr []string, remember bool, clientID string, step SecondStep) (string, error) {
	cfg, err := s.factors()
	if err != nil {
		return "", err
	}
	token := randomToken(32)
	now := s.now().UTC()
	ttl := cfg.PendingTTL
	if ttl == 0 {
		ttl = 10 * time.Minute
	}
	err = s.pending.CreatePending(ctx, &storage.PendingLogin{ID: hashToken(token), AccountID: acct.ID, AMR: strings.Join(amr, " "),
		Remember: remember, ClientID: clientID, Enrol: step == StepEnrol, CreatedAt: now, ExpiresAt: now.Add(ttl)})
	if err != nil {
		return "", err
	}
	return token, nil
}

// PendingSignIn resolves a pending cookie value: ErrNoPending when it is unknown or over.
func (s *SecondFactors) PendingSignIn(ctx context.Context, token string) (*Pending, error) {
	if _, err := s.factors(); err != nil {
		return nil, err
	}
	if token == "" || len(token) > 100 {
		return nil, ErrNoPending
	}
	row, err := s.pending.Pending(ctx, hashToken(token), s.now())
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrNoPending
	}
	if err != nil {
		return nil, err
	}
	a, err := s.accounts.AccountByID(ctx, row.AccountID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrNoPending
	}
	if err != nil {
		return nil, err
	}
	return &Pending{Row: row, Account: a}, nil
}

// CompletePending proves a pending sign-in's second factor with method
// ("totp", "sms" or "recovery") and code, once. It returns the account
// and the methods of the whole sign-in (for the session). A wrong code
// counts against the sign-in (five drop it: ErrNoPending), the account's
// lockout (like a wrong password; from an unknown source) and the budget
// of its source (as a sign-in's); a locked account's right code is
// refused too. A pending sign-in that must enrol cannot complete here
// (ErrFactorState).
func (s *SecondFactors) CompletePending(ctx context.Context, token, method, code string, src Source) (*storage.Account, []string, error) {
	if _, err := s.factors(); err != nil {
		return nil, nil, err
	}
	p, err := s.PendingSignIn(ctx, token)
	if err != nil {
		return nil, nil, err
	}
	g := s.signInGuard(src, p.Account, "")
	if err := g.take(ctx); err != nil {
		return nil, nil, err
	}
	wrong := false // a wrong code keeps the attempt spent
	defer func() {
		if !wrong {
			s.refund(ctx, g)
		}
	}()
	if p.Row.Enrol {
		return nil, nil, ErrFactorState
	}
	got, err := s.proveFactor(ctx, p.Account, method, code, g)
	if errors.Is(err, ErrBadCode) {
		wrong = true
		if ferr := s.pending.PendingFailed(ctx, p.Row.ID, s.cfg.CodeAttempts); errors.Is(ferr, storage.ErrUsed) {
			return nil, nil, ErrNoPending
		} else if ferr != nil {
			return nil, nil, ferr
		}
		return nil, nil, ErrBadCode
	}
	if err != nil {
		return nil, nil, err
	}
	if err := s.pending.TakePending(ctx, p.Row.ID); errors.Is(err, storage.ErrNotFound) {
		return nil, nil, ErrNoPending // finished concurrently: one of the two wins
	} else if err != nil {
		return nil, nil, err
	}
	return p.Account, withMethod(p.AMR(), got), nil
}

// CompleteEnrolment finishes a pending sign-in that had to enrol a second
// factor, once the account has one: its code was proved while enrolling,
// and amr names that factor's method (RFC 8176: "otp" for an authenticator
// app, "sms"), the one confirmed last, never what the form says. Without a
// confirmed factor it is ErrFactorState.
func (s *SecondFactors) CompleteEnrolment(ctx context.Context, token string) (*storage.Account, []string, error) {
	if _, err := s.factors(); err != nil {
		return nil, nil, err
	}
	p, err := s.PendingSignIn(ctx, token)
	if err != nil {
		return nil, nil, err
	}
	fs, err := s.rows.ConfirmedFactors(ctx, p.Account.ID)
	if err != nil {
		return nil, nil, err
	}
	if !p.Row.Enrol || len(fs) == 0 {
		return nil, nil, ErrFactorState
	}
	if err := s.pending.TakePending(ctx, p.Row.ID); errors.Is(err, storage.ErrNotFound) {
		return nil, nil, ErrNoPending
	} else if err != nil {
		return nil, nil, err
	}
	latest := fs[0]
	for _, f := range fs[1:] {
		if f.ConfirmedAt != nil && (latest.ConfirmedAt == nil || f.ConfirmedAt.After(*latest.ConfirmedAt)) {
			latest = f
		}
	}
	method := "otp"
	if latest.Kind == FactorSMS {
		method = "sms"
	}
	return p.Account, withMethod(p.AMR(), method), nil
}
