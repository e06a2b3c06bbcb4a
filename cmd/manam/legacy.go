package main

import (
	"strings"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/keys"
	"github.com/manam-id/manam/provider"
	"github.com/manam-id/manam/provider/legacy"
	"github.com/manam-id/manam/storage"
)

// legacyMounts builds the legacy Manam API (seeds 000 and 001), always
// served at / and /manam/.
func (a *app) legacyMounts(prov *provider.Provider, svc *idp.Service) ([]provider.Mount, error) {
	api, err := legacy.New(legacy.Deps{
		IDP: svc, Tokens: prov, Tenants: storage.NewTenants(a.db), Federation: prov.Pages(),
		Key: keys.Derive(a.secret, "legacy cookies"), Issuer: a.cfg.Issuer, Secure: strings.HasPrefix(a.cfg.Issuer, "https://"),
		Logger: a.log, Source: prov.Source, TrustedGateways: a.cfg.LegacyGateways,
	})
	if err != nil {
		return nil, err
	}
	return []provider.Mount{api.Mount}, nil
}
