//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// envRequireRoot turns the skip of tests that need root (to mount a small
// file system) into a failure; CI runs as root.
const envRequireRoot = "MANAM_TEST_REQUIRE_ROOT"

// mountTmpfs mounts a tmpfs of size bytes on a fresh directory and
// unmounts it when the test ends (after every server the test started has
// stopped: cleanups run last-registered first).
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv(envRequireRoot) != "" {
			t.Fatalf("%s is set but the test does not run as root: cannot mount a small file system", envRequireRoot)
		}
		t.Skipf("needs root to mount a small tmpfs (%d MiB); set %s=1 to make this a failure", size>>20, envRequireRoot)
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fillDisk writes path until the file system has no space left.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		_, err := f.Write(chunk)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			t.Fatalf("fill %s: %v", path, err)
		}
	}
	// Leftover pages smaller than a chunk.
	for _, err := f.Write(chunk[:4096]); err == nil; _, err = f.Write(chunk[:4096]) {
	}
	for _, err := f.Write(chunk[:1]); err == nil; _, err = f.Write(chunk[:1]) {
	}
}

// diskServer is `manam serve` on a fixed loopback address, stopped and
// started again by the test (a restart), with errors in its log allowed
// (a full disk is logged as one).
type diskServer struct {
	addr string
	env  map[string]string
	log  *syncBuffer
	stop func()
}

func (s *diskServer) URL() string { return "http://" + s.addr }

// start runs the server and waits until it listens; it fails the test if
// serve returns an error.
func (s *diskServer) start(t *testing.T) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 100 { // the address of the previous run may take a moment to free
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if a := ln.Addr().String(); a != s.addr {
		// The first start picks the port; a restart reuses it (the load's
		// goroutines read the address meanwhile: written only once).
		s.addr = a
		s.env["MANAM_ISSUER"] = s.URL()
	}
	cfg, err := loadConfig(newFlags("serve"), func(k string) string { return s.env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- serve(ctx, cfg, cfg.logger(s.log), ln) }()
	s.stop = func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(25 * time.Second):
			t.Error("server did not shut down")
		}
		s.stop = func() {}
	}
	t.Cleanup(func() { s.stop() })
	waitFor(t, "the server", func() bool {
		select {
		case err := <-errc:
			t.Fatalf("server exited: %v\n%s", err, s.log.String())
		default:
		}
		resp, err := http.Get(s.URL() + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
}

// ccLoad is a bounded load that writes: a few clients each asking for a
// client-credentials token (which costs no write: access tokens are not
// stored) and revoking it (a row of the revocation table) every 20 ms,
// counting the answers by status (the revocation's, or the token
// request's when it failed).
type ccLoad struct {
	mu     sync.Mutex
	counts map[int]int // status → answers since the last take
	bad    []string    // answers neither 200 nor 503
	stop   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

func startCCLoad(srv *diskServer, tn tenant, clients int) *ccLoad {
	l := &ccLoad{counts: map[int]int{}, stop: make(chan struct{})}
	hc := &http.Client{Timeout: 10 * time.Second}
	for range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				code, body := tokenRequest(hc, srv.URL(), tn)
				if code == http.StatusOK {
					code, body = revokeRequest(hc, srv.URL(), tn, body)
				}
				l.mu.Lock()
				l.counts[code]++
				if code != http.StatusOK && code != http.StatusServiceUnavailable && code != 0 {
					l.bad = append(l.bad, fmt.Sprintf("%d %s", code, body))
				}
				l.mu.Unlock()
				// Paced: the revocation rows must fit on the disk for
				// the seconds the test runs.
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	return l
}

// take returns the answers counted since the last take and starts afresh.
func (l *ccLoad) take() map[int]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.counts
	l.counts = map[int]int{}
	return c
}

// close stops the clients (once) and returns the answers neither 200 nor 503.
func (l *ccLoad) close() []string {
	l.once.Do(func() {
		close(l.stop)
		l.wg.Wait()
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bad
}

// tokenRequest asks for a client-credentials token; status 0 when the
// server did not answer.
func tokenRequest(hc *http.Client, base string, tn tenant) (int, string) {
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth2/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(tn.ClientID, tn.ClientSecret)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// revokeRequest revokes the access token of a token answer (RFC 7009).
func revokeRequest(hc *http.Client, base string, tn tenant, answer string) (int, string) {
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(answer), &tok); err != nil {
		return -1, answer
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth2/revoke", strings.NewReader(url.Values{"token": {tok.AccessToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(tn.ClientID, tn.ClientSecret)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func getStatus(t *testing.T, u string) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// TestSQLiteFullDiskRecovers: SQLite on an 8 MiB file system under
// a load that writes (client-credentials tokens revoked). Filled by another file, every answer is 503
// (never a 500) and /readyz says 503; once the file is deleted the same
// server answers 200 again within seconds, and stays up under the load
// (the write-ahead log does not grow back to fill the disk). A server
// restarted while the disk is full starts, answers 503, and recovers the
// same way once space is freed. Nothing issued before is lost.
func TestSQLiteFullDiskRecovers(t *testing.T) {
	dir := mountTmpfs(t, 8<<20)
	db := filepath.Join(dir, "manam.db")
	wal := db + "-wal"
	filler := filepath.Join(dir, "filler")
	srv := &diskServer{addr: "127.0.0.1:0", log: &syncBuffer{}, env: map[string]string{
		"MANAM_DSN": "sqlite:" + db, "MANAM_SECRET": testSecret, "MANAM_LOG_LEVEL": "warn",
		"MANAM_ARGON2_MEMORY_KIB": "8192", "MANAM_ARGON2_TIME": "1",
	}}
	srv.start(t)
	ts := &testServer{URL: srv.URL(), env: srv.env, log: srv.log}
	tn := ts.createTenant(t, "--name", "Disk", "--grant", "client_credentials", "--scope", "read")
	hc := &http.Client{Timeout: 10 * time.Second}
	code, body := tokenRequest(hc, srv.URL(), tn)
	if code != http.StatusOK {
		t.Fatalf("token before the load: %d %s", code, body)
	}
	before := body // a token issued before the disk filled: it must survive

	load := startCCLoad(srv, tn, 4)
	t.Cleanup(func() { load.close() })
	time.Sleep(500 * time.Millisecond)
	if c := load.take(); c[http.StatusOK] == 0 {
		t.Fatalf("no token issued under load before the disk filled: %v", c)
	}
	t.Logf("before filling: WAL %d bytes, database %d bytes", fileSize(wal), fileSize(db))

	// Full, under load: 503 everywhere, readiness included.
	full := func(phase string) {
		t.Helper()
		time.Sleep(500 * time.Millisecond) // answers in flight when the disk filled
		load.take()
		time.Sleep(time.Second)
		c := load.take()
		t.Logf("%s, disk full: answers %v, WAL %d bytes", phase, c, fileSize(wal))
		if c[http.StatusServiceUnavailable] == 0 || c[http.StatusOK] > 0 {
			t.Errorf("%s, disk full: answers %v, want only 503", phase, c)
		}
		if got := getStatus(t, srv.URL()+"/readyz"); got != http.StatusServiceUnavailable {
			t.Errorf("%s, disk full: /readyz %d, want 503", phase, got)
		}
	}
	// Space freed: 200 again within seconds, and it holds under the load.
	recovers := func(phase string) {
		t.Helper()
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		freed := time.Now()
		load.take()
		var recovered time.Duration
		for time.Since(freed) < 5*time.Second {
			if c := load.take(); c[http.StatusOK] > 0 && getStatus(t, srv.URL()+"/readyz") == http.StatusOK {
				recovered = time.Since(freed)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if recovered == 0 {
			t.Fatalf("%s: still no token and no readiness 5 s after space was freed (WAL %d bytes, database %d bytes); last log line: %s", phase, fileSize(wal), fileSize(db), lastLine(srv.log.String()))
		}
		var maxWAL int64
		for range 30 { // 3 s of load
			time.Sleep(100 * time.Millisecond)
			maxWAL = max(maxWAL, fileSize(wal))
		}
		c := load.take()
		t.Logf("%s: recovered %v after space was freed; then answers %v, WAL at most %d bytes, database %d bytes",
			phase, recovered.Round(time.Millisecond), c, maxWAL, fileSize(db))
		if c[http.StatusOK] == 0 || c[http.StatusServiceUnavailable] > c[http.StatusOK]/10 {
			t.Errorf("%s: answers in the 3 s after recovery %v, want (nearly) all 200", phase, c)
		}
		if got := getStatus(t, srv.URL()+"/readyz"); got != http.StatusOK {
			t.Errorf("%s: /readyz %d after recovery", phase, got)
		}
	}

	fillDisk(t, filler)
	full("first fill")
	recovers("without restart")

	// A restart while the disk is full must not stay stuck.
	fillDisk(t, filler)
	time.Sleep(300 * time.Millisecond)
	srv.stop()
	srv.start(t)
	full("restarted")
	recovers("after a restart on a full disk")

	if bad := load.close(); len(bad) > 0 {
		t.Errorf("%d answers neither 200 nor 503, first: %s", len(bad), bad[0])
	}

	// Nothing issued before the disk filled was lost.
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(before), &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token answer %q: %v", before, err)
	}
	ts.URL = srv.URL()
	if got := introspect(t, ts, tn, tok.AccessToken); got["active"] != true {
		t.Errorf("the token issued before the disk filled: %v", got)
	}
	if strings.Contains(srv.log.String(), "status=500") {
		t.Errorf("a 500 was logged:\n%s", srv.log.String())
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndex(s, "\n")+1:]
}
