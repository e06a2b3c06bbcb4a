package pages

import (
	"errors"
	"net/http"

	"github.com/manam-id/manam/idp"
)

var accountDone = map[string]string{
	"2fa":         "Two-step verification is on. Your other devices are signed out.",
	"2fa-removed": "The second step is removed.",
	"device":      "The device is forgotten: it will be asked for the second step again.",
	"profile":     "Your profile is saved.",
	"password":    "Your password is changed. Your other devices are signed out.",
	"mobile":      "Your mobile number is confirmed.",
}

// Account serves GET /account.
func (p *Pages) Account(w http.ResponseWriter, r *http.Request) {
	p.account(w, r, http.StatusOK, nil, accountDone[r.URL.Query().Get("done")])
}

func (p *Pages) account(w http.ResponseWriter, r *http.Request, status int, errs idp.FieldErrors, done string) {
	p.accountPage(w, r, status, errs, done, "")
}

// accountPage renders the account page; pending is a new mobile number
// waiting for its code.
func (p *Pages) accountPage(w http.ResponseWriter, r *http.Request, status int, errs idp.FieldErrors, done, pending string) {
	sess, ok := p.signedIn(w, r, "/login")
	if !ok {
		return
	}
	a := sess.Account
	email := ""
	if a.Email != nil {
		email = *a.Email
	}
	if errs == nil {
		errs = idp.FieldErrors{}
	}
	// What the form shows: the stored profile, or what was just posted (to correct it).
	v := map[string]string{"name": a.Name, "first_name": a.FirstName, "last_name": a.LastName, "national_code": a.NationalCode,
		"birthday": idp.FormatBirthday(a.Profile), "picture_url": a.PictureURL, "address": a.Address, "postal_code": a.PostalCode,
		"marital_status": a.MaritalStatus, "facebook_id": a.FacebookID, "instagram_id": a.InstagramID, "twitter_id": a.TwitterID,
		"linkedin_id": a.LinkedInID, "document": a.Document, "telephone": a.Telephone}
	if r.Method == http.MethodPost && r.URL.Path == "/account/profile" {
		for k := range v {
			v[k] = r.PostFormValue(k)
		}
	}
	mobile := ""
	if a.Mobile != nil {
		mobile = *a.Mobile
	}
	if r.Method == http.MethodPost {
		v["new_email"], v["new_mobile"] = r.PostFormValue("new_email"), r.PostFormValue("new_mobile")
	}
	data := &accountPage{page: page{Title: "Your account"}, Email: email, Verified: a.EmailVerified,
		Mobile: mobile, MobileVerified: a.MobileVerified, PendingMobile: pending, HasPassword: idp.HasPassword(a),
		V: v, Statuses: idp.MaritalStatuses, Errors: map[string]string(errs), Done: done}
	p.factorData(r, a.ID, data)
	data.Linked, data.CSRF = p.linkedIdentities(r, a.ID), p.csrf.Token(w, r)
	p.render(w, r, status, "account.html", data)
}

// AccountProfile serves POST /account/profile.
func (p *Pages) AccountProfile(w http.ResponseWriter, r *http.Request) {
	sess, ok := p.signedInForm(w, r)
	if !ok {
		return
	}
	f := r.PostFormValue
	err := p.svc.SaveProfile(r.Context(), sess.Account.ID, idp.ProfileInput{Name: f("name"), FirstName: f("first_name"), LastName: f("last_name"),
		NationalCode: f("national_code"), Birthday: f("birthday"), PictureURL: f("picture_url"), Address: f("address"), PostalCode: f("postal_code"),
		MaritalStatus: f("marital_status"), FacebookID: f("facebook_id"), InstagramID: f("instagram_id"), TwitterID: f("twitter_id"),
		LinkedInID: f("linkedin_id"), Document: f("document"), Telephone: f("telephone")})
	p.afterAccountChange(w, r, err, "profile")
}

// AccountPassword serves POST /account/password.
func (p *Pages) AccountPassword(w http.ResponseWriter, r *http.Request) {
	sess, ok := p.signedInForm(w, r)
	if !ok {
		return
	}
	err := p.svc.ChangePassword(r.Context(), sess, r.PostFormValue("current_password"), r.PostFormValue("password"), r.PostFormValue("password_confirm"))
	if err == nil {
		p.renewSession(w, r, sess)
	}
	p.afterAccountChange(w, r, err, "password")
}

// renewSession gives the browser a new session id after a change of
// password (which ended the account's other sessions): a copy of the old
// cookie, taken by whoever the owner is locking out, stops working too.
// The new session keeps the sign-in's methods and remember-me.
func (p *Pages) renewSession(w http.ResponseWriter, r *http.Request, sess *idp.Session) {
	token, _, err := p.svc.StartSession(r.Context(), sess.Account, sess.AMR(), sess.Row.Remember)
	if err != nil {
		p.log.WarnContext(r.Context(), "renewing the session after a password change failed", "err", err)
		return
	}
	if old, err := r.Cookie(SessionCookie); err == nil {
		if err := p.svc.EndSession(r.Context(), old.Value); err != nil {
			p.log.WarnContext(r.Context(), "ending the session replaced after a password change failed", "err", err)
		}
	}
	p.SetSessionCookie(w, token, sess.Row.Remember)
}

func (p *Pages) afterAccountChange(w http.ResponseWriter, r *http.Request, err error, done string) {
	var fe idp.FieldErrors
	switch {
	case errors.As(err, &fe):
		p.account(w, r, http.StatusBadRequest, fe, "")
	case err != nil:
		p.failed(w, r, "account change failed", err)
	default:
		http.Redirect(w, r, "/account?done="+done, http.StatusSeeOther)
	}
}

// signedInForm checks the session and the CSRF token of an account form.
func (p *Pages) signedInForm(w http.ResponseWriter, r *http.Request) (*idp.Session, bool) {
	sess, ok := p.signedIn(w, r, "/login")
	if !ok {
		return nil, false
	}
	if !p.formValid(w, r) {
		return nil, false
	}
	return sess, true
}

// AccountEmail serves POST /account/email: a new address, with the
// current password; a link goes to it.
func (p *Pages) AccountEmail(w http.ResponseWriter, r *http.Request) {
	sess, ok := p.signedInForm(w, r)
	if !ok {
		return
	}
	email := r.PostFormValue("new_email")
	err := p.svc.RequestEmailChange(r.Context(), sess, email, r.PostFormValue("current_password_email"), p.links(r, ""))
	var fe idp.FieldErrors
	if errors.As(err, &fe) {
		if m, ok := fe["current_password"]; ok {
			fe = idp.FieldErrors{"current_password_email": m}
		}
		p.account(w, r, http.StatusBadRequest, fe, "")
		return
	}
	if err != nil {
		p.afterAccountChange(w, r, err, "")
		return
	}
	// The same answer whether or not the address belongs to someone.
	p.account(w, r, http.StatusOK, nil, p.t(r, "We sent a link to %s. Open it to make it your address; until then, nothing changes.", email))
}

// AccountEmailConfirm serves GET /account/email/confirm?token=…: the link
// mailed to a new address.
func (p *Pages) AccountEmailConfirm(w http.ResponseWriter, r *http.Request) {
	acct, err := p.svc.ConfirmEmailChange(r.Context(), r.URL.Query().Get("token"), p.links(r, ""))
	switch {
	case errors.Is(err, idp.ErrInvalidToken), errors.Is(err, idp.ErrExists):
		p.message(w, r, http.StatusBadRequest, &messagePage{page: page{Title: p.t(r, "Link no longer valid")},
			Message: p.t(r, "This link was already used or has expired. Ask for a new one."), LinkURL: "/account", LinkText: p.t(r, "Your account")})
	case err != nil:
		p.failed(w, r, "e-mail change failed", err)
	default:
		p.message(w, r, http.StatusOK, &messagePage{page: page{Title: p.t(r, "Address confirmed")},
			Message: p.t(r, "Your e-mail address %s is confirmed.", *acct.Email), LinkURL: "/account", LinkText: p.t(r, "Your account")})
	}
}

// AccountMobile serves POST /account/mobile: a new number, with the
// current password; a code goes to it.
func (p *Pages) AccountMobile(w http.ResponseWriter, r *http.Request) {
	sess, ok := p.signedInForm(w, r)
	if !ok {
		return
	}
	m, err := p.svc.RequestMobileChange(r.Context(), sess, r.PostFormValue("new_mobile"), r.PostFormValue("current_password_mobile"), p.links(r, ""))
	var fe idp.FieldErrors
	if errors.As(err, &fe) {
		if m, ok := fe["current_password"]; ok {
			fe = idp.FieldErrors{"current_password_mobile": m}
		}
		p.account(w, r, http.StatusBadRequest, fe, "")
		return
	}
	if err != nil {
		p.afterAccountChange(w, r, err, "")
		return
	}
	p.accountPage(w, r, http.StatusOK, nil, "", m)
}

// AccountMobileConfirm serves POST /account/mobile/confirm: the code sent to the new number.
func (p *Pages) AccountMobileConfirm(w http.ResponseWriter, r *http.Request) {
	sess, ok := p.signedInForm(w, r)
	if !ok {
		return
	}
	_, err := p.svc.ConfirmMobileChange(r.Context(), sess, r.PostFormValue("code"))
	if errors.Is(err, idp.ErrInvalidToken) || errors.Is(err, idp.ErrExists) {
		p.accountPage(w, r, http.StatusBadRequest, idp.FieldErrors{"code": "This code is wrong or has expired. Ask for a new one."}, "", r.PostFormValue("new_mobile"))
		return
	}
	p.afterAccountChange(w, r, err, "mobile")
}

// factorData adds the second factors, recovery codes left and remembered
// devices of an account to the account page's data.
func (p *Pages) factorData(r *http.Request, accountID string, data *accountPage) {
	fs, err := p.svc.Factors(r.Context(), accountID)
	if err != nil {
		p.log.WarnContext(r.Context(), "listing factors failed", "err", err)
	}
	data.Factors = fs
	methods := []string{}
	for _, f := range fs {
		methods = append(methods, f.Kind)
		switch f.Kind {
		case idp.FactorTOTP:
			data.HasTOTP = true
		case idp.FactorSMS:
			data.HasSMS = true
		}
	}
	data.ProofMethods = append(methods, idp.MethodRecovery)
	if len(fs) > 0 {
		data.CodesLeft, _ = p.svc.RecoveryCodesLeft(r.Context(), accountID)
		data.Devices, _ = p.svc.TrustedDevices(r.Context(), accountID)
	}
}
