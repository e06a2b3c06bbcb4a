package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql"
)

// syncBuffer collects a subprocess's output.
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

// proc is a server running as a subprocess.
type proc struct {
	name    string
	cmd     *exec.Cmd
	out     *syncBuffer
	done    chan struct{}
	waitErr error
}

// startProc starts bin with args and env; its output is kept in memory.
// The child gets SIGTERM if this program dies first (even by SIGKILL).
func startProc(name, bin string, args, env []string) (*proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	var err error
	onSpawnThread(func() { err = cmd.Start() })
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// The kernel sends Pdeathsig when the thread that started the child exits,
// not the process: children are started from one goroutine locked to its
// thread for the life of the program.
var spawn = make(chan func())

func init() {
	go func() {
		runtime.LockOSThread()
		for f := range spawn {
			f()
		}
	}()
}

func onSpawnThread(f func()) {
	done := make(chan struct{})
	spawn <- func() { f(); close(done) }
	<-done
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits up to grace for a clean exit, then kills.
func (p *proc) stop(grace time.Duration) error {
	if p.exited() {
		return fmt.Errorf("%s had already exited (%v)", p.name, exitDesc(p.waitErr))
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		if p.waitErr != nil {
			return fmt.Errorf("%s exited after SIGTERM: %w", p.name, p.waitErr)
		}
		return nil
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %s of SIGTERM: killed", p.name, grace)
	}
}

func exitDesc(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// waitReady polls u until it answers 200, the process exits or timeout passes.
func waitReady(ctx context.Context, u string, p *proc, timeout time.Duration) error {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(timeout)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if p.exited() {
			return fmt.Errorf("%s exited during start-up (%s); output:\n%s", p.name, exitDesc(p.waitErr), p.out.String())
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s not ready at %s after %s: %v; output:\n%s", p.name, u, timeout, err, p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// manamEnv is the environment of the server and of the seeding commands:
// this process's environment without any MANAM_* variable, plus ours.
// Password hashing keeps the server's defaults (argon2id t=2, m=19456 KiB,
// p=1; MANAM_HASH_CONCURRENCY = number of CPUs), which the in-process hash
// timing assumes. The generator plays a load balancer for the register
// scenario: 127.0.0.1 is a trusted proxy, so its X-Forwarded-For names
// the client (see doc.go). Mail goes to the server log at level info, below
// the default -server-log-level warn.
func manamEnv(addr, dsn, secret, logLevel, alg string) []string {
	var env []string
	for _, kv := range os.Environ() {
		// MANAM_DEBUG_ADDR passes through, to profile the server under load.
		if !strings.HasPrefix(kv, "MANAM_") || strings.HasPrefix(kv, "MANAM_DEBUG_ADDR=") {
			env = append(env, kv)
		}
	}
	return append(env,
		"MANAM_ADDR="+addr,
		"MANAM_ISSUER=http://"+addr,
		"MANAM_DSN="+dsn,
		"MANAM_SECRET="+secret,
		"MANAM_LOG_LEVEL="+logLevel,
		"MANAM_GC_INTERVAL=0",
		"MANAM_KEY_ALG="+alg,
		"MANAM_TRUSTED_PROXIES=127.0.0.1/32",
		"MANAM_SMTP_URL=log",
		// The sign-in scenarios measure password hashing under load, not the
		// throttle: every attempt is spent before the work (and given back
		// on success), so 64 workers from one address would meet the
		// default budget of 20 at once.
		"MANAM_THROTTLE_SIGNIN=1000/1s",
	)
}

// runCLI runs one manam command and returns its standard output.
func runCLI(ctx context.Context, bin string, env []string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("manam %s: %v: %s", strings.Join(redactArgs(args), " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

func redactArgs(args []string) []string {
	out := slices.Clone(args)
	for i := range out {
		if i > 0 && out[i-1] == "--password" {
			out[i] = "***"
		}
	}
	return out
}

// procStatusKB reads a "Vm…" field (in kB) of /proc/PID/status.
func procStatusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
}

// rssSampler reads a process's VmRSS every interval until stopped and
// keeps the highest value: the peak of one scenario (VmHWM is the peak of
// the process's whole life).
type rssSampler struct {
	stopc   chan struct{}
	done    chan struct{}
	peakKB  int64
	samples int
}

func sampleRSS(pid int, every time.Duration) *rssSampler {
	s := &rssSampler{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		sample := func() {
			if kb, err := procStatusKB(pid, "VmRSS"); err == nil {
				s.peakKB = max(s.peakKB, kb)
				s.samples++
			}
		}
		for {
			sample()
			select {
			case <-s.stopc:
				sample()
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// stop ends the sampling (after one last sample) and returns the peak in kB
// and the number of samples.
func (s *rssSampler) stop() (int64, int) {
	close(s.stopc)
	<-s.done
	return s.peakKB, s.samples
}

// clockTick is the kernel's USER_HZ: 100 on every Linux platform Go supports.
const clockTick = 10 * time.Millisecond

// procCPU is the user + system CPU time a process has used.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("bad /proc stat")
	}
	f := strings.Fields(s[i+1:])
	// After the command name: state(3) ppid(4) … utime(14) stime(15).
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * clockTick, nil
}

// mysqlPIDs finds MySQL/MariaDB server processes on this machine (to
// count their CPU time when the database is local).
func mysqlPIDs() []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, _ := os.ReadFile("/proc/" + e.Name() + "/comm")
		switch strings.TrimSpace(string(comm)) {
		case "mariadbd", "mysqld":
			pids = append(pids, pid)
		}
	}
	return pids
}

// machineBusy is the non-idle CPU time of all CPUs (/proc/stat).
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, errors.New("bad /proc/stat")
	}
	// user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
	var busy int64
	for i, v := range f[1:9] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, err
		}
		if i != 3 && i != 4 {
			busy += n
		}
	}
	return time.Duration(busy) * clockTick, nil
}

// createMySQL makes an empty database on the server named by base
// (mysql://user:pass@tcp(host:port)/db[?params]) and returns its manam DSN
// and a function dropping it.
func createMySQL(ctx context.Context, base string) (string, func() error, error) {
	rest, ok := strings.CutPrefix(base, "mysql://")
	slash := strings.LastIndex(rest, "/")
	if !ok || slash < 0 {
		return "", nil, fmt.Errorf("MANAM_TEST_MYSQL_DSN %q: want mysql://user:pass@tcp(host:port)/db", base)
	}
	server := rest[:slash+1]
	var params string
	if _, q, found := strings.Cut(rest[slash+1:], "?"); found {
		params = "?" + q
	}
	db, err := sql.Open("mysql", server+params)
	if err != nil {
		return "", nil, err
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "manam_bench_" + hex.EncodeToString(b)
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := db.ExecContext(cctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		db.Close()
		return "", nil, fmt.Errorf("create database %s: %w (is MySQL/MariaDB running?)", name, err)
	}
	drop := func() error {
		defer db.Close()
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := db.ExecContext(dctx, "DROP DATABASE "+name)
		return err
	}
	return "mysql://" + server + name + params, drop, nil
}

// trivialBody is the baseline's response: the shape and size (164 bytes)
// of a client_credentials token response with an opaque token.
const trivialBody = `{"access_token":"ory_at_Zq8vXkN3bR7tY2mW9pL4sH6dF1gJ5cA0eU3iO8nQ2xV.Tb7yR4kP9wL2mZ6vX1sN8qH3dF5gJ0cA7eU4iO9nB2x","expires_in":3599,"scope":"","token_type":"bearer"}`

// serveTrivial is the baseline server process (-trivial-server ADDR): a
// plain net/http handler returning trivialBody, until SIGTERM.
func serveTrivial(addr string) int {
	body := []byte(trivialBody)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		_, _ = w.Write(body)
	})
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		fmt.Fprintln(os.Stderr, "trivial server:", err)
		return 1
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return 0
}
