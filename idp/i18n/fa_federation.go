package i18n

// faFederation holds the phrases of signing in with Google and other upstreams.
var faFederation = map[string]string{
	// Login page.
	"or":              "یا",
	"Sign in with %s": "ورود با %s",
	// Upstream failures.
	"Unknown sign-in provider":                           "روش ورود ناشناخته",
	"This way of signing in is not offered here.":        "این روش ورود در اینجا در دسترس نیست.",
	"Sign-in failed":                                     "ورود ناموفق بود",
	"Signing in with %s did not work. Please try again.": "ورود با %s انجام نشد. لطفاً دوباره تلاش کنید.",
	"Sign-in cancelled":                                  "ورود لغو شد",
	"You did not allow %s to sign you in.":               "شما به %s اجازهٔ ورودتان را ندادید.",
	"This sign-in with %s has expired or was not started in this browser. Please start again.": "این ورود با %s منقضی شده یا در این مرورگر آغاز نشده است. لطفاً از نو شروع کنید.",
	"This %s account is not allowed to sign in here.":                                          "این حساب %s اجازهٔ ورود به اینجا را ندارد.",
	"%s is not answering right now. Please try again in a moment.":                             "%s اکنون پاسخ نمی‌دهد. لطفاً کمی بعد دوباره تلاش کنید.",
	"Cannot sign you in": "نمی‌توانیم شما را وارد کنیم",
	"An account with this e-mail address exists, but the provider has not verified that the address is yours. Sign in with your password instead.": "حسابی با این نشانی ایمیل وجود دارد، اما ارائه‌دهنده تأیید نکرده است که این نشانی از آنِ شماست. به‌جای آن با گذرواژهٔ خود وارد شوید.",
	"This sign-in has expired. Please start again.": "این ورود منقضی شده است. لطفاً از نو شروع کنید.",
	"The tenant key is not valid.":                  "کلید مستأجر معتبر نیست.",
	// Linking with a password proof.
	"Link your account": "پیوند دادن حساب",
	"An account with the address %s already exists. Enter its password once to sign in with %s from now on.": "حسابی با نشانی %s از پیش وجود دارد. گذرواژهٔ آن را یک بار وارد کنید تا از این پس با %s وارد شوید.",
	"Link and sign in": "پیوند و ورود",
	"Wrong password.":  "گذرواژه نادرست است.",
	"Cancel":           "انصراف",
	// Account page.
	"Linked accounts": "حساب‌های پیوندشده",
	"Remove":          "حذف",
	"This is your only way to sign in: set a password or link another account first.": "این تنها راه ورود شماست: نخست گذرواژه‌ای بگذارید یا حساب دیگری را پیوند دهید.",
	"This linked account is not yours or is already removed.":                         "این حساب پیوندشده از آنِ شما نیست یا پیش‌تر حذف شده است.",
	"The linked account is removed.":                                                  "حساب پیوندشده حذف شد.",
}
