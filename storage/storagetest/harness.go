package storagetest

import (
	"context"
	"sync"
	"testing"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	fstorage "github.com/ory/fosite/storage"

	"github.com/manam-id/manam/storage"
)

// MemoryHarness runs the suite on fosite's own storage.MemoryStore, the
// reference for fosite's storage semantics.
func MemoryHarness() Harness {
	return Harness{
		New: func(*testing.T) FositeStorage { return fstorage.NewMemoryStore() },
		AddClient: func(t *testing.T, s FositeStorage, c fosite.Client) {
			t.Helper()
			m, ok := s.(*fstorage.MemoryStore)
			if !ok {
				t.Fatalf("store is %T, want *storage.MemoryStore", s)
			}
			m.Clients[c.GetID()] = c
		},
	}
}

// StoreHarness runs the suite on storage.FositeStore over a fresh, migrated
// database of b per subtest. Stored requests are read into
// *openid.DefaultSession when the caller passes no session.
func StoreHarness(b Backend) Harness {
	var dbs sync.Map // FositeStorage -> *storage.DB
	return Harness{
		New: func(t *testing.T) FositeStorage {
			t.Helper()
			db := b.Open(t)
			s := storage.NewFositeStore(db, func() fosite.Session { return new(openid.DefaultSession) })
			dbs.Store(FositeStorage(s), db)
			t.Cleanup(func() { dbs.Delete(FositeStorage(s)) })
			return s
		},
		AddClient: func(t *testing.T, s FositeStorage, c fosite.Client) {
			t.Helper()
			v, ok := dbs.Load(s)
			if !ok {
				t.Fatalf("store %p was not made by this harness", s)
			}
			if err := storage.NewTenants(v.(*storage.DB)).Create(context.Background(), TenantOf(c)); err != nil {
				t.Fatalf("create tenant %s: %v", c.GetID(), err)
			}
		},
	}
}

// TenantOf is the tenant row that stands for client c (with a customer
// token derived from its id).
func TenantOf(c fosite.Client) *storage.Tenant {
	return &storage.Tenant{
		ID:                c.GetID(),
		Name:              "Tenant " + c.GetID(),
		SecretHash:        c.GetHashedSecret(),
		RedirectURIs:      c.GetRedirectURIs(),
		GrantTypes:        c.GetGrantTypes(),
		ResponseTypes:     c.GetResponseTypes(),
		Scopes:            c.GetScopes(),
		Public:            c.IsPublic(),
		AccessTokenFormat: "opaque",
		CustomerToken:     "ct-" + c.GetID(),
	}
}
