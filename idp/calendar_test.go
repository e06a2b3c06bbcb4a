package idp

import (
	"testing"
	"time"
)

func TestJalaaliToGregorian(t *testing.T) {
	cases := []struct {
		name       string
		jy, jm, jd int
		gy, gm, gd int
		bad        bool
	}{
		{"the legacy documents' example", 1370, 1, 3, 1991, 3, 23, false},
		{"Nowruz 1399", 1399, 1, 1, 2020, 3, 20, false},
		{"Nowruz 1400", 1400, 1, 1, 2021, 3, 21, false},
		{"last day of leap 1403", 1403, 12, 30, 2025, 3, 20, false},
		{"end of Shahrivar (31 days)", 1402, 6, 31, 2023, 9, 22, false},
		{"first day of Mehr", 1402, 7, 1, 2023, 9, 23, false},
		{"Dey 1, Gregorian new year side", 1402, 10, 11, 2024, 1, 1, false},
		{"12/30 in a common year", 1402, 12, 30, 0, 0, 0, true},
		{"Mehr has 30 days", 1402, 7, 31, 0, 0, 0, true},
		{"month 13", 1402, 13, 1, 0, 0, 0, true},
		{"day 0", 1402, 1, 0, 0, 0, 0, true},
		{"out of range", 3200, 1, 1, 0, 0, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gy, gm, gd, err := JalaaliToGregorian(tc.jy, tc.jm, tc.jd)
			if (err != nil) != tc.bad || (!tc.bad && (gy != tc.gy || gm != tc.gm || gd != tc.gd)) {
				t.Fatalf("JalaaliToGregorian(%d,%d,%d) = %d-%d-%d, %v", tc.jy, tc.jm, tc.jd, gy, gm, gd, err)
			}
		})
	}
}

func TestValidNationalCode(t *testing.T) {
	cases := []struct {
		code string
		ok   bool
	}{
		{"0499370899", true},  // check digit 9 (remainder 2)
		{"0790419904", true},  // check digit 4
		{"4608968882", true},  // check digit 2
		{"0013542419", true},  // check digit 9
		{"0499370898", false}, // wrong check digit
		{"1111111111", false}, // all the same
		{"049937089", false},  // nine digits
		{"04993708990", false},
		{"04993708a9", false},
		{"", false},
	}
	for _, tc := range cases {
		if got := ValidNationalCode(tc.code); got != tc.ok {
			t.Errorf("ValidNationalCode(%q) = %v, want %v", tc.code, got, tc.ok)
		}
	}
}

// TestJalaaliRoundTrip: every day of 1300–1500 SH converts to Gregorian
// and back unchanged, and consecutive Solar Hijri days are consecutive
// Gregorian days (no gap or overlap at any month or year boundary).
func TestJalaaliRoundTrip(t *testing.T) {
	prev := time.Time{}
	for jy := 1300; jy <= 1500; jy++ {
		for jm := 1; jm <= 12; jm++ {
			for jd := 1; jd <= 31; jd++ {
				gy, gm, gd, err := JalaaliToGregorian(jy, jm, jd)
				if err != nil {
					continue // a day the month does not have
				}
				y, m, d, err := GregorianToJalaali(gy, gm, gd)
				if err != nil || y != jy || m != jm || d != jd {
					t.Fatalf("%d-%d-%d → %d-%d-%d → %d-%d-%d (%v)", jy, jm, jd, gy, gm, gd, y, m, d, err)
				}
				g := time.Date(gy, time.Month(gm), gd, 0, 0, 0, 0, time.UTC)
				if !prev.IsZero() && g.Sub(prev) != 24*time.Hour {
					t.Fatalf("%d-%d-%d is %v after the previous day", jy, jm, jd, g.Sub(prev))
				}
				prev = g
			}
		}
	}
}
