package legacy

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
	"unicode"
	"unicode/utf8"
)

// params are a request's parameters from every place the documents put
// them: the body (JSON, the documents' unquoted JSON, or form-encoded, on
// any method including GET) first, then the query string.
type params struct {
	body  map[string]any
	query url.Values
}

// errBadBody: a body that is none of the accepted encodings.
var errBadBody = errors.New("legacy: the request body is not JSON or form-encoded")

// maxParam bounds one parameter's text.
const maxParam = 8 << 10

// readParams reads r's parameters. An empty body is fine; an unreadable
// one is errBadBody (or the body limit's error).
func readParams(r *http.Request) (*params, error) {
	p := &params{body: map[string]any{}, query: r.URL.Query()}
	if r.Body == nil {
		return p, nil
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", errBadBody, err)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return p, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	body, err := decodeBody(ct, raw)
	if err != nil {
		return nil, err
	}
	p.body = body
	return p, nil
}

// decodeBody decodes a body by its content type, falling back on what it
// looks like: the documents send JSON as text/plain, without a content
// type, or with unquoted keys and values ({cnf:h-A1…}).
func decodeBody(ct string, raw []byte) (map[string]any, error) {
	if !utf8.Valid(raw) {
		return nil, errBadBody
	}
	if ct == "application/x-www-form-urlencoded" || (raw[0] != '{' && ct != "application/json") {
		vs, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, errBadBody
		}
		out := map[string]any{}
		for k, v := range vs {
			if len(v) > 0 {
				out[k] = v[0]
			}
		}
		return out, nil
	}
	if raw[0] != '{' {
		return nil, errBadBody
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err == nil && out != nil {
		if _, err := dec.Token(); err == io.EOF {
			return out, nil
		}
	}
	return lenientObject(string(raw))
}

// lenientObject parses the documents' relaxed objects: {key:value, …}
// with keys and values optionally quoted ("…" or '…'), bare values ending
// at a comma or the closing brace. Nested values are not accepted.
func lenientObject(s string) (map[string]any, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, errBadBody
	}
	s = strings.TrimSpace(s[1 : len(s)-1])
	out := map[string]any{}
	for s != "" {
		key, rest, err := lenientToken(s, ":")
		if err != nil || key == "" {
			return nil, errBadBody
		}
		rest = strings.TrimLeftFunc(rest, unicode.IsSpace)
		if rest == "" || rest[0] != ':' {
			return nil, errBadBody
		}
		val, rest, err := lenientToken(strings.TrimLeftFunc(rest[1:], unicode.IsSpace), ",")
		if err != nil {
			return nil, errBadBody
		}
		out[key] = val
		rest = strings.TrimLeftFunc(rest, unicode.IsSpace)
		if rest != "" {
			if rest[0] != ',' {
				return nil, errBadBody
			}
			rest = strings.TrimLeftFunc(rest[1:], unicode.IsSpace)
		}
		s = rest
	}
	return out, nil
}

// lenientToken reads a quoted string, or bare text up to stop (exclusive).
func lenientToken(s, stop string) (string, string, error) {
	if s == "" {
		return "", "", nil
	}
	if q := s[0]; q == '"' || q == '\'' {
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			switch c := s[i]; {
			case c == '\\' && i+1 < len(s):
				i++
				b.WriteByte(s[i])
			case c == q:
				return b.String(), s[i+1:], nil
			default:
				b.WriteByte(c)
			}
		}
		return "", "", errBadBody
	}
	end := strings.IndexAny(s, stop)
	if end < 0 {
		end = len(s)
	}
	tok := strings.TrimSpace(s[:end])
	if strings.ContainsAny(tok, "{}[]\"") {
		return "", "", errBadBody
	}
	return tok, s[end:], nil
}

// lookup finds a parameter by any of names (exactly, then ignoring case),
// in the body first, then in the query.
func (p *params) lookup(names ...string) (any, bool) {
	for _, n := range names {
		if v, ok := p.body[n]; ok && v != nil {
			return v, true
		}
	}
	for _, n := range names {
		for k, v := range p.body {
			if v != nil && strings.EqualFold(k, n) {
				return v, true
			}
		}
	}
	for _, n := range names {
		if p.query.Has(n) {
			return p.query.Get(n), true
		}
	}
	for _, n := range names {
		for k, v := range p.query {
			if strings.EqualFold(k, n) && len(v) > 0 {
				return v[0], true
			}
		}
	}
	return nil, false
}

// get is a parameter as text ("" when absent): numbers and booleans as
// written, objects and arrays as compact JSON. Text over maxParam is cut.
func (p *params) get(names ...string) string {
	v, ok := p.lookup(names...)
	if !ok {
		return ""
	}
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case json.Number:
		s = x.String()
	case bool:
		if x {
			s = "true"
		} else {
			s = "false"
		}
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return ""
		}
		s = string(b)
	}
	s = strings.TrimSpace(s)
	if len(s) > maxParam {
		s = s[:maxParam]
	}
	return s
}

// has tells whether a parameter was sent at all.
func (p *params) has(names ...string) bool {
	_, ok := p.lookup(names...)
	return ok
}

// bracketFields reads custome_fields as jQuery form-encodes the documents'
// data object: custome_fields[0][phone]=…&custome_fields[0][address]=…
// (or custome_fields[phone]=…), merged by their last key; nil if none.
func (p *params) bracketFields(names ...string) map[string]any {
	var out map[string]any
	for k, v := range p.body {
		for _, n := range names {
			rest, ok := strings.CutPrefix(k, n+"[")
			if !ok || !strings.HasSuffix(rest, "]") {
				continue
			}
			segs := strings.Split(strings.TrimSuffix(rest, "]"), "][")
			if key := segs[len(segs)-1]; key != "" {
				if out == nil {
					out = map[string]any{}
				}
				out[key] = v
			}
		}
	}
	return out
}

// fields decodes the documents' custome_fields: an object, an array of
// objects (merged), or either as a JSON string. ok is false when the value
// is none of these.
func (p *params) fields(names ...string) (map[string]any, bool) {
	v, found := p.lookup(names...)
	if !found {
		return p.bracketFields(names...), true
	}
	if s, isText := v.(string); isText {
		s = strings.TrimSpace(s)
		if s == "" {
			return nil, true
		}
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
	}
	out := map[string]any{}
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			out[k] = val
		}
	case []any:
		for _, e := range x {
			m, isObj := e.(map[string]any)
			if !isObj {
				return nil, false
			}
			for k, val := range m {
				out[k] = val
			}
		}
	default:
		return nil, false
	}
	return out, true
}
