package dialects

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// fields are a request body's parameters.
type fields map[string]string

// errBadBody: a body that is neither a JSON object nor form-encoded.
var errBadBody = errors.New("dialects: the request body is not a JSON object or form data")

// errNotJSON: a body a JSON-only dialect (003) refuses for its content type.
var errNotJSON = errors.New("dialects: the request body is not declared as JSON")

const (
	// maxBody bounds a dialect's request body (credentials and a name).
	maxBody = 64 << 10
	// maxField bounds one parameter's text.
	maxField = 8 << 10
)

// readBody reads a request's body parameters. The documents send JSON as
// application/json, as text/plain, with an empty Content-Type, with none,
// and (curl --data-raw, PHP's CURLOPT_POSTFIELDS) as
// application/x-www-form-urlencoded: a body that starts with "{" is JSON
// whatever its type; anything else is form-encoded. An empty body is no
// parameters. jsonOnly refuses a non-empty body that is not declared as
// JSON (003's cookie-session API: a cross-site form cannot send one).
func readBody(r *http.Request, jsonOnly bool) (fields, error) {
	if r.Body == nil {
		return fields{}, nil
	}
	raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", errBadBody, err)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return fields{}, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if jsonOnly && ct != "application/json" && !strings.HasSuffix(ct, "+json") {
		return nil, errNotJSON
	}
	return decodeBody(raw)
}

// decodeBody decodes a JSON object (strings, numbers, booleans and null
// as values) or a form-encoded body.
func decodeBody(raw []byte) (fields, error) {
	if !utf8.Valid(raw) {
		return nil, errBadBody
	}
	out := fields{}
	if raw[0] != '{' {
		if raw[0] == '[' || !bytes.ContainsRune(raw, '=') {
			return nil, errBadBody // JSON that is not an object, or plain text
		}
		vs, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, errBadBody
		}
		for k, v := range vs {
			if len(v) > 0 && len(k) <= 128 {
				out[k] = clip(strings.TrimSpace(v[0]))
			}
		}
		return out, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, errBadBody
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errBadBody // trailing data
	}
	for k, v := range m {
		switch x := v.(type) {
		case nil:
		case string:
			out[k] = clip(strings.TrimSpace(x))
		case json.Number:
			out[k] = x.String()
		case bool:
			out[k] = fmt.Sprint(x)
		default:
			// An object or a list where the documents send text: the
			// handler sees the field as missing (never as its JSON).
			out[k] = ""
		}
	}
	return out, nil
}

func clip(s string) string {
	if len(s) > maxField {
		return s[:maxField]
	}
	return s
}

// get is the first of names present (exactly, then ignoring case: the
// documents spell "password" and "Password"), "" when none is.
func (f fields) get(names ...string) string {
	for _, n := range names {
		if v, ok := f[n]; ok {
			return v
		}
	}
	for _, n := range names {
		for k, v := range f {
			if strings.EqualFold(k, n) {
				return v
			}
		}
	}
	return ""
}

// truthy reads the documents' booleans: true, "true", 1, "1", "yes", "on".
func truthy(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes", "on":
		return true
	}
	return false
}
