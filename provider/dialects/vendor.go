package dialects

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/provider/internal/clientapi"
	"github.com/manam-id/manam/storage"
)

// vendor serves 002, the vendor authorization: POST /v1/authorization.
type vendor struct{ *base }

func (v *vendor) endpoints() []endpoint {
	return []endpoint{{Methods: []string{http.MethodPost}, Paths: []string{"/v1/authorization"}, Handle: v.authorize}}
}

// vendorInfoKeys are the documented user_info fields, in the document's
// order: each is the tenant's custom field of that name when it has one
// (the tenant keeps its vendors' store settings there), else what the
// profile says (vendor_id, email, phone, address1, logo, sub_user), else
// null.
var vendorInfoKeys = []string{
	"vendor_id", "email", "address1", "web_page_title", "details", "phone", "country", "country_name", "store_name", "store_name_ar",
	"about_us", "about_us_ar", "address1_ar", "address2", "address2_ar", "currency_title", "currency_title_ar", "multi_country_delivery",
	"delivery_countries", "store_type", "time_zone", "schedule_interval", "default_preparation_time", "payment_methods",
	"external_country_cash", "store_domain", "has_fundnumber", "conversion_rate", "country_tax", "sms_status_update_customer", "logo",
	"brand_limit", "category_limit", "catering_service", "celebrity_module", "change_all_delivery_status", "default_image",
	"digital_products", "dinein_booking", "dinein_booking_limit", "dinein_deposit_amount", "driver_module", "extras_inventory",
	"free_delivery_amount", "fundnumber_label", "fundnumber_label_ar", "fundnumber_mandatory", "has_pos", "has_tax", "invoice_link_on",
	"mashkor_auth_key", "mashkor_secret_key", "mashkor_status", "my_fatoorah_api_key", "products_inventory", "product_comment_label",
	"product_comment_label_ar", "product_limit", "product_preparation_time", "product_weight", "special_price_per_country",
	"sub_category", "suppliers_module", "tax_number", "template", "vendorapp_product_management", "default_image_url", "sub_user",
}

// authorize serves POST /v1/authorization: email and password (or
// Password, as the document's table spells it) in a JSON body of any
// content type, or form-encoded.
func (v *vendor) authorize(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	email, password := c.Get("email"), c.Get("password", "Password")
	if email == "" || password == "" {
		return errInvalidAccess
	}
	_, sess, err := v.signIn(ctx, r, c, email, password, false)
	if err != nil {
		return err
	}
	tok, err := v.issue(ctx, c, sess, false)
	if err != nil {
		return err
	}
	info, err := v.userInfo(ctx, c, sess.Account)
	if err != nil {
		return err
	}
	clientapi.WriteJSON(w, http.StatusOK, map[string]any{
		"status": true, "message": say("Vendor autorization successfully.").In(c.Lang),
		"access_token": tok.AccessToken, "expires_in": tok.ExpiresAt.Unix(), "user_info": info,
	})
	return nil
}

// errInvalidAccess is the document's one failure.
var errInvalidAccess = refusal(http.StatusBadRequest, say("Invalid Access!"))

// userInfo builds user_info from the account and its membership of the
// tenant: the documented fields, then any other custom field.
func (v *vendor) userInfo(ctx context.Context, c *call, acct *storage.Account) (map[string]any, error) {
	custom := map[string]any{}
	m, err := v.d.Accounts.Membership(ctx, acct.ID, c.Tenant.ID)
	switch {
	case err == nil:
		custom = m.CustomFields
	case !errors.Is(err, idp.ErrNotMember):
		return nil, err
	}
	profile := map[string]any{"vendor_id": v.memberKey(c.Tenant.ID, acct.ID), "sub_user": 0}
	if acct.Mobile != nil {
		profile["phone"] = strings.TrimPrefix(*acct.Mobile, "+")
	} else if acct.Telephone != "" {
		profile["phone"] = acct.Telephone
	}
	if acct.Address != "" {
		profile["address1"] = acct.Address
	}
	if acct.PictureURL != "" {
		profile["logo"] = acct.PictureURL
	}
	info := map[string]any{}
	for k, val := range custom {
		info[k] = val
	}
	for _, k := range vendorInfoKeys {
		if _, ok := info[k]; ok {
			continue
		}
		info[k] = profile[k] // nil when the profile has nothing
	}
	// The address signed in with is the account's, never a custom field.
	email := ""
	if acct.Email != nil {
		email = *acct.Email
	}
	info["email"] = email
	return info, nil
}

// fail writes every failure in the document's one error shape,
// {"status":400,"error":400,"messages":{"status":false,"message":…}},
// with the answer's status in both numbers.
func (v *vendor) fail(w http.ResponseWriter, r *http.Request, c *call, err error) {
	switch {
	case errors.Is(err, idp.ErrInvalidCredentials):
		err = errInvalidAccess
	case errors.Is(err, idp.ErrUnconfirmed):
		err = refusal(http.StatusBadRequest, say("Confirm your e-mail address first: open the link we sent you."))
	}
	p := v.problemOf(r, w, err)
	msgs := make([]string, len(p.Msgs))
	for i, m := range p.Msgs {
		msgs[i] = m.In(c.Lang)
	}
	inner := map[string]any{"status": false, "message": strings.Join(msgs, " ")}
	if p.Location != "" {
		inner["location"] = p.Location
	}
	clientapi.WriteJSON(w, p.Status, map[string]any{"status": p.Status, "error": p.Status, "messages": inner})
}
