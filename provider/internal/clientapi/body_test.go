package clientapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestReadStrict: the bodies of the documents 002–004.
func TestReadStrict(t *testing.T) {
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
		{name: "JSON-only refuses text/plain", ct: "text/plain", set: true, jsonOnly: true, body: `{"email":"a@b.co"}`, err: ErrNotJSON},
		{name: "JSON-only takes an empty body of any type", ct: "text/plain", set: true, jsonOnly: true, body: "", want: map[string]string{}},
		{name: "truncated JSON", ct: "application/json", set: true, body: `{"email":"a@b.co"`, err: ErrBadBody},
		{name: "trailing data", ct: "application/json", set: true, body: `{"email":"a@b.co"}{}`, err: ErrBadBody},
		{name: "JSON array", ct: "application/json", set: true, body: `["a"]`, err: ErrBadBody},
		{name: "invalid UTF-8", ct: "application/json", set: true, body: "{\"a\":\"\xff\"}", err: ErrBadBody},
		{name: "bad form escape", ct: "application/x-www-form-urlencoded", set: true, body: "email=%zz", err: ErrBadBody},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/authorization", strings.NewReader(tc.body))
			if tc.set {
				r.Header["Content-Type"] = []string{tc.ct}
			}
			f, err := Read(r, Rules{MaxBytes: 64 << 10, JSONOnly: tc.jsonOnly})
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
				if got := f.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestReadLimit(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"a":"`+strings.Repeat("x", 64<<10)+`"}`))
	var mbe *http.MaxBytesError
	if _, err := Read(r, Rules{MaxBytes: 64 << 10}); !errors.As(err, &mbe) {
		t.Fatalf("err = %v, want the body limit", err)
	}
}

// TestReadLoose: the legacy documents' bodies (000, 001).
func TestReadLoose(t *testing.T) {
	tests := []struct {
		name, method, target, ct, body string
		want                           map[string]string
		bad                            bool
	}{
		{name: "json", method: "POST", target: "/auth/login", ct: "application/json", body: `{"email":"a@b.co","password":"pw"}`, want: map[string]string{"email": "a@b.co", "password": "pw"}},
		{name: "form", method: "POST", target: "/auth/login", ct: "application/x-www-form-urlencoded", body: "email=a%40b.co&password=pw", want: map[string]string{"email": "a@b.co", "password": "pw"}},
		{name: "query", method: "GET", target: "/auth/confirm?cnf=abc", want: map[string]string{"cnf": "abc"}},
		{name: "GET with a JSON body", method: "GET", target: "/auth/confirm", ct: "application/json", body: `{"cnf":"abc=="}`, want: map[string]string{"cnf": "abc=="}},
		{name: "unquoted key and value (000 confirm)", method: "GET", target: "/auth/confirm", ct: "application/json", body: `{cnf:h-A1iPysWfQ9Mj5EYuCKZo9KJ5Ucc==}`, want: map[string]string{"cnf": "h-A1iPysWfQ9Mj5EYuCKZo9KJ5Ucc=="}},
		{name: "unquoted key, quoted value (001 confirm_sms)", method: "POST", target: "/auth/confirm_sms", ct: "application/json", body: `{cnf:"1237hsak"}`, want: map[string]string{"cnf": "1237hsak"}},
		{name: "mixed quoting (001 send_confirm_email)", method: "POST", target: "/x", ct: "application/json", body: `{userTpe:"email","email":"user@test.com",confirm_url:"tenant.com/confirm"}`, want: map[string]string{"email": "user@test.com", "confirm_url": "tenant.com/confirm", "userTpe": "email"}},
		{name: "text/plain JSON", method: "POST", target: "/x", ct: "text/plain", body: `{"email":"a@b.co"}`, want: map[string]string{"email": "a@b.co"}},
		{name: "no content type", method: "POST", target: "/x", body: `{"email":"a@b.co"}`, want: map[string]string{"email": "a@b.co"}},
		{name: "numbers and booleans", method: "POST", target: "/x", ct: "application/json", body: `{"mobile":9111087815,"ok":true}`, want: map[string]string{"mobile": "9111087815", "ok": "true"}},
		{name: "case-insensitive name (Code)", method: "POST", target: "/x", ct: "application/json", body: `{"Code":"me@x.co"}`, want: map[string]string{"code": "me@x.co"}},
		{name: "body wins over query", method: "POST", target: "/x?email=q@x.co", ct: "application/json", body: `{"email":"b@x.co"}`, want: map[string]string{"email": "b@x.co"}},
		{name: "truncated JSON", method: "POST", target: "/x", ct: "application/json", body: `{"email":"a@b.co"`, bad: true},
		{name: "JSON array", method: "POST", target: "/x", ct: "application/json", body: `["a"]`, bad: true},
		{name: "unterminated quote", method: "POST", target: "/x", ct: "application/json", body: `{cnf:"abc}`, bad: true},
		{name: "invalid UTF-8", method: "POST", target: "/x", ct: "application/json", body: "{\"a\":\"\xff\"}", bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			if tc.ct != "" {
				r.Header.Set("Content-Type", tc.ct)
			}
			p, err := Read(r, Rules{Loose: true, Query: true})
			if tc.bad {
				if err == nil {
					t.Fatalf("accepted %q: %v", tc.body, p)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			for k, v := range tc.want {
				if got := p.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestObject: the legacy documents' custome_fields.
func TestObject(t *testing.T) {
	tests := []struct {
		name, body string
		want       map[string]string
		bad        bool
	}{
		{name: "array of objects", body: `{"custome_fields":[{"phone":"887219031"},{"address":"Tehran"}]}`, want: map[string]string{"phone": "887219031", "address": "Tehran"}},
		{name: "object", body: `{"custome_fields":{"phone":"1"}}`, want: map[string]string{"phone": "1"}},
		{name: "JSON in a string", body: `{"custome_fields":"[{\"phone\":\"2\"}]"}`, want: map[string]string{"phone": "2"}},
		{name: "absent", body: `{}`, want: map[string]string{}},
		{name: "a number", body: `{"custome_fields":3}`, bad: true},
		{name: "array of numbers", body: `{"custome_fields":[1,2]}`, bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/json")
			p, err := Read(r, Rules{Loose: true, Query: true})
			if err != nil {
				t.Fatal(err)
			}
			got, ok := p.Object("custome_fields")
			if ok == tc.bad {
				t.Fatalf("ok = %v for %s", ok, tc.body)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %s", k, got[k], v)
				}
			}
		})
	}
}

// FuzzDecodeLoose: no body makes the loose decoder panic, and whatever it
// accepts reads back as text without error.
func FuzzDecodeLoose(f *testing.F) {
	for _, s := range []string{`{"email":"a@b.co"}`, `{cnf:h-A1==}`, `{cnf:"x",'a':b}`, `a=b&c=d`, `{`, `{"a":[{"b":1}]}`, `{a:}`, `{:b}`, `{"a":1}{`} {
		f.Add("application/json", s)
		f.Add("", s)
	}
	f.Fuzz(func(t *testing.T, ct, body string) {
		body = strings.TrimSpace(body)
		if body == "" {
			return
		}
		m, err := decode(ct, []byte(body), true)
		if err != nil {
			return
		}
		p := &Params{body: m, loose: true}
		for k := range m {
			_ = p.Get(k)
			_, _ = p.Object(k)
		}
	})
}

// FuzzDecodeStrict: no body makes the strict decoder panic, and whatever
// it accepts reads back as bounded text.
func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{`{"email":"a@b.co","password":"pw"}`, "{\n \"email\":\"qa1@uigtc.com\",\n \"password\":\"Ni3@solanki\"\n}",
		`email=a%40b.co&password=x`, `{`, `{"a":[{"b":1}]}`, `{"a":null,"b":1.5e3,"c":true}`, `{"a":1}{`, `%zz`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		raw := []byte(strings.TrimSpace(body))
		if len(raw) == 0 {
			return
		}
		m, err := decode("", raw, false)
		if err != nil {
			return
		}
		p := &Params{body: m}
		for k := range m {
			if v := p.Get(k); len(v) > maxParam {
				t.Fatalf("%s: %d bytes", k, len(v))
			}
		}
	})
}
