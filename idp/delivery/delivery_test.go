package delivery

import (
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
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/manam-id/manam/idp/delivery/deliverytest"
)

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

func TestSMTPSender(t *testing.T) {
	srvTLS, cliTLS := selfSigned(t)
	long := strings.Repeat("confirm ", 30) + "https://id.example/confirm?t=abc=def"
	m := Mail{From: "Manam <no-reply@id.example>", To: "رضا <reza@example.com>", Subject: "تأیید نشانی ایمیل — Confirm",
		Text: long, HTML: "<p>سلام <a href=\"https://id.example/c?t=1\">confirm</a></p>"}
	cases := []struct {
		name     string
		backend  *deliverytest.Options
		tls      *tls.Config
		implicit bool
		url      func(addr string) string
		wantErr  error // nil: delivered
		temp     bool  // a temporary failure (not ErrPermanent)
	}{
		{name: "plain smtp on loopback (mail catchers, tests)", backend: &deliverytest.Options{}, url: func(a string) string { return "smtp://" + a }},
		{name: "STARTTLS offered and used, with AUTH", backend: &deliverytest.Options{User: "u", Pass: "p w"}, tls: srvTLS,
			url: func(a string) string { return "smtp://u:p%20w@" + a }},
		{name: "implicit TLS (smtps) with AUTH", backend: &deliverytest.Options{User: "u", Pass: "p"}, tls: srvTLS, implicit: true,
			url: func(a string) string { return "smtps://u:p@" + a }},
		{name: "wrong password: retried (the operator fixes the configuration)", backend: &deliverytest.Options{User: "u", Pass: "p"}, tls: srvTLS,
			url: func(a string) string { return "smtp://u:nope@" + a }, temp: true},
		{name: "recipient rejected: permanent", backend: &deliverytest.Options{RejectRcpt: "reza@example.com"},
			url: func(a string) string { return "smtp://" + a }, wantErr: ErrPermanent},
		{name: "451: temporary", backend: &deliverytest.Options{TempFail: true}, url: func(a string) string { return "smtp://" + a }, temp: true},
		{name: "nothing listening: temporary", backend: nil, url: func(string) string { return "smtp://127.0.0.1:1" }, temp: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := ""
			var srv *deliverytest.SMTP
			if tc.backend != nil {
				o := *tc.backend
				o.TLS, o.Implicit = tc.tls, tc.implicit
				srv = deliverytest.Start(t, o)
				addr = srv.Addr
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
			msgs := srv.Messages()
			if len(msgs) != 1 || msgs[0].From != "no-reply@id.example" || msgs[0].To != "reza@example.com" {
				t.Fatalf("received %+v", msgs)
			}
			p, err := deliverytest.Parse(msgs[0].Data)
			if err != nil {
				t.Fatal(err)
			}
			if p.Subject != m.Subject || p.Text != m.Text || p.HTML != m.HTML {
				t.Fatalf("decoded subject %q text %q html %q", p.Subject, p.Text, p.HTML)
			}
			if p.Header.Get("Message-ID") == "" || p.Header.Get("Date") == "" || len(p.Parts) != 2 {
				t.Fatalf("headers %v parts %v", p.Header, p.Parts)
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
