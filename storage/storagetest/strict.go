package storagetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	fstorage "github.com/ory/fosite/storage"

	"github.com/manam-id/manam/storage"
)

// RunFositeStrict runs what Manam's store promises beyond fosite's
// MemoryStore: revocation by request id reaches every row of the request,
// a code or refresh token can be used once even under concurrency (the
// loser gets storage.ErrConflict), the session argument is the value read
// into, and storage.Transactional works. The stores of h must implement
// fosite's storage.Transactional.
func RunFositeStrict(t *testing.T, h Harness) {
	t.Helper()
	runCases(t, h, strictCases())
}

// concurrency is how many goroutines the race subtests start.
const concurrency = 8

func strictCases() []fositeCase {
	return []fositeCase{
		{"SessionArgument/IsFilled", func(t *testing.T, f *fixture) {
			req, sig := f.newRequest("alice"), f.sig()
			must(t, "CreateAuthorizeCodeSession", f.s.CreateAuthorizeCodeSession(f.ctx, sig, req))
			must(t, "CreatePKCERequestSession", f.s.CreatePKCERequestSession(f.ctx, sig, req))
			must(t, "CreateOpenIDConnectSession", f.s.CreateOpenIDConnectSession(f.ctx, sig, req))
			must(t, "CreateAccessTokenSession", f.s.CreateAccessTokenSession(f.ctx, sig, req))
			must(t, "CreateRefreshTokenSession", f.s.CreateRefreshTokenSession(f.ctx, sig, sig, req))
			gets := map[string]func(fosite.Session) (fosite.Requester, error){
				"GetAuthorizeCodeSession": func(s fosite.Session) (fosite.Requester, error) {
					return f.s.GetAuthorizeCodeSession(f.ctx, sig, s)
				},
				"GetPKCERequestSession": func(s fosite.Session) (fosite.Requester, error) {
					return f.s.GetPKCERequestSession(f.ctx, sig, s)
				},
				"GetOpenIDConnectSession": func(s fosite.Session) (fosite.Requester, error) {
					r := f.tokenRequest()
					r.Session = s
					return f.s.GetOpenIDConnectSession(f.ctx, sig, r)
				},
				"GetAccessTokenSession": func(s fosite.Session) (fosite.Requester, error) {
					return f.s.GetAccessTokenSession(f.ctx, sig, s)
				},
				"GetRefreshTokenSession": func(s fosite.Session) (fosite.Requester, error) {
					return f.s.GetRefreshTokenSession(f.ctx, sig, s)
				},
			}
			for name, get := range gets {
				sess := new(openid.DefaultSession)
				got, err := get(sess)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				if got.GetSession() != fosite.Session(sess) {
					t.Errorf("%s: request carries session %p, want the argument %p", name, got.GetSession(), sess)
				}
				assertSession(t, req.Session.(*openid.DefaultSession), sess)
			}
		}},
		{"Client/IDIsExact", func(t *testing.T, f *fixture) {
			// A client_id is an opaque string (RFC 6749 §2.2): no case folding.
			id := strings.ToUpper(f.client.ID)
			if c, err := f.s.GetClient(f.ctx, id); !errors.Is(err, fosite.ErrNotFound) {
				got := "<nil>"
				if c != nil {
					got = c.GetID()
				}
				t.Errorf("GetClient(%q) = client %q, %v; want fosite.ErrNotFound", id, got, err)
			}
		}},
		{"RevokeRefreshToken/EveryRowOfRequest", func(t *testing.T, f *fixture) {
			req := f.newRequest("alice")
			sigs := []string{f.sig(), f.sig(), f.sig()}
			for _, s := range sigs {
				must(t, "CreateRefreshTokenSession", f.s.CreateRefreshTokenSession(f.ctx, s, f.sig(), req))
			}
			must(t, "RevokeRefreshToken", f.s.RevokeRefreshToken(f.ctx, req.GetID()))
			for i, s := range sigs {
				_, err := f.s.GetRefreshTokenSession(f.ctx, s, nil)
				wantErrIs(t, fmt.Sprintf("GetRefreshTokenSession(token %d)", i), err, fosite.ErrInactiveToken)
			}
		}},
		{"RevokeAccessToken/EveryRowOfRequest", func(t *testing.T, f *fixture) {
			req := f.newRequest("alice")
			sigs := []string{f.sig(), f.sig(), f.sig()}
			for _, s := range sigs {
				must(t, "CreateAccessTokenSession", f.s.CreateAccessTokenSession(f.ctx, s, req))
			}
			must(t, "RevokeAccessToken", f.s.RevokeAccessToken(f.ctx, req.GetID()))
			for i, s := range sigs {
				_, err := f.s.GetAccessTokenSession(f.ctx, s, nil)
				wantErrIs(t, fmt.Sprintf("GetAccessTokenSession(token %d)", i), err, fosite.ErrNotFound)
			}
		}},
		{"RotateRefreshToken/EndsWholeRequest", func(t *testing.T, f *fixture) {
			req := f.newRequest("alice")
			at1, at2, rt1, rt2 := f.sig(), f.sig(), f.sig(), f.sig()
			must(t, "CreateAccessTokenSession", f.s.CreateAccessTokenSession(f.ctx, at1, req))
			must(t, "CreateAccessTokenSession", f.s.CreateAccessTokenSession(f.ctx, at2, req))
			must(t, "CreateRefreshTokenSession", f.s.CreateRefreshTokenSession(f.ctx, rt1, at1, req))
			must(t, "CreateRefreshTokenSession", f.s.CreateRefreshTokenSession(f.ctx, rt2, at2, req))
			must(t, "RotateRefreshToken", f.s.RotateRefreshToken(f.ctx, req.GetID(), rt1))
			for _, s := range []string{at1, at2} {
				_, err := f.s.GetAccessTokenSession(f.ctx, s, nil)
				wantErrIs(t, "GetAccessTokenSession(after rotation)", err, fosite.ErrNotFound)
			}
			for _, s := range []string{rt1, rt2} {
				_, err := f.s.GetRefreshTokenSession(f.ctx, s, nil)
				wantErrIs(t, "GetRefreshTokenSession(after rotation)", err, fosite.ErrInactiveToken)
			}
		}},
		{"RotateRefreshToken/TwiceConflicts", func(t *testing.T, f *fixture) {
			fam := f.family(t)
			must(t, "RotateRefreshToken", f.s.RotateRefreshToken(f.ctx, fam.req.GetID(), fam.rt1))
			err := f.s.RotateRefreshToken(f.ctx, fam.req.GetID(), fam.rt1)
			wantErrIs(t, "RotateRefreshToken(again)", err, storage.ErrConflict)
			// fosite turns ErrSerializationFailure into a retryable invalid_request.
			wantErrIs(t, "RotateRefreshToken(again)", err, fosite.ErrSerializationFailure)
		}},
		{"RotateRefreshToken/RevokedConflicts", func(t *testing.T, f *fixture) {
			fam := f.family(t)
			must(t, "RevokeRefreshToken", f.s.RevokeRefreshToken(f.ctx, fam.req.GetID()))
			err := f.s.RotateRefreshToken(f.ctx, fam.req.GetID(), fam.rt1)
			wantErrIs(t, "RotateRefreshToken(revoked)", err, storage.ErrConflict)
		}},
		{"InvalidateAuthorizeCode/TwiceConflicts", func(t *testing.T, f *fixture) {
			req, code := f.newRequest("alice"), f.sig()
			must(t, "CreateAuthorizeCodeSession", f.s.CreateAuthorizeCodeSession(f.ctx, code, req))
			must(t, "InvalidateAuthorizeCodeSession", f.s.InvalidateAuthorizeCodeSession(f.ctx, code))
			err := f.s.InvalidateAuthorizeCodeSession(f.ctx, code)
			wantErrIs(t, "InvalidateAuthorizeCodeSession(again)", err, storage.ErrConflict)
		}},
		{"InvalidateAuthorizeCode/ConcurrentInTx", func(t *testing.T, f *fixture) {
			// The code exchange as fosite runs it: in one transaction,
			// invalidate the code and store the access token. One wins.
			tx := transactional(t, f)
			req, code := f.newRequest("alice"), f.sig()
			must(t, "CreateAuthorizeCodeSession", f.s.CreateAuthorizeCodeSession(f.ctx, code, req))
			sigs := make([]string, concurrency)
			for i := range sigs {
				sigs[i] = f.sig()
			}
			errs := race(func(i int) error {
				ctx, err := tx.BeginTX(f.ctx)
				if err != nil {
					return fmt.Errorf("begin: %w", err)
				}
				if err := f.s.InvalidateAuthorizeCodeSession(ctx, code); err != nil {
					return errors.Join(err, tx.Rollback(ctx))
				}
				if err := f.s.CreateAccessTokenSession(ctx, sigs[i], req); err != nil {
					return errors.Join(err, tx.Rollback(ctx))
				}
				return tx.Commit(ctx)
			})
			winner := oneWinner(t, errs, storage.ErrConflict)
			for i, s := range sigs {
				_, err := f.s.GetAccessTokenSession(f.ctx, s, nil)
				if i == winner && err != nil {
					t.Errorf("winner's access token: %v", err)
				}
				if i != winner {
					wantErrIs(t, fmt.Sprintf("loser %d's access token", i), err, fosite.ErrNotFound)
				}
			}
		}},
		{"RotateRefreshToken/ConcurrentInTx", func(t *testing.T, f *fixture) {
			// flow_refresh.go PopulateTokenEndpointResponse, concurrency times
			// with the same refresh token: one new pair survives.
			tx := transactional(t, f)
			fam := f.family(t)
			type pair struct{ at, rt string }
			pairs := make([]pair, concurrency)
			for i := range pairs {
				pairs[i] = pair{f.sig(), f.sig()}
			}
			errs := race(func(i int) error {
				ctx, err := tx.BeginTX(f.ctx)
				if err != nil {
					return fmt.Errorf("begin: %w", err)
				}
				if err := f.s.RotateRefreshToken(ctx, fam.req.GetID(), fam.rt1); err != nil {
					return errors.Join(err, tx.Rollback(ctx))
				}
				if err := f.s.CreateAccessTokenSession(ctx, pairs[i].at, fam.req); err != nil {
					return errors.Join(err, tx.Rollback(ctx))
				}
				if err := f.s.CreateRefreshTokenSession(ctx, pairs[i].rt, pairs[i].at, fam.req); err != nil {
					return errors.Join(err, tx.Rollback(ctx))
				}
				return tx.Commit(ctx)
			})
			winner := oneWinner(t, errs, storage.ErrConflict)
			for i, p := range pairs {
				_, aerr := f.s.GetAccessTokenSession(f.ctx, p.at, nil)
				_, rerr := f.s.GetRefreshTokenSession(f.ctx, p.rt, nil)
				if i == winner {
					if aerr != nil || rerr != nil {
						t.Errorf("winner's tokens: access %v, refresh %v; want both active", aerr, rerr)
					}
					continue
				}
				wantErrIs(t, fmt.Sprintf("loser %d's access token", i), aerr, fosite.ErrNotFound)
				wantErrIs(t, fmt.Sprintf("loser %d's refresh token", i), rerr, fosite.ErrNotFound)
			}
			_, err := f.s.GetRefreshTokenSession(f.ctx, fam.rt1, nil)
			wantErrIs(t, "rotated refresh token", err, fosite.ErrInactiveToken)
		}},

		// storage.Transactional.
		{"Transactional/RollbackDiscards", func(t *testing.T, f *fixture) {
			tx := transactional(t, f)
			req, at, rt := f.newRequest("alice"), f.sig(), f.sig()
			ctx, err := tx.BeginTX(f.ctx)
			must(t, "BeginTX", err)
			must(t, "CreateAccessTokenSession", f.s.CreateAccessTokenSession(ctx, at, req))
			must(t, "CreateRefreshTokenSession", f.s.CreateRefreshTokenSession(ctx, rt, at, req))
			must(t, "Rollback", tx.Rollback(ctx))
			_, err = f.s.GetAccessTokenSession(f.ctx, at, nil)
			wantErrIs(t, "GetAccessTokenSession(rolled back)", err, fosite.ErrNotFound)
			_, err = f.s.GetRefreshTokenSession(f.ctx, rt, nil)
			wantErrIs(t, "GetRefreshTokenSession(rolled back)", err, fosite.ErrNotFound)
		}},
		{"Transactional/CommitKeeps", func(t *testing.T, f *fixture) {
			tx := transactional(t, f)
			req, at := f.newRequest("alice"), f.sig()
			ctx, err := tx.BeginTX(f.ctx)
			must(t, "BeginTX", err)
			must(t, "CreateAccessTokenSession", f.s.CreateAccessTokenSession(ctx, at, req))
			must(t, "Commit", tx.Commit(ctx))
			f.wantAccessToken(t, at, req)
		}},
		{"Transactional/ReadsSeeOwnWrites", func(t *testing.T, f *fixture) {
			tx := transactional(t, f)
			fam := f.family(t)
			code, codeReq := f.sig(), f.newRequest("alice")
			must(t, "CreateAuthorizeCodeSession", f.s.CreateAuthorizeCodeSession(f.ctx, code, codeReq))

			ctx, err := tx.BeginTX(f.ctx)
			must(t, "BeginTX", err)
			defer func() { _ = tx.Rollback(ctx) }()
			req, at := f.newRequest("alice"), f.sig()
			must(t, "CreateAccessTokenSession", f.s.CreateAccessTokenSession(ctx, at, req))
			got, err := f.s.GetAccessTokenSession(ctx, at, nil)
			if err != nil {
				t.Fatalf("GetAccessTokenSession in tx: %v", err)
			}
			assertRequest(t, req, got)
			if _, err := f.s.GetClient(ctx, f.client.ID); err != nil {
				t.Errorf("GetClient in tx: %v", err)
			}
			must(t, "InvalidateAuthorizeCodeSession", f.s.InvalidateAuthorizeCodeSession(ctx, code))
			_, err = f.s.GetAuthorizeCodeSession(ctx, code, nil)
			wantErrIs(t, "GetAuthorizeCodeSession in tx after invalidate", err, fosite.ErrInvalidatedAuthorizeCode)
			must(t, "RotateRefreshToken", f.s.RotateRefreshToken(ctx, fam.req.GetID(), fam.rt1))
			_, err = f.s.GetRefreshTokenSession(ctx, fam.rt1, nil)
			wantErrIs(t, "GetRefreshTokenSession in tx after rotate", err, fosite.ErrInactiveToken)
			_, err = f.s.GetAccessTokenSession(ctx, fam.at1, nil)
			wantErrIs(t, "GetAccessTokenSession in tx after rotate", err, fosite.ErrNotFound)
			must(t, "Rollback", tx.Rollback(ctx))

			// And the rollback undid all of it.
			_, err = f.s.GetAccessTokenSession(f.ctx, at, nil)
			wantErrIs(t, "GetAccessTokenSession(rolled back)", err, fosite.ErrNotFound)
			if _, err := f.s.GetAuthorizeCodeSession(f.ctx, code, nil); err != nil {
				t.Errorf("GetAuthorizeCodeSession after rollback: %v, want the code active", err)
			}
			f.wantRefreshToken(t, fam.rt1, fam.req)
			f.wantAccessToken(t, fam.at1, fam.req)
		}},
	}
}

// transactional is f's store as fosite's storage.Transactional.
func transactional(t *testing.T, f *fixture) fstorage.Transactional {
	t.Helper()
	tx, ok := f.s.(fstorage.Transactional)
	if !ok {
		t.Fatalf("store %T does not implement fosite storage.Transactional", f.s)
	}
	return tx
}

// race runs fn(0..concurrency-1) at once and returns their errors.
func race(fn func(i int) error) []error {
	errs := make([]error, concurrency)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range errs {
		done.Go(func() {
			start.Wait()
			errs[i] = fn(i)
		})
	}
	start.Done()
	done.Wait()
	return errs
}

// oneWinner checks that exactly one of errs is nil and every other matches
// loser; it returns the winner's index (-1 if none).
func oneWinner(t *testing.T, errs []error, loser error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("goroutines %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, loser):
			t.Errorf("goroutine %d: %v, want errors.Is(err, %v)", i, err, loser)
		}
	}
	if winner < 0 {
		t.Errorf("no goroutine succeeded: %v", errs)
	}
	return winner
}
