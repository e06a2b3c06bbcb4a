package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/keys"
	"github.com/manam-id/manam/provider"
	"github.com/manam-id/manam/provider/dialects"
	"github.com/manam-id/manam/storage"
)

// dialectEntry is one mount of MANAM_DIALECTS (issue 7: seeds 002–004).
type dialectEntry struct {
	Dialect    string `json:"dialect"`
	Tenant     string `json:"tenant"`
	Prefix     string `json:"prefix"`
	Host       string `json:"host"`
	ExistEmail bool   `json:"exist_email"`
	// CaptchaTestValue turns on 004's development captcha verifier,
	// which accepts exactly this value (not for production).
	CaptchaTestValue string `json:"captcha_test_value"`
}

var (
	// dialectPrefix: "/" and path segments of safe characters (no mux
	// template braces, no empty segment, no trailing slash but "/").
	dialectPrefix = regexp.MustCompile(`^(/|(/[A-Za-z0-9._~-]+)+)$`)
	// dialectHost: a host name or address, with an optional port.
	dialectHost = regexp.MustCompile(`^([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$`)
)

// dialectConfigs parses and validates MANAM_DIALECTS: every problem is
// reported together, each with the variable's name and the entry.
func (c *Config) dialectConfigs() ([]dialects.Config, error) {
	if strings.TrimSpace(c.Dialects) == "" {
		return nil, nil
	}
	var entries []dialectEntry
	dec := json.NewDecoder(bytes.NewReader([]byte(c.Dialects)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&entries); err != nil {
		return nil, fmt.Errorf(`MANAM_DIALECTS: want a JSON array [{"dialect","tenant","prefix"|"host"}]: %w`, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("MANAM_DIALECTS: want one JSON array, found more after it")
	}
	var (
		cfgs []dialects.Config
		errs []error
	)
	seen := map[string]int{}
	for i, e := range entries {
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("MANAM_DIALECTS: entry %d: %s", i+1, fmt.Sprintf(format, args...)))
		}
		d := dialects.Dialect(e.Dialect)
		known := false
		for _, k := range dialects.Dialects {
			known = known || d == k
		}
		if !known {
			bad("dialect %q: want vendor-authorization, authorization-api or jwt-auth-api", e.Dialect)
		}
		if strings.TrimSpace(e.Tenant) == "" {
			bad(`"tenant" (the client id of the tenant the mount serves) is required`)
		}
		switch {
		case e.Prefix == "" && e.Host == "":
			bad(`give "prefix" (such as "/vendor") or "host"`)
		case e.Prefix != "" && e.Host != "":
			bad(`give "prefix" or "host", not both`)
		case e.Prefix != "" && !strings.HasPrefix(e.Prefix, "/"):
			bad("prefix %q must start with /", e.Prefix)
		case e.Prefix != "" && !dialectPrefix.MatchString(e.Prefix):
			bad("prefix %q: use path segments of letters, digits and . _ ~ -, without a trailing /", e.Prefix)
		case e.Host != "" && !dialectHost.MatchString(e.Host):
			bad("host %q: want a host name, optionally with :port (no scheme, no path)", e.Host)
		}
		if e.ExistEmail && d != dialects.JWTAuthAPI {
			bad(`"exist_email" applies to jwt-auth-api only`)
		}
		if e.CaptchaTestValue != "" && d != dialects.JWTAuthAPI {
			bad(`"captcha_test_value" applies to jwt-auth-api only`)
		}
		prefix := strings.TrimSuffix(e.Prefix, "/")
		where := strings.ToLower(e.Host) + prefix
		if j, dup := seen[e.Dialect+" "+where]; dup {
			bad("the same dialect is already mounted there by entry %d", j)
		}
		seen[e.Dialect+" "+where] = i + 1
		cfg := dialects.Config{Dialect: d, Tenant: e.Tenant, Prefix: prefix, Host: strings.ToLower(e.Host), ExistEmail: e.ExistEmail}
		if e.CaptchaTestValue != "" {
			cfg.Captcha = dialects.TestCaptcha{Value: e.CaptchaTestValue}
		}
		cfgs = append(cfgs, cfg)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cfgs, nil
}

// dialectMounts builds the routes of the configured dialect mounts. Each
// mount's tenant must exist: a missing one stops the start.
func (a *app) dialectMounts(prov *provider.Provider, svc *idp.Service) ([]provider.Mount, error) {
	cfgs, err := a.cfg.dialectConfigs()
	if err != nil || len(cfgs) == 0 {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	deps := dialects.Deps{Accounts: svc, Tokens: prov, Tenants: storage.NewTenants(a.db), MemberKey: keys.Derive(a.secret, "dialect member keys"),
		Issuer: a.cfg.Issuer, Secure: strings.HasPrefix(a.cfg.Issuer, "https://"), Logger: a.log, Source: prov.Source,
		ExistEmail: idp.NewThrottle(storage.NewThrottles(a.db), "exist-email", a.cfg.Throttle.ExistEmail, nil),
		Resend:     idp.NewThrottle(storage.NewThrottles(a.db), "resend", a.cfg.Throttle.Resend, nil)}
	var (
		mounts []provider.Mount
		errs   []error
	)
	for _, cfg := range cfgs {
		where := cfg.Prefix
		if cfg.Host != "" {
			where = "host " + cfg.Host
		}
		client, err := prov.Client(ctx, cfg.Tenant)
		if errors.Is(err, provider.ErrUnknownClient) {
			errs = append(errs, fmt.Errorf("MANAM_DIALECTS: %s mount at %s: tenant %q does not exist (manam tenant list)", cfg.Dialect, where, cfg.Tenant))
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("MANAM_DIALECTS: reading tenant %q: %w", cfg.Tenant, err)
		}
		if cfg.Dialect == dialects.JWTAuthAPI && (!client.GetGrantTypes().Has("refresh_token") || !client.GetScopes().Has("offline_access")) {
			a.log.Warn("jwt-auth-api mount: the tenant lacks the refresh_token grant or the offline_access scope, so vaultToken will be empty and /api/refresh refused",
				"tenant", cfg.Tenant, "at", where)
		}
		if _, ok := cfg.Captcha.(dialects.TestCaptcha); ok {
			a.log.Warn("jwt-auth-api mount: the development captcha verifier is on (captcha_test_value): development only", "tenant", cfg.Tenant, "at", where)
		}
		m, err := dialects.New(cfg, deps)
		if err != nil {
			return nil, err
		}
		a.log.Info("dialect mounted", "dialect", string(cfg.Dialect), "tenant", cfg.Tenant, "at", where)
		mounts = append(mounts, m)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return mounts, nil
}
