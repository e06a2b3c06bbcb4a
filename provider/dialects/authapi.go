package dialects

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/provider/internal/clientapi"
)

// authAPI serves 003, the authorization API: login, signup, logout and
// update password under /api/authorization, over a session cookie.
type authAPI struct{ *base }

// sessionCookie is 003's session (the document names none).
const sessionCookie = "manam_authorization"

// recentSignIn is how old a sign-in may be for a password change without
// the current password (the document sends none; see docs/dialects.md).
const recentSignIn = 10 * time.Minute

func (a *authAPI) endpoints() []endpoint {
	return []endpoint{
		{Methods: []string{http.MethodPost}, Paths: []string{"/api/authorization/login"}, Handle: a.login, JSONOnly: true},
		{Methods: []string{http.MethodPost}, Paths: []string{"/api/authorization/signup"}, Handle: a.signup, JSONOnly: true},
		{Methods: []string{http.MethodGet}, Paths: []string{"/api/authorization/logout"}, Handle: a.logout},
		{Methods: []string{http.MethodPut}, Paths: []string{"/api/authorization/password"}, Handle: a.password, JSONOnly: true},
	}
}

// unprocessable is the documents' 422 with one entry per failing rule
// (nil when none failed).
func unprocessable(msgs []phrase) error {
	if len(msgs) == 0 {
		return nil
	}
	return &problem{Status: http.StatusUnprocessableEntity, Msgs: msgs}
}

// login serves POST /api/authorization/login: email, password and
// isPersistent (a remembered session) → {email, fullName, tagLine, key}
// and the session cookie.
func (a *authAPI) login(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	email, password := c.Get("email"), c.Get("password")
	var msgs []phrase
	if email == "" {
		msgs = append(msgs, say("Email address can't be null or empty."))
	}
	if password == "" {
		msgs = append(msgs, say("Password can't be null or empty."))
	}
	if err := unprocessable(msgs); err != nil {
		return err
	}
	if _, err := idp.NormalizeEmail(email); err != nil {
		return unprocessable([]phrase{say("Email address or password is wrong.")})
	}
	remember := truthy(c.Get("isPersistent", "is_persistent"))
	token, sess, err := a.signIn(ctx, r, c, email, password, remember)
	if errors.Is(err, idp.ErrUnconfirmed) {
		// Only someone who knows the password learns this.
		return refusal(http.StatusUnauthorized, say("%s user user is inactive.", email))
	}
	if err != nil {
		return err
	}
	acct := sess.Account
	tagLine := ""
	if m, err := a.d.Accounts.Membership(ctx, acct.ID, c.Tenant.ID); err == nil {
		if s, ok := m.CustomFields["tagLine"].(string); ok {
			tagLine = s
		}
	} else if !errors.Is(err, idp.ErrNotMember) {
		return err
	}
	maxAge := 0 // a browser-session cookie
	if remember {
		maxAge = int(a.d.Accounts.RememberTTL() / time.Second)
	}
	a.setCookie(w, token, maxAge)
	fullName := acct.Name
	if fullName == "" {
		fullName = strings.TrimSpace(acct.FirstName + " " + acct.LastName)
	}
	clientapi.WriteJSON(w, http.StatusOK, map[string]any{"email": emailOf(acct), "fullName": fullName, "tagLine": tagLine, "key": a.memberKey(c.Tenant.ID, acct.ID)})
	return nil
}

// signup serves POST /api/authorization/signup: email, fullName,
// password, confirmPassword → {key}. The account waits for its e-mail
// confirmation (the hosted /confirm page, or the tenant's own).
func (a *authAPI) signup(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	name, email := c.Get("fullName", "full_name", "name"), c.Get("email")
	pw, confirm := c.Get("password"), c.Get("confirmPassword", "confirm_password")
	var msgs []phrase
	if name == "" {
		msgs = append(msgs, say("Full name can't be null or empty."))
	}
	if email == "" {
		msgs = append(msgs, say("Email can't be null or empty."))
	} else if _, err := idp.NormalizeEmail(email); err != nil {
		msgs = append(msgs, say("Enter a valid e-mail address."))
	}
	if pw == "" {
		msgs = append(msgs, say("Password can't be null or empty."))
	}
	if confirm == "" {
		msgs = append(msgs, say("Confirm password can't be null or empty."))
	}
	if pw != "" && confirm != "" && pw != confirm {
		msgs = append(msgs, say("Password and confirm password should be equal."))
	}
	if err := unprocessable(msgs); err != nil {
		return err
	}
	acct, err := a.d.Accounts.Register(ctx, idp.Registration{Email: email, Password: pw, PasswordConfirm: confirm, Name: name, ClientID: c.Tenant.ID},
		a.links(c, nil), a.d.Source(r, c.Tenant))
	if err != nil {
		return err
	}
	key := decoyKey() // an address that already has an account: same answer
	if acct != nil {
		key = a.memberKey(c.Tenant.ID, acct.ID)
	}
	clientapi.WriteJSON(w, http.StatusOK, map[string]any{"key": key})
	return nil
}

// session is the call's 003 session (nil, nil without a live one).
func (a *authAPI) session(r *http.Request) (*idp.Session, string, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil, "", nil
	}
	sess, err := a.d.Accounts.Session(r.Context(), ck.Value)
	if errors.Is(err, idp.ErrNoSession) {
		return nil, "", nil
	}
	return sess, ck.Value, err
}

// logout serves GET /api/authorization/logout: ends the session.
func (a *authAPI) logout(w http.ResponseWriter, r *http.Request, c *call) error {
	sess, token, err := a.session(r)
	if err != nil {
		return err
	}
	if sess == nil {
		return refusal(http.StatusForbidden, say("User is not authorized to logout."))
	}
	if err := a.d.Accounts.EndSession(r.Context(), token); err != nil {
		return err
	}
	a.setCookie(w, "", -1)
	writeEmpty(w)
	return nil
}

// password serves PUT /api/authorization/password: newPassword and
// confirmPassword for the session's account, with currentPassword, or
// without it within recentSignIn of the sign-in.
func (a *authAPI) password(w http.ResponseWriter, r *http.Request, c *call) error {
	sess, _, err := a.session(r)
	if err != nil {
		return err
	}
	if sess == nil {
		return refusal(http.StatusForbidden, say("User is not authorized to update password."))
	}
	pw, confirm := c.Get("newPassword", "new_password"), c.Get("confirmPassword", "confirm_password")
	current := c.Get("currentPassword", "current_password", "oldPassword", "old_password", "password")
	var msgs []phrase
	if pw == "" {
		msgs = append(msgs, say("New password can't be null or empty."))
	}
	if confirm == "" {
		msgs = append(msgs, say("Confirm password can't be null or empty."))
	}
	if pw != "" && confirm != "" && pw != confirm {
		msgs = append(msgs, say("New password and confirm password should be equal."))
	}
	if err := unprocessable(msgs); err != nil {
		return err
	}
	if current != "" {
		err = a.d.Accounts.ChangePassword(r.Context(), sess, current, pw, confirm)
	} else {
		err = a.d.Accounts.ChangePasswordRecent(r.Context(), sess, recentSignIn, pw, confirm)
	}
	if errors.Is(err, idp.ErrStaleSession) {
		return unprocessable([]phrase{say("Current password can't be null or empty.")})
	}
	if err != nil {
		return err
	}
	writeEmpty(w)
	return nil
}

// setCookie sets (maxAge > 0: for that long; 0: for the browser session;
// < 0: removes) the session cookie, scoped to the mount's
// /api/authorization: HttpOnly, SameSite=Lax, Secure on https.
func (a *authAPI) setCookie(w http.ResponseWriter, value string, maxAge int) {
	a.cookies.Set(w, sessionCookie, value, a.cfg.Prefix+"/api/authorization", maxAge)
}

// fail writes every failure in the document's shape, {"errors":[…]}: 422
// for input, 401 for a refused sign-in, 403 without a session.
func (a *authAPI) fail(w http.ResponseWriter, r *http.Request, c *call, err error) {
	var sf *secondFactorError
	switch {
	case errors.Is(err, idp.ErrInvalidCredentials):
		err = refusal(http.StatusUnauthorized, say("Email address or password is wrong."))
	case errors.As(err, &sf):
		p := a.problemOf(r, w, err)
		p.Status = http.StatusUnauthorized // the login's documented refusal
		err = p
	}
	p := a.problemOf(r, w, err)
	var fe idp.FieldErrors
	if errors.As(err, &fe) {
		p.Status = http.StatusUnprocessableEntity
	}
	msgs := make([]string, len(p.Msgs))
	for i, m := range p.Msgs {
		msgs[i] = m.In(c.Lang)
	}
	body := map[string]any{"errors": msgs}
	if p.Location != "" {
		body["location"] = p.Location
	}
	w.Header().Add("Vary", "Cookie")
	clientapi.WriteJSON(w, p.Status, body)
}

// truthy reads the documents' booleans: true, "true", 1, "1", "yes", "on".
func truthy(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes", "on":
		return true
	}
	return false
}
