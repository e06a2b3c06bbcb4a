package provider

import (
	"context"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"github.com/manam-id/manam/keys"
	"github.com/manam-id/manam/storage"
)

// idTokenAlgs are the ID-token algorithms a tenant may choose; the first
// is the default (OpenID Connect Core §15.1: every provider offers RS256).
var idTokenAlgs = []string{keys.RS256, keys.ES256}

// idTokenStrategy signs each ID token with the algorithm of the tenant it
// is for. fosite's openid.DefaultStrategy holds one Signer; this holds one
// DefaultStrategy per algorithm and picks by the requester's client, which
// every caller (the code exchange, the refresh, the authorize endpoint)
// hands GenerateIDToken. No context flag: the choice is made from the
// request fosite already passes.
type idTokenStrategy struct {
	byAlg map[string]*openid.DefaultStrategy
}

var _ openid.OpenIDConnectTokenStrategy = (*idTokenStrategy)(nil)

func newIDTokenStrategy(km *keys.Manager, fc *fosite.Config) *idTokenStrategy {
	s := &idTokenStrategy{byAlg: map[string]*openid.DefaultStrategy{}}
	for _, alg := range idTokenAlgs {
		s.byAlg[alg] = &openid.DefaultStrategy{Signer: &keySigner{keys: km, alg: alg}, Config: fc}
	}
	return s
}

// GenerateIDToken implements openid.OpenIDConnectTokenStrategy. It also
// verifies an id_token_hint (prompt=none): by its kid, whatever the
// algorithm.
func (s *idTokenStrategy) GenerateIDToken(ctx context.Context, lifespan time.Duration, r fosite.Requester) (string, error) {
	return s.byAlg[idTokenAlgOf(r.GetClient())].GenerateIDToken(ctx, lifespan, r)
}

// idTokenAlgOf is a tenant's ID-token algorithm (RS256 unless it chose
// another known one).
func idTokenAlgOf(c fosite.Client) string {
	if sc, ok := c.(*storage.Client); ok {
		for _, alg := range idTokenAlgs {
			if sc.IDTokenAlg == alg {
				return alg
			}
		}
	}
	return idTokenAlgs[0]
}
