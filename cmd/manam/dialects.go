package main

import (
	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/provider"
)

// dialectEntry is one mount of MANAM_DIALECTS (issue 7: seeds 002–004).
type dialectEntry struct {
	Dialect    string `json:"dialect"`
	Tenant     string `json:"tenant"`
	Prefix     string `json:"prefix"`
	Host       string `json:"host"`
	ExistEmail bool   `json:"exist_email"`
}

// dialectConfigs parses and validates MANAM_DIALECTS.
func (c *Config) dialectConfigs() ([]dialectEntry, error) {
	return nil, nil // filled in by the dialects work
}

// dialectMounts builds the routes of the configured dialect mounts.
func (a *app) dialectMounts(prov *provider.Provider, svc *idp.Service) ([]provider.Mount, error) {
	return nil, nil // filled in by the dialects work
}
