package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/manam-id/manam/storage"
)

// refreshAnswer is one answer of the token endpoint to a refresh.
type refreshAnswer struct {
	status  int
	errCode string
	access  string
	refresh string
}

// refreshOnce presents a refresh token with the tenant's secret.
func refreshOnce(srv *testServer, tn tenant, rt string) (refreshAnswer, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(tn.ClientID, tn.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return refreshAnswer{}, err
	}
	defer resp.Body.Close()
	var body struct {
		Error        string `json:"error"`
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return refreshAnswer{}, fmt.Errorf("status %d: %w", resp.StatusCode, err)
	}
	return refreshAnswer{resp.StatusCode, body.Error, body.AccessToken, body.RefreshToken}, nil
}

// TestRefreshRotationSoak: sixteen users, each rotating their own refresh
// token strictly in sequence, all at once. On MariaDB, InnoDB deadlocked
// between the UPDATEs of different grants (gap locks of the request_id
// index under REPEATABLE READ), and the deadlock was read as reuse: the
// grant was revoked and the user signed out. Every rotation must succeed
// and every grant stay alive.
func TestRefreshRotationSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test")
	}
	for _, be := range e2eBackends(t) {
		d := 20 * time.Second
		if be.name != "mysql" {
			d = 3 * time.Second // SQLite serialises writers: a short run shows the same
		} else if storage.SQLiteDriver != sqliteDefaultDriver {
			t.Logf("%s: the MySQL soak already ran in the default build", be.name)
			continue
		}
		t.Run(be.name, func(t *testing.T) { testRefreshRotationSoak(t, be, d) })
	}
}

// sqliteDefaultDriver is the default build's driver: the soak on MySQL
// runs once, not again in the cgo SQLite build.
const sqliteDefaultDriver = "glebarez/sqlite (pure Go)"

func testRefreshRotationSoak(t *testing.T, be backend, d time.Duration) {
	srv := startServer(t, be.dsn(t), nil)
	srv.cli(t, "user", "create", "--email", alice, "--password", alicePass)
	app := srv.createTenant(t, "--name", "App", "--redirect-uri", rpRedirect, "--first-party")
	conf := oauth2.Config{ClientID: app.ClientID, ClientSecret: app.ClientSecret, RedirectURL: rpRedirect, Scopes: []string{"openid", "offline_access"},
		Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/oauth2/auth", TokenURL: srv.URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}}
	b := newBrowser(t, srv.URL)
	const grants = 16
	rts := make([]string, grants)
	for i := range rts {
		code, verifier := issuedCode(t, b, conf)
		tok, err := conf.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		rts[i] = tok.RefreshToken
	}

	var (
		mu        sync.Mutex
		rotations int
		failures  []string
	)
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := range rts {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				a, err := refreshOnce(srv, app, rts[i])
				mu.Lock()
				switch {
				case err != nil:
					failures = append(failures, fmt.Sprintf("grant %d: %v", i, err))
				case a.status != http.StatusOK || a.refresh == "":
					failures = append(failures, fmt.Sprintf("grant %d: %d %s", i, a.status, a.errCode))
				default:
					rotations++
					rts[i] = a.refresh
				}
				stop := len(failures) > 0
				mu.Unlock()
				if stop {
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	t.Logf("%s: %d rotations of %d grants in %s; %d transactions run again after a deadlock", be.name, rotations, grants, d,
		strings.Count(srv.log.String(), "lost a database race"))
	if len(failures) > 0 {
		t.Fatalf("%d refusals (first: %s); %d rotations succeeded", len(failures), failures[0], rotations)
	}
	// Every grant is alive: its latest refresh token works once more.
	for i, rt := range rts {
		if a, err := refreshOnce(srv, app, rt); err != nil || a.status != http.StatusOK {
			t.Errorf("grant %d after the soak: %+v %v", i, a, err)
		}
	}
}

// TestRefreshGrace: a tenant's --refresh-grace lets a client whose
// refresh answer was lost present the rotated token again and get the
// same successor pair, nothing new minted; sixteen concurrent refreshes of
// one token all get that pair. Once the successor has been used, or after
// the grace period, the rotated token is reuse and revokes the family.
func TestRefreshGrace(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) { testRefreshGrace(t, be) })
	}
}

func testRefreshGrace(t *testing.T, be backend) {
	srv := startServer(t, be.dsn(t), nil)
	srv.cli(t, "user", "create", "--email", alice, "--password", alicePass)
	for _, bad := range []string{"61s", "1500ms", "-1s", "soon"} {
		if _, code, _ := srv.cliCode("tenant", "create", "--name", "Bad", "--redirect-uri", rpRedirect, "--refresh-grace", bad); code == 0 {
			t.Errorf("--refresh-grace %s was accepted", bad)
		}
	}
	app := srv.createTenant(t, "--name", "App", "--redirect-uri", rpRedirect, "--first-party", "--refresh-grace", "30s")
	short := srv.createTenant(t, "--name", "Short", "--redirect-uri", rpRedirect, "--first-party", "--refresh-grace", "1s")
	b := newBrowser(t, srv.URL)
	grant := func(tn tenant) string {
		conf := oauth2.Config{ClientID: tn.ClientID, ClientSecret: tn.ClientSecret, RedirectURL: rpRedirect, Scopes: []string{"openid", "offline_access"},
			Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/oauth2/auth", TokenURL: srv.URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}}
		code, verifier := issuedCode(t, b, conf)
		tok, err := conf.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		return tok.RefreshToken
	}
	must := func(tn tenant, rt string, want int) refreshAnswer {
		t.Helper()
		a, err := refreshOnce(srv, tn, rt)
		if err != nil || a.status != want {
			t.Fatalf("refresh: %+v %v, want %d", a, err, want)
		}
		return a
	}

	t.Run("a lost answer is given again", func(t *testing.T) {
		rt := grant(app)
		first := must(app, rt, 200)
		again := must(app, rt, 200)
		if again != first {
			t.Fatalf("the rotated token gave a new pair: %+v, then %+v", first, again)
		}
		must(app, first.refresh, 200) // the successor is the live token
	})

	t.Run("sixteen at once all get the same successor", func(t *testing.T) {
		rt := grant(app)
		const n = 16
		answers := make([]refreshAnswer, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range answers {
			wg.Go(func() {
				<-start
				a, err := refreshOnce(srv, app, rt)
				if err != nil {
					t.Error(err)
				}
				answers[i] = a
			})
		}
		close(start)
		wg.Wait()
		for i, a := range answers {
			if a.status != 200 || a != answers[0] {
				t.Fatalf("answer %d: %+v; answer 0: %+v", i, a, answers[0])
			}
		}
		must(app, answers[0].refresh, 200)
	})

	t.Run("once the successor was used, the old token is reuse", func(t *testing.T) {
		rt := grant(app)
		next := must(app, rt, 200)
		latest := must(app, next.refresh, 200)
		if a := must(app, rt, 400); a.errCode != "invalid_grant" {
			t.Fatalf("reuse answered %+v", a)
		}
		must(app, latest.refresh, 400) // the family is revoked
	})

	t.Run("after the grace period, the old token is reuse", func(t *testing.T) {
		rt := grant(short)
		next := must(short, rt, 200)
		time.Sleep(1100 * time.Millisecond)
		if a := must(short, rt, 400); a.errCode != "invalid_grant" {
			t.Fatalf("reuse answered %+v", a)
		}
		must(short, next.refresh, 400) // the family is revoked
	})

	t.Run("another tenant cannot replay it", func(t *testing.T) {
		rt := grant(app)
		must(app, rt, 200)
		if a := must(short, rt, 400); a.access != "" {
			t.Fatalf("another tenant got %+v", a)
		}
	})
}
