package clientapi

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

// ErrBadBody: a body that is none of the encodings the dialect accepts.
var ErrBadBody = errors.New("clientapi: the request body is not a JSON object or form data")

// ErrNotJSON: a body a JSON-only endpoint refuses for its content type.
var ErrNotJSON = errors.New("clientapi: the request body is not declared as JSON")

const (
	// maxParam bounds one parameter's text.
	maxParam = 8 << 10
	// maxKey bounds a form key under strict rules.
	maxKey   = 128
	formType = "application/x-www-form-urlencoded"
)

// Rules say how a dialect's documents send their parameters.
type Rules struct {
	// MaxBytes bounds the body (0: only the server's limit).
	MaxBytes int64
	// JSONOnly refuses a non-empty body that is not declared as JSON
	// (ErrNotJSON): a cross-site form cannot send one.
	JSONOnly bool
	// Loose reads the bodies of the legacy documents (000, 001): a body
	// declared form-encoded, or any that does not start with "{" and is
	// not declared JSON, is a form; an object that is not valid JSON is
	// read as their unquoted {key:value, …}; an object or a list where
	// text belongs reads as its JSON text (and Object decodes it).
	// Otherwise (strict: 002–004) a body that starts with "{" is one JSON
	// object whatever its declared type (their curl --data-raw sends JSON
	// as a form), anything else a form with at least one "="; an object or
	// a list where text belongs reads as missing; form keys over 128
	// bytes are dropped.
	Loose bool
	// Query adds the query string's parameters after the body's.
	Query bool
}

// Params are a request's parameters: the body's, then (Rules.Query) the
// query string's.
type Params struct {
	body  map[string]any
	query url.Values
	loose bool
}

// Read reads r's parameters. An empty body is none; an unreadable one is
// ErrBadBody, ErrNotJSON or the body limit's *http.MaxBytesError.
func Read(r *http.Request, rules Rules) (*Params, error) {
	p := &Params{body: map[string]any{}, loose: rules.Loose}
	if rules.Query {
		p.query = r.URL.Query()
	}
	if r.Body == nil {
		return p, nil
	}
	var body io.Reader = r.Body
	if rules.MaxBytes > 0 {
		body = http.MaxBytesReader(nil, r.Body, rules.MaxBytes)
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrBadBody, err)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return p, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if rules.JSONOnly && ct != "application/json" && !strings.HasSuffix(ct, "+json") {
		return nil, ErrNotJSON
	}
	if p.body, err = decode(ct, raw, rules.Loose); err != nil {
		return nil, err
	}
	return p, nil
}

// decode decodes a non-empty body by its content type and its first
// byte (see Rules.Loose).
func decode(ct string, raw []byte, loose bool) (map[string]any, error) {
	if !utf8.Valid(raw) {
		return nil, ErrBadBody
	}
	switch {
	case loose && (ct == formType || raw[0] != '{' && ct != "application/json"):
		return decodeForm(raw, 0)
	case !loose && raw[0] != '{':
		if raw[0] == '[' || !bytes.ContainsRune(raw, '=') {
			return nil, ErrBadBody // JSON that is not an object, or plain text
		}
		return decodeForm(raw, maxKey)
	case raw[0] != '{':
		return nil, ErrBadBody
	}
	m, err := decodeObject(raw)
	if err != nil && loose {
		return lenientObject(string(raw))
	}
	return m, err
}

// decodeForm decodes a form-encoded body: each key's first value, keys
// longer than maxLen (when > 0) dropped.
func decodeForm(raw []byte, maxLen int) (map[string]any, error) {
	vs, err := url.ParseQuery(string(raw))
	if err != nil {
		return nil, ErrBadBody
	}
	out := map[string]any{}
	for k, v := range vs {
		if len(v) > 0 && (maxLen == 0 || len(k) <= maxLen) {
			out[k] = v[0]
		}
	}
	return out, nil
}

// decodeObject decodes exactly one JSON object, numbers as json.Number.
func decodeObject(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, ErrBadBody
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, ErrBadBody // trailing data
	}
	return m, nil
}

// lenientObject parses the legacy documents' relaxed objects:
// {key:value, …} with keys and values optionally quoted ("…" or '…'),
// bare values ending at a comma or the closing brace. Nested values are
// not accepted.
func lenientObject(s string) (map[string]any, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, ErrBadBody
	}
	s = strings.TrimSpace(s[1 : len(s)-1])
	out := map[string]any{}
	for s != "" {
		key, rest, err := lenientToken(s, ":")
		if err != nil || key == "" {
			return nil, ErrBadBody
		}
		rest = strings.TrimLeftFunc(rest, unicode.IsSpace)
		if rest == "" || rest[0] != ':' {
			return nil, ErrBadBody
		}
		val, rest, err := lenientToken(strings.TrimLeftFunc(rest[1:], unicode.IsSpace), ",")
		if err != nil {
			return nil, ErrBadBody
		}
		out[key] = val
		rest = strings.TrimLeftFunc(rest, unicode.IsSpace)
		if rest != "" {
			if rest[0] != ',' {
				return nil, ErrBadBody
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
		return "", "", ErrBadBody
	}
	end := strings.IndexAny(s, stop)
	if end < 0 {
		end = len(s)
	}
	tok := strings.TrimSpace(s[:end])
	if strings.ContainsAny(tok, "{}[]\"") {
		return "", "", ErrBadBody
	}
	return tok, s[end:], nil
}

// Lookup finds a parameter by any of names (exactly, then ignoring case:
// the documents spell "password" and "Password"), in the body first,
// then in the query: its value as decoded (a string, a json.Number, a
// bool, an object or a list). A null is no value.
func (p *Params) Lookup(names ...string) (any, bool) {
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

// Get is a parameter as text, trimmed ("" when absent): numbers and
// booleans as written, an object or a list as its compact JSON under
// loose rules and as "" under strict ones (never as its JSON: {"$ne":""}
// is no e-mail address). Text over 8 KiB is cut.
func (p *Params) Get(names ...string) string {
	v, ok := p.Lookup(names...)
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
		s = fmt.Sprint(x)
	default:
		if !p.loose {
			return ""
		}
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

// Has tells whether a parameter was sent at all.
func (p *Params) Has(names ...string) bool {
	_, ok := p.Lookup(names...)
	return ok
}

// Set sets a body parameter (a handler that hands the call on to
// another, with a value it found elsewhere).
func (p *Params) Set(name, value string) { p.body[name] = value }

// String lists the body's parameter names (for a test's failure message).
func (p *Params) String() string {
	names := make([]string, 0, len(p.body))
	for k := range p.body {
		names = append(names, k)
	}
	return fmt.Sprint(names)
}

// Object decodes an object parameter (the legacy documents'
// custome_fields): an object, a list of objects (merged), or either as a
// JSON string; absent, the bracketed form keys jQuery sends for one
// (custome_fields[0][phone]=…, merged by their last key; nil if none).
// ok is false when the value is none of these.
func (p *Params) Object(names ...string) (map[string]any, bool) {
	v, found := p.Lookup(names...)
	if !found {
		return p.bracketed(names...), true
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

// bracketed reads an object sent as bracketed form keys.
func (p *Params) bracketed(names ...string) map[string]any {
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
