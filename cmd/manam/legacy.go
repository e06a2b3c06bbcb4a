package main

import (
	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/provider"
)

// legacyMounts builds the legacy Manam API (seeds 000 and 001), always
// served at / and /manam/.
func (a *app) legacyMounts(prov *provider.Provider, svc *idp.Service) ([]provider.Mount, error) {
	return nil, nil
}
