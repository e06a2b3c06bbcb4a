package pages

import (
	"crypto/hmac"
	"errors"
	"net/http"
	"net/url"

	"github.com/manam-id/manam/idp"
)

// The e-mail step before a sign-in enrols a second factor, for tenants
// that ask for it (manam tenant create --mfa-confirm-email): the person
// gets a single-use link at the account's address, opens it in the same
// browser, and only then can set up a factor. The proof is a cookie
// bound to the pending sign-in (an HMAC of its id), so it proves nothing
// for any other sign-in.

// FactorEmailCookie carries the proof of the e-mail step.
const FactorEmailCookie = "manam_mfa_email"

func (p *Pages) emailProof(pd *idp.Pending) string { return p.csrf.sign("mfa-email:" + pd.Row.ID) }

// sessionEmailProof is the proof for the account page: bound to the
// signed-in session.
func (p *Pages) sessionEmailProof(sess *idp.Session) string {
	return p.csrf.sign("mfa-email-session:" + sess.Row.ID)
}

// emailProofNeeded tells whether an enrolment must do the e-mail step
// first, for an account with an address, not yet proved here: a pending
// sign-in through a tenant that asks for it, or the account page when
// any tenant asks for it (idp.NeedsAccountFactorEmail). A failure to tell
// asks for the step.
func (p *Pages) emailProofNeeded(r *http.Request, a actor) bool {
	var want string
	switch {
	case a.pending != nil:
		if a.pending.Account.Email == nil || !p.svc.NeedsFactorEmail(r.Context(), a.pending.Row.ClientID) {
			return false
		}
		want = p.emailProof(a.pending)
	case a.sess != nil:
		need, err := p.svc.NeedsAccountFactorEmail(r.Context(), a.sess.Account)
		if err != nil {
			p.log.WarnContext(r.Context(), "telling whether the e-mail step is needed failed: asking for it", "err", err)
		}
		if !need && err == nil {
			return false
		}
		want = p.sessionEmailProof(a.sess)
	default:
		return false
	}
	c, err := r.Cookie(FactorEmailCookie)
	return err != nil || !hmac.Equal([]byte(c.Value), []byte(want))
}

// actorEmail is the address the e-mail step proves.
func actorEmail(a actor) string {
	switch {
	case a.pending != nil && a.pending.Account.Email != nil:
		return *a.pending.Account.Email
	case a.sess != nil && a.sess.Account.Email != nil:
		return *a.sess.Account.Email
	}
	return ""
}

// emailStep renders the page that sends the link.
func (p *Pages) emailStep(w http.ResponseWriter, r *http.Request, status int, a actor, sent bool) {
	p.render(w, r, status, "enrol_email.html", &enrolEmailPage{page: page{Title: "Confirm your e-mail address", CSRF: p.csrf.Token(w, r)}, Challenge: a.challenge,
		Email: actorEmail(a), Sent: sent})
}

// FactorEmail serves POST /login/2fa/email: the link goes to the account's address.
func (p *Pages) FactorEmail(w http.ResponseWriter, r *http.Request) {
	a, ok := p.enrolForm(w, r)
	if !ok {
		return
	}
	email := actorEmail(a)
	if email == "" || (a.pending == nil && !p.emailProofNeeded(r, a)) {
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return
	}
	links := p.links(r, a.challenge)
	if a.pending != nil {
		links.ClientID = a.pending.Row.ClientID
		links.FactorEmail = func(token string) string {
			return p.issuer + "/login/2fa/email/confirm?" + url.Values{"token": {token}, "challenge": {a.challenge}}.Encode()
		}
	} else {
		links.FactorEmail = func(token string) string {
			return p.issuer + "/account/2fa/email/confirm?" + url.Values{"token": {token}}.Encode()
		}
	}
	err := p.svc.SendFactorEmail(r.Context(), a.accountID, email, links)
	if errors.Is(err, idp.ErrThrottled) {
		w.Header().Set("Retry-After", "60")
		p.Error(w, r, http.StatusTooManyRequests, "Too many attempts", "Codes can be sent once a minute. Wait a moment and try again.")
		return
	}
	if err != nil {
		p.unavailable(w, r, "the e-mail step of an enrolment failed", err)
		return
	}
	p.emailStep(w, r, http.StatusOK, a, true)
}

// FactorEmailConfirm serves GET /login/2fa/email/confirm?token=…: the
// mailed link, opened in the browser of the pending sign-in.
func (p *Pages) FactorEmailConfirm(w http.ResponseWriter, r *http.Request) {
	challenge := r.FormValue("challenge")
	pd := p.pending(w, r, challenge)
	if pd == nil {
		return
	}
	p.proveEmail(w, r, pd.Account.ID, p.emailProof(pd), "/login/2fa/enrol?challenge="+url.QueryEscape(challenge))
}

// AccountFactorEmailConfirm serves GET /account/2fa/email/confirm?token=…:
// the mailed link of the account page's e-mail step, opened in the
// browser of the same signed-in session.
func (p *Pages) AccountFactorEmailConfirm(w http.ResponseWriter, r *http.Request) {
	sess, ok := p.signedIn(w, r, "/login")
	if !ok {
		return
	}
	p.proveEmail(w, r, sess.Account.ID, p.sessionEmailProof(sess), "/account")
}

// proveEmail takes the link's token for the account; then the proof
// cookie is set and the person goes on at next.
func (p *Pages) proveEmail(w http.ResponseWriter, r *http.Request, accountID, proof, next string) {
	err := p.svc.ProveFactorEmail(r.Context(), accountID, r.FormValue("token"))
	if errors.Is(err, idp.ErrInvalidToken) {
		p.Error(w, r, http.StatusBadRequest, "Link expired", "This link is invalid, used or expired. Ask for a new one.")
		return
	}
	if err != nil {
		p.unavailable(w, r, "the e-mail step of an enrolment failed", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: FactorEmailCookie, Value: proof, Path: "/", MaxAge: int(idp.FactorEmailTTL.Seconds()),
		HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, next, http.StatusSeeOther)
}
