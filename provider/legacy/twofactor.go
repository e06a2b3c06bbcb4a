package legacy

import (
	"context"
	"errors"
	"net/http"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/provider/internal/clientapi"
	"github.com/manam-id/manam/storage"
)

// The second version's two-factor walkthroughs, over a cookie session
// (ab_blog) that /auth/login starts. Enrolling first proves the account's
// mailbox (the documented e-mail step; accounts without an e-mail skip
// it), then sets up the factor, then confirms it with a code, which
// returns the recovery codes. Signing in with a factor: /auth/login
// answers 307 with a pending cookie, and /auth/2fa/{kind}/validate takes
// the code (or a recovery code) and only then starts the session and
// issues the tokens.

// session is the call's signed-in session (errSignIn without one).
func (a *API) session(r *http.Request) (*idp.Session, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, errSignIn
	}
	sess, err := a.IDP.Session(r.Context(), ck.Value)
	if errors.Is(err, idp.ErrNoSession) {
		return nil, errSignIn
	}
	return sess, err
}

// proved tells whether this session proved the account's mailbox for
// enrolling a factor of kind (or needs not: no e-mail on the account).
func (a *API) proved(r *http.Request, sess *idp.Session, kind string) bool {
	if sess.Account.Email == nil {
		return true
	}
	return a.signed(r, proofCookie) == sess.Row.SID+":"+kind
}

func errProveMail(c *call, kind string) error {
	return refuse("Confirm your e-mail address first: send it to the address in location and open the link we mail you.", "/auth/2fa/"+kind+"/email/verify")
}

// factorEmail serves POST /auth/2fa/{kind}/email/verify: code is the
// account's e-mail address; a link goes to it.
func (a *API) factorEmail(kind string) clientapi.Handler {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		sess, err := a.session(r)
		if err != nil {
			return err
		}
		links := a.links(c)
		links.FactorEmail = func(token string) string {
			return a.Issuer + c.Prefix + "/auth/2fa/" + kind + "/email/verify/end?token=" + urlQuery(token)
		}
		err = a.IDP.SendFactorEmail(r.Context(), sess.Account.ID, c.Get("code", "email"), links)
		if errors.Is(err, idp.ErrNoEmail) {
			return refuse("Your account has no e-mail address: go on to the setup.", "/auth/2fa/"+kind+"/setup")
		}
		var fe idp.FieldErrors
		if errors.As(err, &fe) {
			return refuse("Type the e-mail address of your account.", "/").WithFields(fe)
		}
		if err != nil {
			return err
		}
		a.write(w, http.StatusTemporaryRedirect, a.success(c, "An e-mail has been sent to confirm 2FA activation.", "/"))
		return nil
	}
}

// factorEmailEnd serves GET /auth/2fa/{kind}/email/verify/end: the mailed
// token, in this session's browser.
func (a *API) factorEmailEnd(kind string) clientapi.Handler {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		sess, err := a.session(r)
		if err != nil {
			return err
		}
		err = a.IDP.ProveFactorEmail(r.Context(), sess.Account.ID, c.Get("token", "code"))
		if errors.Is(err, idp.ErrInvalidToken) {
			return refuse("This link is invalid, used or expired. Ask for a new one.", "/auth/2fa/"+kind+"/email/verify")
		}
		if err != nil {
			return err
		}
		a.setSigned(w, proofCookie, sess.Row.SID+":"+kind, idp.FactorEmailTTL)
		a.write(w, http.StatusTemporaryRedirect, a.success(c, "", "/auth/2fa/"+kind+"/setup"))
		return nil
	}
}

// setupPage serves GET /auth/2fa/{kind}/setup and …/confirm: the session
// answer (where the documents' pages would be).
func (a *API) setupPage(kind string) clientapi.Handler {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		sess, err := a.session(r)
		if err != nil {
			return err
		}
		if !a.proved(r, sess, kind) {
			return errProveMail(c, kind)
		}
		a.write(w, http.StatusOK, a.sessionBody(r, c, sess))
		return nil
	}
}

// setupTOTP serves POST /auth/2fa/totp/setup: a new authenticator secret
// (replacing one not confirmed yet), then 302 to the confirm step.
func (a *API) setupTOTP(w http.ResponseWriter, r *http.Request, c *call) error {
	sess, err := a.session(r)
	if err != nil {
		return err
	}
	if !a.proved(r, sess, "totp") {
		return errProveMail(c, "totp")
	}
	if _, err := a.IDP.BeginTOTP(r.Context(), sess.Account.ID); errors.Is(err, idp.ErrFactorState) {
		return refuse("Two-factor authentication with an authenticator app is already on.", "/")
	} else if err != nil {
		return err
	}
	w.Header().Set("Location", c.Prefix+"/auth/2fa/totp/confirm")
	w.WriteHeader(http.StatusFound)
	return nil
}

// qr serves GET /auth/2fa/totp/qr: the QR code (PNG) of the secret being set up.
func (a *API) qr(w http.ResponseWriter, r *http.Request, c *call) error {
	sess, err := a.session(r)
	if err != nil {
		return err
	}
	en, err := a.IDP.PendingTOTP(r.Context(), sess.Account.ID)
	if errors.Is(err, idp.ErrFactorState) {
		return refuse("Set up the authenticator first (POST /auth/2fa/totp/setup).", "/auth/2fa/totp/setup")
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(en.PNG)
	return nil
}

// confirmTOTP serves POST /auth/2fa/totp/confirm: a current code turns
// the factor on and returns the recovery codes.
func (a *API) confirmTOTP(w http.ResponseWriter, r *http.Request, c *call) error {
	return a.confirmFactor(w, r, c, "totp", "otp", a.IDP.ConfirmTOTP)
}

// confirmSMSFactor serves POST /auth/2fa/sms/confirm.
func (a *API) confirmSMSFactor(w http.ResponseWriter, r *http.Request, c *call) error {
	return a.confirmFactor(w, r, c, "sms", "sms", a.IDP.ConfirmSMSFactor)
}

func (a *API) confirmFactor(w http.ResponseWriter, r *http.Request, c *call, kind, method string, confirm func(ctx context.Context, accountID, code string) ([]string, error)) error {
	ctx := r.Context()
	sess, err := a.session(r)
	if err != nil {
		return err
	}
	if !a.proved(r, sess, kind) {
		return errProveMail(c, kind)
	}
	codes, err := confirm(ctx, sess.Account.ID, c.Get("code"))
	switch {
	case errors.Is(err, idp.ErrBadCode):
		return refuse("The code is wrong or expired. Try the current one.", "/auth/2fa/"+kind+"/confirm")
	case errors.Is(err, idp.ErrFactorState):
		return refuse("There is nothing to confirm: set the factor up first.", "/auth/2fa/"+kind+"/setup")
	case err != nil:
		return err
	}
	// The session proved the factor now; the account's other sessions
	// were signed in without it.
	if err := a.IDP.RaiseSession(ctx, sess, method); err != nil {
		return err
	}
	if err := a.IDP.EndOtherSessions(ctx, sess); err != nil {
		return err
	}
	a.setCookie(w, proofCookie, "", -1)
	body := a.sessionBody(r, c, sess)
	body["recovery_codes"] = codes
	a.write(w, http.StatusOK, body)
	return nil
}

// setupSMS serves POST /auth/2fa/sms/setup: phone_number gets a code.
func (a *API) setupSMS(w http.ResponseWriter, r *http.Request, c *call) error {
	sess, err := a.session(r)
	if err != nil {
		return err
	}
	if !a.proved(r, sess, "sms") {
		return errProveMail(c, "sms")
	}
	_, err = a.IDP.BeginSMSFactor(r.Context(), sess.Account.ID, c.Get("phone_number", "mobile", "phone"), a.links(c))
	var fe idp.FieldErrors
	switch {
	case errors.As(err, &fe):
		if m, ok := fe["phone"]; ok {
			fe = idp.FieldErrors{"phone_number": m}
		}
		return refuse("Check the fields listed in errors.", "/auth/2fa/sms/setup").WithFields(fe)
	case errors.Is(err, idp.ErrFactorState):
		return refuse("Two-factor authentication by SMS is already on.", "/")
	case err != nil:
		return err
	}
	a.write(w, http.StatusTemporaryRedirect, a.success(c, "", "/auth/2fa/sms/confirm"))
	return nil
}

// validate serves POST /auth/2fa/{kind}/validate: the pending sign-in's
// code (or recovery_code) starts the session and issues the tokens. With
// neither, an SMS sign-in gets a new code (rate-limited).
func (a *API) validate(kind string) clientapi.Handler {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		ctx := r.Context()
		ck, err := r.Cookie(pendingCookie)
		if err != nil {
			return refuse("Sign in with your password first.", "/auth/login")
		}
		p, err := a.IDP.PendingSignIn(ctx, ck.Value)
		if errors.Is(err, idp.ErrNoPending) {
			a.setCookie(w, pendingCookie, "", -1)
			return refuse("This sign-in has expired. Sign in with your password again.", "/auth/login")
		}
		if err != nil {
			return err
		}
		code, recovery := c.Get("code"), c.Get("recovery_code")
		if code == "" && recovery == "" {
			if kind == "sms" {
				if err := a.IDP.SendFactorCode(ctx, p.Account.ID, a.links(c)); err != nil {
					return err
				}
				return refuse("A new code is on its way to your phone. Send it as code.", "/auth/2fa/sms/validate")
			}
			return refuse("Send the code from your authenticator app (or a recovery code).", "/auth/2fa/totp/validate")
		}
		// The 2FA routes take no tenant key: the sign-in's own tenant
		// says whether its back end sent this.
		var tenant *storage.Tenant
		if p.Row.ClientID != "" {
			if tenant, err = a.Tenants.Get(ctx, p.Row.ClientID); err != nil && !errors.Is(err, storage.ErrNotFound) {
				return err
			}
		}
		from := a.Source(r, tenant)
		var acct *storage.Account
		var amr []string
		err = idp.ErrBadCode
		if code != "" {
			acct, amr, err = a.IDP.CompletePending(ctx, ck.Value, kind, code, from)
		}
		if errors.Is(err, idp.ErrBadCode) && recovery != "" {
			acct, amr, err = a.IDP.CompletePending(ctx, ck.Value, idp.MethodRecovery, recovery, from)
		}
		switch {
		case errors.Is(err, idp.ErrBadCode):
			return refuse("The code is wrong or expired.", "/auth/2fa/"+kind+"/validate")
		case errors.Is(err, idp.ErrNoPending), errors.Is(err, idp.ErrFactorState):
			a.setCookie(w, pendingCookie, "", -1)
			return refuse("This sign-in has ended after too many wrong codes, or has expired. Sign in with your password again.", "/auth/login")
		case err != nil:
			return err
		}
		a.setCookie(w, pendingCookie, "", -1)
		_, tok, err := a.signIn(ctx, w, acct, amr, tenant)
		if err != nil {
			return err
		}
		if c.Tenant == nil {
			if t, err := a.Tenants.Get(ctx, p.Row.ClientID); err == nil {
				c.Tenant = t
			}
		}
		body := a.profile(ctx, c, acct, tok)
		body["location"], body["message"], body["status"] = "/", a.t(c, "Successfully Authenticated"), "success"
		a.write(w, http.StatusTemporaryRedirect, body)
		return nil
	}
}

// remove serves POST /auth/2fa/{kind}/remove: a current code of the
// factor, or a recovery code, turns it off. Without either, an SMS factor
// gets a code to send back.
func (a *API) remove(kind string) clientapi.Handler {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		ctx := r.Context()
		sess, err := a.session(r)
		if err != nil {
			return err
		}
		code, recovery := c.Get("code"), c.Get("recovery_code")
		if code == "" && recovery == "" {
			if kind == "sms" {
				if err := a.IDP.SendFactorCode(ctx, sess.Account.ID, a.links(c)); err != nil {
					return err
				}
				return refuse("A code is on its way to your phone. Send it as code to remove the factor.", "/auth/2fa/sms/remove")
			}
			return refuse("Send a code from your authenticator app (or a recovery code).", "/auth/2fa/totp/remove")
		}
		err = idp.ErrBadCode
		if code != "" {
			err = a.IDP.RemoveFactor(ctx, sess.Account.ID, kind, kind, code)
		}
		if errors.Is(err, idp.ErrBadCode) && recovery != "" {
			err = a.IDP.RemoveFactor(ctx, sess.Account.ID, kind, idp.MethodRecovery, recovery)
		}
		switch {
		case errors.Is(err, idp.ErrBadCode):
			return refuse("The code is wrong or expired.", "/auth/2fa/"+kind+"/remove")
		case errors.Is(err, idp.ErrFactorState):
			return refuse("This second factor is not on.", "/")
		case err != nil:
			return err
		}
		a.write(w, http.StatusOK, a.sessionBody(r, c, sess))
		return nil
	}
}
