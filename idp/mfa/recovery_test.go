package mfa

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
)

var recoveryFormat = regexp.MustCompile(`^[a-z0-9]{5}-[a-z0-9]{5}$`)

func TestNewRecoveryCodes(t *testing.T) {
	tests := []struct {
		name string
		n    int
		want int
	}{
		{"default", 0, RecoveryCodeCount},
		{"one", 1, 1},
		{"ten", 10, 10},
		{"maximum", 100, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			codes, err := NewRecoveryCodes(tc.n, testRand(10))
			if err != nil {
				t.Fatal(err)
			}
			if len(codes) != tc.want {
				t.Fatalf("got %d codes, want %d", len(codes), tc.want)
			}
			seen := map[string]bool{}
			for _, c := range codes {
				if !recoveryFormat.MatchString(c) {
					t.Errorf("code %q does not match %s", c, recoveryFormat)
				}
				if seen[c] {
					t.Errorf("duplicate code %q", c)
				}
				seen[c] = true
				if n, err := NormalizeRecoveryCode(c); err != nil || n != c {
					t.Errorf("NormalizeRecoveryCode(%q) = %q, %v; want it unchanged", c, n, err)
				}
			}
		})
	}
}

func TestNewRecoveryCodesErrors(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		rand    interface{ Read([]byte) (int, error) }
		wantErr error
	}{
		{"negative count", -1, testRand(11), nil},
		{"too many", 101, testRand(11), nil},
		{"failing rand", 10, failingReader{}, errNoEntropy},
		{"nil rand", 10, nil, nil},
		{"rand that repeats itself", 2, constReader(7), nil},
		{"rand that yields only rejected bytes", 1, constReader(255), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var codes []string
			var err error
			if tc.rand == nil {
				codes, err = NewRecoveryCodes(tc.n, nil)
			} else {
				codes, err = NewRecoveryCodes(tc.n, tc.rand)
			}
			if err == nil {
				t.Fatalf("no error, codes %q", codes)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestRecoveryCodesRejectionSampling(t *testing.T) {
	// Bytes >= 252 are skipped, the others taken mod 36: this script yields
	// symbols 0..9. Taking every byte mod 36 would start with "aa".
	script := []byte{252, 0, 37, 254, 74, 3, 4, 5, 6, 255, 7, 8, 9, 253}
	src := bytes.NewReader(append(script, make([]byte, 64)...))
	codes, err := NewRecoveryCodes(1, src)
	if err != nil {
		t.Fatal(err)
	}
	if codes[0] != "abcde-fghij" {
		t.Errorf("code = %q, want %q", codes[0], "abcde-fghij")
	}
}

func TestRecoveryCodesUniform(t *testing.T) {
	// Every symbol of the alphabet shows up, in both groups, and no symbol
	// is grossly over-represented (a modulo bias toward a–d would be ~14%).
	codes, err := NewRecoveryCodes(100, testRand(12))
	if err != nil {
		t.Fatal(err)
	}
	more, err := NewRecoveryCodes(100, testRand(13))
	if err != nil {
		t.Fatal(err)
	}
	counts := map[rune]int{}
	total := 0
	for _, c := range append(codes, more...) {
		for _, r := range strings.ReplaceAll(c, "-", "") {
			counts[r]++
			total++
		}
	}
	for _, r := range recoveryAlphabet {
		if counts[r] == 0 {
			t.Errorf("symbol %q never drawn", r)
		}
		if counts[r] > 2*total/len(recoveryAlphabet) {
			t.Errorf("symbol %q drawn %d times of %d", r, counts[r], total)
		}
	}
	if len(counts) != len(recoveryAlphabet) {
		t.Errorf("drew %d distinct symbols, want %d", len(counts), len(recoveryAlphabet))
	}
}

func TestNormalizeRecoveryCode(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // "" means ErrMalformed
	}{
		{"canonical", "qh7eg-78iii", "qh7eg-78iii"},
		{"upper case", "QH7EG-78III", "qh7eg-78iii"},
		{"without dash", "qh7eg78iii", "qh7eg-78iii"},
		{"surrounding spaces", "  qh7eg-78iii\n", "qh7eg-78iii"},
		{"space instead of dash", "qh7eg 78iii", "qh7eg-78iii"},
		{"spaces everywhere", "qh 7eg - 78i ii", "qh7eg-78iii"},
		{"digits only", "12345-67890", "12345-67890"},
		{"empty", "", ""},
		{"dash only", "-", ""},
		{"too short", "qh7eg-78ii", ""},
		{"too long", "qh7eg-78iiii", ""},
		{"too long without dash", "qh7eg78iiii", ""},
		{"dash misplaced", "qh7e-g78iii", ""},
		{"two dashes", "qh7eg--78iii", ""},
		{"leading dash", "-qh7eg78iii", ""},
		{"trailing dash", "qh7eg78iii-", ""},
		{"underscore", "qh7eg_78iii", ""},
		{"punctuation", "qh7eg-78ii!", ""},
		{"non-ASCII letter", "qh7eé-78iii", ""},
		{"Kelvin sign folds to k in Unicode, not here", "qh7e\u212a-78iii", ""},
		{"Persian digits", "۱۲۳۴۵-۶۷۸۹۰", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeRecoveryCode(tc.in)
			if tc.want == "" {
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("NormalizeRecoveryCode(%q) = %q, %v; want ErrMalformed", tc.in, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("NormalizeRecoveryCode(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestMatchCode(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	otherKey := []byte("fedcba9876543210fedcba9876543210")
	codes, err := NewRecoveryCodes(10, testRand(14))
	if err != nil {
		t.Fatal(err)
	}
	hashes := make([]string, len(codes))
	for i, c := range codes {
		hashes[i] = HashCode(key, "acct-1", c)
	}
	otherHashes := make([]string, len(codes))
	for i, c := range codes {
		otherHashes[i] = HashCode(key, "acct-2", c)
	}

	tests := []struct {
		name      string
		key       []byte
		account   string
		code      string
		hashes    []string
		wantIndex int
		wantOK    bool
	}{
		{"first code", key, "acct-1", codes[0], hashes, 0, true},
		{"middle code", key, "acct-1", codes[4], hashes, 4, true},
		{"last code", key, "acct-1", codes[9], hashes, 9, true},
		{"typed loosely", key, "acct-1", strings.ToUpper(strings.ReplaceAll(codes[6], "-", " ")), hashes, 6, true},
		{"wrong code", key, "acct-1", "aaaaa-aaaaa", hashes, -1, false},
		{"another account's code list", key, "acct-1", codes[3], otherHashes, -1, false},
		{"right code, other account id", key, "acct-2", codes[3], hashes, -1, false},
		{"other key", otherKey, "acct-1", codes[3], hashes, -1, false},
		{"malformed code", key, "acct-1", "not a code", hashes, -1, false},
		{"empty list", key, "acct-1", codes[3], nil, -1, false},
		{"empty stored hashes", key, "acct-1", codes[3], []string{"", ""}, -1, false},
		{"used code removed", key, "acct-1", codes[2], append(append([]string{}, hashes[:2]...), hashes[3:]...), -1, false},
		{"duplicate hash: first index", key, "acct-1", codes[1], []string{hashes[0], hashes[1], hashes[1]}, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			idx, ok := MatchCode(tc.key, tc.account, tc.code, tc.hashes)
			if idx != tc.wantIndex || ok != tc.wantOK {
				t.Errorf("MatchCode = %d, %v; want %d, %v", idx, ok, tc.wantIndex, tc.wantOK)
			}
		})
	}
}

func TestHashCode(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	base := HashCode(key, "acct-1", "qh7eg-78iii")
	tests := []struct {
		name    string
		key     []byte
		account string
		code    string
		same    bool
	}{
		{"deterministic", key, "acct-1", "qh7eg-78iii", true},
		{"normalised spelling", key, "acct-1", " QH7EG78III ", true},
		{"other code", key, "acct-1", "qh7eg-78iij", false},
		{"other account", key, "acct-2", "qh7eg-78iii", false},
		{"account id/code boundary moved", key, "acct-1qh7eg", "-78iii", false},
		{"other key", []byte("0123456789abcdef0123456789abcdeF"), "acct-1", "qh7eg-78iii", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := HashCode(tc.key, tc.account, tc.code)
			if (got == base) != tc.same {
				t.Errorf("HashCode = %s, base %s, want same=%v", got, base, tc.same)
			}
			if strings.Contains(got, "qh7eg") || len(got) != 64 {
				t.Errorf("HashCode = %q: want 64 hex characters", got)
			}
		})
	}
}

func TestHashCodeShortKeyPanics(t *testing.T) {
	tests := []struct {
		name string
		key  []byte
	}{
		{"nil", nil},
		{"15 bytes", make([]byte, 15)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			HashCode(tc.key, "acct-1", "qh7eg-78iii")
		})
	}
}
