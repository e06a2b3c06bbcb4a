package provider

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/token/jwt"

	"github.com/manam-id/manam/keys"
	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

// TestIDTokenSigner: the signer of an algorithm signs with that
// algorithm's key, falls back to the default algorithm's while its own
// has none active (the propagation delay after an upgrade added it), and
// any signer verifies a token of either algorithm by its kid.
func TestIDTokenSigner(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	manager := func(t *testing.T, db *storage.DB, algs []string) *keys.Manager {
		t.Helper()
		km, err := keys.New(ctx, storage.NewSigningKeys(db), testSecret, keys.Options{Algs: algs, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		return km
	}
	sign := func(t *testing.T, s *keySigner) (string, map[string]any) {
		t.Helper()
		tok, _, err := s.Generate(ctx, jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix()}, &jwt.Headers{})
		if err != nil {
			t.Fatalf("Generate: %v", err)
		}
		var h map[string]any
		head, _, _ := strings.Cut(tok, ".")
		if err := decodeSegment(head, &h); err != nil {
			t.Fatal(err)
		}
		return tok, h
	}
	for _, c := range []struct {
		name    string
		algs    []string // the manager's algorithms
		signer  string   // the signer's algorithm
		wantAlg string
	}{
		{"ES256 with an ES256 key", []string{keys.RS256, keys.ES256}, keys.ES256, "ES256"},
		{"RS256 with both keys", []string{keys.RS256, keys.ES256}, keys.RS256, "RS256"},
		{"the default signer", []string{keys.RS256, keys.ES256}, "", "RS256"},
		{"ES256 without an active ES256 key falls back to RS256", []string{keys.RS256}, keys.ES256, "RS256"},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := storagetest.OpenDSN(t, storagetest.SQLite().NewDSN(t))
			km := manager(t, db, c.algs)
			tok, h := sign(t, &keySigner{keys: km, alg: c.signer})
			if h["alg"] != c.wantAlg {
				t.Fatalf("alg %v, want %s", h["alg"], c.wantAlg)
			}
			if k, _ := km.Lookup(h["kid"].(string)); k == nil || k.Alg != c.wantAlg {
				t.Fatalf("kid %v names %+v", h["kid"], k)
			}
			// The default signer (logout's id_token_hint, JWT access tokens) verifies it.
			if _, err := (&keySigner{keys: km}).Validate(ctx, tok); err != nil {
				t.Fatalf("Validate: %v", err)
			}
		})
	}
}

// TestIDTokenAlgOf: a tenant's algorithm, RS256 for anything else.
func TestIDTokenAlgOf(t *testing.T) {
	for _, c := range []struct {
		name   string
		client fosite.Client
		want   string
	}{
		{"ES256 tenant", &storage.Client{IDTokenAlg: "ES256"}, "ES256"},
		{"RS256 tenant", &storage.Client{IDTokenAlg: "RS256"}, "RS256"},
		{"unset", &storage.Client{}, "RS256"},
		{"unknown", &storage.Client{IDTokenAlg: "HS256"}, "RS256"},
		{"not a tenant", &fosite.DefaultClient{}, "RS256"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := idTokenAlgOf(c.client); got != c.want {
				t.Fatalf("idTokenAlgOf = %s, want %s", got, c.want)
			}
		})
	}
}
