package dialects

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestReadBody(t *testing.T) {
	tests := []struct {
		name, ct, body string
		set            bool // send the Content-Type header (even empty)
		jsonOnly       bool
		want           map[string]string
		err            error
	}{
		{name: "JSON", ct: "application/json", set: true, body: `{"email":"a@b.co","password":"pw"}`, want: map[string]string{"email": "a@b.co", "password": "pw"}},
		{name: "JSON as text/plain (002's RestSharp and OkHttp examples)", ct: "text/plain", set: true, body: "{\n \"email\":\"a@b.co\",\n \"password\":\"pw\"\n}", want: map[string]string{"email": "a@b.co", "password": "pw"}},
		{name: "JSON with an empty Content-Type (002's Python, Ruby, Swift, jQuery)", ct: "", set: true, body: `{"email":"a@b.co"}`, want: map[string]string{"email": "a@b.co"}},
		{name: "JSON without Content-Type (002's Go example)", body: `{"email":"a@b.co"}`, want: map[string]string{"email": "a@b.co"}},
		{name: "JSON as form-urlencoded (002's curl --data-raw and PHP)", ct: "application/x-www-form-urlencoded", set: true, body: `{"email":"a@b.co","password":"Ni3@solanki"}`, want: map[string]string{"email": "a@b.co", "password": "Ni3@solanki"}},
		{name: "form", ct: "application/x-www-form-urlencoded", set: true, body: "email=a%40b.co&password=p%26w", want: map[string]string{"email": "a@b.co", "password": "p&w"}},
		{name: "Password spelled as the table does", ct: "application/json", set: true, body: `{"email":"a@b.co","Password":"pw"}`, want: map[string]string{"password": "pw"}},
		{name: "numbers and booleans as written", ct: "application/json", set: true, body: `{"password":123456,"isPersistent":true}`, want: map[string]string{"password": "123456", "isPersistent": "true"}},
		{name: "an object where text belongs reads as missing", ct: "application/json", set: true, body: `{"email":{"$ne":""}}`, want: map[string]string{"email": ""}},
		{name: "empty body", ct: "application/json", set: true, body: "", want: map[string]string{"email": ""}},
		{name: "JSON-only accepts +json", ct: "application/vnd.api+json", set: true, jsonOnly: true, body: `{"email":"a@b.co"}`, want: map[string]string{"email": "a@b.co"}},
		{name: "JSON-only refuses text/plain", ct: "text/plain", set: true, jsonOnly: true, body: `{"email":"a@b.co"}`, err: errNotJSON},
		{name: "JSON-only takes an empty body of any type", ct: "text/plain", set: true, jsonOnly: true, body: "", want: map[string]string{}},
		{name: "truncated JSON", ct: "application/json", set: true, body: `{"email":"a@b.co"`, err: errBadBody},
		{name: "trailing data", ct: "application/json", set: true, body: `{"email":"a@b.co"}{}`, err: errBadBody},
		{name: "JSON array", ct: "application/json", set: true, body: `["a"]`, err: errBadBody},
		{name: "invalid UTF-8", ct: "application/json", set: true, body: "{\"a\":\"\xff\"}", err: errBadBody},
		{name: "bad form escape", ct: "application/x-www-form-urlencoded", set: true, body: "email=%zz", err: errBadBody},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/authorization", strings.NewReader(tc.body))
			if tc.set {
				r.Header["Content-Type"] = []string{tc.ct}
			}
			f, err := readBody(r, tc.jsonOnly)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v (fields %v)", err, tc.err, f)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			for k, v := range tc.want {
				if got := f.get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestReadBodyLimit(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"a":"`+strings.Repeat("x", maxBody)+`"}`))
	var mbe *http.MaxBytesError
	if _, err := readBody(r, false); !errors.As(err, &mbe) {
		t.Fatalf("err = %v, want the body limit", err)
	}
}

func TestMemberKey(t *testing.T) {
	b := &base{d: Deps{MemberKey: []byte(strings.Repeat("k", 32))}}
	k := b.memberKey("tenant", "account")
	tests := []struct {
		name  string
		other string
		same  bool
	}{
		{"stable", b.memberKey("tenant", "account"), true},
		{"another tenant", b.memberKey("tenant2", "account"), false},
		{"another account", b.memberKey("tenant", "account2"), false},
		{"no ambiguity at the boundary", b.memberKey("tenanta", "ccount"), false},
		{"another secret", (&base{d: Deps{MemberKey: []byte(strings.Repeat("j", 32))}}).memberKey("tenant", "account"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if (tc.other == k) != tc.same {
				t.Fatalf("%s vs %s", tc.other, k)
			}
		})
	}
	if len(k) != 36 || k[14] != '8' || !strings.ContainsAny(k[19:20], "89ab") || strings.Contains(k, "account") {
		t.Fatalf("key %q is not a version-8 UUID", k)
	}
	if d := decoyKey(); len(d) != 36 || d[14] != '8' || d == decoyKey() {
		t.Fatalf("decoy %q", d)
	}
}

func TestTestCaptcha(t *testing.T) {
	tests := []struct {
		name, value, answer string
		ok                  bool
	}{
		{"the value", "let-me-in", "let-me-in", true},
		{"another", "let-me-in", "let-me-out", false},
		{"empty answer", "let-me-in", "", false},
		{"no value configured", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := TestCaptcha{Value: tc.value}.VerifyCaptcha(t.Context(), tc.answer, "127.0.0.1")
			if err != nil || ok != tc.ok {
				t.Fatalf("ok %v err %v", ok, err)
			}
		})
	}
}

// FuzzDecodeBody: no body makes the decoder panic, and whatever it accepts
// reads back as bounded text.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{`{"email":"a@b.co","password":"pw"}`, "{\n \"email\":\"qa1@uigtc.com\",\n \"password\":\"Ni3@solanki\"\n}",
		`email=a%40b.co&password=x`, `{`, `{"a":[{"b":1}]}`, `{"a":null,"b":1.5e3,"c":true}`, `{"a":1}{`, `%zz`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		raw := []byte(strings.TrimSpace(body))
		if len(raw) == 0 {
			return
		}
		m, err := decodeBody(raw)
		if err != nil {
			return
		}
		for k, v := range m {
			if len(v) > maxField {
				t.Fatalf("%s: %d bytes", k, len(v))
			}
			_ = m.get(k)
		}
	})
}
