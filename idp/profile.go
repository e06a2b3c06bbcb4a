package idp

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/manam-id/manam/storage"
)

var tooLong = map[int]string{
	100: "Use at most 100 characters, without < or >.",
	200: "Use at most 200 characters, without < or >.",
	500: "Use at most 500 characters, without < or >.",
}

// ProfileInput is a profile as a form or an API sends it: every field text.
type ProfileInput struct {
	Name, FirstName, LastName, NationalCode, Birthday, PictureURL, Address, PostalCode, MaritalStatus,
	FacebookID, InstagramID, TwitterID, LinkedInID, Document, Telephone string
}

// MaritalStatuses are the accepted values of the marital status.
var MaritalStatuses = []string{"single", "married", "divorced", "widowed"}

var (
	handleRE    = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
	postalRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 -]{1,10}[A-Za-z0-9]$`)
	telephoneRE = regexp.MustCompile(`^\+?[0-9][0-9 -]{2,18}[0-9]$`)
	dateRE      = regexp.MustCompile(`^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$`)
)

// toASCIIDigits turns Persian and Arabic-Indic digits into ASCII ones.
func toASCIIDigits(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= '۰' && r <= '۹':
			return '0' + (r - '۰')
		case r >= '٠' && r <= '٩':
			return '0' + (r - '٠')
		}
		return r
	}, s)
}

func plainText(s string, max int) bool {
	return utf8.RuneCountInString(s) <= max && !strings.ContainsAny(s, "\x00\r<>")
}

// ParseBirthday reads YYYY-MM-DD (or with /), in ASCII or Persian digits,
// Gregorian or Solar Hijri: a year before 1700 is taken as Solar Hijri
// (the legacy clients send 1370-01-03). It returns the Gregorian date and
// the calendar it came in.
func ParseBirthday(s string, now time.Time) (time.Time, string, error) {
	m := dateRE.FindStringSubmatch(toASCIIDigits(strings.TrimSpace(s)))
	if m == nil {
		return time.Time{}, "", errors.New("Enter a date as YYYY-MM-DD, Gregorian or Solar Hijri (such as 1370-01-03).")
	}
	y, _ := strconv.Atoi(m[1])
	mo, _ := strconv.Atoi(m[2])
	d, _ := strconv.Atoi(m[3])
	cal := "gregorian"
	if y < 1700 {
		gy, gm, gd, err := JalaaliToGregorian(y, mo, d)
		if err != nil {
			return time.Time{}, "", errors.New("This date does not exist.")
		}
		y, mo, d, cal = gy, gm, gd, "solar_hijri"
	}
	t := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC)
	if t.Year() != y || int(t.Month()) != mo || t.Day() != d {
		return time.Time{}, "", errors.New("This date does not exist.")
	}
	if t.After(now) || t.Before(now.AddDate(-150, 0, 0)) {
		return time.Time{}, "", errors.New("A birthday cannot be in the future or more than 150 years ago.")
	}
	return t, cal, nil
}

// FormatBirthday writes a stored birthday in the calendar it was given in.
func FormatBirthday(p storage.Profile) string {
	if p.Birthday == nil {
		return ""
	}
	b := p.Birthday.UTC()
	if p.BirthdayCalendar == "solar_hijri" {
		if jy, jm, jd, err := GregorianToJalaali(b.Year(), int(b.Month()), b.Day()); err == nil {
			return fmt.Sprintf("%04d-%02d-%02d", jy, jm, jd)
		}
	}
	return b.Format("2006-01-02")
}

// ParseProfile validates every field and reports every problem together,
// keyed by the form field's name.
func (s *Accounts) ParseProfile(in ProfileInput) (string, storage.Profile, FieldErrors) {
	fe := FieldErrors{}
	var p storage.Profile
	tr := strings.TrimSpace
	name := tr(in.Name)
	if !plainText(name, 200) {
		fe["name"] = "Use at most 200 characters, without < or >."
	}
	for _, f := range []struct {
		key string
		val string
		dst *string
		max int
	}{
		{"first_name", in.FirstName, &p.FirstName, 100}, {"last_name", in.LastName, &p.LastName, 100},
		{"address", in.Address, &p.Address, 500}, {"document", in.Document, &p.Document, 200},
	} {
		v := tr(f.val)
		if !plainText(v, f.max) {
			fe[f.key] = tooLong[f.max]
		}
		*f.dst = v
	}
	if v := toASCIIDigits(tr(in.NationalCode)); v != "" {
		if !ValidNationalCode(v) {
			fe["national_code"] = "Enter a valid Iranian national code: 10 digits with a correct check digit."
		}
		p.NationalCode = v
	}
	if v := tr(in.Birthday); v != "" {
		b, cal, err := ParseBirthday(v, s.now())
		if err != nil {
			fe["birthday"] = err.Error()
		} else {
			p.Birthday, p.BirthdayCalendar = &b, cal
		}
	}
	if v := tr(in.PictureURL); v != "" {
		u, err := url.Parse(v)
		if err != nil || u.Scheme != "https" || u.Host == "" || len(v) > 2000 || u.User != nil {
			fe["picture_url"] = "Enter an https:// address."
		}
		p.PictureURL = v
	}
	if v := toASCIIDigits(tr(in.PostalCode)); v != "" {
		if !postalRE.MatchString(v) {
			fe["postal_code"] = "Use 3 to 12 letters, digits, spaces or hyphens."
		}
		p.PostalCode = v
	}
	if v := tr(in.MaritalStatus); v != "" {
		ok := false
		for _, m := range MaritalStatuses {
			ok = ok || v == m
		}
		if !ok {
			fe["marital_status"] = "Choose one of the listed options."
		}
		p.MaritalStatus = v
	}
	for _, f := range []struct {
		key, val string
		dst      *string
	}{{"facebook_id", in.FacebookID, &p.FacebookID}, {"instagram_id", in.InstagramID, &p.InstagramID},
		{"twitter_id", in.TwitterID, &p.TwitterID}, {"linkedin_id", in.LinkedInID, &p.LinkedInID}} {
		v := strings.TrimPrefix(tr(f.val), "@")
		if v != "" && !handleRE.MatchString(v) {
			fe[f.key] = "Use letters, digits, dots, underscores or hyphens."
		}
		*f.dst = v
	}
	if v := toASCIIDigits(tr(in.Telephone)); v != "" {
		if !telephoneRE.MatchString(v) {
			fe["telephone"] = "Use digits, spaces, hyphens and an optional leading +."
		}
		p.Telephone = v
	}
	return name, p, fe
}

// ProfileStore changes profiles.
type ProfileStore interface {
	UpdateProfile(ctx context.Context, id, name string, p storage.Profile) error
}

// SaveProfile validates and stores a signed-in user's profile; invalid
// input changes nothing and comes back as FieldErrors.
func (s *Accounts) SaveProfile(ctx context.Context, accountID string, in ProfileInput) error {
	name, p, fe := s.ParseProfile(in)
	if len(fe) > 0 {
		return fe
	}
	if s.profiles == nil {
		return errors.New("idp: profile changes are not configured")
	}
	return s.profiles.UpdateProfile(ctx, accountID, name, p)
}
