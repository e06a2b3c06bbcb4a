package pages

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/idp/mfa"
	"github.com/manam-id/manam/upstream"
)

// Signing in through an upstream identity provider (Google, or any OpenID
// Connect provider):
//
//	GET /upstream/{id}/start?challenge=…  → the upstream's authorization endpoint
//	GET /upstream/{id}/callback           → the account, then SignedIn
//	GET|POST /upstream/link               → the password proof before linking
//
// or, for a tenant outside any authorization request, from a client
// dialect's own link (StartUpstreamFor, upstreamreturn.go).
//
// The per-login secrets (upstream.State) and the authorization request
// waiting (the challenge) travel in a cookie sealed with AES-256-GCM under
// upstreamKey, bound to the upstream's id, scoped to its callback path,
// HttpOnly, SameSite=Lax, 10 minutes, deleted when the callback reads it.

// Cookies of federation.
const (
	upstreamCookie = "manam_upstream"      // the sealed login state, Path /upstream/{id}/
	linkCookie     = "manam_upstream_link" // the pending link's token, Path /upstream/link
)

// upstreamTTL bounds an upstream login, and a password proof for linking.
const upstreamTTL = 10 * time.Minute

// amrUpstream is the authentication method of a sign-in through an
// upstream: "fed" (a federated assertion; RFC 8176 registers no value for
// it, and "fed" is what Microsoft Entra ID sends). A link made after a
// password proof adds "pwd".
const amrUpstream = "fed"

// FlowFailer is the optional capability of a Flow to end an authorization
// request with an OAuth error redirect to its tenant (RFC 6749 §4.1.2.1):
// server_error or temporarily_unavailable.
type FlowFailer interface {
	FailURL(challenge, code string) string
}

// upstreamLogin is what the state cookie carries.
type upstreamLogin struct {
	State     upstream.State `json:"st"`
	Challenge string         `json:"c,omitempty"`
	returnTo
}

// linkFlow is the opaque flow kept with a pending link.
type linkFlow struct {
	Challenge string `json:"c,omitempty"`
	returnTo
}

// upstreamButton is one "Sign in with X" on the login page.
type upstreamButton struct {
	Name, URL string
}

// upstreamButtons lists the configured upstreams for the login page.
func (p *Pages) upstreamButtons(challenge string) []upstreamButton {
	if p.upstreams == nil {
		return nil
	}
	var out []upstreamButton
	for _, c := range p.upstreams.All() {
		u := "/upstream/" + url.PathEscape(c.ID()) + "/start"
		if challenge != "" {
			u += "?challenge=" + url.QueryEscape(challenge)
		}
		out = append(out, upstreamButton{Name: c.Name(), URL: u})
	}
	return out
}

func (p *Pages) sealer() (*mfa.Sealer, error) {
	return mfa.NewSealer(p.upstreamKey, rand.Reader)
}

// redirectURI is the callback registered at the upstream.
func (p *Pages) redirectURI(id string) string {
	return p.issuer + "/upstream/" + url.PathEscape(id) + "/callback"
}

// connector finds the upstream a /upstream/{id}/… path names.
func (p *Pages) connector(r *http.Request) (upstream.Connector, bool) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/upstream/")
	if !ok || p.upstreams == nil {
		return nil, false
	}
	id, _, _ := strings.Cut(rest, "/")
	return p.upstreams.Get(id)
}

// UpstreamStart serves GET /upstream/{id}/start?challenge=….
func (p *Pages) UpstreamStart(w http.ResponseWriter, r *http.Request) {
	conn, ok := p.connector(r)
	if !ok {
		p.Error(w, r, http.StatusNotFound, "Unknown sign-in provider", "This way of signing in is not offered here.")
		return
	}
	challenge := r.URL.Query().Get("challenge")
	if challenge != "" {
		if _, ok := p.describe(w, r, challenge); !ok {
			return
		}
	}
	p.startUpstream(w, r, conn, upstreamLogin{Challenge: challenge})
}

// startUpstream sends the browser to the upstream, keeping the login's
// state in the sealed cookie.
func (p *Pages) startUpstream(w http.ResponseWriter, r *http.Request, conn upstream.Connector, login upstreamLogin) {
	authURL, st, err := conn.Start(r.Context(), p.redirectURI(conn.ID()))
	if err != nil {
		p.upstreamFailed(w, r, conn, login, err)
		return
	}
	login.State = st
	raw, err := json.Marshal(login)
	if err != nil {
		p.upstreamFailed(w, r, conn, login, err)
		return
	}
	s, err := p.sealer()
	var sealed string
	if err == nil {
		sealed, err = s.Seal(raw, "upstream:"+conn.ID())
	}
	if err != nil {
		p.upstreamFailed(w, r, conn, login, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: upstreamCookie, Value: sealed, Path: "/upstream/" + conn.ID() + "/", MaxAge: int(upstreamTTL / time.Second),
		HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, authURL, http.StatusFound)
}

// UpstreamCallback serves GET /upstream/{id}/callback.
func (p *Pages) UpstreamCallback(w http.ResponseWriter, r *http.Request) {
	conn, ok := p.connector(r)
	if !ok {
		p.Error(w, r, http.StatusNotFound, "Unknown sign-in provider", "This way of signing in is not offered here.")
		return
	}
	// Single use: whatever happens next, the state is gone.
	http.SetCookie(w, &http.Cookie{Name: upstreamCookie, Value: "", Path: "/upstream/" + conn.ID() + "/", MaxAge: -1,
		HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode})
	var login upstreamLogin
	if c, err := r.Cookie(upstreamCookie); err == nil && len(c.Value) < 8<<10 {
		if s, err := p.sealer(); err == nil {
			if raw, err := s.Open(c.Value, "upstream:"+conn.ID()); err == nil {
				if err := json.Unmarshal(raw, &login); err != nil {
					login = upstreamLogin{}
				}
			}
		}
	}
	// An empty State makes Finish answer ErrState: a missing, tampered or
	// foreign cookie is a state mismatch (RFC 6749 §10.12).
	ident, err := conn.Finish(r.Context(), p.redirectURI(conn.ID()), login.State, r.URL.Query())
	if err != nil {
		p.upstreamFailed(w, r, conn, login, err)
		return
	}
	info, ok := p.loginFlow(w, r, login.Challenge, login.returnTo)
	if !ok {
		return
	}
	flow, _ := json.Marshal(linkFlow{Challenge: login.Challenge, returnTo: login.returnTo})
	acct, err := p.svc.SignInUpstream(r.Context(), federated(ident), info.ClientID, string(flow))
	var need *idp.LinkPasswordRequired
	switch {
	case errors.As(err, &need):
		http.SetCookie(w, &http.Cookie{Name: linkCookie, Value: need.Token, Path: "/upstream/link", MaxAge: int(idp.PendingLinkTTL / time.Second),
			HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode})
		http.Redirect(w, r, "/upstream/link", http.StatusSeeOther)
	case errors.Is(err, idp.ErrUnverifiedEmail):
		p.observe("invalid")
		p.Error(w, r, http.StatusForbidden, "Cannot sign you in", "An account with this e-mail address exists, but the provider has not verified that the address is yours. Sign in with your password instead.")
	case err != nil:
		p.unavailable(w, r, "upstream sign-in failed", err, "upstream", conn.ID())
	default:
		p.SignedIn(w, r, acct, []string{amrUpstream}, false, login.Challenge, info)
	}
}

// loginFlow is the FlowInfo of an upstream login: its authorization
// request, the return to a dialect's page, or the account page.
func (p *Pages) loginFlow(w http.ResponseWriter, r *http.Request, challenge string, ret returnTo) (FlowInfo, bool) {
	switch {
	case challenge != "":
		return p.describe(w, r, challenge)
	case ret.Tenant != "":
		return p.returnFlow(w, r, ret)
	}
	return FlowInfo{ResumeURL: "/account"}, true
}

// federated is an upstream identity as idp takes it.
func federated(id *upstream.Identity) idp.FederatedIdentity {
	return idp.FederatedIdentity{Upstream: id.Upstream, Subject: id.Subject, Email: id.Email, EmailVerified: id.EmailVerified,
		Name: id.Name, GivenName: id.GivenName, FamilyName: id.FamilyName, Picture: id.Picture, Locale: id.Locale,
		Birthdate: id.Birthdate, RawClaims: id.RawClaims}
}

// upstreamFailed ends a failed upstream login: with an OAuth error
// redirect when a tenant is waiting (access_denied when the user refused,
// else temporarily_unavailable or server_error), otherwise with a clear
// page. The detail goes to the log only, as a warning: the fault is the
// upstream's or the browser's, not ours, so the page's status is not a 5xx
// (which the server counts and logs as its own failure): 400 for what
// cannot be verified, 403 for a refusal, 424 Failed Dependency (RFC 4918
// §11.4) for an upstream that is down.
func (p *Pages) upstreamFailed(w http.ResponseWriter, r *http.Request, conn upstream.Connector, login upstreamLogin, err error) {
	p.observe("upstream_error")
	p.log.WarnContext(r.Context(), "upstream login failed", "upstream", conn.ID(), "err", err)
	title, msg, status, code := "Sign-in failed", "Signing in with %s did not work. Please try again.", http.StatusBadRequest, "server_error"
	switch {
	case errors.Is(err, upstream.ErrDenied):
		title, msg, status, code = "Sign-in cancelled", "You did not allow %s to sign you in.", http.StatusForbidden, "access_denied"
	case errors.Is(err, upstream.ErrState), errors.Is(err, upstream.ErrExpired):
		title, msg, status = "Sign-in link expired", "This sign-in with %s has expired or was not started in this browser. Please start again.", http.StatusBadRequest
	case errors.Is(err, upstream.ErrDomain):
		title, msg, status, code = "Cannot sign you in", "This %s account is not allowed to sign in here.", http.StatusForbidden, "access_denied"
	case errors.Is(err, upstream.ErrUpstream):
		title, msg, status, code = "Sign-in unavailable", "%s is not answering right now. Please try again in a moment.", http.StatusFailedDependency, "temporarily_unavailable"
	}
	// A tampered or expired state carries no trustworthy challenge: the
	// page, not a redirect to a tenant.
	trusted := !errors.Is(err, upstream.ErrState) && !errors.Is(err, upstream.ErrExpired)
	if trusted && login.Challenge != "" {
		if info, derr := p.flow.Describe(r.Context(), login.Challenge); derr == nil {
			if code == "access_denied" && info.DeniedURL != "" {
				http.Redirect(w, r, info.DeniedURL, http.StatusSeeOther)
				return
			}
			if f, ok := p.flow.(FlowFailer); ok {
				http.Redirect(w, r, f.FailURL(login.Challenge, code), http.StatusSeeOther)
				return
			}
		}
	}
	p.Error(w, r, status, title, msg, conn.Name())
}

// UpstreamLink serves GET and POST /upstream/link: the password of the
// account an upstream identity would be linked to, proved once.
func (p *Pages) UpstreamLink(w http.ResponseWriter, r *http.Request) {
	token := ""
	if c, err := r.Cookie(linkCookie); err == nil {
		token = c.Value
	}
	pending, err := p.svc.PendingLink(r.Context(), token)
	if errors.Is(err, idp.ErrLinkExpired) || errors.Is(err, idp.ErrFederationOff) {
		p.clearLinkCookie(w)
		p.Error(w, r, http.StatusBadRequest, "Sign-in link expired", "This sign-in has expired. Please start again.")
		return
	}
	if err != nil {
		p.signInUnavailable(w, r, "pending link failed", err)
		return
	}
	var flow linkFlow
	_ = json.Unmarshal([]byte(pending.Flow), &flow)
	name := pending.Upstream
	if p.upstreams != nil {
		if c, ok := p.upstreams.Get(pending.Upstream); ok {
			name = c.Name()
		}
	}
	data := &linkPage{page: page{Title: "Link your account"}, Email: pending.Email, Upstream: name}
	if r.Method == http.MethodGet {
		data.CSRF = p.csrf.Token(w, r)
		p.render(w, r, http.StatusOK, "link.html", data)
		return
	}
	if !p.formValid(w, r) {
		return
	}
	info, ok := p.loginFlow(w, r, flow.Challenge, flow.returnTo)
	if !ok {
		return
	}
	acct, _, err := p.svc.CompleteLink(r.Context(), token, r.PostFormValue("password"), info.ClientID, p.source(r))
	switch {
	case errors.Is(err, idp.ErrThrottled):
		p.observe("throttled")
		w.Header().Set("Retry-After", "60")
		p.Error(w, r, http.StatusTooManyRequests, "Too many attempts", "There were too many failed sign-ins from your network. Wait a few minutes and try again.")
	case errors.Is(err, idp.ErrInvalidCredentials):
		p.observe("invalid")
		data.CSRF = p.csrf.Token(w, r)
		data.Error = "Wrong password."
		p.render(w, r, http.StatusUnauthorized, "link.html", data)
	case errors.Is(err, idp.ErrLinkExpired):
		p.clearLinkCookie(w)
		p.Error(w, r, http.StatusBadRequest, "Sign-in link expired", "This sign-in has expired. Please start again.")
	case err != nil:
		p.unavailable(w, r, "linking failed", err)
	default:
		p.clearLinkCookie(w)
		p.SignedIn(w, r, acct, []string{amrUpstream, "pwd"}, false, flow.Challenge, info)
	}
}

func (p *Pages) clearLinkCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: linkCookie, Value: "", Path: "/upstream/link", MaxAge: -1, HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode})
}

// linked is the account page's list of upstream identities.
type linked struct {
	Upstream, Name, Subject, Email string
}

// linkedIdentities lists an account's upstream identities for the account page.
func (p *Pages) linkedIdentities(r *http.Request, accountID string) []linked {
	ls, err := p.svc.Links(r.Context(), accountID)
	if err != nil {
		p.log.WarnContext(r.Context(), "listing linked identities failed", "err", err)
		return nil
	}
	out := make([]linked, 0, len(ls))
	for _, l := range ls {
		name := l.Upstream
		if p.upstreams != nil {
			if c, ok := p.upstreams.Get(l.Upstream); ok {
				name = c.Name()
			}
		}
		out = append(out, linked{Upstream: l.Upstream, Name: name, Subject: l.Subject, Email: l.Email})
	}
	return out
}

// AccountUnlink serves POST /account/upstream/unlink: removes a linked
// identity, unless it is the account's last way to sign in.
func (p *Pages) AccountUnlink(w http.ResponseWriter, r *http.Request) {
	sess, ok := p.signedInForm(w, r)
	if !ok {
		return
	}
	err := p.svc.Unlink(r.Context(), sess.Account.ID, r.PostFormValue("upstream"), r.PostFormValue("subject"))
	switch {
	case errors.Is(err, idp.ErrLastSignIn):
		p.account(w, r, http.StatusConflict, idp.FieldErrors{"unlink": "This is your only way to sign in: set a password or link another account first."}, "")
	case errors.Is(err, idp.ErrInvalidInput):
		p.account(w, r, http.StatusBadRequest, idp.FieldErrors{"unlink": "This linked account is not yours or is already removed."}, "")
	case err != nil:
		p.afterAccountChange(w, r, err, "")
	default:
		p.account(w, r, http.StatusOK, nil, "The linked account is removed.")
	}
}
