package idp

// ValidNationalCode checks an Iranian national id (code-e melli): ten
// digits, not all the same, whose last digit is the check digit of the
// first nine: s = Σ d[i]·(10−i); check = s mod 11 if that is below 2,
// otherwise 11 − (s mod 11).
func ValidNationalCode(code string) bool {
	if len(code) != 10 {
		return false
	}
	same := true
	for i := range code {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
		if code[i] != code[0] {
			same = false
		}
	}
	if same {
		return false
	}
	s := 0
	for i := range 9 {
		s += int(code[i]-'0') * (10 - i)
	}
	r := s % 11
	want := r
	if r >= 2 {
		want = 11 - r
	}
	return int(code[9]-'0') == want
}
