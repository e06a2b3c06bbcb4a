package legacy

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/provider"
	"github.com/manam-id/manam/provider/internal/clientapi"
	"github.com/manam-id/manam/storage"
)

func urlQuery(s string) string { return url.QueryEscape(s) }

// identifier is the e-mail or mobile number a call names: type "mobile"
// (or a mobile without an e-mail) means the mobile, completed with
// mobile_seed when national.
func identifier(r *http.Request, c *call) (string, bool) {
	email, mobile := c.Get("email"), c.Get("mobile", "phone_number")
	byMobile := strings.EqualFold(clientapi.FirstNonEmpty(c.Get("type", "userType", "user_type"), r.Header.Get("user_type")), "mobile") || (email == "" && mobile != "")
	if !byMobile {
		return email, false
	}
	if mobile == "" {
		mobile = email
	}
	if seed := c.Get("mobile_seed"); seed != "" && !strings.HasPrefix(mobile, "+") {
		if m, err := idp.NormalizeMobile(mobile, seed); err == nil {
			return m, true
		}
	}
	return mobile, true
}

// register serves POST /auth/register (000: name, email, password,
// confirm_password; 001: type, email or mobile + mobile_seed, the tenant's
// confirm URL and sender, the profile, role, custome_fields).
func (a *API) register(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	ident, byMobile := identifier(r, c)
	fe := idp.FieldErrors{}
	in := idp.ProfileInput{
		Name: c.Get("name", "fullname"), FirstName: c.Get("firstname", "first_name"), LastName: c.Get("lastname", "last_name"),
		NationalCode: c.Get("national_code", "melicode", "meli_code"), Birthday: c.Get("birthday", "bithday"),
	}
	if in.Name == "" {
		in.Name = strings.TrimSpace(in.FirstName + " " + in.LastName)
	}
	_, prof, pfe := a.IDP.ParseProfile(in)
	for k, v := range pfe {
		fe[k] = v
	}
	fields, ok := c.Object("custome_fields", "custom_fields")
	if !ok {
		fe["custome_fields"] = "Send custom fields as an object or a list of objects."
	}
	var role *string
	if c.Has("role") && c.Get("role") != "" {
		// The tenant key is public: only the tenant itself (its client
		// secret) sets roles.
		if a.tenantAuthenticated(r, c) {
			v := c.Get("role")
			role = &v
		}
	}
	links := a.links(c)
	if page := c.Get("tenant_confirm_url", "confirm_url"); page != "" {
		if !allowedConfirmPage(c.Tenant, page) {
			fe["tenant_confirm_url"] = "Use the tenant's own confirmation page (an https address of one of its registered sites)."
		} else {
			links.ConfirmPage = page
		}
	}
	if len(fe) > 0 {
		// Every problem at once: the password's too (Register checks it
		// only when it runs).
		if msg := idp.CheckPassword(c.Get("password"), ident); msg != "" {
			fe["password"] = msg
		} else if c.Get("password") != c.Get("confirm_password", "password_confirm") {
			fe["password_confirm"] = "The two passwords differ."
		}
		return fe
	}
	reg := idp.Registration{Email: ident, Password: c.Get("password"), PasswordConfirm: c.Get("confirm_password", "password_confirm"),
		Name: in.Name, ClientID: c.Tenant.ID, Profile: &prof, Role: role, Fields: fields}
	if byMobile {
		reg.Email, reg.Mobile, reg.MobileSeed = "", ident, c.Get("mobile_seed")
	}
	acct, err := a.IDP.Register(ctx, reg, links, a.Source(r, c.Tenant))
	var rfe idp.FieldErrors
	if errors.As(err, &rfe) {
		if m, ok := rfe["email"]; ok && byMobile {
			delete(rfe, "email")
			rfe["mobile"] = m
		}
		return rfe
	}
	if err != nil {
		return err
	}
	body := a.echo(c)
	message := "Your account has been created. Open the link we sent to your e-mail address to confirm it."
	if byMobile {
		message = "Your account has been created. Send the code we texted you to /auth/confirm_sms to confirm it."
		if m, err := idp.NormalizeMobile(ident, clientapi.FirstNonEmpty(reg.MobileSeed, a.IDP.DefaultCountryCode())); err == nil {
			a.setSigned(w, mobileCookie, m, 10*time.Minute)
		}
	}
	// Tokens come only with a sign-in the tenant allows before
	// confirmation, and only for the account just made (an address that
	// already had one gets the same answer, and a mail to its owner).
	// A tenant that requires a second factor gets none before the account
	// has enrolled one (as /auth/login).
	if acct != nil && c.Tenant.AllowUnconfirmed {
		out, err := a.IDP.SignIn(ctx, idp.SignInAttempt{Account: acct, AMR: []string{"pwd"}, TenantID: c.Tenant.ID, WantMFA: c.Tenant.RequireMFA})
		if err != nil {
			return err
		}
		if out.Kind == idp.SignedIn {
			tok, err := a.signedIn(ctx, w, out, c.Tenant)
			if err != nil {
				return err
			}
			body = a.profile(ctx, c, acct, tok)
		}
	}
	body["status"], body["message"], body["location"] = "success", a.t(c, message), "/"
	a.write(w, http.StatusOK, body)
	return nil
}

// echo is the registration answer for an account whose details are not
// shown (001 echoes what was sent): the documented fields, tokens empty.
func (a *API) echo(c *call) map[string]any {
	fields, _ := c.Object("custome_fields", "custom_fields")
	body := map[string]any{
		"access_token": "", "auth_token": "", "refresh_token": "", "username": "", "fullname": c.Get("name"),
		"email": c.Get("email"), "type": clientapi.FirstNonEmpty(c.Get("type"), "email"), "mobile": c.Get("mobile"), "mobile_seed": c.Get("mobile_seed"),
		"firstname": c.Get("firstname"), "lastname": c.Get("lastname"), "national_code": c.Get("national_code"),
		"birthday": c.Get("birthday", "bithday"), "role": "", "roles": []string{}, "permissions": []string{},
		"custome_fields": customFields(fields), "tenant_email": c.Tenant.MailFrom, "tenant_confirm_url": clientapi.FirstNonEmpty(c.Get("tenant_confirm_url", "confirm_url"), c.Tenant.ConfirmURL),
		"oauth2_provider": c.Get("oauth2_provider"), "oauth2_user_info": rawOr(c, "oauth2_user_info"),
	}
	return body
}

// rawOr passes a parameter's JSON value through, or an empty list.
func rawOr(c *call, name string) any {
	if v, ok := c.Lookup(name); ok {
		if s, isText := v.(string); !isText || s != "" {
			return v
		}
	}
	return []any{}
}

// customFields is the documents' shape of custom fields: a list of one object.
func customFields(m map[string]any) []map[string]any {
	if len(m) == 0 {
		return []map[string]any{}
	}
	return []map[string]any{m}
}

// allowedConfirmPage tells whether a registration may send its
// confirmation link to page: the tenant's configured confirmation page, or
// an https page (http on loopback) on the origin of one of its redirect
// URIs. Anything else would mail a working token to a stranger's site.
func allowedConfirmPage(t *storage.Tenant, page string) bool {
	if page == t.ConfirmURL && page != "" {
		return true
	}
	u, err := url.Parse(page)
	if err != nil || u.Host == "" || u.User != nil || (u.Scheme != "https" && !(u.Scheme == "http" && loopback(u.Hostname()))) {
		return false
	}
	for _, ru := range t.RedirectURIs {
		v, err := url.Parse(ru)
		if err == nil && v.Scheme == u.Scheme && strings.EqualFold(v.Host, u.Host) {
			return true
		}
	}
	return false
}

func loopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// tenantAuthenticated tells whether the call carries the tenant's client
// secret (HTTP Basic with its client id, or a client_secret parameter).
func (a *API) tenantAuthenticated(r *http.Request, c *call) bool {
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = c.Tenant.ID, c.Get("client_secret")
		if secret == "" {
			secret = r.Header.Get("client_secret")
		}
	} else if u, err := url.QueryUnescape(id); err == nil {
		id = u
	}
	if id != c.Tenant.ID || secret == "" {
		return false
	}
	_, err := a.Tokens.AuthenticateClient(r.Context(), id, secret)
	return err == nil
}

// signIn finishes a sign-in whose every factor is proven (a second factor
// just checked): the session starts, and signedIn answers for it.
func (a *API) signIn(ctx context.Context, w http.ResponseWriter, acct *storage.Account, amr []string, tenant *storage.Tenant) (*idp.Session, *provider.Tokens, error) {
	out, err := a.IDP.FinishSignIn(ctx, acct, amr, false, "")
	if err != nil {
		return nil, nil, err
	}
	tok, err := a.signedIn(ctx, w, out, tenant)
	return out.Session, tok, err
}

// signedIn issues the tenant's tokens (with a refresh token when the
// tenant may have one) for a session a sign-in started, and sets the
// API's session cookie.
func (a *API) signedIn(ctx context.Context, w http.ResponseWriter, out idp.Outcome, tenant *storage.Tenant) (*provider.Tokens, error) {
	tok, err := a.Tokens.IssueFor(ctx, clientapi.ClientOf(tenant), provider.IssueRequest{Session: out.Session, Refresh: true, Grant: "urn:manam:legacy:password"})
	if err != nil {
		return nil, err
	}
	// As long as the session lives (12 h, the documents' Max-Age=43200).
	a.setCookie(w, sessionCookie, out.Token, int(time.Until(out.Session.Row.ExpiresAt)/time.Second))
	return tok, nil
}

// confirmEmail serves the e-mail confirmation, 000's /auth/confirm and
// 001's /auth/confirm_email: the token (cnf) in the path, the query or
// the body.
func (a *API) confirmEmail(w http.ResponseWriter, r *http.Request, c *call) error {
	cnf := clientapi.FirstNonEmpty(mux.Vars(r)["cnf"], c.Get("cnf", "token"))
	// 001's Confirm SMS gives confirm_email/<cnf> as its HTTP Request
	// line: a texted code (digits; a link token never is) is that call.
	if smsCode(cnf) {
		c.Set("cnf", cnf)
		return a.confirmSMS(w, r, c)
	}
	if _, err := a.IDP.ConfirmEmail(r.Context(), cnf); errors.Is(err, idp.ErrInvalidToken) {
		return refuse("Your confirmation is unsuccess", "/")
	} else if err != nil {
		return err
	}
	a.write(w, http.StatusOK, a.success(c, "You have successfully confirmed your account.", "/"))
	return nil
}

// smsCode tells whether s looks like a texted code: 4 to 8 digits
// (ASCII or Persian).
func smsCode(s string) bool {
	n := utf8.RuneCountInString(s)
	return n >= 4 && n <= 8 && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsDigit(r) }) < 0
}

// confirmSMS serves POST /auth/confirm_sms: the code (cnf) texted at
// registration, for the number in the call (mobile) or the one this
// browser just registered.
func (a *API) confirmSMS(w http.ResponseWriter, r *http.Request, c *call) error {
	mobile, _ := identifier(r, c)
	if mobile == "" || strings.Contains(mobile, "@") {
		mobile = a.signed(r, mobileCookie)
	}
	code := c.Get("cnf", "code")
	if mobile == "" {
		return refuse("Your confirmation is unsuccess", "/").WithFields(idp.FieldErrors{"mobile": "Send the mobile number the code was sent to."})
	}
	if _, err := a.IDP.ConfirmMobile(r.Context(), mobile, code); errors.Is(err, idp.ErrInvalidToken) {
		return refuse("Your confirmation is unsuccess", "/")
	} else if err != nil {
		return err
	}
	a.setCookie(w, mobileCookie, "", -1)
	a.write(w, http.StatusOK, a.success(c, "You have successfully confirmed your account.", "/"))
	return nil
}

// sendConfirmEmail serves POST /auth/send_confirm_email: a new link, if
// the address has an unconfirmed account (the same answer either way).
func (a *API) sendConfirmEmail(w http.ResponseWriter, r *http.Request, c *call) error {
	email := c.Get("email")
	if _, err := idp.NormalizeEmail(email); err != nil {
		return refuse("Your confirmation is unsuccess.", "/").WithFields(idp.FieldErrors{"email": "Enter a valid e-mail address."})
	}
	links := a.links(c)
	if page := c.Get("tenant_confirm_url", "confirm_url"); page != "" && allowedConfirmPage(c.Tenant, page) {
		links.ConfirmPage = page
	}
	if err := a.IDP.ResendConfirmation(r.Context(), email, links); err != nil {
		return err
	}
	a.write(w, http.StatusOK, a.success(c, "If this address has an account waiting for confirmation, a new link is on its way.", "/"))
	return nil
}

// sendConfirmSMS serves POST /auth/send_confirm_sms (and the documents'
// /auth/new_confirm_sms/<mobile>): a new code, if the number has an
// unconfirmed account (the same answer either way).
func (a *API) sendConfirmSMS(w http.ResponseWriter, r *http.Request, c *call) error {
	// 001's Send Confirm Email gives new_confirm_sms/<cnf> as its HTTP
	// Request line: with an e-mail address (in the path, or in the body
	// without a mobile) it is that call.
	if strings.Contains(r.URL.Path, "/new_confirm_sms") {
		if v := mux.Vars(r)["mobile"]; strings.Contains(v, "@") {
			c.Set("email", v)
			return a.sendConfirmEmail(w, r, c)
		} else if v == "" && c.Get("mobile", "phone_number") == "" && c.Get("email") != "" {
			return a.sendConfirmEmail(w, r, c)
		}
	}
	mobile := clientapi.FirstNonEmpty(mux.Vars(r)["mobile"], c.Get("mobile", "phone_number"))
	if seed := c.Get("mobile_seed"); seed != "" {
		if m, err := idp.NormalizeMobile(mobile, seed); err == nil {
			mobile = m
		}
	}
	if _, err := idp.NormalizeMobile(mobile, clientapi.FirstNonEmpty(a.IDP.DefaultCountryCode(), "+")); mobile == "" || err != nil {
		return refuse("Your confirmation is unsuccess.", "/").WithFields(idp.FieldErrors{"mobile": "Enter a valid mobile number, with its country code (+98…)."})
	}
	if err := a.IDP.ResendCode(r.Context(), mobile, a.links(c)); err != nil {
		return err
	}
	a.write(w, http.StatusOK, a.success(c, "If this number has an account waiting for confirmation, a new code is on its way.", "/"))
	return nil
}

// login serves POST /auth/login: tokens and the profile; for an account
// with a second factor, the documented 307 naming the validate endpoint,
// a pending-sign-in cookie, and no token.
func (a *API) login(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	ident, _ := identifier(r, c)
	acct, err := a.IDP.AuthenticateFor(ctx, c.Tenant.ID, ident, c.Get("password"), a.Source(r, c.Tenant))
	switch {
	case errors.Is(err, idp.ErrInvalidCredentials):
		return refuse("Your email or password is wrong.", "/auth/login")
	case errors.Is(err, idp.ErrUnconfirmed):
		return refuse("Confirm your account first: open the link we sent you (or send the code we texted you).", "/auth/login")
	case err != nil:
		return err
	}
	out, err := a.IDP.SignIn(ctx, idp.SignInAttempt{Account: acct, AMR: []string{"pwd"}, TenantID: c.Tenant.ID, JoinVia: idp.JoinedBySignIn,
		WantMFA: c.Tenant.RequireMFA, PendFactor: true, Links: a.links(c)})
	if err != nil {
		return err
	}
	switch out.Kind {
	case idp.NeedsFactor:
		if out.CodeNotSent != nil {
			return out.CodeNotSent
		}
		a.setCookie(w, pendingCookie, out.Token, 0)
		body := a.profile(ctx, c, acct, nil)
		body["status"], body["location"] = "success", at(c, "/auth/2fa/"+out.Method+"/validate")
		a.write(w, http.StatusTemporaryRedirect, body)
		return nil
	case idp.NeedsEnrolment:
		e := refuse("This application requires two-factor authentication. Set it up on your account page (account_url), then sign in again.", "/auth/login")
		e.Extra = map[string]any{"account_url": a.Issuer + "/account"}
		return e
	}
	tok, err := a.signedIn(ctx, w, out, c.Tenant)
	if err != nil {
		return err
	}
	body := a.profile(ctx, c, acct, tok)
	body["status"], body["location"] = "success", "/"
	a.write(w, http.StatusOK, body)
	return nil
}

// logout ends the API's session cookie.
func (a *API) logout(w http.ResponseWriter, r *http.Request, c *call) error {
	if ck, err := r.Cookie(sessionCookie); err == nil {
		if err := a.IDP.EndSession(r.Context(), ck.Value); err != nil {
			return err
		}
	}
	for _, n := range []string{sessionCookie, pendingCookie, proofCookie} {
		a.setCookie(w, n, "", -1)
	}
	a.write(w, http.StatusOK, a.success(c, "You have been signed out.", "/"))
	return nil
}

// recover serves POST /auth/recover: a reset link by mail, or a code by
// SMS for a mobile number. The answer is the documented success whether or
// not the account exists (no enumeration).
func (a *API) recover(w http.ResponseWriter, r *http.Request, c *call) error {
	ident, byMobile := identifier(r, c)
	if ident == "" {
		return refuse("There is an error here to recover password.", "/").WithFields(idp.FieldErrors{"email": "Enter your e-mail address or mobile number."})
	}
	if err := a.IDP.RequestRecovery(r.Context(), ident, a.links(c), a.Source(r, c.Tenant)); err != nil {
		return err
	}
	msg := "An email has been sent to you with further instructions on how to reset your password."
	if byMobile || !strings.Contains(ident, "@") {
		msg = "A code has been sent to your mobile number to reset your password."
	}
	a.write(w, http.StatusOK, a.success(c, msg, "/"))
	return nil
}

// changePassword serves /auth/recover/end and /auth/changepassword: the
// mailed token (or a mobile number and its texted code) and the new
// password twice.
func (a *API) changePassword(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	pw, confirm := c.Get("password"), c.Get("confirm_password", "password_confirm")
	var err error
	if mobile := c.Get("mobile"); mobile != "" && c.Get("token") == "" {
		_, err = a.IDP.ResetWithCode(ctx, mobile, c.Get("code", "cnf"), pw, confirm, a.Source(r, c.Tenant))
	} else {
		_, err = a.IDP.ResetPassword(ctx, c.Get("token", "cnf"), pw, confirm)
	}
	var fe idp.FieldErrors
	switch {
	case errors.Is(err, idp.ErrInvalidToken):
		body := a.sessionBody(r, c, nil)
		body["status"], body["errors"] = "failure", map[string][]string{"": {a.t(c, "recovery token is invalid")}}
		a.write(w, http.StatusUnauthorized, body)
		return nil
	case errors.As(err, &fe):
		body := a.sessionBody(r, c, nil)
		errs := map[string][]string{}
		for k, v := range fe {
			errs[docField(k)] = []string{a.t(c, v)}
		}
		body["status"], body["errors"] = "failure", errs
		a.write(w, http.StatusUnauthorized, body)
		return nil
	case err != nil:
		return err
	}
	a.write(w, http.StatusOK, a.success(c, "Your password chaneg successfully", "/"))
	return nil
}

// refresh serves /auth/refreshToken: the refresh token in a refresh_token
// header (000) or an access_token header (001), or the body; it rotates
// exactly as at /oauth2/token.
func (a *API) refresh(w http.ResponseWriter, r *http.Request, c *call) error {
	rt := clientapi.FirstNonEmpty(r.Header.Get("refresh_token"), r.Header.Get("refresh-token"), c.Get("refresh_token"), r.Header.Get("access_token"), c.Get("access_token"))
	tok, err := a.Tokens.RefreshFor(r.Context(), clientapi.ClientOf(c.Tenant), rt)
	if errors.Is(err, provider.ErrTokenRefused) {
		return refuse("The refresh token is invalid, expired or already used.", "/auth/login")
	}
	if err != nil {
		return err
	}
	a.write(w, http.StatusOK, map[string]any{"access_token": tok.AccessToken, "auth_token": tok.AccessToken, "expires_in": tok.ExpiresIn,
		"refresh_token": tok.RefreshToken, "token_type": "bearer"})
	return nil
}
