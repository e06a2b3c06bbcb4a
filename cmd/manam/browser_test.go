package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"github.com/manam-id/manam/idp/delivery/deliverytest"
)

// chromium finds Debian's Chromium (or MANAM_TEST_CHROMIUM). Without it the
// browser tests skip, unless MANAM_TEST_REQUIRE_BROWSER=1 (CI) makes that a
// failure.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("MANAM_TEST_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("MANAM_TEST_REQUIRE_BROWSER") == "1" {
		t.Fatal("MANAM_TEST_REQUIRE_BROWSER=1 but no Chromium found (apt-get install chromium)")
	}
	t.Skip("no Chromium: browser test skipped (apt-get install chromium)")
	return ""
}

// newChrome starts a headless Chromium for the test.
func newChrome(t *testing.T) context.Context {
	t.Helper()
	// Chromium's helper processes may still write into the profile briefly
	// after it is told to stop: remove the directory with retries, not via
	// t.TempDir (whose cleanup fails on a directory still being written).
	profile, err := os.MkdirTemp("", "manam-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(profile),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelT()
		cancelC()
		cancelA()
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("could not remove the Chromium profile %s", profile)
	})
	if err := chromedp.Run(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

// TestBrowserRegistration: in a real browser, a person starts at a tenant's
// sign-in link, creates an account, confirms it through the link in the
// mail a real SMTP server received, signs in, and the tenant gets a code
// that it exchanges for a verified ID token.
func TestBrowserRegistration(t *testing.T) {
	ctx := newChrome(t)
	mail := deliverytest.Start(t, deliverytest.Options{})
	srv := startServer(t, "sqlite:"+t.TempDir()+"/b.db", map[string]string{"MANAM_SMTP_URL": "smtp://" + mail.Addr})
	redirect, got := tenantCallback(t, "Browser Shop")
	app := srv.createTenant(t, "--name", "Browser Shop", "--redirect-uri", redirect, "--first-party")
	r := newRP(t, srv, app, oidc.ScopeOpenID, "email")
	r.conf.RedirectURL = redirect
	pkce := oauth2.GenerateVerifier()
	authURL := r.conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(pkce), oidc.Nonce("nonce-1234567890"))

	const email, password = "browser.user@example.com", "a phrase typed in a browser"
	err := chromedp.Run(ctx,
		chromedp.Navigate(authURL),
		chromedp.WaitVisible(`input#email`, chromedp.ByQuery),
		chromedp.Click(`a[href^="/register"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`input#password_confirm`, chromedp.ByQuery),
		chromedp.SendKeys(`input#name`, "Browser User", chromedp.ByQuery),
		chromedp.SendKeys(`input#email`, email, chromedp.ByQuery),
		chromedp.SendKeys(`input#password`, password, chromedp.ByQuery),
		chromedp.SendKeys(`input#password_confirm`, password, chromedp.ByQuery),
		chromedp.Submit(`input#password_confirm`, chromedp.ByQuery),
		chromedp.WaitVisible(`//h1[contains(., "Check your e-mail")]`),
	)
	if err != nil {
		t.Fatalf("registering in the browser: %v\n%s", err, browserState(ctx))
	}
	msgs := mail.Wait(t, 1)
	pm, err := deliverytest.Parse(msgs[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	link := confirmLink.FindString(pm.Text)
	if link == "" {
		t.Fatalf("no link in %q", pm.Text)
	}
	var where string
	err = chromedp.Run(ctx,
		chromedp.Navigate(link),
		chromedp.WaitVisible(`//h1[contains(., "Address confirmed")]`),
		chromedp.Click(`a.button`, chromedp.ByQuery),
		chromedp.WaitVisible(`input#password`, chromedp.ByQuery),
		chromedp.SendKeys(`input#email`, email, chromedp.ByQuery),
		chromedp.SendKeys(`input#password`, password, chromedp.ByQuery),
		chromedp.Submit(`input#password`, chromedp.ByQuery),
		chromedp.WaitVisible(`//h1[contains(., "Signed in to Browser Shop")]`),
		chromedp.Location(&where),
	)
	if err != nil {
		t.Fatalf("confirming and signing in: %v\n%s", err, browserState(ctx))
	}
	q := <-got
	if q.Get("state") != "state-123456789" || !strings.HasPrefix(where, redirect) {
		t.Fatalf("callback %v at %s", q, where)
	}
	tok, err := r.conf.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	idt, err := r.verifier.Verify(context.Background(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Email    string `json:"email"`
		Verified bool   `json:"email_verified"`
	}
	_ = idt.Claims(&c)
	if c.Email != email || !c.Verified {
		t.Fatalf("ID token: %+v", c)
	}
}

// tenantCallback serves a tenant's redirect URI, as a real relying party
// would: it says "Signed in to name" and hands the test the first query.
func tenantCallback(t *testing.T, name string) (string, <-chan url.Values) {
	got := make(chan url.Values, 1)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select {
		case got <- req.URL.Query():
		default:
		}
		_, _ = w.Write([]byte("<h1>Signed in to " + name + "</h1>"))
	}))
	t.Cleanup(cb.Close)
	return cb.URL + "/cb", got
}

// browserState says where the browser is and what it shows, for a failure message.
func browserState(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var loc, text string
	_ = chromedp.Run(ctx, chromedp.Location(&loc), chromedp.Text("body", &text, chromedp.ByQuery))
	return "browser at " + loc + ":\n" + text
}

// TestBrowserTOTP: in a real browser, a person enrols an authenticator app
// from the account page (reading the key the page shows), saves the
// recovery codes, and later signs in to a tenant with a code from the app.
func TestBrowserTOTP(t *testing.T) {
	ctx := newChrome(t)
	srv := startServer(t, "sqlite:"+t.TempDir()+"/t.db", nil)
	const email, password = "totp.user@example.com", "a phrase typed in a browser"
	srv.cli(t, "user", "create", "--email", email, "--password", password)
	redirect, got := tenantCallback(t, "Vault")
	app := srv.createTenant(t, "--name", "Vault", "--redirect-uri", redirect, "--first-party")
	r := newRP(t, srv, app, oidc.ScopeOpenID)
	r.conf.RedirectURL = redirect

	var secret, qr string
	err := chromedp.Run(ctx,
		chromedp.Navigate(srv.URL+"/login"),
		chromedp.WaitVisible(`input#email`, chromedp.ByQuery),
		chromedp.SendKeys(`input#email`, email, chromedp.ByQuery),
		chromedp.SendKeys(`input#password`, password, chromedp.ByQuery),
		chromedp.Submit(`input#password`, chromedp.ByQuery),
		chromedp.WaitVisible(`//h1[contains(., "Your account")]`),
		chromedp.SendKeys(`input#totp_password`, password, chromedp.ByQuery),
		chromedp.Click(`form[action="/2fa/totp"] button`, chromedp.ByQuery),
		chromedp.WaitVisible(`img#qr`, chromedp.ByQuery),
		chromedp.Text(`#secret`, &secret, chromedp.ByQuery),
		chromedp.AttributeValue(`img#qr`, "src", &qr, nil, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("starting the enrolment: %v\n%s", err, browserState(ctx))
	}
	if uri := decodeQR(t, strings.TrimPrefix(qr, "data:image/png;base64,")); !strings.Contains(uri, "secret="+secret) {
		t.Fatalf("the QR code (%s) is not the key shown (%s)", uri, secret)
	}
	code, _ := totp.GenerateCode(secret, time.Now())
	var codes string
	err = chromedp.Run(ctx,
		chromedp.SendKeys(`input#code`, code, chromedp.ByQuery),
		chromedp.Submit(`input#code`, chromedp.ByQuery),
		chromedp.WaitVisible(`#recovery-codes`, chromedp.ByQuery),
		chromedp.Text(`#recovery-codes`, &codes, chromedp.ByQuery),
		// A new browser session: the cookies go.
		chromedp.ActionFunc(func(ctx context.Context) error { return network.ClearBrowserCookies().Do(ctx) }),
	)
	if err != nil {
		t.Fatalf("confirming the enrolment: %v\n%s", err, browserState(ctx))
	}
	if n := len(recoveryList.FindAllString("<li>"+strings.Join(strings.Fields(codes), "</li><li>")+"</li>", -1)); n != 10 {
		t.Fatalf("%d recovery codes shown: %q", n, codes)
	}

	pkce := oauth2.GenerateVerifier()
	next, _ := totp.GenerateCode(secret, time.Now().Add(30*time.Second)) // a later step than the enrolment's code
	var where string
	err = chromedp.Run(ctx,
		chromedp.Navigate(r.conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(pkce))),
		chromedp.WaitVisible(`input#password`, chromedp.ByQuery),
		chromedp.SendKeys(`input#email`, email, chromedp.ByQuery),
		chromedp.SendKeys(`input#password`, password, chromedp.ByQuery),
		chromedp.Submit(`input#password`, chromedp.ByQuery),
		chromedp.WaitVisible(`//h1[contains(., "Two-step verification")]`),
		chromedp.SendKeys(`input#code`, next, chromedp.ByQuery),
		chromedp.Submit(`input#code`, chromedp.ByQuery),
		chromedp.WaitVisible(`//h1[contains(., "Signed in to Vault")]`),
		chromedp.Location(&where),
	)
	if err != nil {
		t.Fatalf("signing in with the code: %v\n%s", err, browserState(ctx))
	}
	q := <-got
	tok, err := r.conf.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	idt, err := r.verifier.Verify(context.Background(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var c idClaims
	_ = idt.Claims(&c)
	if strings.Join(c.AMR, " ") != "pwd otp mfa" {
		t.Fatalf("amr %v at %s", c.AMR, where)
	}
}
