package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
	fstorage "github.com/ory/fosite/storage"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// unavailableErr marks a failure of the database as ErrUnavailable (once),
// keeping the driver's error in the chain (IsRetryable still sees a
// deadlock). What is an answer about the data, not a failure, passes as
// it is: a missing row, a lost race, a duplicate key.
func unavailableErr(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) || errors.Is(err, ErrNotFound) || errors.Is(err, gorm.ErrRecordNotFound) ||
		errors.Is(err, ErrConflict) || isDuplicate(err) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// ErrConflict reports a write that lost a race: an authorization code or a
// refresh token that another request used between its read and its write.
var ErrConflict = errors.New("storage: concurrent use")

// FositeStore implements every fosite storage interface Manam enables.
type FositeStore struct {
	db         *DB
	newSession func() fosite.Session
	now        func() time.Time
}

var (
	_ fosite.Storage                     = (*FositeStore)(nil)
	_ fosite.ClientManager               = (*FositeStore)(nil)
	_ oauth2.CoreStorage                 = (*FositeStore)(nil)
	_ oauth2.TokenRevocationStorage      = (*FositeStore)(nil)
	_ openid.OpenIDConnectRequestStorage = (*FositeStore)(nil)
	_ pkce.PKCERequestStorage            = (*FositeStore)(nil)
	_ fstorage.Transactional             = (*FositeStore)(nil)
)

// NewFositeStore returns the fosite store over db. newSession makes the
// session value a stored request is read into when fosite passes none
// (revocation does): it must be Manam's session type.
func NewFositeStore(db *DB, newSession func() fosite.Session) *FositeStore {
	return &FositeStore{db: db, newSession: newSession, now: func() time.Time { return time.Now().UTC() }}
}

// BeginTX implements storage.Transactional.
func (s *FositeStore) BeginTX(ctx context.Context) (context.Context, error) { return s.db.BeginTX(ctx) }

// Commit implements storage.Transactional.
func (s *FositeStore) Commit(ctx context.Context) error { return s.db.Commit(ctx) }

// Rollback implements storage.Transactional.
func (s *FositeStore) Rollback(ctx context.Context) error { return s.db.Rollback(ctx) }

// key is how a signature (or a raw code) is stored.
func key(signature string) string {
	sum := sha256.Sum256([]byte(signature))
	return hex.EncodeToString(sum[:])
}

// --- clients ---------------------------------------------------------------

// GetClient implements fosite.ClientManager.
func (s *FositeStore) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	c, err := s.getClient(ctx, id)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (s *FositeStore) getClient(ctx context.Context, id string) (*Client, error) {
	if id == "" || len(id) > 64 {
		return nil, fosite.ErrNotFound
	}
	if c, ok := s.db.clients.get(id); ok {
		return c, nil
	}
	var t Tenant
	err := s.db.reader(ctx).Where("id = ?", id).Take(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fosite.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: get client: %w: %w", ErrUnavailable, err)
	}
	c := ClientFromTenant(&t)
	s.db.clients.put(id, c)
	return c, nil
}

// ClientAssertionJWTValid implements fosite.ClientManager. Manam accepts
// no client assertions (private_key_jwt is not offered), so no JTI is known.
func (s *FositeStore) ClientAssertionJWTValid(context.Context, string) error { return nil }

// SetClientAssertionJWT implements fosite.ClientManager; see ClientAssertionJWTValid.
func (s *FositeStore) SetClientAssertionJWT(context.Context, string, time.Time) error { return nil }

// --- the five token tables ---------------------------------------------------

func (s *FositeStore) create(ctx context.Context, table, signature string, req fosite.Requester, tokenType fosite.TokenType, accessSignature string) error {
	sess, err := json.Marshal(req.GetSession())
	if err != nil {
		return fmt.Errorf("storage: encode session: %w", err)
	}
	row := TokenRow{
		ID:                key(signature),
		RequestID:         req.GetID(),
		RequestedAt:       req.GetRequestedAt().UTC(),
		ClientID:          req.GetClient().GetID(),
		Scopes:            strings.Join(req.GetRequestedScopes(), " "),
		GrantedScopes:     strings.Join(req.GetGrantedScopes(), " "),
		RequestedAudience: strings.Join(req.GetRequestedAudience(), " "),
		GrantedAudience:   strings.Join(req.GetGrantedAudience(), " "),
		Form:              req.GetRequestForm().Encode(),
		Session:           sess,
		Active:            true,
		ExpiresAt:         s.expiry(req, tokenType),
	}
	if accessSignature != "" {
		row.AccessID = key(accessSignature)
	}
	if sub := req.GetSession(); sub != nil {
		row.Subject = sub.GetSubject()
	}
	// A fixed statement, built here: the writer goroutine (the serial
	// part of the group commit) then runs only the Exec, not gorm's
	// reflection over the row.
	q := insertSQL[table]
	args := []any{row.ID, row.RequestID, row.RequestedAt, row.ClientID, row.Subject, row.Scopes, row.GrantedScopes,
		row.RequestedAudience, row.GrantedAudience, row.Form, row.Session, row.Active, row.AccessID, row.ExpiresAt}
	if err := s.db.write(ctx, func(g *gorm.DB) error { return g.Exec(q, args...).Error }); err != nil {
		return fmt.Errorf("storage: create %s: %w: %w", table, ErrUnavailable, err)
	}
	return nil
}

// insertSQL is the insert of each token table, in TokenRow's column order.
var insertSQL = func() map[string]string {
	m := map[string]string{}
	for _, t := range []string{tableCodes, tablePKCE, tableOIDC, tableAccess, tableRefresh} {
		m[t] = "INSERT INTO " + t + " (id, request_id, requested_at, client_id, subject, scopes, granted_scopes, " +
			"requested_audience, granted_audience, form, session, active, access_id, expires_at) " +
			"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	}
	return m
}()

// expiry is when a row may be swept. A token that never expires (a refresh
// lifespan of -1) is kept for ten years.
func (s *FositeStore) expiry(req fosite.Requester, tokenType fosite.TokenType) time.Time {
	var exp time.Time
	if sess := req.GetSession(); sess != nil {
		exp = sess.GetExpiresAt(tokenType)
	}
	if exp.IsZero() {
		return s.now().AddDate(10, 0, 0)
	}
	return exp.UTC()
}

// get loads a row and rebuilds the request. It returns the row too, so the
// caller can look at Active.
func (s *FositeStore) get(ctx context.Context, table, signature string, session fosite.Session) (*fosite.Request, *TokenRow, error) {
	var row TokenRow
	err := s.db.reader(ctx).Table(table).Where("id = ?", key(signature)).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil, fosite.ErrNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("storage: get %s: %w: %w", table, ErrUnavailable, err)
	}
	req, err := s.toRequest(ctx, &row, session)
	if err != nil {
		return nil, nil, err
	}
	return req, &row, nil
}

func (s *FositeStore) toRequest(ctx context.Context, row *TokenRow, session fosite.Session) (*fosite.Request, error) {
	client, err := s.getClient(ctx, row.ClientID)
	if err != nil {
		// A deleted tenant takes its tokens with it.
		return nil, err
	}
	if session == nil {
		session = s.newSession()
	}
	if err := json.Unmarshal(row.Session, session); err != nil {
		return nil, fmt.Errorf("storage: decode session: %w", err)
	}
	form, err := url.ParseQuery(row.Form)
	if err != nil {
		return nil, fmt.Errorf("storage: decode form: %w", err)
	}
	return &fosite.Request{
		ID:                row.RequestID,
		RequestedAt:       row.RequestedAt,
		Client:            client,
		RequestedScope:    fields(row.Scopes),
		GrantedScope:      fields(row.GrantedScopes),
		RequestedAudience: fields(row.RequestedAudience),
		GrantedAudience:   fields(row.GrantedAudience),
		Form:              form,
		Session:           session,
	}, nil
}

func fields(s string) fosite.Arguments {
	f := strings.Fields(s)
	if f == nil {
		return fosite.Arguments{}
	}
	return f
}

func (s *FositeStore) delete(ctx context.Context, table, signature string) error {
	if err := s.db.write(ctx, func(g *gorm.DB) error {
		return g.Table(table).Where("id = ?", key(signature)).Delete(&TokenRow{}).Error
	}); err != nil {
		return fmt.Errorf("storage: delete %s: %w", table, unavailableErr(err))
	}
	return nil
}

// --- authorization codes -------------------------------------------------------

// CreateAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage.
func (s *FositeStore) CreateAuthorizeCodeSession(ctx context.Context, signature string, req fosite.Requester) error {
	return s.create(ctx, tableCodes, signature, req, fosite.AuthorizeCode, "")
}

// GetAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage: a used
// code comes back with its request and fosite.ErrInvalidatedAuthorizeCode.
func (s *FositeStore) GetAuthorizeCodeSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	req, row, err := s.get(ctx, tableCodes, signature, session)
	if err != nil {
		return nil, err
	}
	if !row.Active {
		return req, fosite.ErrInvalidatedAuthorizeCode
	}
	return req, nil
}

// InvalidateAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage.
// Only one caller can invalidate a code: the loser of a race gets ErrConflict.
func (s *FositeStore) InvalidateAuthorizeCodeSession(ctx context.Context, signature string) error {
	var n int64
	err := s.db.write(ctx, func(g *gorm.DB) error {
		res := g.Table(tableCodes).Where("id = ? AND active = ?", key(signature), true).Update("active", false)
		n = res.RowsAffected
		return res.Error
	})
	if err != nil {
		return fmt.Errorf("storage: invalidate code: %w", unavailableErr(err))
	}
	if n == 0 {
		return fmt.Errorf("authorization code already used: %w", ErrConflict)
	}
	return nil
}

// --- PKCE ------------------------------------------------------------------------

// CreatePKCERequestSession implements pkce.PKCERequestStorage.
func (s *FositeStore) CreatePKCERequestSession(ctx context.Context, signature string, req fosite.Requester) error {
	return s.create(ctx, tablePKCE, signature, req, fosite.AuthorizeCode, "")
}

// GetPKCERequestSession implements pkce.PKCERequestStorage.
func (s *FositeStore) GetPKCERequestSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	req, _, err := s.get(ctx, tablePKCE, signature, session)
	if err != nil {
		return nil, err
	}
	return req, nil
}

// DeletePKCERequestSession implements pkce.PKCERequestStorage.
func (s *FositeStore) DeletePKCERequestSession(ctx context.Context, signature string) error {
	return s.delete(ctx, tablePKCE, signature)
}

// --- OpenID Connect sessions (keyed by the raw code: stored hashed) ---------------

// CreateOpenIDConnectSession implements openid.OpenIDConnectRequestStorage.
func (s *FositeStore) CreateOpenIDConnectSession(ctx context.Context, authorizeCode string, req fosite.Requester) error {
	return s.create(ctx, tableOIDC, authorizeCode, req, fosite.AuthorizeCode, "")
}

// GetOpenIDConnectSession implements openid.OpenIDConnectRequestStorage.
// The session is read into the requester's own session value.
func (s *FositeStore) GetOpenIDConnectSession(ctx context.Context, authorizeCode string, requester fosite.Requester) (fosite.Requester, error) {
	req, _, err := s.get(ctx, tableOIDC, authorizeCode, requester.GetSession())
	if errors.Is(err, fosite.ErrNotFound) {
		return nil, openid.ErrNoSessionFound
	}
	if err != nil {
		return nil, err
	}
	return req, nil
}

// DeleteOpenIDConnectSession implements openid.OpenIDConnectRequestStorage.
func (s *FositeStore) DeleteOpenIDConnectSession(ctx context.Context, authorizeCode string) error {
	return s.delete(ctx, tableOIDC, authorizeCode)
}

// --- access tokens -----------------------------------------------------------------

// CreateAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *FositeStore) CreateAccessTokenSession(ctx context.Context, signature string, req fosite.Requester) error {
	return s.create(ctx, tableAccess, signature, req, fosite.AccessToken, "")
}

// GetAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *FositeStore) GetAccessTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	req, _, err := s.get(ctx, tableAccess, signature, session)
	if err != nil {
		return nil, err
	}
	return req, nil
}

// DeleteAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *FositeStore) DeleteAccessTokenSession(ctx context.Context, signature string) error {
	return s.delete(ctx, tableAccess, signature)
}

// RevokeAccessToken implements oauth2.TokenRevocationStorage: every access
// token of the request goes. Tokens issued before the upgrade (rows of
// oauth2_access_tokens) are deleted; the others, which are not stored, are
// revoked by a grant row of the revocation table. A revoked grant issues
// nothing more (its refresh tokens and code are spent), so the row
// matches every token of the grant.
func (s *FositeStore) RevokeAccessToken(ctx context.Context, requestID string) error {
	if err := s.db.write(ctx, func(g *gorm.DB) error {
		if err := g.Table(tableAccess).Where("request_id = ?", requestID).Delete(&TokenRow{}).Error; err != nil {
			return err
		}
		return revokeRow(g, revokeGrant+requestID, math.MaxInt64, s.now(), s.db.revocationTTL())
	}); err != nil {
		return fmt.Errorf("storage: revoke access tokens: %w", unavailableErr(err))
	}
	return nil
}

// --- refresh tokens ----------------------------------------------------------------

// CreateRefreshTokenSession implements oauth2.RefreshTokenStorage.
func (s *FositeStore) CreateRefreshTokenSession(ctx context.Context, signature, accessSignature string, req fosite.Requester) error {
	return s.create(ctx, tableRefresh, signature, req, fosite.RefreshToken, accessSignature)
}

// GetRefreshTokenSession implements oauth2.RefreshTokenStorage: a revoked
// (or rotated) token comes back with its request and fosite.ErrInactiveToken,
// which is how fosite detects reuse.
func (s *FositeStore) GetRefreshTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	req, row, err := s.get(ctx, tableRefresh, signature, session)
	if err != nil {
		return nil, err
	}
	if !row.Active {
		return req, fosite.ErrInactiveToken
	}
	return req, nil
}

// DeleteRefreshTokenSession implements oauth2.RefreshTokenStorage.
func (s *FositeStore) DeleteRefreshTokenSession(ctx context.Context, signature string) error {
	return s.delete(ctx, tableRefresh, signature)
}

// RevokeRefreshToken implements oauth2.TokenRevocationStorage: every
// refresh token of the request (the whole rotation family) becomes
// inactive. Rows are kept until they expire so a later reuse is recognised.
func (s *FositeStore) RevokeRefreshToken(ctx context.Context, requestID string) error {
	if err := s.revokeRefreshRows(ctx, requestID); err != nil {
		return err
	}
	// A revoked family keeps no answer for a grace period.
	return s.dropRefreshGrace(ctx, requestID)
}

// revokeRefreshRows makes the family's active refresh tokens inactive.
func (s *FositeStore) revokeRefreshRows(ctx context.Context, requestID string) error {
	if err := s.db.write(ctx, func(g *gorm.DB) error {
		// Only the active rows: a refresh family keeps one row per rotation
		// (all with the request id), and rewriting the inactive ones made
		// every refresh cost more than the one before.
		return g.Table(tableRefresh).Where("request_id = ? AND active = ?", requestID, true).Update("active", false).Error
	}); err != nil {
		return fmt.Errorf("storage: revoke refresh tokens: %w", unavailableErr(err))
	}
	return nil
}

// RotateRefreshToken implements oauth2.RefreshTokenStorage (fosite calls it
// inside the refresh transaction): the presented token and the rest of its
// family become inactive, and the access token issued with the presented
// token is revoked (a token row: the new access token of the same grant,
// minted next, stays valid). Rows of tokens issued before the upgrade are
// deleted as before. If the presented token was no longer active, another
// request rotated it first: ErrSerializationFailure makes fosite roll back
// and refuse this one.
func (s *FositeStore) RotateRefreshToken(ctx context.Context, requestID, signature string) error {
	w := s.db.writer(ctx)
	var accessIDs []string
	if err := w.Table(tableRefresh).Where("id = ? AND active = ?", key(signature), true).Pluck("access_id", &accessIDs).Error; err != nil {
		return fmt.Errorf("storage: rotate refresh token: %w", unavailableErr(err))
	}
	res := w.Table(tableRefresh).Where("id = ? AND active = ?", key(signature), true).Update("active", false)
	if res.Error != nil {
		return fmt.Errorf("storage: rotate refresh token: %w", unavailableErr(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("refresh token rotated concurrently: %w: %w", fosite.ErrSerializationFailure, ErrConflict)
	}
	if err := s.revokeRefreshRows(ctx, requestID); err != nil {
		return err
	}
	if err := s.db.write(ctx, func(g *gorm.DB) error {
		if err := g.Table(tableAccess).Where("request_id = ?", requestID).Delete(&TokenRow{}).Error; err != nil {
			return err
		}
		for _, id := range accessIDs {
			if id == "" {
				continue
			}
			if err := revokeRow(g, revokeToken+id, math.MaxInt64, s.now(), s.db.revocationTTL()); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("storage: rotate refresh token: %w", unavailableErr(err))
	}
	return nil
}

// RevokeSubject ends every token of an account (all clients): refresh
// tokens become inactive, stored access tokens (from before the upgrade)
// are deleted, and a subject row revokes every access token issued until now. Used on password
// change and recovery.
func (s *FositeStore) RevokeSubject(ctx context.Context, subject string) error {
	if subject == "" {
		// Client-credentials tokens have the tenant as subject; "" would match nothing sane.
		return errors.New("storage: revoke subject: empty subject")
	}
	return s.db.InTx(ctx, func(ctx context.Context) error {
		w := s.db.writer(ctx)
		if err := w.Table(tableRefresh).Where("subject = ?", subject).Update("active", false).Error; err != nil {
			return fmt.Errorf("storage: revoke subject: %w", unavailableErr(err))
		}
		if err := w.Table(tableAccess).Where("subject = ?", subject).Delete(&TokenRow{}).Error; err != nil {
			return fmt.Errorf("storage: revoke subject: %w", unavailableErr(err))
		}
		if err := revokeRow(w, revokeSubject+subject, s.now().UnixMilli(), s.now(), s.db.revocationTTL()); err != nil {
			return fmt.Errorf("storage: revoke subject: %w", unavailableErr(err))
		}
		return nil
	})
}

// Sweep deletes up to batch expired rows from each token table, and expired
// login sessions, pending sign-ins and trusted devices, and returns how many rows went. Expired rows are kept for
// grace after expiry (so reuse of an expired refresh token is still told
// apart from a forged one for a while).
func (s *FositeStore) Sweep(ctx context.Context, batch int, grace time.Duration) (int64, error) {
	cutoff := s.now().Add(-grace)
	var total int64
	for _, table := range []string{tableCodes, tablePKCE, tableOIDC, tableAccess, tableRefresh} {
		n, err := s.sweepTable(ctx, table, "expires_at < ?", cutoff, batch)
		total += n
		if err != nil {
			return total, err
		}
	}
	n, err := s.sweepTable(ctx, tableGrace, "created_at < ?", s.now().Add(-MaxRefreshGrace), batch)
	total += n
	if err != nil {
		return total, err
	}
	// A revocation row outlives every token it can match (revocations.go).
	n, err = s.sweepTable(ctx, tableRevocations, "expires_ms < ?", s.now().UnixMilli(), batch)
	total += n
	if err != nil {
		return total, err
	}
	for _, table := range []string{LoginSession{}.TableName(), PendingLogin{}.TableName(), TrustedDevice{}.TableName()} {
		n, err := s.sweepTable(ctx, table, "expires_at < ?", s.now(), batch)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// sweepTable deletes at most batch rows matching cond, selected by primary
// key first so the delete holds its locks briefly on both backends.
func (s *FositeStore) sweepTable(ctx context.Context, table, cond string, arg any, batch int) (int64, error) {
	var ids []string
	if err := s.db.reader(ctx).Table(table).Where(cond, arg).Limit(batch).Pluck("id", &ids).Error; err != nil {
		return 0, fmt.Errorf("storage: sweep %s: %w", table, err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	res := s.db.writer(ctx).Table(table).Where(clause.IN{Column: clause.Column{Name: "id"}, Values: toAny(ids)}).Where(cond, arg).Delete(&TokenRow{})
	if res.Error != nil {
		return 0, fmt.Errorf("storage: sweep %s: %w", table, res.Error)
	}
	return res.RowsAffected, nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
