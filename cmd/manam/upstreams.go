package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/manam-id/manam/upstream"
)

// upstreamEntry is one element of MANAM_UPSTREAMS. It is parsed here, not
// into upstream.Config, whose ClientSecret is never read from JSON (so a
// config file cannot leak it back out): the environment variable carries
// it, as CONFIG-CONTRACT says.
type upstreamEntry struct {
	ID           string            `json:"id"`
	Type         string            `json:"type"`
	Name         string            `json:"name"`
	Issuer       string            `json:"issuer"`
	ClientID     string            `json:"client_id"`
	ClientSecret string            `json:"client_secret"`
	Scopes       []string          `json:"scopes"`
	HostedDomain string            `json:"hosted_domain"`
	AuthParams   map[string]string `json:"auth_params"`
	AuthMethod   string            `json:"auth_method"`
}

// upstreamConfigs are the configured upstreams: Google (MANAM_GOOGLE_*)
// first, then MANAM_UPSTREAMS in order. Every problem is reported.
func (c *Config) upstreamConfigs() ([]upstream.Config, error) {
	var (
		cfgs []upstream.Config
		errs []error
	)
	if c.GoogleClientID != "" || c.GoogleClientSecret != "" || c.GoogleHostedDomain != "" {
		g := upstream.Config{ID: upstream.TypeGoogle, Type: upstream.TypeGoogle, Issuer: c.GoogleIssuer, ClientID: c.GoogleClientID,
			ClientSecret: upstream.Secret(c.GoogleClientSecret), HostedDomain: c.GoogleHostedDomain}
		if err := g.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("MANAM_GOOGLE_CLIENT_ID, MANAM_GOOGLE_CLIENT_SECRET, MANAM_GOOGLE_ISSUER, MANAM_GOOGLE_HOSTED_DOMAIN: %w", err))
		} else {
			cfgs = append(cfgs, g)
		}
	}
	if strings.TrimSpace(c.Upstreams) != "" {
		var entries []upstreamEntry
		dec := json.NewDecoder(bytes.NewReader([]byte(c.Upstreams)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&entries); err != nil {
			errs = append(errs, fmt.Errorf(`MANAM_UPSTREAMS: want a JSON array [{"id","name","issuer","client_id","client_secret","scopes"}]: %w`, err))
		}
		for _, e := range entries {
			u := upstream.Config{ID: e.ID, Type: e.Type, Name: e.Name, Issuer: e.Issuer, ClientID: e.ClientID, ClientSecret: upstream.Secret(e.ClientSecret),
				Scopes: e.Scopes, HostedDomain: e.HostedDomain, AuthParams: e.AuthParams, AuthMethod: e.AuthMethod}
			if err := u.Validate(); err != nil {
				errs = append(errs, fmt.Errorf("MANAM_UPSTREAMS: %w", err))
				continue
			}
			cfgs = append(cfgs, u)
		}
	}
	seen := map[string]bool{}
	for _, u := range cfgs {
		if seen[u.ID] {
			errs = append(errs, fmt.Errorf("MANAM_UPSTREAMS: upstream %q: duplicate id (google is MANAM_GOOGLE_*'s)", u.ID))
		}
		seen[u.ID] = true
	}
	return cfgs, errors.Join(errs...)
}

// upstreamSet builds the configured upstreams (nil when there are none).
// It contacts none of them: discovery happens at the first login.
func (c *Config) upstreamSet(log *slog.Logger) (*upstream.Set, error) {
	cfgs, err := c.upstreamConfigs()
	if err != nil {
		return nil, err
	}
	if len(cfgs) == 0 {
		return nil, nil
	}
	return upstream.New(cfgs, upstream.Deps{Logger: log})
}
