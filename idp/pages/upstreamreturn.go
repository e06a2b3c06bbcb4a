package pages

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/manam-id/manam/idp"
)

// An upstream sign-in for a tenant outside any authorization request: a
// client dialect's own link (the legacy API's "Google Log In") starts it
// with StartUpstreamFor, naming a page of its own on this issuer. Once
// the browser has signed in (a link's password proof and a second factor
// included), it lands on that page with a sealed ticket (?t=…), and the
// page asks UpstreamReturned who signed in for which tenant. The ticket
// is made when the upstream has answered, is valid upstreamTTL, and is
// bound to the browser by a nonce cookie scoped to the page: a ticket
// someone else obtained (their own sign-in) does nothing in another
// browser, even one that signs in meanwhile.

// returnTo is a return flow: the tenant and the dialect's page (a path).
type returnTo struct {
	Tenant string `json:"l,omitempty"`
	Path   string `json:"r,omitempty"`
}

// returnTicket is the sealed parameter of the page.
type returnTicket struct {
	ClientID string    `json:"c"`
	At       time.Time `json:"t"`
	// Nonce is also in the returnCookie of the browser that signed in.
	Nonce string `json:"n"`
}

// returnCookie binds a return ticket to its browser.
const returnCookie = "manam_upstream_return"

// StartUpstreamFor starts a sign-in through the upstream upstreamID for
// the tenant clientID, outside any authorization request, which ends at
// returnPath (a path on this issuer whose handler calls
// UpstreamReturned). An upstream that is not configured gets the error
// page.
func (p *Pages) StartUpstreamFor(w http.ResponseWriter, r *http.Request, upstreamID, clientID, returnPath string) {
	if p.upstreams != nil {
		if conn, ok := p.upstreams.Get(upstreamID); ok {
			p.startUpstream(w, r, conn, upstreamLogin{returnTo: returnTo{Tenant: clientID, Path: returnPath}})
			return
		}
	}
	p.Error(w, r, http.StatusNotFound, "Unknown sign-in provider", "This way of signing in is not offered here.")
}

// returnFlow is the FlowInfo of a return flow once the upstream has
// answered: the tenant, and its page with a fresh ticket (the nonce
// cookie set).
func (p *Pages) returnFlow(w http.ResponseWriter, r *http.Request, ret returnTo) (FlowInfo, bool) {
	s, err := p.sealer()
	var t string
	if err == nil {
		nonce := make([]byte, 16)
		if _, err = rand.Read(nonce); err == nil {
			d := returnTicket{ClientID: ret.Tenant, At: time.Now().UTC().Add(-time.Second), Nonce: base64.RawURLEncoding.EncodeToString(nonce)}
			var raw []byte
			if raw, err = json.Marshal(d); err == nil {
				t, err = s.Seal(raw, "return:"+ret.Path)
			}
			if err == nil {
				http.SetCookie(w, &http.Cookie{Name: returnCookie, Value: d.Nonce, Path: ret.Path, MaxAge: int(upstreamTTL / time.Second),
					HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode})
			}
		}
	}
	if err != nil {
		p.log.ErrorContext(r.Context(), "sealing the return ticket failed", "err", err)
		p.Error(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "Sign-in is unavailable right now. Please try again in a moment.")
		return FlowInfo{}, false
	}
	return FlowInfo{ClientID: ret.Tenant, ResumeURL: ret.Path + "?t=" + url.QueryEscape(t)}, true
}

// UpstreamReturned serves the start of returnPath's handler: the tenant
// and the session of the sign-in StartUpstreamFor began, when the request
// carries its ticket, in the browser that signed in, with a session at
// least as new as the ticket. Otherwise it answers the error page itself
// and ok is false.
func (p *Pages) UpstreamReturned(w http.ResponseWriter, r *http.Request, returnPath string) (clientID string, sess *idp.Session, ok bool) {
	var d returnTicket
	if s, err := p.sealer(); err == nil {
		if raw, err := s.Open(r.URL.Query().Get("t"), "return:"+returnPath); err == nil && json.Unmarshal(raw, &d) == nil {
			ok = time.Since(d.At) < upstreamTTL
		}
	}
	if !ok {
		p.Error(w, r, http.StatusBadRequest, "Sign-in link expired", "This sign-in has expired. Please start again.")
		return "", nil, false
	}
	c, cerr := r.Cookie(returnCookie)
	sess, err := p.CurrentSession(r)
	if err != nil && !errors.Is(err, idp.ErrNoSession) {
		p.unavailable(w, r, "reading the session failed", err)
		return "", nil, false
	}
	if err != nil || sess.Row.AuthTime.Before(d.At) || cerr != nil || d.Nonce == "" || !hmac.Equal([]byte(c.Value), []byte(d.Nonce)) {
		// Only the sign-in this ticket was made for, in its own browser, may finish it.
		p.Error(w, r, http.StatusBadRequest, "Sign-in link expired", "This sign-in has expired. Please start again.")
		return "", nil, false
	}
	return d.ClientID, sess, true
}
