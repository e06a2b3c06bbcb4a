package i18n

// faFactors holds the phrases of second factors (TOTP, SMS, recovery codes, devices).
var faFactors = map[string]string{}
