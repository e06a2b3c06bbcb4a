package legacy

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/provider"
	"github.com/manam-id/manam/provider/internal/clientapi"
	"github.com/manam-id/manam/storage"
)

// Reading and editing a profile (view_user, edit_user,
// get_manam_user_info). The documents send only the tenant key, but the
// key was shipped in browser JavaScript: it is a public identifier, not a
// credential. So these calls also need the user's own access token
// (auth_token header or Authorization: Bearer; a token of this tenant,
// for its own account) or the tenant's client secret (HTTP Basic with the
// client id: server to server, any member of the tenant). Either way only
// the tenant's members are visible.

var errNeedAuth = refuse("Send the user's access token (an auth_token header or Authorization: Bearer) or the tenant's client secret (HTTP Basic with its client id): the tenant key alone does not allow this.", "/auth/login")

// member finds the account a profile call names (path or email/mobile
// parameter) and checks the caller may see it.
func (a *API) member(r *http.Request, c *call) (*storage.Account, bool, error) {
	ctx := r.Context()
	ident := clientapi.FirstNonEmpty(mux.Vars(r)["email"], c.Get("email"))
	if ident == "" {
		ident, _ = identifier(r, c)
	}
	server := false
	var subject string
	if _, _, ok := r.BasicAuth(); ok || c.Get("client_secret") != "" {
		if !a.tenantAuthenticated(r, c) {
			return nil, false, errNeedAuth
		}
		server = true
	} else {
		tok := r.Header.Get("auth_token")
		if h := r.Header.Get("Authorization"); tok == "" && len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			tok = strings.TrimSpace(h[7:])
		}
		if tok == "" {
			return nil, false, errNeedAuth
		}
		info, err := a.Tokens.AccessTokenInfo(ctx, tok)
		if errors.Is(err, provider.ErrInvalidToken) {
			return nil, false, refuse("The access token is invalid, expired or revoked.", "/auth/login")
		}
		if err != nil {
			return nil, false, err
		}
		if info.ClientID != c.Tenant.ID {
			return nil, false, refuse("The access token belongs to another application.", "/auth/login")
		}
		subject = info.Subject
	}
	var acct *storage.Account
	var err error
	if ident == "" && subject != "" {
		acct, err = a.IDP.Account(ctx, subject)
	} else {
		acct, err = a.IDP.AccountByIdentifier(ctx, ident)
	}
	if errors.Is(err, storage.ErrNotFound) {
		return nil, false, refuse("No member of this application has this e-mail address or mobile number.", "/")
	}
	if err != nil {
		return nil, false, err
	}
	if !server && acct.ID != subject {
		return nil, false, refuse("The access token is another user's: a user can see and edit only their own profile.", "/")
	}
	if _, err := a.IDP.Membership(ctx, acct.ID, c.Tenant.ID); errors.Is(err, idp.ErrNotMember) {
		return nil, false, refuse("No member of this application has this e-mail address or mobile number.", "/")
	} else if err != nil {
		return nil, false, err
	}
	return acct, server, nil
}

// localProfile is the documents' profile shape (view_user, get_manam_user_info).
func (a *API) localProfile(acct *storage.Account) map[string]any {
	email := ""
	if acct.Email != nil {
		email = *acct.Email
	}
	mobile := ""
	if acct.Mobile != nil {
		mobile = *acct.Mobile
	}
	p := acct.Profile
	return map[string]any{
		"email": email, "meli_code": p.NationalCode, "picture": p.PictureURL, "address": p.Address, "postal_code": p.PostalCode,
		"birthday": idp.FormatBirthday(p), "marital_status": p.MaritalStatus, "facebook_id": p.FacebookID, "instagram_id": p.InstagramID,
		"twitter_id": p.TwitterID, "linkedIn_id": p.LinkedInID, "document": p.Document, "mobile": mobile, "telephone": p.Telephone,
		"firstname": p.FirstName, "lastname": p.LastName, "Name": acct.Name,
	}
}

// viewUser serves GET /view_user/{email}.
func (a *API) viewUser(w http.ResponseWriter, r *http.Request, c *call) error {
	acct, _, err := a.member(r, c)
	if err != nil {
		return err
	}
	a.write(w, http.StatusOK, a.localProfile(acct))
	return nil
}

// googleProfile is get_manam_user_info's shape for an account that came
// through Google (the names of Google's People API), or nil.
func (a *API) googleProfile(ctx context.Context, acct *storage.Account) map[string]any {
	links, err := a.IDP.Links(ctx, acct.ID)
	if err != nil {
		return nil
	}
	for _, l := range links {
		if l.Upstream != "google" {
			continue
		}
		day, month, year := "", "", ""
		if parts := strings.Split(l.Birthdate, "-"); len(parts) == 3 {
			if parts[0] != "0000" {
				year = parts[0]
			}
			month, day = parts[1], parts[2]
		} else if len(l.Birthdate) == 4 {
			year = l.Birthdate
		}
		lastFirst := strings.TrimSpace(l.FamilyName)
		if l.GivenName != "" {
			if lastFirst != "" {
				lastFirst += ", "
			}
			lastFirst += l.GivenName
		}
		return map[string]any{
			"ageRanges": "", "CoverPhotos": "", "Photos": l.Picture, "Locales": l.Locale,
			"DisplayName": l.Name, "FamilyName": l.FamilyName, "GivenName": l.GivenName, "DisplayNameLastFirst": lastFirst,
			"BirthdayDay": day, "BirthdayMonth": month, "BirthdayYear": year, "Email": clientapi.FirstNonEmpty(l.Email, derefString(acct.Email)),
		}
	}
	return nil
}

func derefString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// manamUserInfo serves GET /get_manam_user_info/{email}: the local shape,
// or the Google-shaped one for an account that came through Google.
func (a *API) manamUserInfo(w http.ResponseWriter, r *http.Request, c *call) error {
	acct, _, err := a.member(r, c)
	if err != nil {
		return err
	}
	if g := a.googleProfile(r.Context(), acct); g != nil {
		a.write(w, http.StatusOK, g)
		return nil
	}
	a.write(w, http.StatusOK, a.localProfile(acct))
	return nil
}

// editUser serves POST /edit_user: the fields sent replace those stored
// (the others stay), validated together; nothing changes on any error.
// The e-mail and mobile number identify the account and are not changed
// here (that needs a code or a link: the account page does it). The
// tenant's own role and custome_fields can be set too (role only with
// the tenant's client secret).
func (a *API) editUser(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	acct, server, err := a.member(r, c)
	if err != nil {
		return err
	}
	p := acct.Profile
	in := idp.ProfileInput{Name: acct.Name, FirstName: p.FirstName, LastName: p.LastName, NationalCode: p.NationalCode,
		Birthday: idp.FormatBirthday(p), PictureURL: p.PictureURL, Address: p.Address, PostalCode: p.PostalCode,
		MaritalStatus: p.MaritalStatus, FacebookID: p.FacebookID, InstagramID: p.InstagramID, TwitterID: p.TwitterID,
		LinkedInID: p.LinkedInID, Document: p.Document, Telephone: p.Telephone}
	for _, f := range []struct {
		dst   *string
		names []string
	}{
		{&in.Name, []string{"name", "Name", "fullname"}}, {&in.FirstName, []string{"firstname", "first_name"}}, {&in.LastName, []string{"lastname", "last_name"}},
		{&in.NationalCode, []string{"melicode", "meli_code", "national_code"}}, {&in.Birthday, []string{"birthday", "bithday"}},
		{&in.PictureURL, []string{"picture"}}, {&in.Address, []string{"address"}}, {&in.PostalCode, []string{"postal_code"}},
		{&in.MaritalStatus, []string{"marital_status"}}, {&in.FacebookID, []string{"facebook_id"}}, {&in.InstagramID, []string{"instagram_id"}},
		{&in.TwitterID, []string{"twitter_id"}}, {&in.LinkedInID, []string{"linkedIn_id", "linkedin_id"}}, {&in.Document, []string{"document"}},
		{&in.Telephone, []string{"telephone"}},
	} {
		if c.Has(f.names...) {
			*f.dst = c.Get(f.names...)
		}
	}
	_, _, fe := a.IDP.ParseProfile(in)
	if fe == nil {
		fe = idp.FieldErrors{}
	}
	if m := c.Get("mobile"); m != "" {
		if norm, err := idp.NormalizeMobile(m, clientapi.FirstNonEmpty(c.Get("mobile_seed"), a.IDP.DefaultCountryCode())); err != nil || acct.Mobile == nil || norm != *acct.Mobile {
			fe["mobile"] = "The mobile number is changed on the account page, with a code sent to the new number."
		}
	}
	fields, ok := c.Object("custome_fields", "custom_fields")
	if !ok {
		fe["custome_fields"] = "Send custom fields as an object or a list of objects."
	} else if len(fields) > 0 && !server {
		// The tenant's own attributes of its member (002 answers them as
		// the vendor's settings): not the member's to write.
		fe["custome_fields"] = "Only the application itself (with its client secret) sets custom fields."
	}
	var role *string
	if c.Has("role") {
		if !server {
			fe["role"] = "Only the application itself (with its client secret) sets roles."
		} else {
			v := c.Get("role")
			role = &v
		}
	}
	if len(fe) > 0 {
		return fe
	}
	if err := a.IDP.SaveMemberProfile(ctx, acct.ID, c.Tenant.ID, in, role, fields); err != nil {
		return err
	}
	saved, err := a.IDP.Account(ctx, acct.ID)
	if err != nil {
		return err
	}
	a.write(w, http.StatusOK, map[string]any{"email": derefString(saved.Email), "Name": saved.Name, "status": "success"})
	return nil
}

func random(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
