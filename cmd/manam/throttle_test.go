package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/manam-id/manam/idp/pages"
)

// TestBackendThrottle: a tenant's back end (--backend-cidr) registers many
// end users from one address; it is throttled per end user (the identifier
// being registered, or the address it passes in X-Manam-End-User-IP), not
// per address. Anyone else is throttled per address, whatever header it
// sends.
func TestBackendThrottle(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			srv := startServer(t, be.dsn(t), map[string]string{"MANAM_THROTTLE_REGISTER": "2/1h"})
			backend := srv.createTenant(t, legacyTenantArgs("--backend-cidr", "127.0.0.1/32")...)
			plain := srv.createTenant(t, legacyTenantArgs("--backend-cidr", "192.0.2.0/24")...)
			n := 0
			register := func(tn tenant, email string, hdr ...string) int {
				t.Helper()
				n++
				lc := newLegacyClient(t, srv.URL, map[string]string{"customer_token": tn.CustomerToken})
				a := lc.call("POST", "/auth/register", `{"name":"n","email":"`+email+`","password":"`+lxPass+`","confirm_password":"`+lxPass+`"}`, hdr...)
				if a.status != 200 && a.status != 429 {
					t.Fatalf("registration %d: status %d: %s", n, a.status, a.raw)
				}
				return a.status
			}
			// 127.0.0.1 is not a back end of plain: its budget is the address's.
			for i := range 2 {
				if s := register(plain, fmt.Sprintf("p%d@example.com", i), "X-Manam-End-User-IP", fmt.Sprintf("198.51.100.%d", i)); s != 200 {
					t.Fatalf("registration %d from an address: %d", i, s)
				}
			}
			if s := register(plain, "p9@example.com", "X-Manam-End-User-IP", "198.51.100.9"); s != 429 {
				t.Fatalf("the third registration from one address (naming another end user it is not trusted to name): %d, want 429", s)
			}
			// The back end, from the same address: per end user.
			for i := range 6 {
				if s := register(backend, fmt.Sprintf("b%d@example.com", i)); s != 200 {
					t.Fatalf("the back end's registration %d of a new end user: %d, want 200", i, s)
				}
			}
			for i, want := range []int{200, 429} { // b0 already spent one of its two
				if s := register(backend, "B0@Example.com"); s != want {
					t.Fatalf("the same end user again (%d): %d, want %d", i, s, want)
				}
			}
			// Naming the end user's address: that address's budget.
			for i, want := range []int{200, 200, 429} {
				if s := register(backend, fmt.Sprintf("c%d@example.com", i), "X-Manam-End-User-IP", "203.0.113.7"); s != want {
					t.Fatalf("registration %d for end user 203.0.113.7: %d, want %d", i, s, want)
				}
			}
			if s := register(backend, "d@example.com", "X-Manam-End-User-IP", "203.0.113.8"); s != 200 {
				t.Fatalf("another end user's address: %d, want 200", s)
			}
		})
	}
}

// TestThrottleSharedByServers: two servers on one database spend one
// budget: four failed sign-ins, two on each, empty an address's budget of
// four, and the next attempt on either server is 429.
func TestThrottleSharedByServers(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			dsn := be.dsn(t)
			env := map[string]string{"MANAM_THROTTLE_SIGNIN": "4/1h"}
			a := startServer(t, dsn, env)
			b := startServer(t, dsn, env)
			tn := a.createTenant(t, legacyTenantArgs()...)
			key := map[string]string{"customer_token": tn.CustomerToken}
			guess := func(srv *testServer, i int) int {
				t.Helper()
				return newLegacyClient(t, srv.URL, key).call("POST", "/auth/login", fmt.Sprintf(`{"email":"nobody%d@example.com","password":"guess %d"}`, i, i)).status
			}
			for i, srv := range []*testServer{a, b, a, b} {
				if s := guess(srv, i); s != 401 {
					t.Fatalf("guess %d: %d, want 401", i, s)
				}
			}
			for name, srv := range map[string]*testServer{"first": a, "second": b} {
				if s := guess(srv, 9); s != 429 {
					t.Fatalf("a fifth guess on the %s server: %d, want 429 (each server kept its own budget)", name, s)
				}
			}
		})
	}
}

// TestLockoutKnownDevice: an attacker's wrong passwords lock the account
// for unknown sources, but the owner's browser, where they signed in
// before (its device cookie), still signs in; that browser is locked by
// its own failures only. The tenant's back end is a known source too.
func TestLockoutKnownDevice(t *testing.T) {
	for _, be := range e2eBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			srv := startServer(t, be.dsn(t), map[string]string{"MANAM_THROTTLE_LOCKOUT": "3/15m", "MANAM_THROTTLE_KNOWN_SOURCE": "3/1h"})
			srv.cli(t, "user", "create", "--email", alice, "--password", alicePass)
			signIn := func(b *browser, password string) int {
				t.Helper()
				p := b.get(srv.URL + "/login")
				f := formFields(p.Body)
				f.Set("email", alice)
				f.Set("password", password)
				return b.post(srv.URL+"/login", f).StatusCode
			}
			// The owner signs in once: the browser is known from now on.
			owner := newBrowser(t, srv.URL)
			if s := signIn(owner, alicePass); s != 200 {
				t.Fatalf("owner's first sign-in: %d", s)
			}
			u, _ := url.Parse(srv.URL)
			var known *http.Cookie
			for _, c := range owner.c.Jar.Cookies(u) {
				if c.Name == pages.KnownDeviceCookie {
					known = c
				}
			}
			if known == nil {
				t.Fatal("no device cookie after a sign-in")
			}
			// Later, signed out, with only that cookie.
			ownerLater := newBrowser(t, srv.URL)
			ownerLater.c.Jar.SetCookies(u, []*http.Cookie{{Name: known.Name, Value: known.Value, Path: "/"}})

			attacker := newBrowser(t, srv.URL)
			for i := range 3 {
				if s := signIn(attacker, "wrong guess"); s != 401 {
					t.Fatalf("attacker's guess %d: %d", i, s)
				}
			}
			if s := signIn(attacker, alicePass); s != 401 {
				t.Fatalf("the right password from an unknown browser after three failures: %d, want 401 (locked)", s)
			}
			if s := signIn(ownerLater, alicePass); s != 200 {
				t.Fatalf("the owner's known browser was locked out by the attacker: %d", s)
			}
			// The back end signs its user in through the legacy API too.
			tn := srv.createTenant(t, legacyTenantArgs("--backend-cidr", "127.0.0.0/8")...)
			lc := newLegacyClient(t, srv.URL, map[string]string{"customer_token": tn.CustomerToken})
			lc.expect("the back end's sign-in while locked for unknown sources", lc.call("POST", "/auth/login", `{"email":"`+alice+`","password":"`+alicePass+`"}`), 200, nil)

			// The known browser's own failures lock it, and only it.
			for i := range 3 {
				if s := signIn(ownerLater, "my own typo"); s != 401 {
					t.Fatalf("owner's typo %d: %d", i, s)
				}
			}
			if s := signIn(ownerLater, alicePass); s != 429 {
				t.Fatalf("the known browser after its own three failures: %d, want 429", s)
			}
			lc.expect("the back end after the browser's failures", lc.call("POST", "/auth/login", `{"email":"`+alice+`","password":"`+alicePass+`"}`), 200, nil)
		})
	}
}

// TestBackendCIDRFlag: tenant create and update take --backend-cidr,
// stored canonical, shown, replaced, cleared; a bad one is refused with
// the reason.
func TestBackendCIDRFlag(t *testing.T) {
	srv := startServer(t, e2eBackends(t)[0].dsn(t), nil)
	tn := srv.createTenant(t, legacyTenantArgs("--backend-cidr", "192.0.2.7/24", "--backend-cidr", "2001:db8::1")...)
	show := func() []any {
		t.Helper()
		var v map[string]any
		if err := json.Unmarshal([]byte(srv.cli(t, "tenant", "show", tn.ClientID, "--json")), &v); err != nil {
			t.Fatal(err)
		}
		l, _ := v["backend_cidrs"].([]any)
		return l
	}
	if got := fmt.Sprint(show()); got != "[192.0.2.0/24 2001:db8::1/128]" {
		t.Fatalf("back ends after create: %s", got)
	}
	srv.cli(t, "tenant", "update", tn.ClientID, "--backend-cidr", "10.1.0.0/16,10.2.0.0/16")
	if got := fmt.Sprint(show()); got != "[10.1.0.0/16 10.2.0.0/16]" {
		t.Fatalf("back ends after update: %s", got)
	}
	srv.cli(t, "tenant", "update", tn.ClientID, "--name", "Renamed")
	if got := fmt.Sprint(show()); got != "[10.1.0.0/16 10.2.0.0/16]" {
		t.Fatalf("an update of something else changed the back ends: %s", got)
	}
	srv.cli(t, "tenant", "update", tn.ClientID, "--backend-cidr", "")
	if got := show(); len(got) != 0 {
		t.Fatalf("back ends after clearing: %v", got)
	}
	for _, bad := range []string{"shop.example", "0.0.0.0/0"} {
		_, code, errOut := srv.cliCode("tenant", "update", tn.ClientID, "--backend-cidr", bad)
		if code == 0 || !strings.Contains(errOut, bad) {
			t.Errorf("--backend-cidr %s: exit %d, %q", bad, code, errOut)
		}
	}
}

// TestGCSweepsThrottles: manam gc deletes the buckets that are full again.
func TestGCSweepsThrottles(t *testing.T) {
	srv := startServer(t, e2eBackends(t)[0].dsn(t), map[string]string{"MANAM_THROTTLE_SIGNIN": "5/1ms"})
	tn := srv.createTenant(t, legacyTenantArgs()...)
	if out := srv.cli(t, "gc"); out != "deleted 0 expired rows\n" {
		t.Fatalf("gc of a fresh database: %q", out)
	}
	lc := newLegacyClient(t, srv.URL, map[string]string{"customer_token": tn.CustomerToken})
	lc.expect("a wrong password", lc.call("POST", "/auth/login", `{"email":"nobody@example.com","password":"a guess"}`), 401, nil)
	time.Sleep(10 * time.Millisecond) // the bucket is full again after 1 ms
	if out := srv.cli(t, "gc"); out != "deleted 1 expired rows\n" {
		t.Fatalf("gc after a sign-in failure: %q, want the bucket swept", out)
	}
}
