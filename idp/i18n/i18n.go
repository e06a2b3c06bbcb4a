package i18n

import (
	"fmt"
	"strings"

	"golang.org/x/text/language"
)

// Lang is a supported language.
type Lang string

// The supported languages.
const (
	EN Lang = "en"
	FA Lang = "fa"
)

// Dir is the writing direction of a language: "rtl" for Persian.
func (l Lang) Dir() string {
	if l == FA {
		return "rtl"
	}
	return "ltr"
}

var matcher = language.NewMatcher([]language.Tag{language.English, language.Persian})

// Choose picks the language for a request: the first supported entry of
// OIDC ui_locales (space-separated, in order of preference), otherwise the
// best match of the Accept-Language header, otherwise English.
func Choose(uiLocales, acceptLanguage string) Lang {
	for _, l := range strings.Fields(uiLocales) {
		if t, err := language.Parse(l); err == nil {
			if base, _ := t.Base(); base.String() == "fa" {
				return FA
			} else if base.String() == "en" {
				return EN
			}
		}
	}
	if acceptLanguage == "" || len(acceptLanguage) > 500 {
		return EN
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return EN
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return EN
	}
	if i == 1 {
		return FA
	}
	return EN
}

// T translates an English phrase; with args it is a fmt format.
func T(l Lang, key string, args ...any) string {
	s := key
	if l == FA {
		if v, ok := fa[key]; ok {
			s = v
		}
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// Has tells whether the Persian catalog has a phrase (for tests).
func Has(key string) bool {
	_, ok := fa[key]
	return ok
}
