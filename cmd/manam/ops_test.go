package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestGracefulShutdown: a request in flight when the server is told to stop
// still gets its answer; new connections are refused afterwards.
func TestGracefulShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	env := map[string]string{"MANAM_DSN": "sqlite:" + t.TempDir() + "/g.db", "MANAM_ISSUER": "http://" + addr, "MANAM_SECRET": testSecret, "MANAM_LOG_LEVEL": "warn"}
	cfg, err := loadConfig(newFlags("serve"), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, cfg.logger(&syncBuffer{}), ln) }()
	waitFor(t, "the server", func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})

	// Start a request whose body is still on its way...
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := "grant_type=client_credentials&client_id=nobody&client_secret=x"
	fmt.Fprintf(conn, "POST /oauth2/token HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", addr, len(body), body[:10])
	time.Sleep(100 * time.Millisecond)
	// ...then ask the server to stop, and finish sending.
	stop()
	time.Sleep(100 * time.Millisecond)
	if _, err := conn.Write([]byte(body[10:])); err != nil {
		t.Fatalf("in-flight request cut off: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request got no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("in-flight request: status %d, want 401 invalid_client", resp.StatusCode)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(25 * time.Second):
		t.Fatal("server did not stop")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("the stopped server still accepts connections")
	}
}

// TestReplicasShareSessions: two servers on one database, as behind a load
// balancer: a browser signed in through one is signed in on the other, and
// a login page minted by one is completed on the other.
func TestReplicasShareSessions(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			dsn := be.dsn(t)
			a := startServer(t, dsn, nil)
			b := startServer(t, dsn, nil)
			a.cli(t, "user", "create", "--email", alice, "--password", alicePass)
			tn := a.createTenant(t, "--name", "App", "--redirect-uri", rpRedirect, "--first-party")
			conf := func(s *testServer) *oauth2.Config {
				return &oauth2.Config{ClientID: tn.ClientID, ClientSecret: tn.ClientSecret, RedirectURL: rpRedirect, Scopes: []string{"openid"},
					Endpoint: oauth2.Endpoint{AuthURL: s.URL + "/oauth2/auth", TokenURL: s.URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}}
			}
			// The login page comes from A; the form is posted to B.
			br := newBrowser(t, a.URL)
			p := br.get(conf(a).AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
			if p.Request.URL.Path != "/login" {
				t.Fatalf("no login page: %s", p.Request.URL)
			}
			f := formFields(p.Body)
			f.Set("email", alice)
			f.Set("password", alicePass)
			br.issuer.Host = strings.TrimPrefix(b.URL, "http://")
			p = br.post(b.URL+"/login", f)
			loc, err := p.Location()
			if err != nil || loc.Query().Get("code") == "" {
				t.Fatalf("login posted to the other replica: %d %v %s", p.StatusCode, loc, p.Body)
			}
			// The session cookie set by B is honoured by A (cookies are per host, not port).
			br.issuer.Host = strings.TrimPrefix(a.URL, "http://")
			verifier := oauth2.GenerateVerifier()
			loc = br.signIn(conf(a).AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "none")), "", "")
			code := loc.Query().Get("code")
			if code == "" {
				t.Fatalf("the session from B is not known to A: %s", loc)
			}
			// And A's code is redeemed at B.
			if _, err := conf(b).Exchange(context.Background(), code, oauth2.VerifierOption(verifier)); err != nil {
				t.Fatalf("code from A redeemed at B: %v", err)
			}
		})
	}
}
