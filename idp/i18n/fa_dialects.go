package i18n

// faDialects holds the phrases of the client dialects (seeds 002–004).
// Phrases the core or the legacy API also use are repeated here, with the
// same Persian, so that the dialects do not depend on another feature's
// catalog.
var faDialects = map[string]string{
	// Shared.
	"Use the %s method for this address.":                                              "برای این نشانی از روش %s استفاده کنید.",
	"The request body is too large.":                                                   "بدنهٔ درخواست بیش از اندازه بزرگ است.",
	"The request body is not valid JSON.":                                              "بدنهٔ درخواست JSON درستی نیست.",
	"Send the request body as JSON (Content-Type: application/json).":                  "بدنهٔ درخواست را به صورت JSON بفرستید (Content-Type: application/json).",
	"Too many attempts. Wait a few minutes and try again.":                             "تلاش‌ها بیش از اندازه بود. چند دقیقه صبر کنید و دوباره تلاش کنید.",
	"The service is unavailable right now. Please try again in a moment.":              "سرویس اکنون در دسترس نیست. لطفاً کمی بعد دوباره تلاش کنید.",
	"This account signs in with a second factor: finish signing in at %s.":             "این حساب با عامل دوم وارد می‌شود: ورود را در %s کامل کنید.",
	"This application requires a second factor: set one up at %s, then sign in again.": "این برنامه عامل دوم می‌خواهد: آن را در %s راه‌اندازی کنید و سپس دوباره وارد شوید.",
	"Confirm your e-mail address first: open the link we sent you.":                    "نخست نشانی ایمیل خود را تأیید کنید: پیوندی را که برایتان فرستادیم باز کنید.",
	"Enter a valid e-mail address.":                                                    "یک نشانی ایمیل درست بنویسید.",

	// 002, vendor authorization (the document's spelling).
	"Vendor autorization successfully.": "احراز فروشنده با موفقیت انجام شد.",
	"Invalid Access!":                   "دسترسی نامعتبر!",

	// 003, authorization API.
	"Email address can't be null or empty.":              "نشانی ایمیل نمی‌تواند خالی باشد.",
	"Password can't be null or empty.":                   "گذرواژه نمی‌تواند خالی باشد.",
	"Email address or password is wrong.":                "نشانی ایمیل یا گذرواژه نادرست است.",
	"%s user user is inactive.":                          "کاربر %s غیرفعال است.",
	"Full name can't be null or empty.":                  "نام کامل نمی‌تواند خالی باشد.",
	"Email can't be null or empty.":                      "ایمیل نمی‌تواند خالی باشد.",
	"Confirm password can't be null or empty.":           "تکرار گذرواژه نمی‌تواند خالی باشد.",
	"Password and confirm password should be equal.":     "گذرواژه و تکرار آن باید یکسان باشند.",
	"User is not authorized to logout.":                  "کاربر اجازهٔ خروج ندارد.",
	"New password can't be null or empty.":               "گذرواژهٔ تازه نمی‌تواند خالی باشد.",
	"New password and confirm password should be equal.": "گذرواژهٔ تازه و تکرار آن باید یکسان باشند.",
	"User is not authorized to update password.":         "کاربر اجازهٔ تغییر گذرواژه ندارد.",
	"Current password can't be null or empty.":           "گذرواژهٔ کنونی نمی‌تواند خالی باشد.",

	// 004, JWT auth API.
	"%s is required.":                                     "%s لازم است.",
	"This field is required.":                             "این فیلد لازم است.",
	"Wrong e-mail or password.":                           "ایمیل یا گذرواژه درست نیست.",
	"This link is invalid or has expired.":                "این پیوند نامعتبر است یا منقضی شده است.",
	"Resending the confirmation e-mail is not available.": "ارسال دوبارهٔ ایمیل تأیید در دسترس نیست.",
	"The captcha is not valid.":                           "کپچا درست نیست.",
	"Send your userToken as Authorization: Bearer.":       "userToken خود را در سرآیند Authorization: Bearer بفرستید.",
	"The token is invalid or has expired.":                "توکن نامعتبر است یا منقضی شده است.",
	"The vaultToken is invalid, expired or already used.": "vaultToken نامعتبر، منقضی یا پیش‌تر به‌کاررفته است.",
	"This endpoint is not enabled.":                       "این نشانی فعال نیست.",
}
