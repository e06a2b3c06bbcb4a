package storage_test

import (
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"github.com/manam-id/manam/storage"
)

// TestRevocations: each kind of revocation row matches the tokens it
// names and no other; subject and client rows end only tokens issued up
// to them; a second revocation of the same key keeps the later time; gc
// keeps a row for the longest access-token lifetime, then drops it.
func TestRevocations(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	store := func(e env, at *time.Time) *storage.FositeStore {
		s := storage.NewFositeStore(e.db, func() fosite.Session { return new(openid.DefaultSession) })
		s.SetNow(func() time.Time { return *at })
		e.db.SetMaxAccessTokenLifetime(time.Hour)
		return s
	}
	ref := func(iat time.Time) storage.TokenRef {
		return storage.TokenRef{SignatureKey: storage.RevocationKey("mnm_at_1_tok"), RequestID: "req-1", Subject: "alice", ClientID: "app", IssuedAt: iat}
	}
	revoked := func(t *testing.T, s *storage.FositeStore, r storage.TokenRef) bool {
		t.Helper()
		ok, err := s.IsRevoked(bg, r)
		must(t, "IsRevoked", err)
		return ok
	}
	before, after := t0.Add(-time.Millisecond), t0.Add(time.Millisecond)
	runOnBackends(t, []dbCase{
		{"nothing revoked", func(t *testing.T, e env) {
			now := t0
			if revoked(t, store(e, &now), ref(before)) {
				t.Fatal("revoked without a row")
			}
		}},
		{"one token, by the signature a refresh row names it by", func(t *testing.T, e env) {
			now := t0
			s := store(e, &now)
			must(t, "RevokeToken", s.RevokeToken(bg, "mnm_at_1_tok"))
			other := ref(before)
			other.SignatureKey = storage.RevocationKey("mnm_at_1_other")
			if !revoked(t, s, ref(after)) || revoked(t, s, other) {
				t.Fatal("a token row must match its token, whenever issued, and no other")
			}
		}},
		{"one grant", func(t *testing.T, e env) {
			now := t0
			s := store(e, &now)
			must(t, "RevokeAccessToken", s.RevokeAccessToken(bg, "req-1"))
			other := ref(before)
			other.RequestID, other.SignatureKey = "req-2", "x"
			if !revoked(t, s, ref(after)) || revoked(t, s, other) {
				t.Fatal("a grant row must match every token of the grant and no other grant")
			}
		}},
		{"a subject, issued before", func(t *testing.T, e env) {
			now := t0
			s := store(e, &now)
			must(t, "RevokeSubject", s.RevokeSubject(bg, "alice"))
			if !revoked(t, s, ref(before)) || !revoked(t, s, ref(t0)) || revoked(t, s, ref(after)) {
				t.Fatal("a subject row must end the tokens issued up to it, not those issued after")
			}
			bob := ref(before)
			bob.Subject = "bob"
			bob.SignatureKey = "y"
			bob.RequestID = "req-9"
			if revoked(t, s, bob) {
				t.Fatal("another subject's token revoked")
			}
			// A second revocation later widens the row; an earlier one does not narrow it.
			now = t0.Add(time.Minute)
			must(t, "RevokeSubject", s.RevokeSubject(bg, "alice"))
			now = t0
			must(t, "RevokeSubject", s.RevokeSubject(bg, "alice"))
			if !revoked(t, s, ref(t0.Add(30*time.Second))) {
				t.Fatal("the later revocation was lost")
			}
		}},
		{"a client, issued before (tenant deleted)", func(t *testing.T, e env) {
			now := t0
			s := store(e, &now)
			must(t, "Create tenant", storage.NewTenants(e.db).Create(bg, &storage.Tenant{ID: "app", Name: "App", CustomerToken: "ct-app",
				AccessTokenFormat: "opaque", CreatedAt: now, UpdatedAt: now}))
			must(t, "Delete tenant", storage.NewTenants(e.db).Delete(bg, "app"))
			if !revoked(t, s, storage.TokenRef{SignatureKey: "z", RequestID: "req-z", Subject: "app", ClientID: "app", IssuedAt: time.Now().Add(-time.Second)}) {
				t.Fatal("a deleted tenant's token is not revoked")
			}
		}},
		{"gc drops a row after the longest lifetime, not before", func(t *testing.T, e env) {
			now := t0
			s := store(e, &now)
			must(t, "RevokeAccessToken", s.RevokeAccessToken(bg, "req-1"))
			now = t0.Add(59 * time.Minute)
			if _, err := s.Sweep(bg, 100, 0); err != nil {
				t.Fatal(err)
			}
			if !revoked(t, s, ref(before)) {
				t.Fatal("swept before every token it matches expired")
			}
			now = t0.Add(61 * time.Minute)
			if _, err := s.Sweep(bg, 100, 0); err != nil {
				t.Fatal(err)
			}
			if revoked(t, s, ref(before)) {
				t.Fatal("not swept after the longest access-token lifetime")
			}
		}},
	})
}
