package idp

import (
	"bufio"
	_ "embed"
	"sort"
	"strings"
	"unicode/utf8"
)

//go:embed commonpasswords.txt
var commonPasswordsFile string

// commonPasswords is the embedded list, lower-cased and sorted for lookup.
var commonPasswords = func() []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(commonPasswordsFile))
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, strings.ToLower(line))
		}
	}
	sort.Strings(out)
	return out
}()

// FieldErrors maps a form field to what is wrong with it. It matches
// ErrInvalidInput.
type FieldErrors map[string]string

func (f FieldErrors) Error() string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + f[k]
	}
	return "idp: invalid input: " + strings.Join(parts, "; ")
}

// Is lets errors.Is(err, ErrInvalidInput) match.
func (f FieldErrors) Is(target error) bool { return target == ErrInvalidInput }

// CheckPassword applies NIST SP 800-63B §5.1.1.2: 8 to 128 characters,
// not one of the 10,000 most common passwords, not the account's own
// identifiers. It returns the problem in words, or "".
func CheckPassword(pw string, identifiers ...string) string {
	n := utf8.RuneCountInString(pw)
	switch {
	case n < 8:
		return "Use at least 8 characters."
	case n > 128:
		return "Use at most 128 characters."
	}
	lower := strings.ToLower(pw)
	if i := sort.SearchStrings(commonPasswords, lower); i < len(commonPasswords) && commonPasswords[i] == lower {
		return "This password is too common. Choose another."
	}
	for _, id := range identifiers {
		if id == "" {
			continue
		}
		id = strings.ToLower(id)
		local, _, _ := strings.Cut(id, "@")
		if lower == id || (len(local) >= 4 && lower == local) {
			return "Your password must not be your e-mail address or phone number."
		}
	}
	return ""
}
