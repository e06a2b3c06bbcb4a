package legacy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestReadParams(t *testing.T) {
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
			p, err := readParams(r)
			if tc.bad {
				if err == nil {
					t.Fatalf("accepted %q: %v", tc.body, p.body)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			for k, v := range tc.want {
				if got := p.get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestFields(t *testing.T) {
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
			p, err := readParams(r)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := p.fields("custome_fields")
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

// FuzzDecodeBody: no body makes the decoder panic, and whatever it accepts
// reads back as text without error.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{`{"email":"a@b.co"}`, `{cnf:h-A1==}`, `{cnf:"x",'a':b}`, `a=b&c=d`, `{`, `{"a":[{"b":1}]}`, `{a:}`, `{:b}`, `{"a":1}{`} {
		f.Add("application/json", s)
		f.Add("", s)
	}
	f.Fuzz(func(t *testing.T, ct, body string) {
		body = strings.TrimSpace(body)
		if body == "" {
			return
		}
		m, err := decodeBody(ct, []byte(body))
		if err != nil {
			return
		}
		p := &params{body: m}
		for k := range m {
			_ = p.get(k)
			_, _ = p.fields(k)
		}
	})
}
