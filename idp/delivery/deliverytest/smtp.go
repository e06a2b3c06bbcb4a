package deliverytest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one received mail.
type Message struct {
	From, To string
	Data     []byte
}

// SMTP is a running SMTP server.
type SMTP struct {
	Addr string

	mu   sync.Mutex
	msgs []Message
	opts Options
	cond *sync.Cond
}

// Options shape the server's behaviour.
type Options struct {
	User, Pass string      // AUTH PLAIN credentials required ("" for none)
	RejectRcpt string      // a recipient answered 550
	TempFail   bool        // answer 451 to MAIL
	TLS        *tls.Config // offer STARTTLS with this, or serve implicit TLS
	Implicit   bool        // implicit TLS (smtps)
	Addr       string      // listen here (default a free loopback port)
}

// Start serves on loopback until the test ends.
func Start(t testing.TB, o Options) *SMTP {
	t.Helper()
	s := &SMTP{opts: o}
	s.cond = sync.NewCond(&s.mu)
	srv := smtp.NewServer(s)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = o.TLS == nil
	srv.TLSConfig = o.TLS
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	if o.Implicit {
		ln, err = tls.Listen("tcp", addr, o.TLS)
	} else {
		ln, err = net.Listen("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// Messages returns what was received so far.
func (s *SMTP) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Wait returns once n messages were received, or fails t after 20 s.
func (s *SMTP) Wait(t testing.TB, n int) []Message {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := s.Messages(); len(m) >= n {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 20 s for %d mails, have %d", n, len(s.Messages()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// NewSession implements smtp.Backend.
func (s *SMTP) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }

type session struct {
	s        *SMTP
	authed   bool
	from, to string
}

func (x *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (x *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != x.s.opts.User || pass != x.s.opts.Pass {
			return &smtp.SMTPError{Code: 535, Message: "authentication credentials invalid"}
		}
		x.authed = true
		return nil
	}), nil
}
func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if x.s.opts.User != "" && !x.authed {
		return &smtp.SMTPError{Code: 530, Message: "authentication required"}
	}
	if x.s.opts.TempFail {
		return &smtp.SMTPError{Code: 451, Message: "try again later"}
	}
	x.from = from
	return nil
}
func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if to == x.s.opts.RejectRcpt {
		return &smtp.SMTPError{Code: 550, Message: "no such user"}
	}
	x.to = to
	return nil
}
func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	x.s.msgs = append(x.s.msgs, Message{x.from, x.to, b})
	x.s.mu.Unlock()
	return nil
}
func (x *session) Reset()        {}
func (x *session) Logout() error { return nil }

// Parsed is a decoded mail.
type Parsed struct {
	Header     mail.Header
	Subject    string
	Text, HTML string
	Parts      []string // content types, in order
}

// Parse decodes a received mail: headers, RFC 2047 subject, and the text
// and HTML parts of a multipart/alternative body.
func Parse(raw []byte) (*Parsed, error) {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	p := &Parsed{Header: m.Header}
	if p.Subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); err != nil {
		return nil, err
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(mt, "multipart/") {
		return nil, errors.New("deliverytest: not a multipart mail")
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			return p, nil
		}
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(part)
		if err != nil {
			return nil, err
		}
		ct := part.Header.Get("Content-Type")
		p.Parts = append(p.Parts, ct)
		if strings.HasPrefix(ct, "text/html") {
			p.HTML = string(b)
		} else {
			p.Text = string(b)
		}
	}
}
