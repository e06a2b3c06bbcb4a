package storage_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"github.com/manam-id/manam/storage"
	"github.com/manam-id/manam/storage/storagetest"
)

var bg = context.Background()

// --- tenants ------------------------------------------------------------------------

func TestTenants(t *testing.T) {
	runOnBackends(t, []dbCase{
		{"create and get", func(t *testing.T, e env) {
			ts := storage.NewTenants(e.db)
			in := &storage.Tenant{
				ID: "shop", Name: "The Shop", SecretHash: []byte{0, 1, 2, 255},
				RedirectURIs:           []string{"https://shop.example.com/cb", "http://localhost:8080/cb"},
				PostLogoutRedirectURIs: []string{"https://shop.example.com/bye"},
				GrantTypes:             []string{"authorization_code", "refresh_token"},
				ResponseTypes:          []string{"code"},
				Scopes:                 []string{"openid", "email"},
				FirstParty:             true, AccessTokenFormat: "jwt", CustomerToken: "ct-shop",
			}
			must(t, "Create", ts.Create(bg, in))
			got, err := ts.Get(bg, "shop")
			must(t, "Get", err)
			if got.Name != in.Name || string(got.SecretHash) != string(in.SecretHash) || got.Public || !got.FirstParty ||
				got.AccessTokenFormat != "jwt" || got.CustomerToken != "ct-shop" ||
				!slices.Equal(got.RedirectURIs, in.RedirectURIs) || !slices.Equal(got.PostLogoutRedirectURIs, in.PostLogoutRedirectURIs) ||
				!slices.Equal(got.GrantTypes, in.GrantTypes) || !slices.Equal(got.ResponseTypes, in.ResponseTypes) ||
				!slices.Equal(got.Scopes, in.Scopes) {
				t.Errorf("Get = %+v, want %+v", got, in)
			}
			if got.CreatedAt.IsZero() || got.UpdatedAt.IsZero() {
				t.Errorf("timestamps not set: created %v, updated %v", got.CreatedAt, got.UpdatedAt)
			}
		}},
		{"get unknown", func(t *testing.T, e env) {
			_, err := storage.NewTenants(e.db).Get(bg, "nope")
			wantErrIs(t, "Get(unknown)", err, storage.ErrNotFound)
			wantErrIs(t, "Get(unknown)", err, fosite.ErrNotFound)
		}},
		{"by customer token", func(t *testing.T, e env) {
			addTenant(t, e.db, "a")
			addTenant(t, e.db, "b")
			got, err := storage.NewTenants(e.db).ByCustomerToken(bg, "ct-b")
			must(t, "ByCustomerToken", err)
			if got.ID != "b" {
				t.Errorf("ByCustomerToken(ct-b) = tenant %s, want b", got.ID)
			}
			_, err = storage.NewTenants(e.db).ByCustomerToken(bg, "ct-nope")
			wantErrIs(t, "ByCustomerToken(unknown)", err, storage.ErrNotFound)
		}},
		{"duplicate id", func(t *testing.T, e env) {
			addTenant(t, e.db, "a")
			err := storage.NewTenants(e.db).Create(bg, &storage.Tenant{ID: "a", Name: "again", AccessTokenFormat: "opaque", CustomerToken: "ct-other"})
			wantErrIs(t, "Create(same id)", err, storage.ErrDuplicate)
		}},
		{"duplicate customer token", func(t *testing.T, e env) {
			addTenant(t, e.db, "a")
			err := storage.NewTenants(e.db).Create(bg, &storage.Tenant{ID: "b", Name: "b", AccessTokenFormat: "opaque", CustomerToken: "ct-a"})
			wantErrIs(t, "Create(same customer token)", err, storage.ErrDuplicate)
			if _, err := storage.NewTenants(e.db).Get(bg, "b"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("Get(b) after refused create: %v, want ErrNotFound", err)
			}
		}},
		{"list oldest first", func(t *testing.T, e env) {
			ts := storage.NewTenants(e.db)
			t0 := time.Now().UTC().Truncate(time.Second)
			for _, c := range []struct {
				id  string
				age time.Duration
			}{{"new", 0}, {"old", 2 * time.Hour}, {"mid", time.Hour}} {
				must(t, "Create", ts.Create(bg, &storage.Tenant{ID: c.id, Name: c.id, AccessTokenFormat: "opaque",
					CustomerToken: "ct-" + c.id, CreatedAt: t0.Add(-c.age)}))
			}
			list, err := ts.List(bg)
			must(t, "List", err)
			var ids []string
			for _, tn := range list {
				ids = append(ids, tn.ID)
			}
			if want := []string{"old", "mid", "new"}; !slices.Equal(ids, want) {
				t.Errorf("List = %v, want %v", ids, want)
			}
		}},
		{"update", func(t *testing.T, e env) {
			ts := storage.NewTenants(e.db)
			before := addTenant(t, e.db, "a")
			stored, err := ts.Get(bg, "a")
			must(t, "Get", err)
			time.Sleep(5 * time.Millisecond)
			up := *stored
			up.Name, up.RedirectURIs, up.Public = "Renamed", []string{"https://new.example.com/cb"}, true
			up.CreatedAt = time.Time{} // Update must leave created_at alone
			must(t, "Update", ts.Update(bg, &up))
			got, err := ts.Get(bg, "a")
			must(t, "Get", err)
			if got.Name != "Renamed" || !got.Public || !slices.Equal(got.RedirectURIs, up.RedirectURIs) {
				t.Errorf("after Update: %+v", got)
			}
			if !got.CreatedAt.Equal(stored.CreatedAt) {
				t.Errorf("CreatedAt = %v, want unchanged %v", got.CreatedAt, stored.CreatedAt)
			}
			if !got.UpdatedAt.After(stored.UpdatedAt) {
				t.Errorf("UpdatedAt = %v, want after %v", got.UpdatedAt, stored.UpdatedAt)
			}
			if got.CustomerToken != before.CustomerToken {
				t.Errorf("CustomerToken = %q, want %q", got.CustomerToken, before.CustomerToken)
			}
		}},
		{"update without changes", func(t *testing.T, e env) {
			// Saving a tenant as it is must succeed, however fast it is repeated.
			tn := addTenant(t, e.db, "a")
			for i := range 50 {
				if err := storage.NewTenants(e.db).Update(bg, tn); err != nil {
					t.Fatalf("Update #%d of an unchanged tenant: %v", i, err)
				}
			}
		}},
		{"update unknown", func(t *testing.T, e env) {
			err := storage.NewTenants(e.db).Update(bg, &storage.Tenant{ID: "nope", Name: "x", AccessTokenFormat: "opaque", CustomerToken: "ct-x"})
			wantErrIs(t, "Update(unknown)", err, storage.ErrNotFound)
		}},
		{"update to a taken customer token", func(t *testing.T, e env) {
			addTenant(t, e.db, "a")
			b := addTenant(t, e.db, "b")
			b.CustomerToken = "ct-a"
			err := storage.NewTenants(e.db).Update(bg, b)
			wantErrIs(t, "Update(taken customer token)", err, storage.ErrDuplicate)
		}},
		{"delete unknown", func(t *testing.T, e env) {
			err := storage.NewTenants(e.db).Delete(bg, "nope")
			wantErrIs(t, "Delete(unknown)", err, storage.ErrNotFound)
		}},
		{"delete takes tokens and consents along", func(t *testing.T, e env) {
			ts, fs, acc := storage.NewTenants(e.db), newFositeStore(e.db), storage.NewAccounts(e.db)
			addTenant(t, e.db, "gone")
			addTenant(t, e.db, "kept")
			user := addAccount(t, e.db, "user@example.com")
			sigs := map[string]string{}
			for _, client := range []string{"gone", "kept"} {
				req := tokenRequest(client, user.ID, time.Now().Add(time.Hour))
				sig := "sig-" + client
				sigs[client] = sig
				must(t, "CreateAuthorizeCodeSession", fs.CreateAuthorizeCodeSession(bg, sig, req))
				must(t, "CreatePKCERequestSession", fs.CreatePKCERequestSession(bg, sig, req))
				must(t, "CreateOpenIDConnectSession", fs.CreateOpenIDConnectSession(bg, sig, req))
				must(t, "CreateAccessTokenSession", fs.CreateAccessTokenSession(bg, sig, req))
				must(t, "CreateRefreshTokenSession", fs.CreateRefreshTokenSession(bg, sig, sig, req))
				must(t, "SaveConsent", acc.SaveConsent(bg, &storage.Consent{AccountID: user.ID, ClientID: client, Scopes: []string{"openid"}, GrantedAt: time.Now().UTC()}))
			}
			must(t, "Delete", ts.Delete(bg, "gone"))
			if _, err := ts.Get(bg, "gone"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("Get(deleted tenant): %v, want ErrNotFound", err)
			}
			// A tenant created again under the same id must not inherit anything.
			addTenant(t, e.db, "gone")
			check := func(client string, wantGone bool) {
				sig := sigs[client]
				gets := map[string]error{}
				_, gets["authorize code"] = fs.GetAuthorizeCodeSession(bg, sig, nil)
				_, gets["pkce"] = fs.GetPKCERequestSession(bg, sig, nil)
				_, gets["oidc session"] = fs.GetOpenIDConnectSession(bg, sig, fosite.NewAccessRequest(new(openid.DefaultSession)))
				_, gets["access token"] = fs.GetAccessTokenSession(bg, sig, nil)
				_, gets["refresh token"] = fs.GetRefreshTokenSession(bg, sig, nil)
				_, gets["consent"] = acc.Consent(bg, user.ID, client)
				for what, err := range gets {
					switch {
					case wantGone && !errors.Is(err, fosite.ErrNotFound):
						t.Errorf("%s of deleted tenant %s: %v, want not found", what, client, err)
					case !wantGone && err != nil:
						t.Errorf("%s of tenant %s: %v, want it kept", what, client, err)
					}
				}
			}
			check("gone", true)
			check("kept", false)
		}},
		{"changes reach the fosite client at once", func(t *testing.T, e env) {
			// Within one process a tenant change must not wait out a cache.
			ts, fs := storage.NewTenants(e.db), newFositeStore(e.db)
			tn := addTenant(t, e.db, "a")
			if _, err := fs.GetClient(bg, "a"); err != nil {
				t.Fatalf("GetClient: %v", err)
			}
			tn.RedirectURIs = []string{"https://changed.example.com/cb"}
			must(t, "Update", ts.Update(bg, tn))
			c, err := fs.GetClient(bg, "a")
			must(t, "GetClient after Update", err)
			if !slices.Equal(c.GetRedirectURIs(), tn.RedirectURIs) {
				t.Errorf("GetClient after Update: redirect URIs %v, want %v", c.GetRedirectURIs(), tn.RedirectURIs)
			}
			must(t, "CreateAccessTokenSession", fs.CreateAccessTokenSession(bg, "at", tokenRequest("a", "u", time.Now().Add(time.Hour))))
			if _, err := fs.GetAccessTokenSession(bg, "at", nil); err != nil {
				t.Fatalf("GetAccessTokenSession: %v", err)
			}
			must(t, "Delete", ts.Delete(bg, "a"))
			_, err = fs.GetClient(bg, "a")
			wantErrIs(t, "GetClient after Delete", err, fosite.ErrNotFound)
			_, err = fs.GetAccessTokenSession(bg, "at", nil)
			wantErrIs(t, "GetAccessTokenSession after Delete", err, fosite.ErrNotFound)
		}},
		{"tenant is the fosite client", func(t *testing.T, e env) {
			in := addTenant(t, e.db, "a")
			in.FirstParty, in.AccessTokenFormat, in.PostLogoutRedirectURIs, in.Name = true, "jwt", []string{"https://a.example.com/bye"}, "Tenant A"
			must(t, "Update", storage.NewTenants(e.db).Update(bg, in))
			c, err := newFositeStore(e.db).GetClient(bg, "a")
			must(t, "GetClient", err)
			sc, ok := c.(*storage.Client)
			if !ok {
				t.Fatalf("GetClient = %T, want *storage.Client", c)
			}
			if sc.Name != "Tenant A" || !sc.FirstParty || sc.AccessTokenFormat != "jwt" ||
				!slices.Equal(sc.PostLogoutRedirectURIs, in.PostLogoutRedirectURIs) || !slices.Equal(sc.GetRedirectURIs(), in.RedirectURIs) {
				t.Errorf("GetClient = %+v, want tenant %+v", sc, in)
			}
			if _, err := newFositeStore(e.db).GetClient(bg, string(make([]byte, 65))); !errors.Is(err, fosite.ErrNotFound) {
				t.Errorf("GetClient(65-byte id): %v, want ErrNotFound", err)
			}
		}},
	})
}

// --- accounts, login sessions, consents ------------------------------------------

func TestAccounts(t *testing.T) {
	runOnBackends(t, []dbCase{
		{"email is case-insensitive", func(t *testing.T, e env) {
			a := addAccount(t, e.db, "Alice@Example.COM")
			if *a.Email != "alice@example.com" {
				t.Errorf("stored e-mail %q, want it lower-cased", *a.Email)
			}
			for _, q := range []string{"alice@example.com", "ALICE@EXAMPLE.COM", "Alice@Example.COM"} {
				got, err := storage.NewAccounts(e.db).AccountByEmail(bg, q)
				if err != nil || got.ID != a.ID {
					t.Errorf("AccountByEmail(%q) = %v, %v; want account %s", q, got, err, a.ID)
				}
			}
		}},
		{"duplicate email in another case", func(t *testing.T, e env) {
			addAccount(t, e.db, "bob@example.com")
			email := "BOB@example.com"
			err := storage.NewAccounts(e.db).CreateAccount(bg, &storage.Account{ID: "other", Email: &email, PasswordHash: "h", Name: "Bob 2"})
			wantErrIs(t, "CreateAccount(same e-mail)", err, storage.ErrDuplicate)
		}},
		{"accounts without email", func(t *testing.T, e env) {
			a, b := addAccount(t, e.db, ""), addAccount(t, e.db, "")
			for _, id := range []string{a.ID, b.ID} {
				got, err := storage.NewAccounts(e.db).AccountByID(bg, id)
				if err != nil || got.Email != nil {
					t.Errorf("AccountByID(%s) = %+v, %v; want an account without e-mail", id, got, err)
				}
			}
		}},
		{"unknown account", func(t *testing.T, e env) {
			_, err := storage.NewAccounts(e.db).AccountByID(bg, "nope")
			wantErrIs(t, "AccountByID(unknown)", err, storage.ErrNotFound)
			_, err = storage.NewAccounts(e.db).AccountByEmail(bg, "nobody@example.com")
			wantErrIs(t, "AccountByEmail(unknown)", err, storage.ErrNotFound)
		}},
		{"set password hash", func(t *testing.T, e env) {
			acc := storage.NewAccounts(e.db)
			a := addAccount(t, e.db, "carol@example.com")
			must(t, "SetPasswordHash", acc.SetPasswordHash(bg, a.ID, "$argon2id$new"))
			got, err := acc.AccountByID(bg, a.ID)
			if err != nil || got.PasswordHash != "$argon2id$new" {
				t.Errorf("AccountByID = %+v, %v; want the new hash", got, err)
			}
			wantErrIs(t, "SetPasswordHash(unknown)", acc.SetPasswordHash(bg, "nope", "h"), storage.ErrNotFound)
		}},
		{"set the same password hash again", func(t *testing.T, e env) {
			acc := storage.NewAccounts(e.db)
			a := addAccount(t, e.db, "hal@example.com")
			for i := range 50 {
				if err := acc.SetPasswordHash(bg, a.ID, "$argon2id$same"); err != nil {
					t.Fatalf("SetPasswordHash #%d with an unchanged hash: %v", i, err)
				}
			}
		}},
		{"e-mail lookup folds case only", func(t *testing.T, e env) {
			// rené@ and rene@ are different mailboxes.
			acc := storage.NewAccounts(e.db)
			addAccount(t, e.db, "rené@example.com")
			if got, err := acc.AccountByEmail(bg, "rene@example.com"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("AccountByEmail(rene@) = %+v, %v; want ErrNotFound, only rené@ exists", got, err)
			}
			email := "rene@example.com"
			if err := acc.CreateAccount(bg, &storage.Account{ID: "rene", Email: &email, PasswordHash: "h", Name: "Rene"}); err != nil {
				t.Errorf("CreateAccount(rene@) beside rené@: %v", err)
			}
		}},
		{"login session round trip", func(t *testing.T, e env) {
			acc := storage.NewAccounts(e.db)
			a := addAccount(t, e.db, "dave@example.com")
			now := time.Now().UTC().Truncate(time.Second)
			in := &storage.LoginSession{ID: "h1", SID: "sid1", AccountID: a.ID, AuthTime: now, AMR: "pwd otp", ACR: "1",
				Remember: true, CreatedAt: now, ExpiresAt: now.Add(time.Hour), LastSeenAt: now}
			must(t, "CreateSession", acc.CreateSession(bg, in))
			got, err := acc.SessionByID(bg, "h1", now)
			must(t, "SessionByID", err)
			if got.SID != "sid1" || got.AccountID != a.ID || got.AMR != "pwd otp" || got.ACR != "1" || !got.Remember ||
				!got.AuthTime.Equal(now) || !got.ExpiresAt.Equal(in.ExpiresAt) {
				t.Errorf("SessionByID = %+v, want %+v", got, in)
			}
		}},
		{"expired login session is not returned", func(t *testing.T, e env) {
			acc := storage.NewAccounts(e.db)
			a := addAccount(t, e.db, "erin@example.com")
			now := time.Now().UTC()
			for id, exp := range map[string]time.Time{"expired": now.Add(-time.Second), "live": now.Add(time.Minute)} {
				must(t, "CreateSession", acc.CreateSession(bg, &storage.LoginSession{ID: id, SID: "sid-" + id, AccountID: a.ID,
					AuthTime: now, CreatedAt: now, ExpiresAt: exp, LastSeenAt: now}))
			}
			_, err := acc.SessionByID(bg, "expired", now)
			wantErrIs(t, "SessionByID(expired)", err, storage.ErrNotFound)
			if _, err := acc.SessionByID(bg, "live", now); err != nil {
				t.Errorf("SessionByID(live): %v", err)
			}
			_, err = acc.SessionByID(bg, "nope", now)
			wantErrIs(t, "SessionByID(unknown)", err, storage.ErrNotFound)
		}},
		{"login session needs an account", func(t *testing.T, e env) {
			now := time.Now().UTC()
			err := storage.NewAccounts(e.db).CreateSession(bg, &storage.LoginSession{ID: "h", SID: "s", AccountID: "no-such-account",
				AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour), LastSeenAt: now})
			if err == nil {
				t.Error("CreateSession for an unknown account succeeded; want a foreign-key error")
			}
		}},
		{"delete sessions", func(t *testing.T, e env) {
			acc := storage.NewAccounts(e.db)
			a, b := addAccount(t, e.db, "a@example.com"), addAccount(t, e.db, "b@example.com")
			now := time.Now().UTC()
			for _, s := range []struct{ id, account string }{{"a1", a.ID}, {"a2", a.ID}, {"a3", a.ID}, {"a4", a.ID}, {"b1", b.ID}} {
				must(t, "CreateSession", acc.CreateSession(bg, &storage.LoginSession{ID: s.id, SID: "sid-" + s.id, AccountID: s.account,
					AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour), LastSeenAt: now}))
			}
			must(t, "DeleteSession", acc.DeleteSession(bg, "a1"))
			must(t, "DeleteSessionBySID", acc.DeleteSessionBySID(bg, "sid-a2"))
			must(t, "DeleteSessionsOf", acc.DeleteSessionsOf(bg, a.ID, "a3"))
			for id, alive := range map[string]bool{"a1": false, "a2": false, "a3": true, "a4": false, "b1": true} {
				_, err := acc.SessionByID(bg, id, now)
				if alive && err != nil {
					t.Errorf("session %s: %v, want it kept", id, err)
				}
				if !alive && !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("session %s: %v, want it deleted", id, err)
				}
			}
			must(t, "DeleteSessionsOf(keep none)", acc.DeleteSessionsOf(bg, a.ID, ""))
			_, err := acc.SessionByID(bg, "a3", now)
			wantErrIs(t, "session a3 after DeleteSessionsOf(keep none)", err, storage.ErrNotFound)
		}},
		{"consent upsert", func(t *testing.T, e env) {
			acc := storage.NewAccounts(e.db)
			a := addAccount(t, e.db, "f@example.com")
			addTenant(t, e.db, "app")
			t1 := time.Now().UTC().Truncate(time.Second)
			must(t, "SaveConsent", acc.SaveConsent(bg, &storage.Consent{AccountID: a.ID, ClientID: "app", Scopes: []string{"openid"}, GrantedAt: t1}))
			must(t, "SaveConsent(again)", acc.SaveConsent(bg, &storage.Consent{AccountID: a.ID, ClientID: "app", Scopes: []string{"openid", "email"}, GrantedAt: t1.Add(time.Minute)}))
			got, err := acc.Consent(bg, a.ID, "app")
			must(t, "Consent", err)
			if !slices.Equal(got.Scopes, []string{"openid", "email"}) || !got.GrantedAt.Equal(t1.Add(time.Minute)) {
				t.Errorf("Consent = %+v, want the second grant", got)
			}
			if n := count(t, storagetest.Raw(t, e.dsn), "consents", "account_id = ?", a.ID); n != 1 {
				t.Errorf("%d consent rows, want 1", n)
			}
		}},
		{"unknown consent", func(t *testing.T, e env) {
			a := addAccount(t, e.db, "g@example.com")
			_, err := storage.NewAccounts(e.db).Consent(bg, a.ID, "no-such-client")
			wantErrIs(t, "Consent(unknown)", err, storage.ErrNotFound)
		}},
	})
}

// --- signing keys ------------------------------------------------------------------

func TestSigningKeys(t *testing.T) {
	t0 := time.Now().UTC().Truncate(time.Second)
	key := func(kid string, created time.Time) *storage.SigningKey {
		return &storage.SigningKey{KID: kid, Alg: "RS256", PrivateKey: []byte("sealed-" + kid), CreatedAt: created}
	}
	list := func(t *testing.T, ks *storage.SigningKeys) map[string]storage.SigningKey {
		t.Helper()
		got, err := ks.ListKeys(bg)
		must(t, "ListKeys", err)
		m := map[string]storage.SigningKey{}
		for i, k := range got {
			m[k.KID] = k
			if i > 0 && got[i-1].CreatedAt.Before(k.CreatedAt) {
				t.Errorf("ListKeys not newest first: %s before %s", got[i-1].KID, k.KID)
			}
		}
		return m
	}
	wantRetired := func(t *testing.T, k storage.SigningKey, at, until time.Time) {
		t.Helper()
		if k.RetiredAt == nil || !k.RetiredAt.Equal(at) || k.PublishUntil == nil || !k.PublishUntil.Equal(until) {
			t.Errorf("key %s retired %v until %v; want retired %v until %v", k.KID, k.RetiredAt, k.PublishUntil, at, until)
		}
	}
	runOnBackends(t, []dbCase{
		{"add key retires earlier keys", func(t *testing.T, e env) {
			ks := storage.NewSigningKeys(e.db)
			t1, t2, t3 := t0.Add(-2*time.Hour), t0.Add(-time.Hour), t0
			must(t, "AddKey(k1)", ks.AddKey(bg, key("k1", t1), t1.Add(time.Hour)))
			must(t, "AddKey(k2)", ks.AddKey(bg, key("k2", t2), t2.Add(24*time.Hour)))
			got := list(t, ks)
			if k := got["k2"]; k.RetiredAt != nil || k.PublishUntil != nil || string(k.PrivateKey) != "sealed-k2" || k.Alg != "RS256" {
				t.Errorf("newest key %+v, want current", k)
			}
			wantRetired(t, got["k1"], t2, t2.Add(24*time.Hour))

			must(t, "AddKey(k3)", ks.AddKey(bg, key("k3", t3), t3.Add(24*time.Hour)))
			got = list(t, ks)
			if len(got) != 3 || got["k3"].RetiredAt != nil {
				t.Errorf("keys %v, want k1..k3 with k3 current", got)
			}
			wantRetired(t, got["k2"], t3, t3.Add(24*time.Hour))
			wantRetired(t, got["k1"], t2, t2.Add(24*time.Hour)) // retired once, not again
		}},
		{"failed add retires nothing", func(t *testing.T, e env) {
			ks := storage.NewSigningKeys(e.db)
			must(t, "AddKey(k1)", ks.AddKey(bg, key("k1", t0.Add(-time.Hour)), t0))
			must(t, "AddKey(k2)", ks.AddKey(bg, key("k2", t0), t0.Add(time.Hour)))
			if err := ks.AddKey(bg, key("k1", t0.Add(time.Minute)), t0.Add(2*time.Hour)); err == nil {
				t.Fatal("AddKey with a taken kid succeeded")
			}
			if k := list(t, ks)["k2"]; k.RetiredAt != nil {
				t.Errorf("k2 retired at %v by a failed AddKey; want it current", k.RetiredAt)
			}
		}},
		{"delete unpublished", func(t *testing.T, e env) {
			ks := storage.NewSigningKeys(e.db)
			must(t, "AddKey(old)", ks.AddKey(bg, key("old", t0.Add(-3*time.Hour)), t0))
			must(t, "AddKey(mid)", ks.AddKey(bg, key("mid", t0.Add(-2*time.Hour)), t0.Add(-time.Hour))) // old: published until t0-1h
			must(t, "AddKey(cur)", ks.AddKey(bg, key("cur", t0.Add(-time.Minute)), t0.Add(time.Hour)))  // mid: published until t0+1h
			n, err := ks.DeleteUnpublished(bg, t0)
			must(t, "DeleteUnpublished", err)
			if n != 1 {
				t.Errorf("DeleteUnpublished deleted %d keys, want 1", n)
			}
			got := list(t, ks)
			if _, ok := got["old"]; ok || len(got) != 2 {
				t.Errorf("keys after DeleteUnpublished: %v, want mid and cur", got)
			}
			// Far in the future only the current key stays.
			n, err = ks.DeleteUnpublished(bg, t0.AddDate(1, 0, 0))
			if err != nil || n != 1 {
				t.Errorf("DeleteUnpublished(next year) = %d, %v; want 1", n, err)
			}
			if got := list(t, ks); len(got) != 1 || got["cur"].KID != "cur" {
				t.Errorf("keys left: %v, want the current key only", got)
			}
		}},
	})
}

// --- sweeping, subject revocation ---------------------------------------------------

func TestSweep(t *testing.T) {
	runOnBackends(t, []dbCase{
		{"deletes only expired rows in bounded batches", func(t *testing.T, e env) {
			addTenant(t, e.db, "c")
			fs := newFositeStore(e.db)
			var expired, live []string
			for i := range 5 {
				s := fmt.Sprintf("expired-%d", i)
				expired = append(expired, s)
				must(t, "CreateAccessTokenSession", fs.CreateAccessTokenSession(bg, s, tokenRequest("c", "u", time.Now().Add(-2*time.Hour))))
			}
			for i := range 3 {
				s := fmt.Sprintf("live-%d", i)
				live = append(live, s)
				must(t, "CreateAccessTokenSession", fs.CreateAccessTokenSession(bg, s, tokenRequest("c", "u", time.Now().Add(time.Hour))))
			}
			var rounds []int64
			for range 5 {
				n, err := fs.Sweep(bg, 2, 0)
				must(t, "Sweep", err)
				rounds = append(rounds, n)
			}
			if want := []int64{2, 2, 1, 0, 0}; !slices.Equal(rounds, want) {
				t.Errorf("Sweep(batch 2) deleted %v per round, want %v", rounds, want)
			}
			for _, s := range expired {
				_, err := fs.GetAccessTokenSession(bg, s, nil)
				wantErrIs(t, "expired token "+s, err, fosite.ErrNotFound)
			}
			for _, s := range live {
				if _, err := fs.GetAccessTokenSession(bg, s, nil); err != nil {
					t.Errorf("live token %s: %v", s, err)
				}
			}
		}},
		{"keeps rows within the grace period", func(t *testing.T, e env) {
			addTenant(t, e.db, "c")
			fs := newFositeStore(e.db)
			must(t, "CreateRefreshTokenSession", fs.CreateRefreshTokenSession(bg, "rt", "at", tokenRequest("c", "u", time.Now().Add(-10*time.Minute))))
			if n, err := fs.Sweep(bg, 100, time.Hour); err != nil || n != 0 {
				t.Errorf("Sweep(grace 1h) = %d, %v; want 0", n, err)
			}
			if _, err := fs.GetRefreshTokenSession(bg, "rt", nil); err != nil {
				t.Errorf("refresh token in grace: %v", err)
			}
			if n, err := fs.Sweep(bg, 100, 5*time.Minute); err != nil || n != 1 {
				t.Errorf("Sweep(grace 5m) = %d, %v; want 1", n, err)
			}
		}},
		{"sweeps every token table and login sessions", func(t *testing.T, e env) {
			addTenant(t, e.db, "c")
			fs, acc := newFositeStore(e.db), storage.NewAccounts(e.db)
			past := time.Now().UTC().Add(-2 * time.Hour)
			for _, exp := range []time.Time{past, time.Now().Add(time.Hour), {}} {
				req := tokenRequest("c", "u", exp)
				s := req.ID
				must(t, "CreateAuthorizeCodeSession", fs.CreateAuthorizeCodeSession(bg, s, req))
				must(t, "CreatePKCERequestSession", fs.CreatePKCERequestSession(bg, s, req))
				must(t, "CreateOpenIDConnectSession", fs.CreateOpenIDConnectSession(bg, s, req))
				must(t, "CreateAccessTokenSession", fs.CreateAccessTokenSession(bg, s, req))
				must(t, "CreateRefreshTokenSession", fs.CreateRefreshTokenSession(bg, s, s, req))
			}
			a := addAccount(t, e.db, "s@example.com")
			for id, exp := range map[string]time.Time{"gone": past, "kept": time.Now().UTC().Add(time.Hour)} {
				must(t, "CreateSession", acc.CreateSession(bg, &storage.LoginSession{ID: id, SID: "sid-" + id, AccountID: a.ID,
					AuthTime: past.Add(-time.Hour), CreatedAt: past.Add(-time.Hour), ExpiresAt: exp, LastSeenAt: past}))
			}
			n, err := fs.Sweep(bg, 100, 0)
			must(t, "Sweep", err)
			if n != 6 {
				t.Errorf("Sweep deleted %d rows, want 6 (one per token table and one login session)", n)
			}
			raw := storagetest.Raw(t, e.dsn)
			for _, table := range []string{"oauth2_authorize_codes", "oauth2_pkce_requests", "oauth2_oidc_sessions", "oauth2_access_tokens", "oauth2_refresh_tokens"} {
				if n := count(t, raw, table, "1 = 1"); n != 2 {
					t.Errorf("%s has %d rows after Sweep, want the 2 unexpired", table, n)
				}
			}
			if n := count(t, raw, "login_sessions", "id = ?", "gone"); n != 0 {
				t.Errorf("expired login session kept")
			}
			if n := count(t, raw, "login_sessions", "id = ?", "kept"); n != 1 {
				t.Errorf("live login session swept")
			}
		}},
		{"batch bounds each table", func(t *testing.T, e env) {
			addTenant(t, e.db, "c")
			fs := newFositeStore(e.db)
			for i := range 3 {
				req := tokenRequest("c", "u", time.Now().Add(-time.Hour))
				must(t, "CreateAccessTokenSession", fs.CreateAccessTokenSession(bg, fmt.Sprint("a", i), req))
				must(t, "CreateRefreshTokenSession", fs.CreateRefreshTokenSession(bg, fmt.Sprint("r", i), fmt.Sprint("a", i), req))
			}
			if n, err := fs.Sweep(bg, 2, 0); err != nil || n != 4 {
				t.Errorf("Sweep(batch 2) = %d, %v; want 2 from each of 2 tables", n, err)
			}
			if n, err := fs.Sweep(bg, 2, 0); err != nil || n != 2 {
				t.Errorf("second Sweep(batch 2) = %d, %v; want the last 2", n, err)
			}
		}},
	})
}

func TestRevokeSubject(t *testing.T) {
	type tokens struct{ at, rt string }
	seed := func(t *testing.T, fs *storage.FositeStore) map[string]tokens {
		t.Helper()
		out := map[string]tokens{}
		for _, c := range []struct{ client, subject string }{{"c1", "alice"}, {"c2", "alice"}, {"c1", "bob"}} {
			req := tokenRequest(c.client, c.subject, time.Now().Add(time.Hour))
			tk := tokens{"at-" + c.client + "-" + c.subject, "rt-" + c.client + "-" + c.subject}
			must(t, "CreateAccessTokenSession", fs.CreateAccessTokenSession(bg, tk.at, req))
			must(t, "CreateRefreshTokenSession", fs.CreateRefreshTokenSession(bg, tk.rt, tk.at, req))
			out[c.client+"/"+c.subject] = tk
		}
		return out
	}
	alive := func(t *testing.T, fs *storage.FositeStore, name string, tk tokens, want bool) {
		t.Helper()
		_, aerr := fs.GetAccessTokenSession(bg, tk.at, nil)
		_, rerr := fs.GetRefreshTokenSession(bg, tk.rt, nil)
		if want && (aerr != nil || rerr != nil) {
			t.Errorf("%s: access %v, refresh %v; want both active", name, aerr, rerr)
		}
		if !want {
			wantErrIs(t, name+" access token", aerr, fosite.ErrNotFound)
			wantErrIs(t, name+" refresh token", rerr, fosite.ErrInactiveToken)
		}
	}
	runOnBackends(t, []dbCase{
		{"ends the subject's tokens at every client", func(t *testing.T, e env) {
			addTenant(t, e.db, "c1")
			addTenant(t, e.db, "c2")
			fs := newFositeStore(e.db)
			tks := seed(t, fs)
			must(t, "RevokeSubject", fs.RevokeSubject(bg, "alice"))
			alive(t, fs, "c1/alice", tks["c1/alice"], false)
			alive(t, fs, "c2/alice", tks["c2/alice"], false)
			alive(t, fs, "c1/bob", tks["c1/bob"], true)
		}},
		{"unknown subject changes nothing", func(t *testing.T, e env) {
			addTenant(t, e.db, "c1")
			addTenant(t, e.db, "c2")
			fs := newFositeStore(e.db)
			tks := seed(t, fs)
			must(t, "RevokeSubject", fs.RevokeSubject(bg, "carol"))
			for name, tk := range tks {
				alive(t, fs, name, tk, true)
			}
		}},
		{"joins the caller's transaction", func(t *testing.T, e env) {
			addTenant(t, e.db, "c1")
			addTenant(t, e.db, "c2")
			fs := newFositeStore(e.db)
			tks := seed(t, fs)
			ctx, err := fs.BeginTX(bg)
			must(t, "BeginTX", err)
			must(t, "RevokeSubject", fs.RevokeSubject(ctx, "alice"))
			_, err = fs.GetAccessTokenSession(ctx, tks["c1/alice"].at, nil)
			wantErrIs(t, "access token inside the transaction", err, fosite.ErrNotFound)
			must(t, "Rollback", fs.Rollback(ctx))
			alive(t, fs, "c1/alice after rollback", tks["c1/alice"], true)
		}},
	})
}

// --- concurrency and hashing -----------------------------------------------------------

// TestConcurrentInvalidate uses one code from 8 goroutines at once: exactly
// one may succeed (RFC 6749 §4.1.2: a code is used once).
func TestConcurrentInvalidate(t *testing.T) {
	runOnBackends(t, []dbCase{{"8 goroutines", func(t *testing.T, e env) {
		addTenant(t, e.db, "c")
		fs := newFositeStore(e.db)
		must(t, "CreateAuthorizeCodeSession", fs.CreateAuthorizeCodeSession(bg, "code", tokenRequest("c", "u", time.Now().Add(time.Minute))))
		errs := make([]error, 8)
		var start, done sync.WaitGroup
		start.Add(1)
		for i := range errs {
			done.Go(func() {
				start.Wait()
				errs[i] = fs.InvalidateAuthorizeCodeSession(bg, "code")
			})
		}
		start.Done()
		done.Wait()
		wins := 0
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, storage.ErrConflict):
				t.Errorf("goroutine %d: %v, want ErrConflict", i, err)
			}
		}
		if wins != 1 {
			t.Errorf("%d goroutines invalidated the code, want exactly 1 (errors: %v)", wins, errs)
		}
		_, err := fs.GetAuthorizeCodeSession(bg, "code", nil)
		wantErrIs(t, "GetAuthorizeCodeSession", err, fosite.ErrInvalidatedAuthorizeCode)
	}}})
}

// TestTokensStoredHashed checks that no table holds a token signature or a
// raw authorization code, only their SHA-256.
func TestTokensStoredHashed(t *testing.T) {
	runOnBackends(t, []dbCase{{"every token table", func(t *testing.T, e env) {
		addTenant(t, e.db, "c")
		fs := newFositeStore(e.db)
		req := tokenRequest("c", "u", time.Now().Add(time.Hour))
		secret := "raw-code-or-signature-" + randomHex(8)
		must(t, "CreateAuthorizeCodeSession", fs.CreateAuthorizeCodeSession(bg, secret, req))
		must(t, "CreatePKCERequestSession", fs.CreatePKCERequestSession(bg, secret, req))
		must(t, "CreateOpenIDConnectSession", fs.CreateOpenIDConnectSession(bg, secret, req))
		must(t, "CreateAccessTokenSession", fs.CreateAccessTokenSession(bg, secret, req))
		must(t, "CreateRefreshTokenSession", fs.CreateRefreshTokenSession(bg, secret, secret, req))
		sum := sha256.Sum256([]byte(secret))
		hashed := hex.EncodeToString(sum[:])
		raw := storagetest.Raw(t, e.dsn)
		for _, table := range []string{"oauth2_authorize_codes", "oauth2_pkce_requests", "oauth2_oidc_sessions", "oauth2_access_tokens", "oauth2_refresh_tokens"} {
			if n := count(t, raw, table, "id = ?", hashed); n != 1 {
				t.Errorf("%s: %d rows keyed by the SHA-256, want 1", table, n)
			}
			var rows []map[string]any
			if err := raw.Table(table).Find(&rows).Error; err != nil {
				t.Fatalf("read %s: %v", table, err)
			}
			for _, row := range rows {
				for col, v := range row {
					if strings.Contains(fmt.Sprintf("%s", v), secret) {
						t.Errorf("%s.%s holds the raw secret", table, col)
					}
				}
			}
		}
	}}})
}

// --- times are instants -----------------------------------------------------------

// TestTimesAreInstants passes times in zones other than UTC: a time.Time is
// an instant, and the stores must compare instants whatever zone the
// caller's clock is in (keys.Manager.Prune passes time.Now(), local time).
func TestTimesAreInstants(t *testing.T) {
	east := time.FixedZone("UTC+14", 14*3600)
	west := time.FixedZone("UTC-12", -12*3600)
	session := func(t *testing.T, db *storage.DB, id string, exp time.Time) {
		t.Helper()
		a := addAccount(t, db, id+"@example.com")
		now := time.Now().UTC()
		must(t, "CreateSession", storage.NewAccounts(db).CreateSession(bg, &storage.LoginSession{ID: id, SID: "sid-" + id,
			AccountID: a.ID, AuthTime: now, CreatedAt: now, ExpiresAt: exp, LastSeenAt: now}))
	}
	runOnBackends(t, []dbCase{
		{"expired session stored with a non-UTC expiry", func(t *testing.T, e env) {
			session(t, e.db, "s", time.Now().Add(-time.Hour).In(east))
			_, err := storage.NewAccounts(e.db).SessionByID(bg, "s", time.Now().UTC())
			wantErrIs(t, "SessionByID(expired an hour ago)", err, storage.ErrNotFound)
		}},
		{"live session read with a non-UTC clock", func(t *testing.T, e env) {
			session(t, e.db, "s", time.Now().UTC().Add(time.Hour))
			if _, err := storage.NewAccounts(e.db).SessionByID(bg, "s", time.Now().In(east)); err != nil {
				t.Errorf("SessionByID(valid for another hour): %v", err)
			}
		}},
		{"sweep keeps a live session stored with a non-UTC expiry", func(t *testing.T, e env) {
			session(t, e.db, "s", time.Now().Add(time.Hour).In(west))
			n, err := newFositeStore(e.db).Sweep(bg, 100, 0)
			if err != nil || n != 0 {
				t.Errorf("Sweep = %d, %v; want nothing deleted", n, err)
			}
		}},
		{"keys still published survive a non-UTC clock", func(t *testing.T, e env) {
			ks := storage.NewSigningKeys(e.db)
			now := time.Now().UTC()
			must(t, "AddKey(k1)", ks.AddKey(bg, &storage.SigningKey{KID: "k1", Alg: "ES256", PrivateKey: []byte("x"), CreatedAt: now.Add(-time.Hour)}, now))
			must(t, "AddKey(k2)", ks.AddKey(bg, &storage.SigningKey{KID: "k2", Alg: "ES256", PrivateKey: []byte("y"), CreatedAt: now}, now.Add(time.Hour)))
			n, err := ks.DeleteUnpublished(bg, time.Now().In(east))
			if err != nil || n != 0 {
				t.Errorf("DeleteUnpublished(now, UTC+14) = %d, %v; want 0: k1 is published for another hour", n, err)
			}
		}},
	})
}

// TestSQLiteTransactionsAreImmediate checks that BeginTX takes SQLite's
// write lock at once (open.go asks for _txlock=immediate). With a deferred
// transaction, one that reads first and then writes fails at once with
// SQLITE_BUSY when another connection (another process: "manam tenant ..."
// beside "manam serve") wrote in between, instead of waiting its turn.
func TestSQLiteTransactionsAreImmediate(t *testing.T) {
	dsn := storagetest.SQLite().NewDSN(t)
	server := newFositeStore(storagetest.OpenDSN(t, dsn))
	other, err := storage.Open(bg, dsn) // a second process on the same file
	must(t, "Open", err)
	t.Cleanup(func() { _ = other.Close() })
	cli := newFositeStore(other)
	addTenant(t, other, "c")

	ctx, err := server.BeginTX(bg)
	must(t, "BeginTX", err)
	if _, err := server.GetClient(ctx, "c"); err != nil { // read first
		_ = server.Rollback(ctx)
		t.Fatalf("GetClient in tx: %v", err)
	}
	otherDone := make(chan error, 1)
	go func() {
		otherDone <- cli.CreateAccessTokenSession(bg, "from-other", tokenRequest("c", "u", time.Now().Add(time.Hour)))
	}()
	select {
	case err := <-otherDone: // the other process got in: our snapshot is stale
		otherDone <- err
	case <-time.After(500 * time.Millisecond): // it waits for our transaction: immediate
	}
	werr := server.CreateAccessTokenSession(ctx, "from-server", tokenRequest("c", "u", time.Now().Add(time.Hour)))
	if werr != nil {
		_ = server.Rollback(ctx)
		t.Errorf("write in a transaction that read first, after another connection wrote: %v", werr)
	} else if err := server.Commit(ctx); err != nil {
		t.Errorf("Commit: %v", err)
	}
	if err := <-otherDone; err != nil {
		t.Errorf("the other connection's write: %v", err)
	}
}
