package provider

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
)

// TestTenantChangesDoNotLoseARotation: a secret rotation racing other
// changes of the tenant is never written over by one of them (each used
// to read the tenant, then write every column back, the old secret hash
// included, so the new secret failed and the old one kept working).
func TestTenantChangesDoNotLoseARotation(t *testing.T) {
	_, db := newTestProvider(t)
	admin := NewAdmin(db, testSecret)
	ctx := context.Background()
	c, err := admin.Create(ctx, TenantSpec{Name: "Racy", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		var wg sync.WaitGroup
		var secret string
		var rotErr error
		wg.Add(4)
		go func() { defer wg.Done(); secret, rotErr = admin.RotateSecret(ctx, c.ClientID) }()
		for j := range 3 {
			go func() {
				defer wg.Done()
				if _, err := admin.Update(ctx, c.ClientID, func(s *TenantSpec) { s.Name = fmt.Sprintf("Racy %d.%d", i, j) }); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if rotErr != nil {
			t.Fatal(rotErr)
		}
		stored, err := admin.tenants.Get(ctx, c.ClientID)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := admin.hasher.Hash(ctx, []byte(secret))
		if !bytes.Equal(stored.SecretHash, want) {
			t.Fatalf("round %d: the stored secret is not the one the rotation printed", i)
		}
	}
}
