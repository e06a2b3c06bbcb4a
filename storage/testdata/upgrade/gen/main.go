// Command gen makes the upgrade fixtures in storage/testdata/upgrade: each
// is a database that an earlier release of Manam made with its own code
// (built from git), dumped as SQL, with a JSON file of what a test needs
// to use its data (client credentials, passwords, live tokens, the
// browser's session cookie). See ../README.md; run from the repository
// root:
//
//	MANAM_TEST_MYSQL_DSN='mysql://root:@tcp(127.0.0.1:3306)/test' go run ./storage/testdata/upgrade/gen
//
// It needs git, a Go toolchain, the sqlite3 command (apt-get install
// sqlite3) and, for the MySQL fixtures, mariadb-dump or mysqldump.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/manam-id/manam/storage/storagetest"
	"html"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql"
)

// The values every fixture shares (the end-to-end tests' own).
const (
	secret      = "test-secret-0123456789-0123456789-abcdef" // cmd/manam's testSecret
	issuer      = "http://manam-upgrade.test"                // dialled to the server's real address
	redirectURI = "http://localhost:9999/cb"
	email       = "alice@example.com"
	password    = "correct horse battery staple"
	// accessTTL: sealed access tokens carry their expiry inside, which a
	// test cannot move, so the live fixture mints them for a century.
	accessTTL = "876000h"
)

// Meta is the JSON file beside a dump, as the upgrade tests read it.
type Meta = storagetest.ReleaseMeta

// fixture is one database to make: created by the first release of path,
// migrated by each next one; flow runs a sign-in and token grants against
// the last release's server.
type fixture struct {
	name string
	path []string
	flow bool
}

var fixtures = []fixture{
	// The first release (schema 1): upgrades take every step.
	{"v1-5f622dc", []string{"5f622dc"}, false},
	// The release before signing keys had activation times (schema 12).
	{"v12-906a0ee", []string{"906a0ee"}, false},
	// The previous release (schema 13), with live tokens and a session.
	{"v13-798a2b6", []string{"798a2b6"}, true},
	// Created by the first release and migrated by every release that
	// added a step: the path a long-running deployment took. On MySQL it
	// stops at schema 3 (see storage/migrations.go, binaryCollation).
	{"history", []string{"5f622dc", "cf4b68c", "6bfd5a1", "30639c6", "a2fb2b8", "f723eb1", "86bdd8a", "488513f",
		"0443eef", "0b9529b", "7d839db", "14409d9", "798a2b6"}, false},
}

func main() {
	out := flag.String("out", "storage/testdata/upgrade", "where the fixtures go")
	work := flag.String("work", "", "work directory (default: a temporary one, removed)")
	only := flag.String("only", "", "make only the fixture of this name")
	flag.Parse()
	log.SetFlags(0)
	if *work == "" {
		d, err := os.MkdirTemp("", "manam-upgrade-fixtures")
		check(err)
		defer os.RemoveAll(d)
		*work = d
	}
	mysqlDSN := os.Getenv("MANAM_TEST_MYSQL_DSN")
	if mysqlDSN == "" {
		log.Print("MANAM_TEST_MYSQL_DSN is not set: SQLite fixtures only")
	}
	g := &gen{out: *out, work: *work, bins: map[string]string{}}
	for _, f := range fixtures {
		if *only != "" && f.name != *only {
			continue
		}
		g.make(f, "sqlite", "")
		if mysqlDSN != "" {
			g.make(f, "mysql", mysqlDSN)
		}
	}
}

type gen struct {
	out, work string
	bins      map[string]string // commit → binary
}

// binary builds the manam command of a commit.
func (g *gen) binary(commit string) string {
	if b, ok := g.bins[commit]; ok {
		return b
	}
	src := filepath.Join(g.work, "src-"+commit)
	check(os.MkdirAll(src, 0o755))
	archive := exec.Command("git", "archive", commit)
	untar := exec.Command("tar", "-x", "-C", src)
	pipe, err := archive.StdoutPipe()
	check(err)
	untar.Stdin = pipe
	check(untar.Start())
	check(archive.Run())
	check(untar.Wait())
	bin := filepath.Join(g.work, "manam-"+commit)
	build := exec.Command("go", "build", "-o", bin, "./cmd/manam")
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stderr = os.Stderr
	check(build.Run())
	g.bins[commit] = bin
	return bin
}

func (g *gen) make(f fixture, dialect, mysqlDSN string) {
	log.Printf("%s (%s)", f.name, dialect)
	var dsn string
	var dump func(w io.Writer)
	switch dialect {
	case "sqlite":
		dir := filepath.Join(g.work, f.name)
		check(os.RemoveAll(dir))
		check(os.MkdirAll(dir, 0o755))
		file := filepath.Join(dir, "manam.db")
		dsn = "sqlite:" + file
		dump = func(w io.Writer) { run(w, nil, "sqlite3", file, ".dump") }
	case "mysql":
		m := regexp.MustCompile(`^mysql://([^:@]*):?([^@]*)@tcp\(([^:)]+):?(\d*)\)/`).FindStringSubmatch(mysqlDSN)
		if m == nil {
			log.Fatalf("MANAM_TEST_MYSQL_DSN: want mysql://user:pass@tcp(host:port)/db")
		}
		name := "manam_fixture_" + strings.NewReplacer("-", "_").Replace(f.name)
		admin, err := sql.Open("mysql", strings.TrimPrefix(mysqlDSN, "mysql://"))
		check(err)
		defer admin.Close()
		_, err = admin.Exec("DROP DATABASE IF EXISTS `" + name + "`")
		check(err)
		_, err = admin.Exec("CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4")
		check(err)
		defer admin.Exec("DROP DATABASE IF EXISTS `" + name + "`")
		dsn = "mysql://" + m[1] + ":" + m[2] + "@tcp(" + m[3] + ":" + m[4] + ")/" + name
		tool := "mariadb-dump"
		if _, err := exec.LookPath(tool); err != nil {
			tool = "mysqldump"
		}
		args := []string{"-h", m[3], "-u", m[1], "--compact", "--hex-blob", "--skip-extended-insert",
			"--order-by-primary", "--single-transaction"}
		if m[4] != "" {
			args = append(args, "-P", m[4])
		}
		args = append(args, name)
		env := []string{"MYSQL_PWD=" + m[2]}
		dump = func(w io.Writer) {
			// The tables come in name order, before the ones they refer to.
			fmt.Fprintln(w, "SET FOREIGN_KEY_CHECKS = 0;")
			run(w, env, tool, args...)
			fmt.Fprintln(w, "SET FOREIGN_KEY_CHECKS = 1;")
		}
	}
	meta := Meta{Release: f.path[0], Path: f.path, Issuer: issuer, Secret: secret, RedirectURI: redirectURI,
		Email: email, Password: password}
	env := []string{"MANAM_DSN=" + dsn, "MANAM_SECRET=" + secret, "MANAM_ISSUER=" + issuer, "MANAM_LOG_LEVEL=warn"}
	first := g.binary(f.path[0])
	cli(first, env, "migrate")
	var tn struct {
		ClientID      string `json:"client_id"`
		ClientSecret  string `json:"client_secret"`
		CustomerToken string `json:"customer_token"`
	}
	check(json.Unmarshal(cli(first, env, "tenant", "create", "--name", "Upgrade fixture", "--redirect-uri", redirectURI,
		"--grant", "authorization_code,refresh_token,client_credentials", "--json"), &tn))
	meta.ClientID, meta.ClientSecret, meta.CustomerToken = tn.ClientID, tn.ClientSecret, tn.CustomerToken
	cli(first, env, "user", "create", "--email", email, "--password", password, "--name", "Alice Liddell", "--json")
	last := first
	for i, c := range f.path[1:] {
		if _, err := cliErr(g.binary(c), env, "migrate"); err != nil {
			log.Printf("  %s: migrate failed, the database stays where the previous release left it: %v", c, err)
			meta.Path = f.path[:i+1]
			break
		}
		last = g.binary(c)
	}
	if f.flow {
		g.flow(last, env, &meta)
	}
	meta.SchemaVersion = schemaVersion(last, env)
	meta.GeneratedAt = time.Now().UTC().Truncate(time.Second)
	base := filepath.Join(g.out, fmt.Sprintf("%s.%s", f.name, dialect))
	var buf bytes.Buffer
	dump(&buf)
	check(os.WriteFile(base+".sql", buf.Bytes(), 0o644))
	js, err := json.MarshalIndent(meta, "", "  ")
	check(err)
	check(os.WriteFile(base+".json", append(js, '\n'), 0o644))
	log.Printf("  %s.sql: schema %d, %d bytes", base, meta.SchemaVersion, buf.Len())
}

// flow signs in through the release's own server and runs two grants:
// one left live, one refreshed once (its first refresh token is then used).
func (g *gen) flow(bin string, env []string, meta *Meta) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	addr := ln.Addr().String()
	ln.Close()
	srv := exec.Command(bin, "serve")
	srv.Env = append(append(os.Environ(), env...), "MANAM_ADDR="+addr, "MANAM_ACCESS_TOKEN_TTL="+accessTTL)
	srv.Stderr = os.Stderr
	check(srv.Start())
	defer func() {
		_ = srv.Process.Signal(syscall.SIGTERM)
		_ = srv.Wait()
	}()
	jar, _ := cookiejar.New(nil)
	dial := &net.Dialer{}
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dial.DialContext(ctx, network, addr)
		}},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if !strings.HasPrefix(req.URL.String(), issuer) {
				return http.ErrUseLastResponse
			}
			return nil
		}}
	for i := 0; ; i++ {
		if resp, err := c.Get(issuer + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if i > 500 {
			log.Fatal("server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	live := grant(c, meta, false)
	meta.AccessToken, meta.RefreshToken, meta.IDToken = live.AccessToken, live.RefreshToken, live.IDToken
	used := grant(c, meta, true)
	next := tokenRequest(c, meta, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {used.RefreshToken}})
	if next.RefreshToken == "" {
		log.Fatal("refresh gave no refresh token")
	}
	meta.UsedRefreshToken = used.RefreshToken
	u, _ := url.Parse(issuer)
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "manam_session" {
			meta.SessionCookie = ck.Value
		}
	}
	if meta.SessionCookie == "" {
		log.Fatal("no session cookie after signing in")
	}
}

type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// grant runs the authorization-code flow with PKCE (signing in and
// consenting on the hosted pages the first time) and exchanges the code.
func grant(c *http.Client, meta *Meta, again bool) tokens {
	verifier := randomString()
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"response_type": {"code"}, "client_id": {meta.ClientID}, "redirect_uri": {meta.RedirectURI},
		"scope": {"openid profile email offline_access"}, "state": {randomString()}, "nonce": {randomString()},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	if again {
		q.Set("prompt", "none")
	}
	resp := do(c, http.MethodGet, issuer+"/oauth2/auth?"+q.Encode(), nil)
	for range 6 {
		if resp.loc != nil {
			break
		}
		f := url.Values{}
		for _, m := range hiddenInput.FindAllStringSubmatch(resp.body, -1) {
			f.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
		}
		switch resp.path {
		case "/login":
			f.Set("email", meta.Email)
			f.Set("password", meta.Password)
			resp = do(c, http.MethodPost, issuer+"/login", f)
		case "/consent":
			f.Set("action", "allow")
			resp = do(c, http.MethodPost, issuer+"/consent", f)
		default:
			log.Fatalf("unexpected page %s (%d): %.500s", resp.path, resp.status, resp.body)
		}
	}
	if resp.loc == nil || resp.loc.Query().Get("code") == "" {
		log.Fatalf("no code: %+v", resp)
	}
	return tokenRequest(c, meta, url.Values{"grant_type": {"authorization_code"}, "code": {resp.loc.Query().Get("code")},
		"redirect_uri": {meta.RedirectURI}, "code_verifier": {verifier}})
}

func tokenRequest(c *http.Client, meta *Meta, form url.Values) tokens {
	req, _ := http.NewRequest(http.MethodPost, issuer+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(meta.ClientID), url.QueryEscape(meta.ClientSecret))
	resp, err := c.Do(req)
	check(err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		log.Fatalf("token endpoint: %d %s", resp.StatusCode, body)
	}
	var t tokens
	check(json.Unmarshal(body, &t))
	if t.AccessToken == "" || t.RefreshToken == "" || t.IDToken == "" {
		log.Fatalf("token endpoint: incomplete answer %s", body)
	}
	return t
}

type page struct {
	status int
	path   string
	body   string
	loc    *url.URL // a redirect out of the issuer
}

func do(c *http.Client, method, u string, form url.Values) page {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	check(err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	p := page{status: resp.StatusCode, path: resp.Request.URL.Path, body: string(b)}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		p.loc, err = resp.Location()
		check(err)
	}
	return p
}

func schemaVersion(bin string, env []string) int {
	out := string(cli(bin, env, "migrate"))
	var v int
	if _, err := fmt.Sscanf(strings.TrimSpace(out), "schema at version %d", &v); err != nil {
		log.Fatalf("migrate said %q", out)
	}
	return v
}

func cli(bin string, env []string, args ...string) []byte {
	out, err := cliErr(bin, env, args...)
	if err != nil {
		log.Fatalf("%s %s: %v", filepath.Base(bin), strings.Join(args, " "), err)
	}
	return out
}

func cliErr(bin string, env []string, args ...string) ([]byte, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func run(w io.Writer, env []string, name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = w
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		log.Fatalf("%s: %v", name, err)
	}
}

func randomString() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func check(err error) {
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			log.Fatalf("%v: %s", err, ee.Stderr)
		}
		log.Fatal(err)
	}
}
