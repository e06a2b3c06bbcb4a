package dialects

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/gorilla/mux"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/provider"
	"github.com/manam-id/manam/provider/internal/clientapi"
	"github.com/manam-id/manam/storage"
)

// jwtAuth serves 004, the JWT auth API: userToken is an RFC 9068 JWT
// access token, vaultToken the tenant's rotating refresh token.
type jwtAuth struct {
	*base
}

func newJWTAuth(b *base) *jwtAuth { return &jwtAuth{base: b} }

// endUser is the budget key of a request's end user for the per-address
// throttles: the end user's address, or, from the tenant's back end when it
// does not pass one, the back end as a whole.
func endUser(src idp.Source) string {
	if src.Addr == "" && src.Backend != "" {
		return "backend " + src.Backend
	}
	return idp.AddrKey(src.Addr)
}

// spend takes one attempt of th for the request's end user: ErrThrottled
// when none is left, the store's failure (a 503) as it is.
func spend(ctx context.Context, th *idp.Throttle, src idp.Source) error {
	ok, err := th.Take(ctx, endUser(src))
	if err != nil {
		return err
	}
	if !ok {
		return idp.ErrThrottled
	}
	return nil
}

func (j *jwtAuth) endpoints() []endpoint {
	get, post := http.MethodGet, http.MethodPost
	return []endpoint{
		{Methods: []string{post}, Paths: []string{"/api/login"}, Handle: j.login},
		{Methods: []string{post}, Paths: []string{"/api/register"}, Handle: j.register},
		{Methods: []string{get}, Paths: []string{"/api/verify-email/{token}", "/api/verify-email"}, Handle: j.verify},
		{Methods: []string{get}, Paths: []string{"/api/resend-email-verification"}, Handle: j.resendVerification},
		{Methods: []string{get}, Paths: []string{"/api/refresh"}, Handle: j.refresh},
		// The document's spellings, then the correct ones.
		{Methods: []string{post}, Paths: []string{"/api/forgot-passsword", "/api/forgot-password"}, Handle: j.forgot},
		{Methods: []string{post}, Paths: []string{"/api/reset-passsword", "/api/reset-password"}, Handle: j.reset},
		{Methods: []string{get}, Paths: []string{"/api/exist-email/{email}"}, Handle: j.existEmail},
	}
}

// pair is the document's success: {"userToken","vaultToken"}.
func pair(tok *provider.Tokens) map[string]string {
	if tok == nil {
		return map[string]string{"userToken": "", "vaultToken": ""}
	}
	return map[string]string{"userToken": tok.AccessToken, "vaultToken": tok.RefreshToken}
}

var statusOK = map[string]string{"status": "ok"}

// required is a 400 naming each missing field (nil when none is).
func required(c *call, names ...string) error {
	p := &problem{Status: http.StatusBadRequest, Fields: map[string]phrase{}}
	for _, n := range names {
		if c.Get(n) == "" {
			m := say("This field is required.")
			p.Msgs = append(p.Msgs, say("%s is required.", n))
			p.Fields[n] = m
		}
	}
	if len(p.Msgs) == 0 {
		return nil
	}
	return p
}

// validEmail is a 400 for an address that is not one.
func validEmail(email string) error {
	if _, err := idp.NormalizeEmail(email); err != nil {
		return &problem{Status: http.StatusBadRequest, Msgs: []phrase{say("Enter a valid e-mail address.")},
			Fields: map[string]phrase{"email": say("Enter a valid e-mail address.")}}
	}
	return nil
}

// signedIn mints the 004 pair for a session: a JWT access token whatever
// the tenant's format, and a refresh token when the tenant may have one.
func (j *jwtAuth) signedIn(ctx context.Context, w http.ResponseWriter, c *call, sess *idp.Session) error {
	tok, err := j.issue(ctx, c, sess, true)
	if err != nil {
		return err
	}
	clientapi.WriteJSON(w, http.StatusOK, pair(tok))
	return nil
}

// login serves POST /api/login: email and password.
func (j *jwtAuth) login(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := required(c, "email", "password"); err != nil {
		return err
	}
	_, sess, err := j.signIn(r.Context(), r, c, c.Get("email"), c.Get("password"), false)
	if err != nil {
		return err
	}
	return j.signedIn(r.Context(), w, c, sess)
}

// register serves POST /api/register: email, password, name. A
// confirmation mail follows; its link is this mount's verify-email (or
// the tenant's own confirmation page). The answer is the documented pair,
// empty, whether or not the address already had an account: the tokens
// come with the verification.
func (j *jwtAuth) register(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := required(c, "email", "password", "name"); err != nil {
		return err
	}
	email, pw := c.Get("email"), c.Get("password")
	if err := validEmail(email); err != nil {
		return err
	}
	confirm := c.Get("confirmPassword", "confirm_password", "password_confirmation")
	if confirm == "" {
		confirm = pw
	}
	_, err := j.d.Accounts.Register(r.Context(), idp.Registration{Email: email, Password: pw, PasswordConfirm: confirm, Name: c.Get("name"),
		ClientID: c.Tenant.ID}, j.links(c, j.verifyURL), j.d.Source(r, c.Tenant))
	if err != nil {
		return err
	}
	clientapi.WriteJSON(w, http.StatusOK, pair(nil))
	return nil
}

// verifyURL is the mailed confirmation link: this mount's verify-email.
func (j *jwtAuth) verifyURL(token string) string {
	return j.mountURL() + "/api/verify-email/" + url.PathEscape(token)
}

// verify serves GET /api/verify-email/{token} (or ?token=): the address
// is confirmed and the account signed in, as the document shows.
func (j *jwtAuth) verify(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	token := clientapi.FirstNonEmpty(mux.Vars(r)["token"], r.URL.Query().Get("token"), c.Get("token"))
	acct, mailedFor, err := j.d.Accounts.ConfirmEmailFor(ctx, token)
	if err != nil {
		return err
	}
	// Only a link mailed for this tenant (its registration or resend)
	// signs in here, and only its member: a link mailed for another tenant
	// (to that tenant's confirmation page) proves the mailbox to that
	// tenant, not to this one, even when the account belongs to both. The
	// address is confirmed either way; the owner signs in with the password.
	if mailedFor != c.Tenant.ID {
		clientapi.WriteJSON(w, http.StatusOK, pair(nil))
		return nil
	}
	if _, err := j.d.Accounts.Membership(ctx, acct.ID, c.Tenant.ID); errors.Is(err, idp.ErrNotMember) {
		clientapi.WriteJSON(w, http.StatusOK, pair(nil))
		return nil
	} else if err != nil {
		return err
	}
	_, sess, err := j.startSession(ctx, c, acct, false)
	if err != nil {
		return err
	}
	return j.signedIn(ctx, w, c, sess)
}

// resendVerification serves GET /api/resend-email-verification?capcha=…
// (or captcha=), for the account of the Bearer userToken, or, for a
// caller that cannot sign in before confirming, the email parameter. The
// same answer whether or not a mail goes out.
func (j *jwtAuth) resendVerification(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	if j.cfg.Captcha == nil {
		return refusal(http.StatusForbidden, say("Resending the confirmation e-mail is not available."))
	}
	src := j.d.Source(r, c.Tenant)
	if err := spend(ctx, j.d.Resend, src); err != nil {
		return err
	}
	q := r.URL.Query()
	answer := clientapi.FirstNonEmpty(q.Get("capcha"), q.Get("captcha"), c.Get("capcha", "captcha"))
	ok, err := j.cfg.Captcha.VerifyCaptcha(ctx, answer, src.Addr)
	if err != nil {
		return err
	}
	if !ok {
		return &problem{Status: http.StatusBadRequest, Msgs: []phrase{say("The captcha is not valid.")}, Fields: map[string]phrase{"capcha": say("The captcha is not valid.")}}
	}
	email := clientapi.FirstNonEmpty(q.Get("email"), c.Get("email"))
	if tok := clientapi.Bearer(r); tok != "" {
		acct, err := j.tokenAccount(ctx, c, tok)
		if err != nil {
			return err
		}
		email = emailOf(acct)
	} else if email == "" {
		return refusal(http.StatusUnauthorized, say("Send your userToken as Authorization: Bearer."))
	} else if err := validEmail(email); err != nil {
		return err
	}
	if email != "" {
		if err := j.d.Accounts.ResendConfirmation(ctx, email, j.links(c, j.verifyURL)); err != nil {
			return err
		}
	}
	clientapi.WriteJSON(w, http.StatusOK, pair(nil))
	return nil
}

// errBadToken refuses a userToken that is not a live access token of the tenant.
var errBadToken = refusal(http.StatusUnauthorized, say("The token is invalid or has expired."))

// tokenAccount is the account of a userToken of this mount's tenant.
func (j *jwtAuth) tokenAccount(ctx context.Context, c *call, token string) (*storage.Account, error) {
	info, err := j.d.Tokens.AccessTokenInfo(ctx, token)
	if errors.Is(err, provider.ErrInvalidToken) {
		return nil, errBadToken
	}
	if err != nil {
		return nil, err
	}
	if info.ClientID != c.Tenant.ID || info.Subject == "" {
		return nil, errBadToken
	}
	acct, err := j.d.Accounts.Account(ctx, info.Subject)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, errBadToken
	}
	return acct, err
}

// refresh serves GET /api/refresh with the vaultToken as Bearer: the
// refresh_token grant of /oauth2/token (rotation; a reused vaultToken
// revokes its family).
func (j *jwtAuth) refresh(w http.ResponseWriter, r *http.Request, c *call) error {
	tok, err := j.d.Tokens.RefreshFor(r.Context(), storage.ClientFromTenant(c.Tenant), clientapi.Bearer(r))
	if errors.Is(err, provider.ErrTokenRefused) || errors.Is(err, provider.ErrUnknownClient) {
		return refusal(http.StatusUnauthorized, say("The vaultToken is invalid, expired or already used."))
	}
	if err != nil {
		return err
	}
	clientapi.WriteJSON(w, http.StatusOK, pair(tok))
	return nil
}

// forgot serves POST /api/forgot-passsword (and forgot-password): a reset
// link to the address, if it has an account; {"status":"ok"} either way.
func (j *jwtAuth) forgot(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := required(c, "email"); err != nil {
		return err
	}
	email := c.Get("email")
	if err := validEmail(email); err != nil {
		return err
	}
	if err := j.d.Accounts.RequestRecovery(r.Context(), email, j.links(c, j.verifyURL), j.d.Source(r, c.Tenant)); err != nil {
		return err
	}
	clientapi.WriteJSON(w, http.StatusOK, statusOK)
	return nil
}

// reset serves POST /api/reset-passsword (and reset-password): the mailed
// token (in the body, or as the document's Bearer) and newPassword.
func (j *jwtAuth) reset(w http.ResponseWriter, r *http.Request, c *call) error {
	token := clientapi.FirstNonEmpty(c.Get("token"), clientapi.Bearer(r))
	pw := c.Get("newPassword", "new_password")
	p := &problem{Status: http.StatusBadRequest, Fields: map[string]phrase{}}
	if token == "" {
		p.Msgs, p.Fields["token"] = append(p.Msgs, say("%s is required.", "token")), say("This field is required.")
	}
	if pw == "" {
		p.Msgs, p.Fields["newPassword"] = append(p.Msgs, say("%s is required.", "newPassword")), say("This field is required.")
	}
	if len(p.Msgs) > 0 {
		return p
	}
	confirm := clientapi.FirstNonEmpty(c.Get("confirmPassword", "confirm_password"), pw)
	_, err := j.d.Accounts.ResetPassword(r.Context(), token, pw, confirm)
	var fe idp.FieldErrors
	if errors.As(err, &fe) {
		// The document's field names.
		renamed := idp.FieldErrors{}
		for k, v := range fe {
			switch k {
			case "password":
				k = "newPassword"
			case "password_confirm":
				k = "confirmPassword"
			}
			renamed[k] = v
		}
		return renamed
	}
	if err != nil {
		return err
	}
	clientapi.WriteJSON(w, http.StatusOK, statusOK)
	return nil
}

// existEmail serves GET /api/exist-email/{email} → true or false, when the
// mount enables it (it tells anyone who is registered: enumeration by
// design), rate-limited per client address.
func (j *jwtAuth) existEmail(w http.ResponseWriter, r *http.Request, c *call) error {
	if !j.cfg.ExistEmail {
		return refusal(http.StatusNotFound, say("This endpoint is not enabled."))
	}
	if err := spend(r.Context(), j.d.ExistEmail, j.d.Source(r, c.Tenant)); err != nil {
		return err
	}
	email := mux.Vars(r)["email"]
	if err := validEmail(email); err != nil {
		return err
	}
	_, err := j.d.Accounts.AccountByIdentifier(r.Context(), email)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		clientapi.WriteJSON(w, http.StatusOK, false)
	case err != nil:
		return err
	default:
		clientapi.WriteJSON(w, http.StatusOK, true)
	}
	return nil
}

// fail writes every failure as {"status":"error","message":…} (the
// document shows no error; this mirrors its {"status":"ok"}), with
// "errors" naming failing fields and "location" the hosted page a
// second-factor sign-in finishes on.
func (j *jwtAuth) fail(w http.ResponseWriter, r *http.Request, c *call, err error) {
	switch {
	case errors.Is(err, idp.ErrInvalidCredentials):
		err = refusal(http.StatusUnauthorized, say("Wrong e-mail or password."))
	case errors.Is(err, idp.ErrUnconfirmed):
		err = refusal(http.StatusForbidden, say("Confirm your e-mail address first: open the link we sent you."))
	case errors.Is(err, idp.ErrInvalidToken):
		err = refusal(http.StatusBadRequest, say("This link is invalid or has expired."))
	}
	p := j.problemOf(r, w, err)
	msgs := ""
	for i, m := range p.Msgs {
		if i > 0 {
			msgs += " "
		}
		msgs += m.In(c.Lang)
	}
	body := map[string]any{"status": "error", "message": msgs}
	if len(p.Fields) > 0 {
		fs := map[string]string{}
		for k, m := range p.Fields {
			fs[k] = m.In(c.Lang)
		}
		body["errors"] = fs
	}
	if p.Location != "" {
		body["location"] = p.Location
	}
	clientapi.WriteJSON(w, p.Status, body)
}

func emailOf(a *storage.Account) string {
	if a == nil || a.Email == nil {
		return ""
	}
	return *a.Email
}
