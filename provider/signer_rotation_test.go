package provider

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ory/fosite/token/jwt"

	"github.com/manam-id/manam/keys"
	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

// TestSignerAcrossServers: two servers on one database; one switches to a
// new key the other has not loaded yet. The other must still verify its
// tokens (id_token_hint, JWT access tokens), by reloading once on the
// unknown kid.
func TestSignerAcrossServers(t *testing.T) {
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			b.Check(t)
			ctx := context.Background()
			db := b.Open(t)
			// The keys' clock is injected; fosite checks exp on the real one.
			now := time.Now().UTC().Truncate(time.Second)
			clock := func() time.Time { return now }
			server := func() (*keys.Manager, *keySigner) {
				km, err := keys.New(ctx, storage.NewSigningKeys(db), testSecret, keys.Options{
					Now: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
				})
				if err != nil {
					t.Fatal(err)
				}
				return km, &keySigner{keys: km}
			}
			kmA, signerA := server()
			kmB, signerB := server()
			sign := func(s *keySigner) (string, string) {
				t.Helper()
				tok, _, err := s.Generate(ctx, jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix()}, &jwt.Headers{})
				if err != nil {
					t.Fatalf("Generate: %v", err)
				}
				kid, err := tokenKID(tok)
				if err != nil {
					t.Fatal(err)
				}
				return tok, kid
			}
			before, oldKID := sign(signerA)

			// Server A rotates; until the activation both still sign with the old key.
			now = now.Add(time.Second)
			k, err := kmA.Rotate(ctx, keys.RS256)
			if err != nil {
				t.Fatal(err)
			}
			if _, kid := sign(signerA); kid != oldKID {
				t.Fatalf("server A signs with %s before the activation, want %s", kid, oldKID)
			}
			// After the activation A signs with the new key; B has not reloaded.
			now = k.ActivatesAt
			after, newKID := sign(signerA)
			if newKID != k.KID {
				t.Fatalf("server A signs with %s after the activation, want %s", newKID, k.KID)
			}
			if _, loaded := kmB.Lookup(newKID); loaded {
				t.Fatal("test is wrong: server B loaded the new key already")
			}
			for _, c := range []struct {
				name  string
				token string
			}{
				{"a token signed by the new key on another server", after},
				{"a token signed before the rotation", before},
			} {
				if _, err := signerB.Validate(ctx, c.token); err != nil {
					t.Errorf("%s: Validate on server B: %v", c.name, err)
				}
				if tok, err := signerB.Decode(ctx, c.token); err != nil || !tok.Valid() {
					t.Errorf("%s: Decode on server B: %v", c.name, err)
				}
			}
			// A token naming a key nobody has is still refused.
			now = now.Add(2 * time.Second) // past the reload rate limit
			forged := "eyJhbGciOiJSUzI1NiIsImtpZCI6IkFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUEiLCJ0eXAiOiJKV1QifQ.e30.c2ln"
			if _, err := signerB.Validate(ctx, forged); err == nil {
				t.Error("a token with an unknown kid validated")
			}
			if tok, err := signerB.Decode(ctx, forged); err == nil && tok.Valid() {
				t.Error("a token with an unknown kid decoded as valid")
			}
		})
	}
}
