package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"
)

// TestConcurrentUse: the same code, or the same refresh token, presented by
// many requests at once yields exactly one success; every other request
// gets invalid_grant (or invalid_request for a concurrent refresh), never
// a 5xx.
func TestConcurrentUse(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			srv := startServer(t, be.dsn(t), nil)
			srv.cli(t, "user", "create", "--email", alice, "--password", alicePass)
			app := srv.createTenant(t, "--name", "App", "--redirect-uri", rpRedirect, "--first-party")
			conf := oauth2.Config{ClientID: app.ClientID, ClientSecret: app.ClientSecret, RedirectURL: rpRedirect, Scopes: []string{"openid", "offline_access"},
				Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/oauth2/auth", TokenURL: srv.URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}}
			b := newBrowser(t, srv.URL)

			var winnerRT string
			race := func(t *testing.T, form url.Values) (ok int, codes map[string]int) {
				const n = 8
				codes = map[string]int{}
				var mu sync.Mutex
				var wg sync.WaitGroup
				start := make(chan struct{})
				for range n {
					wg.Go(func() {
						<-start
						req, _ := http.NewRequest(http.MethodPost, srv.URL+"/oauth2/token", strings.NewReader(form.Encode()))
						req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
						req.SetBasicAuth(app.ClientID, app.ClientSecret)
						resp, err := http.DefaultClient.Do(req)
						if err != nil {
							t.Error(err)
							return
						}
						var body struct {
							Error        string
							RefreshToken string `json:"refresh_token"`
						}
						_ = json.NewDecoder(resp.Body).Decode(&body)
						resp.Body.Close()
						mu.Lock()
						defer mu.Unlock()
						if resp.StatusCode >= 500 {
							t.Errorf("status %d", resp.StatusCode)
						}
						if resp.StatusCode == 200 {
							ok++
							winnerRT = body.RefreshToken
						} else {
							codes[body.Error]++
						}
					})
				}
				close(start)
				wg.Wait()
				return ok, codes
			}

			code, verifier := issuedCode(t, b, conf)
			ok, codes := race(t, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {rpRedirect}})
			if ok != 1 || codes["invalid_grant"] != 7 {
				t.Fatalf("concurrent code exchange: %d successes, errors %v", ok, codes)
			}

			code, verifier = issuedCode(t, b, conf)
			tok, err := conf.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			ok, codes = race(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
			if ok != 1 || codes["invalid_grant"]+codes["invalid_request"] != 7 {
				t.Fatalf("concurrent refresh: %d successes, errors %v", ok, codes)
			}
			// The reuse revoked the family: the winner's new refresh token is dead too.
			if winnerRT == "" {
				t.Fatal("the winning refresh returned no refresh token")
			}
			if _, err := conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: winnerRT}).Token(); err == nil {
				t.Fatal("after a concurrent reuse, the winner's new refresh token still works")
			}
		})
	}
}
