package delivery

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// --- a real SMTP server on loopback ------------------------------------------

type received struct {
	from, to string
	data     []byte
}

type smtpBackend struct {
	mu         sync.Mutex
	msgs       []received
	user, pass string // required AUTH PLAIN credentials, "" for none
	rejectRcpt string // a recipient answered 550
	tempFail   bool   // answer 451 to MAIL
}

func (b *smtpBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return &smtpSession{b: b}, nil }

func (b *smtpBackend) messages() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.msgs...)
}

type smtpSession struct {
	b        *smtpBackend
	authed   bool
	from, to string
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.b.user || pass != s.b.pass {
			return &smtp.SMTPError{Code: 535, Message: "authentication credentials invalid"}
		}
		s.authed = true
		return nil
	}), nil
}
func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.b.user != "" && !s.authed {
		return &smtp.SMTPError{Code: 530, Message: "authentication required"}
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if s.b.tempFail {
		return &smtp.SMTPError{Code: 451, Message: "try again later"}
	}
	s.from = from
	return nil
}
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if to == s.b.rejectRcpt {
		return &smtp.SMTPError{Code: 550, Message: "no such user"}
	}
	s.to = to
	return nil
}
func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.b.mu.Lock()
	s.b.msgs = append(s.b.msgs, received{s.from, s.to, b})
	s.b.mu.Unlock()
	return nil
}
func (s *smtpSession) Reset()        {}
func (s *smtpSession) Logout() error { return nil }

// selfSigned makes a certificate for 127.0.0.1 and a client config trusting it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, &tls.Config{RootCAs: pool}
}

// startSMTP serves be on loopback: plain (tlsConf nil), STARTTLS offered
// (tlsConf set), or implicit TLS (implicit).
func startSMTP(t *testing.T, be *smtpBackend, tlsConf *tls.Config, implicit bool) string {
	t.Helper()
	s := smtp.NewServer(be)
	s.Domain = "localhost"
	s.AllowInsecureAuth = tlsConf == nil
	s.TLSConfig = tlsConf
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	var ln net.Listener
	var err error
	if implicit {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", tlsConf)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	return ln.Addr().String()
}

// startSMTPOn serves be, plain, on addr.
func startSMTPOn(t *testing.T, be *smtpBackend, addr string) string {
	t.Helper()
	s := smtp.NewServer(be)
	s.Domain = "localhost"
	s.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	return ln.Addr().String()
}

// parsed is a received message, decoded.
type parsed struct {
	header      mail.Header
	subject     string
	text, html  string
	partsHeader []string
}

func parse(t *testing.T, raw []byte) parsed {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("message does not parse: %v\n%s", err, raw)
	}
	p := parsed{header: m.Header}
	p.subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(part)
		ct := part.Header.Get("Content-Type")
		p.partsHeader = append(p.partsHeader, ct)
		if strings.HasPrefix(ct, "text/html") {
			p.html = string(b)
		} else {
			p.text = string(b)
		}
	}
	return p
}

func TestSMTPSender(t *testing.T) {
	srvTLS, cliTLS := selfSigned(t)
	long := strings.Repeat("confirm ", 30) + "https://id.example/confirm?t=abc=def"
	m := Mail{From: "Manam <no-reply@id.example>", To: "رضا <reza@example.com>", Subject: "تأیید نشانی ایمیل — Confirm",
		Text: long, HTML: "<p>سلام <a href=\"https://id.example/c?t=1\">confirm</a></p>"}
	cases := []struct {
		name     string
		backend  *smtpBackend
		tls      *tls.Config
		implicit bool
		url      func(addr string) string
		wantErr  error // nil: delivered
		temp     bool  // a temporary failure (not ErrPermanent)
	}{
		{name: "plain smtp on loopback (mail catchers, tests)", backend: &smtpBackend{}, url: func(a string) string { return "smtp://" + a }},
		{name: "STARTTLS offered and used, with AUTH", backend: &smtpBackend{user: "u", pass: "p w"}, tls: srvTLS,
			url: func(a string) string { return "smtp://u:p%20w@" + a }},
		{name: "implicit TLS (smtps) with AUTH", backend: &smtpBackend{user: "u", pass: "p"}, tls: srvTLS, implicit: true,
			url: func(a string) string { return "smtps://u:p@" + a }},
		{name: "wrong password: retried (the operator fixes the configuration)", backend: &smtpBackend{user: "u", pass: "p"}, tls: srvTLS,
			url: func(a string) string { return "smtp://u:nope@" + a }, temp: true},
		{name: "recipient rejected: permanent", backend: &smtpBackend{rejectRcpt: "reza@example.com"},
			url: func(a string) string { return "smtp://" + a }, wantErr: ErrPermanent},
		{name: "451: temporary", backend: &smtpBackend{tempFail: true}, url: func(a string) string { return "smtp://" + a }, temp: true},
		{name: "nothing listening: temporary", backend: nil, url: func(string) string { return "smtp://127.0.0.1:1" }, temp: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := ""
			if tc.backend != nil {
				addr = startSMTP(t, tc.backend, tc.tls, tc.implicit)
			}
			s, err := NewSMTP(tc.url(addr), SMTPOptions{TLS: cliTLS, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			err = s.SendMail(context.Background(), m)
			switch {
			case tc.temp:
				if err == nil || errors.Is(err, ErrPermanent) {
					t.Fatalf("want a temporary failure, got %v", err)
				}
				return
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("want %v, got %v", tc.wantErr, err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			msgs := tc.backend.messages()
			if len(msgs) != 1 || msgs[0].from != "no-reply@id.example" || msgs[0].to != "reza@example.com" {
				t.Fatalf("received %+v", msgs)
			}
			p := parse(t, msgs[0].data)
			if p.subject != m.Subject || p.text != m.Text || p.html != m.HTML {
				t.Fatalf("decoded subject %q text %q html %q", p.subject, p.text, p.html)
			}
			if p.header.Get("Message-ID") == "" || p.header.Get("Date") == "" || len(p.partsHeader) != 2 {
				t.Fatalf("headers %v parts %v", p.header, p.partsHeader)
			}
		})
	}
}

func TestComposeRefusesHeaderInjection(t *testing.T) {
	for _, to := range []string{"a@example.com\r\nBcc: victim@example.com", "not an address", ""} {
		if _, err := compose(Mail{From: "a@example.com", To: to, Subject: "s", Text: "t"}); err == nil {
			t.Errorf("composed a mail to %q", to)
		}
	}
	raw, err := compose(Mail{From: "a@example.com", To: "b@example.com", Subject: "hi\r\nBcc: x@example.com", Text: "t"})
	if err != nil || strings.Contains(string(raw), "\r\nBcc:") {
		t.Fatalf("subject injected a header: %v\n%s", err, raw)
	}
}

func TestSMTPURL(t *testing.T) {
	cases := []struct {
		url string
		ok  bool
	}{
		{"smtp://mail.example.com", true}, {"smtps://u:p@mail.example.com:465", true}, {"smtp://127.0.0.1:2525", true},
		{"http://mail.example.com", false}, {"smtp://", false}, {"mail.example.com:25", false},
	}
	for _, tc := range cases {
		if _, err := NewSMTP(tc.url, SMTPOptions{}); (err == nil) != tc.ok {
			t.Errorf("NewSMTP(%q) = %v", tc.url, err)
		}
	}
}

func TestGateway(t *testing.T) {
	type call struct {
		method, ctype, auth, body string
	}
	var mu sync.Mutex
	var calls []call
	status := http.StatusOK
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		calls = append(calls, call{r.Method, r.Header.Get("Content-Type"), r.Header.Get("X-Api-Key"), string(b)})
		st := status
		mu.Unlock()
		w.WriteHeader(st)
	}))
	defer gw.Close()
	cases := []struct {
		name     string
		opts     GatewayOptions
		status   int
		wantBody string
		wantErr  error
		temp     bool
	}{
		{name: "default JSON body", opts: GatewayOptions{URL: gw.URL, AuthHeader: "X-Api-Key: k1"}, status: 200,
			wantBody: `{"to":"+989111087815","text":"کد شما: 123456 \"x\""}`},
		{name: "form template", opts: GatewayOptions{URL: gw.URL, ContentType: "application/x-www-form-urlencoded",
			BodyTemplate: "receptor={{urlquery .To}}&message={{urlquery .Text}}"}, status: 200,
			wantBody: "receptor=%2B989111087815&message=%DA%A9%D8%AF+%D8%B4%D9%85%D8%A7%3A+123456+%22x%22"},
		{name: "4xx is permanent", opts: GatewayOptions{URL: gw.URL}, status: 400, wantErr: ErrPermanent},
		{name: "429 is temporary", opts: GatewayOptions{URL: gw.URL}, status: 429, temp: true},
		{name: "5xx is temporary", opts: GatewayOptions{URL: gw.URL}, status: 503, temp: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			calls, status = nil, tc.status
			mu.Unlock()
			g, err := NewGateway(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			err = g.SendSMS(context.Background(), "+989111087815", `کد شما: 123456 "x"`)
			switch {
			case tc.temp:
				if err == nil || errors.Is(err, ErrPermanent) {
					t.Fatalf("want temporary, got %v", err)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("want %v, got %v", tc.wantErr, err)
				}
			case err != nil:
				t.Fatal(err)
			default:
				mu.Lock()
				defer mu.Unlock()
				if len(calls) != 1 || calls[0].body != tc.wantBody || calls[0].method != "POST" || calls[0].auth != tc.opts.AuthHeader[min(len(tc.opts.AuthHeader), 11):] {
					t.Fatalf("gateway got %+v", calls)
				}
			}
		})
	}
	for _, bad := range []GatewayOptions{{URL: "ftp://x"}, {URL: gw.URL, AuthHeader: "no colon"}, {URL: gw.URL, BodyTemplate: "{{"}} {
		if _, err := NewGateway(bad); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))
