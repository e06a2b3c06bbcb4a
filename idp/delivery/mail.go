package delivery

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strings"
	"time"
)

// ErrPermanent marks a failure that retrying cannot fix (a rejected
// recipient, a 4xx from the SMS gateway): the message is given up at once.
var ErrPermanent = errors.New("delivery: permanent failure")

// Mail is one message to send.
type Mail struct {
	From, To, Subject, Text, HTML string
}

// MailSender sends mail.
type MailSender interface {
	SendMail(ctx context.Context, m Mail) error
}

// LogMailer writes each mail, link or code included, to the log: the
// development default (MANAM_SMTP_URL=log).
type LogMailer struct{ Log *slog.Logger }

// SendMail implements MailSender.
func (l LogMailer) SendMail(ctx context.Context, m Mail) error {
	l.Log.InfoContext(ctx, "mail (MANAM_SMTP_URL=log: not sent)", "from", m.From, "to", m.To, "subject", m.Subject, "text", m.Text)
	return nil
}

// SMTP sends mail to one SMTP server.
type SMTP struct {
	host, addr string
	implicit   bool // smtps://
	user, pass string
	tls        *tls.Config
	hello      string
	timeout    time.Duration
}

// SMTPOptions tune an SMTP sender.
type SMTPOptions struct {
	// TLS is the client TLS configuration (nil: system roots, ServerName from the URL).
	TLS *tls.Config
	// HelloName is sent in EHLO (default "localhost").
	HelloName string
	// Timeout bounds one delivery (default 30 s).
	Timeout time.Duration
}

// NewSMTP parses smtp://[user:pass@]host[:port] (port 587 by default;
// STARTTLS when offered) or smtps://[user:pass@]host[:port] (port 465,
// implicit TLS).
func NewSMTP(raw string, o SMTPOptions) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" || u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("delivery: SMTP URL must be smtp://[user:pass@]host[:port] or smtps://…")
	}
	s := &SMTP{host: u.Hostname(), implicit: u.Scheme == "smtps", tls: o.TLS, hello: o.HelloName, timeout: o.Timeout}
	port := u.Port()
	if port == "" {
		port = "587"
		if s.implicit {
			port = "465"
		}
	}
	s.addr = net.JoinHostPort(s.host, port)
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	if s.tls == nil {
		s.tls = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if s.tls.ServerName == "" {
		s.tls = s.tls.Clone()
		s.tls.ServerName = s.host
	}
	if s.hello == "" {
		s.hello = "localhost"
	}
	if s.timeout == 0 {
		s.timeout = 30 * time.Second
	}
	return s, nil
}

// SendMail implements MailSender. Only a 5xx about this message (its
// recipient refused, its content refused) is ErrPermanent; a failure of the
// connection, TLS, authentication or sender is the server's or the
// configuration's and is retried, so fixing it delivers what waited.
func (s *SMTP) SendMail(ctx context.Context, m Mail) (err error) {
	msg, err := compose(m)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPermanent, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	d := &net.Dialer{}
	var conn net.Conn
	if s.implicit {
		conn, err = (&tls.Dialer{NetDialer: d, Config: s.tls}).DialContext(ctx, "tcp", s.addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", s.addr)
	}
	if err != nil {
		return fmt.Errorf("delivery: smtp %s: %w", s.addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return smtpErr("greeting", err, false)
	}
	defer c.Close()
	if err := c.Hello(s.hello); err != nil {
		return smtpErr("EHLO", err, false)
	}
	if !s.implicit {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tls); err != nil {
				return smtpErr("STARTTLS", err, false)
			}
		}
	}
	if s.user != "" {
		// net/smtp refuses PLAIN over an unencrypted connection except to localhost.
		if err := c.Auth(smtp.PlainAuth("", s.user, s.pass, s.host)); err != nil {
			return smtpErr("AUTH", err, false)
		}
	}
	from, _ := mail.ParseAddress(m.From)
	to, _ := mail.ParseAddress(m.To)
	if err := c.Mail(from.Address); err != nil {
		return smtpErr("MAIL FROM", err, false)
	}
	if err := c.Rcpt(to.Address); err != nil {
		return smtpErr("RCPT TO", err, true)
	}
	w, err := c.Data()
	if err != nil {
		return smtpErr("DATA", err, false)
	}
	if _, err := w.Write(msg); err != nil {
		return smtpErr("DATA", err, false)
	}
	if err := w.Close(); err != nil {
		return smtpErr("end of DATA", err, true)
	}
	_ = c.Quit()
	return nil
}

// smtpErr wraps a failed step; a 5xx at a step about the message itself
// (messageStep) is permanent.
func smtpErr(step string, err error, messageStep bool) error {
	var te *textproto.Error
	if messageStep && errors.As(err, &te) && te.Code >= 500 {
		return fmt.Errorf("%w: smtp %s: %w", ErrPermanent, step, err)
	}
	return fmt.Errorf("delivery: smtp %s: %w", step, err)
}

// compose builds an RFC 5322 message: multipart/alternative text and HTML,
// quoted-printable UTF-8, RFC 2047 subject. Addresses are parsed, so no
// header can be injected through them.
func compose(m Mail) ([]byte, error) {
	from, err := mail.ParseAddress(m.From)
	if err != nil {
		return nil, fmt.Errorf("bad sender %q: %w", m.From, err)
	}
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return nil, fmt.Errorf("bad recipient %q: %w", m.To, err)
	}
	subject := strings.Join(strings.Fields(m.Subject), " ")
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	domain := from.Address[strings.LastIndex(from.Address, "@")+1:]

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	parts := []struct{ ctype, content string }{{"text/plain; charset=utf-8", m.Text}}
	if m.HTML != "" {
		parts = append(parts, struct{ ctype, content string }{"text/html; charset=utf-8", m.HTML})
	}
	for _, p := range parts {
		pw, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {p.ctype}, "Content-Transfer-Encoding": {"quoted-printable"}})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(pw)
		if _, err := qp.Write([]byte(p.content)); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&out, "%s: %s\r\n", k, v) }
	h("From", from.String())
	h("To", to.String())
	h("Subject", mime.QEncoding.Encode("utf-8", subject))
	h("Date", time.Now().UTC().Format(time.RFC1123Z))
	h("Message-ID", "<"+hex.EncodeToString(id)+"@"+domain+">")
	h("MIME-Version", "1.0")
	h("Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
	out.WriteString("\r\n")
	out.Write(body.Bytes())
	return out.Bytes(), nil
}
