package clientapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/idp/i18n"
	"github.com/manam-id/manam/provider"
)

// Phrase is an English message (a key of the Persian catalog) with its
// arguments, translated when written.
type Phrase struct {
	Key  string
	Args []any
}

// Say makes a phrase; every user-facing text of the dialects goes through
// it (idp/pages' catalog test scans for its calls).
func Say(key string, args ...any) Phrase { return Phrase{Key: key, Args: args} }

// In is the phrase in l.
func (p Phrase) In(l i18n.Lang) string { return i18n.T(l, p.Key, p.Args...) }

// Problem is a failure as a dialect answers it: a status, its messages
// (one per failing rule), the failing fields, the location the documents
// send the caller to, and any field a dialect adds to its failure shape.
// Each dialect's one failure writer renders it.
type Problem struct {
	Status   int
	Msgs     []Phrase
	Fields   map[string]Phrase
	Location string
	Extra    map[string]any
}

func (p *Problem) Error() string { return fmt.Sprintf("clientapi: %d %v", p.Status, p.Msgs) }

// Refusal is a problem with one message.
func Refusal(status int, msg Phrase) *Problem {
	return &Problem{Status: status, Msgs: []Phrase{msg}}
}

// WithFields adds the account service's field errors (field → message).
func (p *Problem) WithFields(fe idp.FieldErrors) *Problem {
	if p.Fields == nil {
		p.Fields = map[string]Phrase{}
	}
	for k, v := range fe {
		p.Fields[k] = Phrase{Key: v}
	}
	return p
}

// MethodError is a request with a method its path does not take.
type MethodError struct{ Allowed []string }

func (e *MethodError) Error() string {
	return "clientapi: use " + strings.Join(e.Allowed, " or ")
}

// Classify turns a handler's (or the table's) error into the problem
// every dialect answers alike: a Problem as it is; a wrong method 405; a
// body too large 413, not declared JSON 415, unreadable 400; throttling
// 429 (with Retry-After); field errors 400, one message per field. Any
// other failure is ours (the database, the mail queue): logged once as
// "<what> request failed" with attrs (at Info when the client hung up),
// and a 503 with no detail.
func Classify(w http.ResponseWriter, r *http.Request, err error, log *slog.Logger, what string, attrs ...any) *Problem {
	var (
		p   *Problem
		me  *MethodError
		mbe *http.MaxBytesError
		fe  idp.FieldErrors
	)
	switch {
	case errors.As(err, &p):
		return p
	case errors.As(err, &me):
		return Refusal(http.StatusMethodNotAllowed, Say("Use the %s method for this address.", strings.Join(me.Allowed, " or ")))
	case errors.As(err, &mbe):
		return Refusal(http.StatusRequestEntityTooLarge, Say("The request body is too large."))
	case errors.Is(err, ErrNotJSON):
		return Refusal(http.StatusUnsupportedMediaType, Say("Send the request body as JSON (Content-Type: application/json)."))
	case errors.Is(err, ErrBadBody):
		return Refusal(http.StatusBadRequest, Say("The request body is not valid JSON."))
	case errors.Is(err, idp.ErrThrottled):
		w.Header().Set("Retry-After", "60")
		return Refusal(http.StatusTooManyRequests, Say("Too many attempts. Wait a few minutes and try again."))
	case errors.As(err, &fe):
		p := &Problem{Status: http.StatusBadRequest}
		p.WithFields(fe)
		keys := make([]string, 0, len(fe))
		for k := range fe {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p.Msgs = append(p.Msgs, Phrase{Key: fe[k]})
		}
		return p
	}
	ctx := r.Context()
	if ctx.Err() != nil {
		// The client hung up: its request's work was cancelled.
		log.InfoContext(ctx, what+" request abandoned by the client", "path", r.URL.Path, "err", err)
	} else {
		log.ErrorContext(ctx, what+" request failed", append(slices.Clip(attrs), "request_id", provider.RequestID(ctx), "path", r.URL.Path, "err", err)...)
	}
	return Refusal(http.StatusServiceUnavailable, Say("The service is unavailable right now. Please try again in a moment."))
}
