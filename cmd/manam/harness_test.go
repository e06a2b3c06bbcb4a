package main

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/manam-id/manam/storage/storagetest"
)

// backend is a database the end-to-end tests run on.
type backend struct {
	name string
	dsn  func(t *testing.T) string // a fresh, empty database
}

// e2eBackends is SQLite always, and MySQL/MariaDB when MANAM_TEST_MYSQL_DSN
// is set; with MANAM_TEST_REQUIRE_MYSQL=1 a missing DSN fails instead of
// skipping (the storage suite's own rules, see storagetest).
func e2eBackends(t *testing.T) []backend {
	var bs []backend
	for _, b := range storagetest.Backends() {
		if b.Name == "mysql" && os.Getenv(storagetest.EnvMySQLDSN) == "" {
			if os.Getenv(storagetest.EnvRequireMySQL) == "1" {
				t.Fatalf("%s=1 but %s is not set", storagetest.EnvRequireMySQL, storagetest.EnvMySQLDSN)
			}
			t.Logf("%s not set: MySQL backend skipped", storagetest.EnvMySQLDSN)
			continue
		}
		bs = append(bs, backend{b.Name, func(t *testing.T) string { return b.NewDSN(t) }})
	}
	return bs
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testServer is the real manam server on a loopback port.
type testServer struct {
	URL string
	env map[string]string
	log *syncBuffer
}

const testSecret = "test-secret-0123456789-0123456789-abcdef"

// startServer runs `manam serve` (the real assembly, config loading
// included) on a loopback listener until the test ends. The server's log
// must show no error: a 5xx or a failed background job fails the test.
func startServer(t *testing.T, dsn string, extra map[string]string) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{URL: "http://" + ln.Addr().String(), log: &syncBuffer{}}
	s.env = map[string]string{
		"MANAM_DSN": dsn, "MANAM_ISSUER": s.URL, "MANAM_SECRET": testSecret, "MANAM_KEY_REFRESH": "1s",
		"MANAM_ARGON2_MEMORY_KIB": "8192", "MANAM_ARGON2_TIME": "1", "MANAM_LOG_LEVEL": "info",
	}
	for k, v := range extra {
		s.env[k] = v
	}
	cfg, err := loadConfig(newFlags("serve"), s.getenv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- serve(ctx, cfg, cfg.logger(s.log), ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("server did not shut down")
		}
		if strings.Contains(s.log.String(), "level=ERROR") {
			t.Errorf("server logged errors:\n%s", s.log.String())
		} else if t.Failed() {
			t.Logf("server log:\n%s", s.log.String())
		}
	})
	for i := 0; ; i++ {
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case err := <-errc:
			t.Fatalf("server exited: %v\n%s", err, s.log.String())
		case <-time.After(20 * time.Millisecond):
		}
		if i > 1000 {
			t.Fatal("server did not start")
		}
	}
	return s
}

func (s *testServer) getenv(k string) string { return s.env[k] }

// cli runs a manam subcommand against the server's database and returns stdout.
func (s *testServer) cli(t *testing.T, args ...string) string {
	t.Helper()
	out, code, errOut := s.cliCode(args...)
	if code != 0 {
		t.Fatalf("manam %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

func (s *testServer) cliCode(args ...string) (string, int, string) {
	var out, errb bytes.Buffer
	env := map[string]string{}
	for k, v := range s.env {
		env[k] = v
	}
	env["MANAM_LOG_LEVEL"] = "warn"
	code := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errb)
	return out.String(), code, errb.String()
}

// tenant is a tenant created through the CLI.
type tenant struct {
	ClientID      string `json:"client_id"`
	ClientSecret  string `json:"client_secret"`
	CustomerToken string `json:"customer_token"`
}

func (s *testServer) createTenant(t *testing.T, args ...string) tenant {
	t.Helper()
	out := s.cli(t, append([]string{"tenant", "create", "--json"}, args...)...)
	var tn tenant
	if err := json.Unmarshal([]byte(out), &tn); err != nil {
		t.Fatalf("tenant create output %q: %v", out, err)
	}
	return tn
}

// browser is a cookie-keeping user agent that follows redirects within
// the issuer and stops at the first redirect leaving it (to the client).
type browser struct {
	t      *testing.T
	c      *http.Client
	issuer *url.URL
}

func newBrowser(t *testing.T, issuer string) *browser {
	jar, _ := cookiejar.New(nil)
	iu, _ := url.Parse(issuer)
	b := &browser{t: t, issuer: iu}
	b.c = &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != iu.Host || len(via) > 10 {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

// page is a fetched response with its body read.
type page struct {
	*http.Response
	Body string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{resp, string(body)}
}

func (b *browser) get(u string) page {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) page {
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// formFields returns a page's hidden form fields.
func formFields(body string) url.Values {
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(body, -1) {
		v.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return v
}

// signIn walks an authorization request through the login and consent
// pages, as a person would, and returns where the server finally sends the
// browser (the client's redirect URI).
func (b *browser) signIn(authURL, email, password string) *url.URL {
	b.t.Helper()
	p := b.get(authURL)
	for range 6 {
		if p.StatusCode >= 300 && p.StatusCode < 400 {
			loc, err := p.Location()
			if err != nil {
				b.t.Fatalf("redirect without location: %v", err)
			}
			return loc
		}
		if p.StatusCode != http.StatusOK {
			b.t.Fatalf("%s: status %d: %s", p.Request.URL.Path, p.StatusCode, p.Body)
		}
		f := formFields(p.Body)
		switch p.Request.URL.Path {
		case "/login":
			f.Set("email", email)
			f.Set("password", password)
			p = b.post(b.issuer.String()+"/login", f)
		case "/consent":
			f.Set("action", "allow")
			p = b.post(b.issuer.String()+"/consent", f)
		default:
			b.t.Fatalf("unexpected page %s: %s", p.Request.URL, p.Body)
		}
	}
	b.t.Fatal("sign-in did not finish")
	return nil
}

// waitFor polls cond until it holds or 20 s pass (for a background reload,
// never a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
