package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"text/template"
	"time"
)

// SMSSender sends text messages.
type SMSSender interface {
	SendSMS(ctx context.Context, to, text string) error
}

// LogSMS writes each SMS, code included, to the log: the development
// default (MANAM_SMS_URL=log).
type LogSMS struct{ Log *slog.Logger }

// SendSMS implements SMSSender.
func (l LogSMS) SendSMS(ctx context.Context, to, text string) error {
	l.Log.InfoContext(ctx, "sms (MANAM_SMS_URL=log: not sent)", "to", to, "text", text)
	return nil
}

// GatewayOptions describe a generic HTTP SMS gateway.
type GatewayOptions struct {
	URL         string // the endpoint
	Method      string // default POST
	AuthHeader  string // "Name: value", e.g. "Authorization: Bearer …"
	ContentType string // default application/json
	// BodyTemplate is a text/template over {{.To}} and {{.Text}}, with the
	// functions json (a JSON string) and urlquery. Default:
	// {"to":{{json .To}},"text":{{json .Text}}}
	BodyTemplate string
	Timeout      time.Duration // default 15 s
	Client       *http.Client  // default: a client with Timeout
}

// Gateway sends SMS through an HTTP API.
type Gateway struct {
	o      GatewayOptions
	tpl    *template.Template
	header string
	value  string
}

// DefaultSMSBody is the default gateway body template.
const DefaultSMSBody = `{"to":{{json .To}},"text":{{json .Text}}}`

// NewGateway validates the options.
func NewGateway(o GatewayOptions) (*Gateway, error) {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("delivery: SMS gateway URL must be an http(s) URL")
	}
	if o.Method == "" {
		o.Method = http.MethodPost
	}
	if o.ContentType == "" {
		o.ContentType = "application/json"
	}
	if o.BodyTemplate == "" {
		o.BodyTemplate = DefaultSMSBody
	}
	if o.Timeout == 0 {
		o.Timeout = 15 * time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: o.Timeout}
	}
	g := &Gateway{o: o}
	if o.AuthHeader != "" {
		name, value, ok := strings.Cut(o.AuthHeader, ":")
		if !ok || strings.TrimSpace(name) == "" || strings.ContainsAny(o.AuthHeader, "\r\n") {
			return nil, fmt.Errorf("delivery: SMS auth header must be \"Name: value\"")
		}
		g.header, g.value = strings.TrimSpace(name), strings.TrimSpace(value)
	}
	g.tpl, err = template.New("sms").Funcs(template.FuncMap{
		"json":     func(s string) (string, error) { b, err := json.Marshal(s); return string(b), err },
		"urlquery": url.QueryEscape,
	}).Parse(o.BodyTemplate)
	if err != nil {
		return nil, fmt.Errorf("delivery: SMS body template: %w", err)
	}
	return g, nil
}

// SendSMS implements SMSSender. A 4xx answer (but 408 and 429) is ErrPermanent.
func (g *Gateway) SendSMS(ctx context.Context, to, text string) error {
	var body bytes.Buffer
	if err := g.tpl.Execute(&body, struct{ To, Text string }{to, text}); err != nil {
		return fmt.Errorf("%w: SMS body: %w", ErrPermanent, err)
	}
	req, err := http.NewRequestWithContext(ctx, g.o.Method, g.o.URL, &body)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPermanent, err)
	}
	req.Header.Set("Content-Type", g.o.ContentType)
	if g.header != "" {
		req.Header.Set(g.header, g.value)
	}
	resp, err := g.o.Client.Do(req)
	if err != nil {
		return fmt.Errorf("delivery: SMS gateway: %w", err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != 408 && resp.StatusCode != 429:
		return fmt.Errorf("%w: SMS gateway: %s: %s", ErrPermanent, resp.Status, snippet)
	default:
		return fmt.Errorf("delivery: SMS gateway: %s: %s", resp.Status, snippet)
	}
}
