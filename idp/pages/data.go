package pages

import (
	"html/template"

	"github.com/manam-id/manam/idp/i18n"
	"github.com/manam-id/manam/storage"
)

// What each template reads: one type per page, so a field a template uses
// and no handler sets, or a misspelt one, is a compile error instead of an
// empty value. Every page embeds page, which the layout reads.

// page is what every page has: its title (translated by the layout;
// already translated for error.html and message.html) and CSRF token, and
// the language and direction render fills in.
type page struct {
	Title string
	CSRF  string
	Lang  i18n.Lang
	Dir   string
}

// base is the page a render fills in.
func (d *page) base() *page { return d }

// pageData is a page's data: a pointer to a type embedding page.
type pageData interface{ base() *page }

// errorPage is error.html.
type errorPage struct {
	page
	Message, RequestID string
}

// messagePage is message.html: text already translated, and an optional link.
type messagePage struct {
	page
	Message, LinkURL, LinkText string
}

// logoutPage is logout.html.
type logoutPage struct {
	page
	Action, Email string
	Hidden        map[string]string
}

// loginPage is login.html.
type loginPage struct {
	page
	ClientName, Challenge, Email string
	RegisterURL, RecoverURL      string
	Upstreams                    []upstreamButton
	// Error is shown above the form (translated by the template).
	Error       string
	Unconfirmed bool
}

// consentPage is consent.html.
type consentPage struct {
	page
	ClientName, Email, Challenge string
	Scopes                       []string
}

// homePage is home.html (Email "" when signed out).
type homePage struct {
	page
	Email string
}

// registerPage is register.html.
type registerPage struct {
	page
	ClientName, Challenge, SignInURL, Email, Name string
	Errors                                        map[string]string
}

// recoverPage is recover.html.
type recoverPage struct {
	page
	Challenge, Email string
}

// resetPage is reset.html: by Token (a mailed link) or by a code sent to Mobile.
type resetPage struct {
	page
	Challenge, Token, Mobile string
	Errors                   map[string]string
}

// smsPage is sms.html, the code confirming a mobile number.
type smsPage struct {
	page
	Mobile, Challenge string
	Errors            map[string]string
	Resent            bool
}

// accountPage is account.html, with the account's second factors
// (account_factors.html) and linked identities (linked.html).
type accountPage struct {
	page
	Email, Mobile, PendingMobile string
	Verified, MobileVerified     bool
	HasPassword                  bool
	V                            map[string]string // the form's values
	Statuses                     []string
	Errors                       map[string]string
	Done                         string
	Linked                       []linked
	Factors                      []storage.Factor
	HasTOTP, HasSMS              bool
	ProofMethods                 []string
	CodesLeft                    int64
	Devices                      []storage.TrustedDevice
}

// twoFactorPage is twofactor.html, a sign-in's second step.
type twoFactorPage struct {
	page
	Challenge, Method string
	Methods           []string
	Errors            map[string]string
	Resent            bool
}

// enrolPage is enrol.html, the choice of a second factor to set up.
type enrolPage struct {
	page
	Challenge, Phone string
	Required         bool
	Errors           map[string]string
}

// enrolTOTPPage is enrol_totp.html.
type enrolTOTPPage struct {
	page
	Challenge, Secret string
	QR                template.URL // a data: URL of the PNG
	Errors            map[string]string
}

// enrolSMSPage is enrol_sms.html.
type enrolSMSPage struct {
	page
	Challenge, Phone string
	Errors           map[string]string
}

// enrolEmailPage is enrol_email.html.
type enrolEmailPage struct {
	page
	Challenge, Email string
	Sent             bool
}

// recoveryCodesPage is recovery_codes.html.
type recoveryCodesPage struct {
	page
	Codes           []string
	Next, Challenge string
	Pending         bool
}

// linkPage is link.html, the password proof before an upstream is linked.
type linkPage struct {
	page
	Email, Upstream, Error string
}
