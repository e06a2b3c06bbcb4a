package idp

import (
	"fmt"
	"strings"
)

// NormalizeMobile turns a mobile number into E.164 (+CCNNN…). It takes an
// international number (+98 912…, 0098 912…) as it is, or a national one
// (0912…, 912…) together with the country calling code in seed (+98, 98,
// 0098), as the legacy API sends them (`mobile: 09111087815`,
// `mobile_seed: +98`). Spaces, hyphens, dots, parentheses and Persian or
// Arabic-Indic digits are accepted. For Iran (+98) the national number must
// be a mobile one: ten digits starting with 9.
func NormalizeMobile(number, seed string) (string, error) {
	clean := func(s string) string {
		s = toASCIIDigits(strings.TrimSpace(s))
		return strings.Map(func(r rune) rune {
			switch r {
			case ' ', '-', '.', '(', ')', '\u00a0':
				return -1
			}
			return r
		}, s)
	}
	n, cc := clean(number), clean(seed)
	bad := fmt.Errorf("%w: mobile number", ErrInvalidInput)
	var full string
	switch {
	case strings.HasPrefix(n, "+"):
		full = n[1:]
	case strings.HasPrefix(n, "00"):
		full = n[2:]
	default:
		cc = strings.TrimPrefix(strings.TrimPrefix(cc, "+"), "00")
		if cc == "" || len(cc) > 3 || !digits(cc) || cc[0] == '0' {
			return "", bad
		}
		full = cc + strings.TrimLeft(n, "0") // the national trunk prefix goes
	}
	if !digits(full) || len(full) < 8 || len(full) > 15 || full[0] == '0' {
		return "", bad
	}
	if strings.HasPrefix(full, "98") {
		nsn := full[2:]
		if len(nsn) != 10 || nsn[0] != '9' {
			return "", bad
		}
	}
	return "+" + full, nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
