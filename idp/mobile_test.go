package idp

import "testing"

func TestNormalizeMobile(t *testing.T) {
	cases := []struct {
		name, number, seed, want string
	}{
		{"the legacy documents' example", "09111087815", "+98", "+989111087815"},
		{"seed without plus", "09111087815", "98", "+989111087815"},
		{"seed with 00", "9111087815", "0098", "+989111087815"},
		{"international, seed ignored", "+98 911 108 7815", "+1", "+989111087815"},
		{"00 international", "00989111087815", "", "+989111087815"},
		{"Persian digits and hyphens", "۰۹۱۱-۱۰۸-۷۸۱۵", "+۹۸", "+989111087815"},
		{"another country", "(020) 7946 0958", "+44", "+442079460958"},
		{"Iranian landline refused", "02188776655", "+98", ""},
		{"too short", "123", "+98", ""},
		{"too long", "+1234567890123456", "", ""},
		{"letters", "0911ABC7815", "+98", ""},
		{"national without seed", "09111087815", "", ""},
		{"bad seed", "09111087815", "+abc", ""},
		{"empty", "", "+98", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeMobile(tc.number, tc.seed)
			if got != tc.want || (err == nil) != (tc.want != "") {
				t.Fatalf("NormalizeMobile(%q, %q) = %q, %v; want %q", tc.number, tc.seed, got, err, tc.want)
			}
		})
	}
}
