package idp_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/storage/storagetest"
)

// TestSignIn: the one sign-in sequence decides the same way for every
// surface: a session at once, the second factor (carried by a pending
// sign-in when the surface can, reported only when it cannot), enrolment
// when one is required and missing, a remembered device counting as
// "mfa", and the previous session ended.
func TestSignIn(t *testing.T) {
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) { testSignIn(t, b) })
	}
}

func testSignIn(t *testing.T, b storagetest.Backend) {
	ctx := context.Background()
	clk := &fakeClock{t: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
	svc, _ := newFactorService(t, b, clk)
	plain, _ := svc.CreateAccount(ctx, idp.NewAccount{Email: "plain@example.com", Password: "the right one", EmailVerified: true})
	withTOTP, _ := svc.CreateAccount(ctx, idp.NewAccount{Email: "totp@example.com", Password: "the right one", EmailVerified: true})
	en, _ := svc.BeginTOTP(ctx, withTOTP.ID)
	if _, err := svc.ConfirmTOTP(ctx, withTOTP.ID, code(t, en.Secret, clk.Now())); err != nil {
		t.Fatal(err)
	}
	device, _, err := svc.TrustDevice(ctx, withTOTP.ID, "Firefox")
	if err != nil {
		t.Fatal(err)
	}
	old, _, err := svc.StartSession(ctx, plain, []string{"pwd"}, false)
	if err != nil {
		t.Fatal(err)
	}
	pwd := []string{"pwd"}
	cases := []struct {
		name    string
		in      idp.SignInAttempt
		want    idp.OutcomeKind
		amr     []string // when signed in
		pending bool     // a pending sign-in token was made
	}{
		{"no factor, none wanted", idp.SignInAttempt{Account: plain, AMR: pwd}, idp.SignedIn, pwd, false},
		{"no factor, one required: enrol, carried", idp.SignInAttempt{Account: plain, AMR: pwd, WantMFA: true, PendEnrolment: true}, idp.NeedsEnrolment, nil, true},
		{"no factor, one required: enrol, reported only", idp.SignInAttempt{Account: plain, AMR: pwd, WantMFA: true, PendFactor: true}, idp.NeedsEnrolment, nil, false},
		{"a factor: asked, carried", idp.SignInAttempt{Account: withTOTP, AMR: pwd, PendFactor: true}, idp.NeedsFactor, nil, true},
		{"a factor: asked, reported only", idp.SignInAttempt{Account: withTOTP, AMR: pwd}, idp.NeedsFactor, nil, false},
		{"a remembered device", idp.SignInAttempt{Account: withTOTP, AMR: pwd, Device: device, PendFactor: true}, idp.SignedIn, []string{"pwd", "mfa"}, false},
		{"another account's device", idp.SignInAttempt{Account: withTOTP, AMR: pwd, Device: "forged", PendFactor: true}, idp.NeedsFactor, nil, true},
		{"replacing a session", idp.SignInAttempt{Account: plain, AMR: pwd, Replaces: old}, idp.SignedIn, pwd, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := svc.SignIn(ctx, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if out.Kind != tc.want {
				t.Fatalf("outcome %v, want %v", out.Kind, tc.want)
			}
			switch out.Kind {
			case idp.SignedIn:
				if !slices.Equal(out.AMR, tc.amr) || out.Session == nil || out.Token == "" {
					t.Fatalf("signed in with %v, session %v", out.AMR, out.Session)
				}
				s, err := svc.Session(ctx, out.Token)
				if err != nil || !slices.Equal(s.AMR(), tc.amr) {
					t.Fatalf("the session: %v %v", s, err)
				}
			default:
				if got := out.Token != ""; got != tc.pending {
					t.Fatalf("pending sign-in made: %v, want %v", got, tc.pending)
				}
				if tc.pending {
					pd, err := svc.PendingSignIn(ctx, out.Token)
					if err != nil || pd.Account.ID != tc.in.Account.ID {
						t.Fatalf("pending sign-in: %v %v", pd, err)
					}
				}
			}
			if tc.in.Replaces != "" {
				if _, err := svc.Session(ctx, tc.in.Replaces); err == nil {
					t.Fatal("the replaced session still works")
				}
			}
		})
	}
}
