package pages

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/manam-id/manam/idp"
)

// links are the URLs that go into mail for a flow (challenge may be "").
func (p *Pages) links(r *http.Request, challenge string) idp.Links {
	suffix, signIn, clientID := "", p.issuer+"/", ""
	if challenge != "" {
		if info, err := p.flow.Describe(r.Context(), challenge); err == nil {
			clientID = info.ClientID
		}
		suffix = "&challenge=" + url.QueryEscape(challenge)
		signIn = p.issuer + "/login?challenge=" + url.QueryEscape(challenge)
	}
	return idp.Links{
		Confirm:     func(token string) string { return p.issuer + "/confirm?token=" + url.QueryEscape(token) + suffix },
		Reset:       func(token string) string { return p.issuer + "/recover/reset?token=" + url.QueryEscape(token) + suffix },
		ChangeEmail: func(token string) string { return p.issuer + "/account/email/confirm?token=" + url.QueryEscape(token) },
		SignIn:      signIn,
		Recover:     p.issuer + "/recover" + strings.Replace(suffix, "&", "?", 1),
		Product:     p.product,
		Lang:        p.lang(r),
		ClientID:    clientID,
	}
}

// flowOf describes a challenge if it is valid, and drops it otherwise: the
// account pages also work outside an authorization request.
func (p *Pages) flowOf(r *http.Request) (string, FlowInfo) {
	ch := r.FormValue("challenge")
	if ch == "" {
		return "", FlowInfo{}
	}
	info, err := p.flow.Describe(r.Context(), ch)
	if err != nil {
		return "", FlowInfo{}
	}
	return ch, info
}

// finished ends a confirmation or reset: back to the sign-in of the
// authorization request when there is one, otherwise (with hint) a word on
// signing in through the application.
func (p *Pages) finished(w http.ResponseWriter, r *http.Request, challenge, title, message string, hint bool) {
	data := &messagePage{page: page{Title: title}, Message: message}
	if challenge != "" {
		data.LinkURL, data.LinkText = "/login?challenge="+url.QueryEscape(challenge), p.t(r, "Continue to sign in")
	} else if hint {
		data.Message = message + " " + p.t(r, "You can now sign in to your application.")
	}
	p.message(w, r, http.StatusOK, data)
}

// codePage asks for the SMS code sent to mobile (codeErr: the code field's error).
func (p *Pages) codePage(w http.ResponseWriter, r *http.Request, status int, mobile, challenge, codeErr string, resent bool) {
	errs := map[string]string{}
	if codeErr != "" {
		errs["code"] = codeErr
	}
	p.render(w, r, status, "sms.html", &smsPage{page: page{Title: "Enter the code", CSRF: p.csrf.Token(w, r)}, Mobile: mobile, Challenge: challenge,
		Errors: errs, Resent: resent})
}

// message renders a page of already-translated text.
func (p *Pages) message(w http.ResponseWriter, r *http.Request, status int, data *messagePage) {
	p.render(w, r, status, "message.html", data)
}

// Register serves GET and POST /register.
func (p *Pages) Register(w http.ResponseWriter, r *http.Request) {
	challenge, info := p.flowOf(r)
	signIn := "/"
	if challenge != "" {
		signIn = "/login?challenge=" + url.QueryEscape(challenge)
	}
	data := &registerPage{page: page{Title: "Create an account"}, ClientName: info.ClientName, Challenge: challenge, SignInURL: signIn,
		Email: info.LoginHint, Errors: map[string]string{}}
	if r.Method == http.MethodGet {
		data.CSRF = p.csrf.Token(w, r)
		p.render(w, r, http.StatusOK, "register.html", data)
		return
	}
	if !p.formValid(w, r) {
		return
	}
	email, name := r.PostFormValue("email"), r.PostFormValue("name")
	data.Email, data.Name = email, name
	_, err := p.svc.Register(r.Context(), idp.Registration{Email: email, Name: name, Password: r.PostFormValue("password"),
		PasswordConfirm: r.PostFormValue("password_confirm"), ClientID: info.ClientID}, p.links(r, challenge), p.source(r))
	var fe idp.FieldErrors
	switch {
	case errors.As(err, &fe):
		data.Errors = map[string]string(fe)
		data.CSRF = p.csrf.Token(w, r)
		p.render(w, r, http.StatusBadRequest, "register.html", data)
	case errors.Is(err, idp.ErrThrottled):
		w.Header().Set("Retry-After", "60")
		p.Error(w, r, http.StatusTooManyRequests, "Too many attempts", "Too many accounts were created from your network. Wait a few minutes and try again.")
	case err != nil:
		p.outageError(w, r, err, "Unavailable", "Registration is unavailable right now. Please try again in a moment.", "registration failed")
	case !strings.Contains(email, "@"):
		// A mobile number: the code comes by SMS (the same page whether or
		// not the number already had an account).
		p.codePage(w, r, http.StatusOK, email, challenge, "", false)
	default:
		// The same answer whether or not the address already had an account.
		p.message(w, r, http.StatusOK, &messagePage{page: page{Title: p.t(r, "Check your e-mail")},
			Message: p.t(r, "We sent a message to %s. Open the link in it to confirm your address and finish creating your account. (If you already have an account, the message tells you how to sign in.)", email)})
	}
}

// Confirm serves GET /confirm?token=…: the link in the confirmation mail.
func (p *Pages) Confirm(w http.ResponseWriter, r *http.Request) {
	challenge, _ := p.flowOf(r)
	acct, err := p.svc.ConfirmEmail(r.Context(), r.URL.Query().Get("token"))
	if errors.Is(err, idp.ErrInvalidToken) {
		p.message(w, r, http.StatusBadRequest, &messagePage{page: page{Title: p.t(r, "Link no longer valid")},
			Message: p.t(r, "This link was already used or has expired. If your address is not confirmed yet, sign in to get a new link.")})
		return
	}
	if err != nil {
		p.outageError(w, r, err, "Unavailable", "Confirmation is unavailable right now. Please try again in a moment.", "confirmation failed")
		return
	}
	p.finished(w, r, challenge, p.t(r, "Address confirmed"), p.t(r, "Your e-mail address %s is confirmed.", *acct.Email), true)
}

// Resend serves POST /confirm/resend.
func (p *Pages) Resend(w http.ResponseWriter, r *http.Request) {
	if !p.formValid(w, r) {
		return
	}
	challenge, _ := p.flowOf(r)
	email := r.PostFormValue("email")
	if err := p.svc.ResendConfirmation(r.Context(), email, p.links(r, challenge)); err != nil {
		p.failed(w, r, "resending the confirmation failed", err)
		return
	}
	p.message(w, r, http.StatusOK, &messagePage{page: page{Title: p.t(r, "Check your e-mail")},
		Message: p.t(r, "If %s has an account waiting for confirmation, we sent it a new link. Links can be sent once a minute.", email)})
}

// Home serves GET /.
func (p *Pages) Home(w http.ResponseWriter, r *http.Request) {
	data := &homePage{page: page{Title: "Manam"}}
	if sess, err := p.CurrentSession(r); err == nil && sess.Account.Email != nil {
		data.Email = *sess.Account.Email
		data.CSRF = p.csrf.Token(w, r)
	}
	p.render(w, r, http.StatusOK, "home.html", data)
}

// Recover serves GET and POST /recover: ask for a reset link.
func (p *Pages) Recover(w http.ResponseWriter, r *http.Request) {
	challenge, info := p.flowOf(r)
	if r.Method == http.MethodGet {
		p.render(w, r, http.StatusOK, "recover.html", &recoverPage{page: page{Title: "Reset your password", CSRF: p.csrf.Token(w, r)}, Challenge: challenge,
			Email: info.LoginHint})
		return
	}
	if !p.formValid(w, r) {
		return
	}
	email := r.PostFormValue("email")
	err := p.svc.RequestRecovery(r.Context(), email, p.links(r, challenge), p.source(r))
	if errors.Is(err, idp.ErrThrottled) {
		w.Header().Set("Retry-After", "60")
		p.Error(w, r, http.StatusTooManyRequests, "Too many attempts", "Too many requests from your network. Wait a few minutes and try again.")
		return
	}
	if err != nil {
		p.failed(w, r, "recovery request failed", err)
		return
	}
	if !strings.Contains(email, "@") {
		// A mobile number: the code form (the same whether or not it has an account).
		p.render(w, r, http.StatusOK, "reset.html", &resetPage{page: page{Title: "Choose a new password", CSRF: p.csrf.Token(w, r)}, Challenge: challenge, Mobile: email,
			Errors: map[string]string{}})
		return
	}
	// The same answer whether or not the address has an account.
	p.message(w, r, http.StatusOK, &messagePage{page: page{Title: p.t(r, "Check your e-mail")},
		Message: p.t(r, "If %s has an account, we sent it a link to choose a new password. It works for an hour.", email)})
}

// Reset serves GET and POST /recover/reset: the link in the mail shows the
// form (opening the link changes nothing, so mail scanners cannot use it up);
// posting it sets the password.
func (p *Pages) Reset(w http.ResponseWriter, r *http.Request) {
	challenge, _ := p.flowOf(r)
	token := r.FormValue("token")
	data := &resetPage{page: page{Title: "Choose a new password"}, Challenge: challenge, Token: token, Errors: map[string]string{}}
	if r.Method == http.MethodGet {
		data.CSRF = p.csrf.Token(w, r)
		p.render(w, r, http.StatusOK, "reset.html", data)
		return
	}
	if !p.formValid(w, r) {
		return
	}
	_, err := p.svc.ResetPassword(r.Context(), token, r.PostFormValue("password"), r.PostFormValue("password_confirm"))
	p.afterReset(w, r, err, data, challenge)
}

// ResetCode serves POST /recover/code: the SMS code sent to a mobile
// number, with the new password.
func (p *Pages) ResetCode(w http.ResponseWriter, r *http.Request) {
	if !p.formValid(w, r) {
		return
	}
	challenge, _ := p.flowOf(r)
	mobile := r.PostFormValue("mobile")
	data := &resetPage{page: page{Title: "Choose a new password"}, Challenge: challenge, Mobile: mobile, Errors: map[string]string{}}
	_, err := p.svc.ResetWithCode(r.Context(), mobile, r.PostFormValue("code"), r.PostFormValue("password"), r.PostFormValue("password_confirm"), p.source(r))
	if errors.Is(err, idp.ErrInvalidToken) {
		err = idp.FieldErrors{"code": "This code is wrong or has expired. Ask for a new one."}
	}
	if errors.Is(err, idp.ErrThrottled) {
		w.Header().Set("Retry-After", "60")
		p.Error(w, r, http.StatusTooManyRequests, "Too many attempts", "Too many requests from your network. Wait a few minutes and try again.")
		return
	}
	p.afterReset(w, r, err, data, challenge)
}

// afterReset answers a reset by link or by code.
func (p *Pages) afterReset(w http.ResponseWriter, r *http.Request, err error, data *resetPage, challenge string) {
	var fe idp.FieldErrors
	switch {
	case errors.As(err, &fe):
		data.Errors = map[string]string(fe)
		data.CSRF = p.csrf.Token(w, r)
		p.render(w, r, http.StatusBadRequest, "reset.html", data)
	case errors.Is(err, idp.ErrInvalidToken):
		p.message(w, r, http.StatusBadRequest, &messagePage{page: page{Title: p.t(r, "Link no longer valid")},
			Message: p.t(r, "This link was already used or has expired. Ask for a new one."), LinkURL: "/recover", LinkText: p.t(r, "Reset my password")})
	case err != nil:
		p.failed(w, r, "password reset failed", err)
	default:
		p.ClearSessionCookie(w)
		p.finished(w, r, challenge, p.t(r, "Password changed"), p.t(r, "Your password is changed, and you are signed out everywhere."), false)
	}
}

// ConfirmSMS serves POST /confirm/sms: the code sent to a mobile number.
func (p *Pages) ConfirmSMS(w http.ResponseWriter, r *http.Request) {
	if !p.formValid(w, r) {
		return
	}
	challenge, _ := p.flowOf(r)
	mobile := r.PostFormValue("mobile")
	acct, err := p.svc.ConfirmMobile(r.Context(), mobile, r.PostFormValue("code"))
	if errors.Is(err, idp.ErrInvalidToken) {
		p.codePage(w, r, http.StatusBadRequest, mobile, challenge, "This code is wrong or has expired. Ask for a new one.", false)
		return
	}
	if err != nil {
		p.outageError(w, r, err, "Unavailable", "Confirmation is unavailable right now. Please try again in a moment.", "SMS confirmation failed")
		return
	}
	p.finished(w, r, challenge, p.t(r, "Number confirmed"), p.t(r, "Your mobile number %s is confirmed.", *acct.Mobile), true)
}

// ResendSMS serves POST /confirm/sms/resend.
func (p *Pages) ResendSMS(w http.ResponseWriter, r *http.Request) {
	if !p.formValid(w, r) {
		return
	}
	challenge, _ := p.flowOf(r)
	mobile := r.PostFormValue("mobile")
	if err := p.svc.ResendCode(r.Context(), mobile, p.links(r, challenge)); err != nil {
		p.failed(w, r, "resending the code failed", err)
		return
	}
	p.codePage(w, r, http.StatusOK, mobile, challenge, "", true)
}
