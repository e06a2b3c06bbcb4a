package legacy

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/idp/i18n"
	"github.com/manam-id/manam/provider"
	"github.com/manam-id/manam/provider/internal/clientapi"
	"github.com/manam-id/manam/storage"
)

// t translates a message into the call's language.
func (a *API) t(c *call, msg string) string { return i18n.T(c.Lang, msg) }

// profile is the answer of a sign-in (000's and 001's login and register
// shapes together): the tokens (empty before the second factor) and the
// account as the tenant sees it.
func (a *API) profile(ctx context.Context, c *call, acct *storage.Account, tok *provider.Tokens) map[string]any {
	email, username, typ := "", "", "email"
	if acct.Email != nil {
		email, username = *acct.Email, *acct.Email
	} else if acct.Mobile != nil {
		username, typ = *acct.Mobile, "mobile"
	}
	mobile, seed := a.nationalMobile(acct)
	role, roles, fields := "", []string{}, map[string]any{}
	if c.Tenant != nil {
		if m, err := a.IDP.Membership(ctx, acct.ID, c.Tenant.ID); err == nil {
			role, fields = m.Role, m.CustomFields
			if role != "" {
				roles = append(roles, role)
			}
		}
	}
	provider, info := a.upstreamInfo(ctx, acct.ID)
	body := map[string]any{
		"access_token": "", "auth_token": "", "refresh_token": "",
		"username": username, "fullname": acct.Name, "email": email, "type": typ,
		"mobile": mobile, "mobile_seed": seed,
		"firstname": acct.FirstName, "lastname": acct.LastName, "national_code": acct.NationalCode,
		"birthday": idp.FormatBirthday(acct.Profile), "role": role, "roles": roles, "permissions": []string{},
		"custome_fields": customFields(fields), "tenant_email": "", "tenant_confirm_url": "",
		"oauth2_provider": provider, "oauth2_user_info": info,
	}
	if c.Tenant != nil {
		body["tenant_email"], body["tenant_confirm_url"] = c.Tenant.MailFrom, c.Tenant.ConfirmURL
	}
	if tok != nil {
		body["access_token"], body["auth_token"], body["refresh_token"] = tok.AccessToken, tok.AccessToken, tok.RefreshToken
		body["expires_in"], body["token_type"] = tok.ExpiresIn, "bearer"
	}
	return body
}

// nationalMobile splits an E.164 number into the documents' national
// number and mobile_seed when it has the default country code
// (+989111087815 → 09111087815, +98); others stay international.
func (a *API) nationalMobile(acct *storage.Account) (string, string) {
	if acct.Mobile == nil {
		return "", ""
	}
	m, cc := *acct.Mobile, a.IDP.DefaultCountryCode()
	if cc != "" && !strings.HasPrefix(cc, "+") {
		cc = "+" + cc
	}
	if cc != "" && strings.HasPrefix(m, cc) {
		return "0" + m[len(cc):], cc
	}
	return m, ""
}

// upstreamInfo is the account's Google identity, if it came through
// Google: "google" and the claims Google returned.
func (a *API) upstreamInfo(ctx context.Context, accountID string) (string, any) {
	links, err := a.IDP.Links(ctx, accountID)
	if err != nil {
		return "", []any{}
	}
	for _, l := range links {
		if l.Upstream == "google" {
			var claims map[string]any
			if json.Unmarshal([]byte(l.RawClaims), &claims) == nil {
				return "google", claims
			}
			return "google", map[string]any{}
		}
	}
	return "", []any{}
}

// modules are the features the documents' cookie-session answers list.
var modules = map[string]bool{
	"auth": true, "auth-custom": true, "confirm": true, "confirm-custom": true, "lock": true, "logout": true, "oauth2": true,
	"otp": true, "sms": true, "recover": true, "recover-custom": true, "register": true, "register-custom": true, "remember": true,
}

// sessionBody is the cookie-session answer of the documents' two-factor
// walkthroughs. Its csrf_token is bound to the session; the API does not
// require it back, because its cookies are SameSite=Lax and no
// cross-site request carries them.
func (a *API) sessionBody(r *http.Request, c *call, sess *idp.Session) map[string]any {
	body := map[string]any{"csrf_token": "", "current_user_name": "", "flash_error": "", "flash_success": "", "loggedin": false,
		"modules": modules, "status": "success"}
	if sess != nil {
		m := hmac.New(sha256.New, a.Key)
		m.Write([]byte("csrf|" + sess.Row.ID))
		body["csrf_token"] = base64.StdEncoding.EncodeToString(m.Sum(nil))
		body["loggedin"] = true
		body["current_user_name"] = clientapi.FirstNonEmpty(sess.Account.Name, strings.TrimSpace(sess.Account.FirstName+" "+sess.Account.LastName))
	}
	return body
}
