package main

import (
	"encoding/json"
	"testing"

	"golang.org/x/oauth2"
)

// TestSignInByMobile: an account with only a mobile number signs in on the
// hosted page with the national form of the number.
func TestSignInByMobile(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			srv := startServer(t, be.dsn(t), map[string]string{"MANAM_DEFAULT_COUNTRY_CODE": "+98"})
			var made struct {
				Mobile string `json:"mobile"`
			}
			if err := json.Unmarshal([]byte(srv.cli(t, "user", "create", "--mobile", "0911 108 7815", "--password", "a mobile long phrase", "--json")), &made); err != nil || made.Mobile != "+989111087815" {
				t.Fatalf("user create --mobile: %+v %v", made, err)
			}
			if _, code, _ := srv.cliCode("user", "create", "--mobile", "+989111087815", "--password", "a mobile long phrase"); code != 2 {
				t.Fatalf("a second account with the same mobile: exit %d", code)
			}
			app := srv.createTenant(t, "--name", "App", "--redirect-uri", rpRedirect, "--first-party")
			conf := oauth2.Config{ClientID: app.ClientID, RedirectURL: rpRedirect, Scopes: []string{"openid"}, Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/oauth2/auth"}}
			loc := newBrowser(t, srv.URL).signIn(conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "09111087815", "a mobile long phrase")
			if loc.Query().Get("code") == "" {
				t.Fatalf("sign-in by mobile: %s", loc)
			}
		})
	}
}
