package pages

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/storage"
)

// Cookies of second factors: a sign-in waiting for its second factor,
// and a device remembered after one.
const (
	PendingCookie = "manam_pending"
	DeviceCookie  = "manam_device"
)

// SignedIn finishes a first-factor sign-in (a password, an upstream
// identity; amr says which): an account with a second factor is asked for
// it (unless this device is remembered), an account that needs one and
// has none enrols one; only then does the session start and the browser
// go on to info.ResumeURL.
func (p *Pages) SignedIn(w http.ResponseWriter, r *http.Request, acct *storage.Account, amr []string, remember bool, challenge string, info FlowInfo) {
	device := ""
	if c, err := r.Cookie(DeviceCookie); err == nil {
		device = c.Value
	}
	out, err := p.svc.SignIn(r.Context(), idp.SignInAttempt{Account: acct, AMR: amr, TenantID: info.ClientID, WantMFA: info.WantMFA,
		Device: device, Remember: remember, Replaces: p.sessionToken(r), PendFactor: true, PendEnrolment: true, Links: p.links(r, challenge)})
	if err != nil {
		p.unavailable(w, r, "sign-in failed", err)
		return
	}
	if out.Kind == idp.SignedIn {
		p.signedInTo(w, r, out, remember, info.ResumeURL)
		return
	}
	if out.CodeNotSent != nil {
		p.log.WarnContext(r.Context(), "sending the sign-in code failed", "err", out.CodeNotSent)
	}
	http.SetCookie(w, &http.Cookie{Name: PendingCookie, Value: out.Token, Path: "/", MaxAge: int((10 * time.Minute) / time.Second),
		HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode})
	p.observe("second_factor")
	next := "/login/2fa"
	if out.Kind == idp.NeedsEnrolment {
		next = "/login/2fa/enrol"
	}
	if challenge != "" {
		next += "?challenge=" + url.QueryEscape(challenge)
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// pending is the browser's half-done sign-in; without one, the browser is
// sent back to the sign-in page and nil returned.
func (p *Pages) pending(w http.ResponseWriter, r *http.Request, challenge string) *idp.Pending {
	c, err := r.Cookie(PendingCookie)
	var pd *idp.Pending
	if err == nil {
		pd, err = p.svc.PendingSignIn(r.Context(), c.Value)
	}
	if err != nil {
		if !errors.Is(err, idp.ErrNoPending) && !errors.Is(err, http.ErrNoCookie) {
			p.unavailable(w, r, "pending sign-in lookup failed", err)
			return nil
		}
		p.clearPending(w)
		p.message(w, r, http.StatusBadRequest, &messagePage{page: page{Title: p.t(r, "Sign-in expired")},
			Message: p.t(r, "This sign-in took too long or had too many wrong codes. Sign in again."),
			LinkURL: "/login?challenge=" + url.QueryEscape(challenge), LinkText: p.t(r, "Sign in")})
		return nil
	}
	return pd
}

func (p *Pages) clearPending(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: PendingCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode})
}

// resumeOf is where a finished sign-in goes: the authorization request,
// or the account page. If it cannot say, it has answered for the page.
func (p *Pages) resumeOf(w http.ResponseWriter, r *http.Request, challenge string) (string, bool) {
	if challenge == "" {
		return "/account", true
	}
	info, ok := p.describe(w, r, challenge)
	return info.ResumeURL, ok
}

// methodsOf are the ways the account can prove its second factor, first the default.
func (p *Pages) methodsOf(r *http.Request, accountID string) []string {
	fs, _ := p.svc.Factors(r.Context(), accountID)
	var out []string
	for _, f := range fs {
		out = append(out, f.Kind)
	}
	return append(out, idp.MethodRecovery)
}

// SecondFactor serves GET and POST /login/2fa: the second factor of a
// sign-in whose password (or upstream identity) is proved.
func (p *Pages) SecondFactor(w http.ResponseWriter, r *http.Request) {
	challenge := r.FormValue("challenge")
	if r.Method == http.MethodPost && !p.formValid(w, r) {
		return
	}
	pd := p.pending(w, r, challenge)
	if pd == nil {
		return
	}
	if pd.Row.Enrol {
		http.Redirect(w, r, "/login/2fa/enrol?challenge="+url.QueryEscape(challenge), http.StatusSeeOther)
		return
	}
	methods := p.methodsOf(r, pd.Account.ID)
	method := r.FormValue("method")
	if !slices.Contains(methods, method) {
		method = methods[0]
	}
	data := &twoFactorPage{page: page{Title: "Two-step verification"}, Challenge: challenge, Method: method, Methods: methods, Errors: map[string]string{}}
	if r.Method == http.MethodGet {
		data.CSRF = p.csrf.Token(w, r)
		p.render(w, r, http.StatusOK, "twofactor.html", data)
		return
	}
	if r.PostFormValue("action") == "resend" {
		if err := p.svc.SendFactorCode(r.Context(), pd.Account.ID, p.links(r, challenge)); err != nil {
			p.unavailable(w, r, "sending the sign-in code failed", err)
			return
		}
		data.CSRF, data.Resent = p.csrf.Token(w, r), true
		p.render(w, r, http.StatusOK, "twofactor.html", data)
		return
	}
	c, _ := r.Cookie(PendingCookie)
	acct, amr, err := p.svc.CompletePending(r.Context(), c.Value, method, r.PostFormValue("code"), p.source(r))
	switch {
	case errors.Is(err, idp.ErrBadCode):
		p.observe("invalid")
		data.CSRF = p.csrf.Token(w, r)
		data.Errors = map[string]string{"code": "This code is wrong or has expired."}
		p.render(w, r, http.StatusUnauthorized, "twofactor.html", data)
		return
	case errors.Is(err, idp.ErrThrottled):
		w.Header().Set("Retry-After", "60")
		p.Error(w, r, http.StatusTooManyRequests, "Too many attempts", "There were too many failed sign-ins from your network. Wait a few minutes and try again.")
		return
	case errors.Is(err, idp.ErrNoPending):
		p.pending(w, r, challenge) // renders the "start again" page
		return
	case err != nil:
		p.unavailable(w, r, "second factor failed", err)
		return
	}
	p.clearPending(w)
	if r.PostFormValue("remember_device") == "1" {
		if token, ttl, err := p.svc.TrustDevice(r.Context(), acct.ID, r.UserAgent()); err != nil {
			p.log.WarnContext(r.Context(), "remembering the device failed", "err", err)
		} else {
			http.SetCookie(w, &http.Cookie{Name: DeviceCookie, Value: token, Path: "/", MaxAge: int(ttl / time.Second),
				HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode})
		}
	}
	next, ok := p.resumeOf(w, r, challenge)
	if !ok {
		return
	}
	p.startSession(w, r, acct, amr, pd.Row.Remember, next)
}

// actor is who an enrolment page acts for: the signed-in account, or a
// pending sign-in that must enrol. ok is false when the page already answered.
type actor struct {
	accountID string
	sess      *idp.Session
	pending   *idp.Pending
	challenge string
}

// enrolForm checks an enrolment form's CSRF token and finds its actor.
func (p *Pages) enrolForm(w http.ResponseWriter, r *http.Request) (actor, bool) {
	if !p.formValid(w, r) {
		return actor{}, false
	}
	return p.actorOf(w, r)
}

// factorForm is enrolForm for the steps that set a factor up: a sign-in
// through a tenant that asks for the e-mail step must have done it.
func (p *Pages) factorForm(w http.ResponseWriter, r *http.Request) (actor, bool) {
	a, ok := p.enrolForm(w, r)
	if ok && p.emailProofNeeded(r, a) {
		if a.sess != nil && a.pending == nil {
			// The account page: the step that sends the link.
			p.emailStep(w, r, http.StatusForbidden, a, false)
			return actor{}, false
		}
		p.Error(w, r, http.StatusForbidden, "Confirm your e-mail address", "Confirm your e-mail address first: we will send you a link.")
		return actor{}, false
	}
	return a, ok
}

// reauthenticated checks the current password (idp.ProveFactorChange)
// before the account page starts setting up a factor; a sign-in that
// must enrol has just proved it. On failure it shows the account page
// again with the error at field.
func (p *Pages) reauthenticated(w http.ResponseWriter, r *http.Request, a actor, field string) bool {
	if a.sess == nil {
		return true
	}
	err := p.svc.ProveFactorChange(r.Context(), a.sess, r.PostFormValue("current_password"))
	var fe idp.FieldErrors
	switch {
	case err == nil:
		return true
	case errors.As(err, &fe):
		p.account(w, r, http.StatusBadRequest, idp.FieldErrors{field: fe["current_password"]}, "")
	default:
		p.unavailable(w, r, "re-authentication for a second factor failed", err)
	}
	return false
}

func (p *Pages) actorOf(w http.ResponseWriter, r *http.Request) (actor, bool) {
	challenge := r.FormValue("challenge")
	if c, err := r.Cookie(PendingCookie); err == nil && c.Value != "" {
		if pd, err := p.svc.PendingSignIn(r.Context(), c.Value); err == nil && pd.Row.Enrol {
			return actor{accountID: pd.Account.ID, pending: pd, challenge: challenge}, true
		}
	}
	sess, ok := p.signedIn(w, r, "/login")
	if !ok {
		return actor{}, false
	}
	return actor{accountID: sess.Account.ID, sess: sess, challenge: challenge}, true
}

// Enrol serves GET /login/2fa/enrol: a sign-in that needs a second factor
// the account lacks chooses one to set up.
func (p *Pages) Enrol(w http.ResponseWriter, r *http.Request) {
	challenge := r.FormValue("challenge")
	pd := p.pending(w, r, challenge)
	if pd == nil {
		return
	}
	if a := (actor{accountID: pd.Account.ID, pending: pd, challenge: challenge}); pd.Row.Enrol && p.emailProofNeeded(r, a) {
		p.emailStep(w, r, http.StatusOK, a, false)
		return
	}
	p.render(w, r, http.StatusOK, "enrol.html", &enrolPage{page: page{Title: "Set up two-step verification", CSRF: p.csrf.Token(w, r)}, Challenge: challenge,
		Required: true, Errors: map[string]string{}})
}

// EnrolTOTP serves POST /2fa/totp: start (or show again) an authenticator enrolment.
func (p *Pages) EnrolTOTP(w http.ResponseWriter, r *http.Request) {
	a, ok := p.factorForm(w, r)
	if !ok {
		return
	}
	if !p.reauthenticated(w, r, a, "totp_password") {
		return
	}
	en, err := p.svc.BeginTOTP(r.Context(), a.accountID)
	if errors.Is(err, idp.ErrFactorState) {
		p.Error(w, r, http.StatusConflict, "Already set up", "An authenticator app is already set up. Remove it first to set up another.")
		return
	}
	if err != nil {
		p.unavailable(w, r, "TOTP enrolment failed", err)
		return
	}
	p.totpPage(w, r, http.StatusOK, a, en, "")
}

func (p *Pages) totpPage(w http.ResponseWriter, r *http.Request, status int, a actor, en *idp.TOTPEnrolment, codeErr string) {
	errs := map[string]string{}
	if codeErr != "" {
		errs["code"] = codeErr
	}
	p.render(w, r, status, "enrol_totp.html", &enrolTOTPPage{page: page{Title: "Set up an authenticator app", CSRF: p.csrf.Token(w, r)}, Challenge: a.challenge,
		QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(en.PNG)), Secret: en.Secret, Errors: errs})
}

// ConfirmTOTPEnrolment serves POST /2fa/totp/confirm: the first code from
// the app; then the recovery codes, shown once.
func (p *Pages) ConfirmTOTPEnrolment(w http.ResponseWriter, r *http.Request) {
	a, ok := p.factorForm(w, r)
	if !ok {
		return
	}
	codes, err := p.svc.ConfirmTOTP(r.Context(), a.accountID, r.PostFormValue("code"))
	if errors.Is(err, idp.ErrBadCode) {
		en, err := p.svc.PendingTOTP(r.Context(), a.accountID)
		if err != nil {
			p.stepError(w, r, err)
			return
		}
		p.totpPage(w, r, http.StatusBadRequest, a, en, "This code is wrong or has expired. Enter the code the app shows now.")
		return
	}
	p.enrolled(w, r, a, codes, err, "otp")
}

// EnrolSMS serves POST /2fa/sms: a phone to enrol; a code goes to it.
func (p *Pages) EnrolSMS(w http.ResponseWriter, r *http.Request) {
	a, ok := p.factorForm(w, r)
	if !ok {
		return
	}
	if !p.reauthenticated(w, r, a, "sms_password") {
		return
	}
	phone, err := p.svc.BeginSMSFactor(r.Context(), a.accountID, r.PostFormValue("phone"), p.links(r, a.challenge))
	var fe idp.FieldErrors
	switch {
	case errors.As(err, &fe) && a.pending == nil:
		p.account(w, r, http.StatusBadRequest, fe, "")
		return
	case errors.As(err, &fe):
		p.render(w, r, http.StatusBadRequest, "enrol.html", &enrolPage{page: page{Title: "Set up two-step verification", CSRF: p.csrf.Token(w, r)}, Required: true,
			Challenge: a.challenge, Errors: map[string]string(fe), Phone: r.PostFormValue("phone")})
		return
	case errors.Is(err, idp.ErrThrottled):
		w.Header().Set("Retry-After", "60")
		p.Error(w, r, http.StatusTooManyRequests, "Too many attempts", "Codes can be sent once a minute. Wait a moment and try again.")
		return
	case err != nil:
		p.stepError(w, r, err)
		return
	}
	p.smsEnrolPage(w, r, http.StatusOK, a, phone, nil)
}

// smsEnrolPage asks for the code sent to the phone being enrolled.
func (p *Pages) smsEnrolPage(w http.ResponseWriter, r *http.Request, status int, a actor, phone string, errs map[string]string) {
	if errs == nil {
		errs = map[string]string{}
	}
	p.render(w, r, status, "enrol_sms.html", &enrolSMSPage{page: page{Title: "Confirm your phone", CSRF: p.csrf.Token(w, r)}, Challenge: a.challenge, Phone: phone,
		Errors: errs})
}

// ConfirmSMSEnrolment serves POST /2fa/sms/confirm.
func (p *Pages) ConfirmSMSEnrolment(w http.ResponseWriter, r *http.Request) {
	a, ok := p.factorForm(w, r)
	if !ok {
		return
	}
	codes, err := p.svc.ConfirmSMSFactor(r.Context(), a.accountID, r.PostFormValue("code"))
	if errors.Is(err, idp.ErrBadCode) {
		p.smsEnrolPage(w, r, http.StatusBadRequest, a, r.PostFormValue("phone"), map[string]string{"code": "This code is wrong or has expired. Ask for a new one."})
		return
	}
	p.enrolled(w, r, a, codes, err, "sms")
}

// stepError answers an enrolment or factor step that failed.
func (p *Pages) stepError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, idp.ErrFactorState) {
		p.Error(w, r, http.StatusConflict, "Nothing to confirm", "This step is not waiting for a code. Start again from your account page.")
		return
	}
	p.unavailable(w, r, "second-factor step failed", err)
}

// enrolled shows the recovery codes of a finished enrolment. A signed-in
// session now counts as a second-factor sign-in (the code was just
// proved); a pending sign-in finishes when the person continues.
func (p *Pages) enrolled(w http.ResponseWriter, r *http.Request, a actor, codes []string, err error, method string) {
	if err != nil {
		p.stepError(w, r, err)
		return
	}
	next := "/account?done=2fa"
	if a.sess != nil {
		if err := p.svc.RaiseSession(r.Context(), a.sess, method); err != nil {
			p.log.WarnContext(r.Context(), "raising the session failed", "err", err)
		}
		if err := p.svc.EndOtherSessions(r.Context(), a.sess); err != nil {
			p.log.WarnContext(r.Context(), "ending other sessions failed", "err", err)
		}
	}
	p.render(w, r, http.StatusOK, "recovery_codes.html", &recoveryCodesPage{page: page{Title: "Your recovery codes", CSRF: p.csrf.Token(w, r)}, Codes: codes, Next: next,
		Pending: a.pending != nil, Challenge: a.challenge})
}

// Enrolled serves POST /login/2fa/enrolled: a sign-in that enrolled its
// second factor continues, with the session it now earns.
func (p *Pages) Enrolled(w http.ResponseWriter, r *http.Request) {
	if !p.formValid(w, r) {
		return
	}
	challenge := r.FormValue("challenge")
	pd := p.pending(w, r, challenge)
	if pd == nil {
		return
	}
	c, _ := r.Cookie(PendingCookie)
	acct, amr, err := p.svc.CompleteEnrolment(r.Context(), c.Value)
	if errors.Is(err, idp.ErrNoPending) || errors.Is(err, idp.ErrFactorState) {
		p.pending(w, r, challenge)
		return
	}
	if err != nil {
		p.unavailable(w, r, "finishing the enrolment failed", err)
		return
	}
	p.clearPending(w)
	next, ok := p.resumeOf(w, r, challenge)
	if !ok {
		return
	}
	p.startSession(w, r, acct, amr, pd.Row.Remember, next)
}

// FactorChange serves POST /account/2fa/remove and /account/2fa/recovery:
// removing a factor and renewing the recovery codes, each with a code.
func (p *Pages) FactorChange(w http.ResponseWriter, r *http.Request) {
	sess, ok := p.signedInForm(w, r)
	if !ok {
		return
	}
	method, code := r.PostFormValue("method"), r.PostFormValue("code")
	var err error
	var codes []string
	switch r.URL.Path {
	case "/account/2fa/remove":
		err = p.svc.RemoveFactor(r.Context(), sess.Account.ID, r.PostFormValue("kind"), method, code)
	case "/account/2fa/recovery":
		codes, err = p.svc.RegenerateRecoveryCodes(r.Context(), sess.Account.ID, method, code)
	case "/account/2fa/send-code":
		err = p.svc.SendFactorCode(r.Context(), sess.Account.ID, p.links(r, ""))
		if err == nil {
			p.account(w, r, http.StatusOK, nil, p.t(r, "A code is on its way by SMS. Codes can be sent once a minute."))
			return
		}
	}
	switch {
	case errors.Is(err, idp.ErrBadCode):
		p.account(w, r, http.StatusBadRequest, idp.FieldErrors{"factor_code": "This code is wrong or has expired."}, "")
	case errors.Is(err, idp.ErrFactorState):
		p.account(w, r, http.StatusConflict, idp.FieldErrors{"factor_code": "There is no such second factor on your account."}, "")
	case err != nil:
		p.afterAccountChange(w, r, err, "")
	case codes != nil:
		p.render(w, r, http.StatusOK, "recovery_codes.html", &recoveryCodesPage{page: page{Title: "Your recovery codes"}, Codes: codes, Next: "/account"})
	default:
		http.Redirect(w, r, "/account?done=2fa-removed", http.StatusSeeOther)
	}
}

// ForgetDevice serves POST /account/devices/forget (id, or all).
func (p *Pages) ForgetDevice(w http.ResponseWriter, r *http.Request) {
	sess, ok := p.signedInForm(w, r)
	if !ok {
		return
	}
	err := p.svc.ForgetDevice(r.Context(), sess.Account.ID, r.PostFormValue("id"))
	if errors.Is(err, storage.ErrNotFound) {
		err = nil // already gone
	}
	p.afterAccountChange(w, r, err, "device")
}
