package main

// Security review: each TestReview… test demonstrates a defect against the
// real server and FAILS on the code it was written against.

import (
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestReviewE2EIntrospectionCrossTenant: end to end, a *user* of a public
// SPA tenant — holding nothing but their own access token — reads the
// introspection record of another tenant's user token: the Basic header
// names the victim tenant with any password, the caller's own token goes in
// the access_token parameter, and fosite then skips client authentication
// (provider/token.go:89-103 only refuses an "Authorization: Bearer" header).
// The endpoint is also a validity oracle for stolen tokens of every tenant.
func TestReviewE2EIntrospectionCrossTenant(t *testing.T) {
	srv := startServer(t, "sqlite:"+t.TempDir()+"/m.db", nil)
	srv.cli(t, "user", "create", "--email", alice, "--password", alicePass)
	const mallory, malloryPass = "mallory@example.com", "mallory's own password"
	srv.cli(t, "user", "create", "--email", mallory, "--password", malloryPass)
	bank := srv.createTenant(t, "--name", "Bank", "--redirect-uri", rpRedirect, "--first-party")
	spa := srv.createTenant(t, "--name", "Some SPA", "--public", "--redirect-uri", rpRedirect, "--first-party")

	// Alice's token at the bank (the attacker obtained it somehow, or just wants to test its validity).
	bankRP := newRP(t, srv, bank, oidc.ScopeOpenID, "email")
	aliceTok, _ := bankRP.flow(newBrowser(t, srv.URL))

	// Mallory signs in to the SPA as herself and gets her own access token.
	mb := newBrowser(t, srv.URL)
	verifier := oauth2.GenerateVerifier()
	spaConf := oauth2.Config{ClientID: spa.ClientID, RedirectURL: rpRedirect, Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/oauth2/auth", TokenURL: srv.URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams}}
	loc := mb.signIn(spaConf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(verifier)), mallory, malloryPass)
	malloryTok, err := spaConf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/oauth2/introspect?access_token="+url.QueryEscape(malloryTok.AccessToken),
		strings.NewReader(url.Values{"token": {aliceTok.AccessToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(bank.ClientID, "anything")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&got)
	if got["active"] == true {
		t.Fatalf("a user of another tenant, with no client credentials, introspected the bank's token of another user: %v", got)
	}
}

// TestReviewDebugAddrNotRestricted: MANAM_DEBUG_ADDR is documented as
// "loopback only" (config.go:47, :115) but any address is accepted, so
// ":6060" serves pprof (goroutine dumps, heap profiles, 30 s CPU profiles
// on demand: a cheap DoS) on every interface with no authentication.
func TestReviewDebugAddrNotRestricted(t *testing.T) {
	env := map[string]string{"MANAM_SECRET": testSecret, "MANAM_DSN": "sqlite:" + t.TempDir() + "/x.db", "MANAM_DEBUG_ADDR": ":6060"}
	if _, err := loadConfig(flag.NewFlagSet("serve", flag.ContinueOnError), func(k string) string { return env[k] }); err == nil {
		t.Fatal(`MANAM_DEBUG_ADDR=":6060" (all interfaces) accepted for the unauthenticated pprof listener`)
	}
}
