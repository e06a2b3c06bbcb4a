package keys

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/manam-id/manam/storage"
)

// Algorithms a key can have.
const (
	RS256 = "RS256"
	ES256 = "ES256"
)

// ErrUnknownAlg reports an algorithm this package does not make.
var ErrUnknownAlg = errors.New("keys: unknown algorithm (want RS256 or ES256)")

// ErrUnknownKey reports a kid that names no published key, even after a reload.
var ErrUnknownKey = errors.New("keys: unknown key")

// Store is what keys needs of storage.
type Store interface {
	ListKeys(ctx context.Context) ([]storage.SigningKey, error)
	// AddKey stores k and retires, at k's activation time, every key that
	// would still sign then; they stay published until at least publishUntil.
	AddKey(ctx context.Context, k *storage.SigningKey, publishUntil time.Time) error
	// ExtendPublication raises a retired key's publish_until to until (never lowers it).
	ExtendPublication(ctx context.Context, kid string, until time.Time) (bool, error)
	DeleteUnpublished(ctx context.Context, now time.Time) (int64, error)
}

// States of a key (Key.State).
const (
	// Pending: published (JWKS, verification) but not signing yet.
	Pending = "pending"
	// Active: the key new tokens are signed with.
	Active = "active"
	// Retired: a newer key took over; still published for the tokens it signed.
	Retired = "retired"
)

// Key is one usable signing key. Its fields are not changed after it is made.
type Key struct {
	KID         string
	Alg         string
	Signer      crypto.Signer // *rsa.PrivateKey or *ecdsa.PrivateKey
	Public      crypto.PublicKey
	CreatedAt   time.Time  // made and published
	ActivatesAt time.Time  // signing from
	RetiredAt   *time.Time // signing until (nil: until a rotation)
	// PublishUntil is when it leaves the JWKS and verification (nil: not retired).
	PublishUntil *time.Time
}

// State is the key's state at now: Pending, Active or Retired. A key
// retired before its activation (cancelled by an emergency rotation) is
// Retired.
func (k *Key) State(now time.Time) string {
	switch {
	case k.RetiredAt != nil && (!now.Before(*k.RetiredAt) || !k.ActivatesAt.Before(*k.RetiredAt)):
		return Retired
	case now.Before(k.ActivatesAt):
		return Pending
	default:
		return Active
	}
}

// signsAt reports whether t is inside the key's signing window.
func (k *Key) signsAt(t time.Time) bool {
	return !t.Before(k.ActivatesAt) && (k.RetiredAt == nil || t.Before(*k.RetiredAt))
}

// Options tune a Manager.
type Options struct {
	// Alg is the default algorithm: of Active and of Rotate with no
	// algorithm given. Default RS256.
	Alg string
	// Algs are the algorithms that each keep an active key of their own
	// (a rotation of one leaves the others alone); New makes a key for
	// each that has none. Default: Alg alone. Alg is always among them.
	Algs []string
	// MaxTokenLifetime is the longest life of any token a key signs (ID
	// tokens, JWT access tokens). Default 24 h.
	MaxTokenLifetime time.Duration
	// RefreshInterval is how often Run reloads the keys from the store.
	// Default 30 s.
	RefreshInterval time.Duration
	// PropagationDelay is how long after a rotation the new key starts
	// signing: every server reloads (and so publishes and accepts it)
	// within that time. At least RefreshInterval; default twice it, so one
	// missed reload is tolerated.
	PropagationDelay time.Duration
	// Margin is added to a retired key's publication, for clock skew
	// between servers and relying parties. Default 5 min.
	Margin time.Duration
	// MissReloadInterval is the least time between two reloads made
	// because a token named a key not loaded yet. Default 1 s.
	MissReloadInterval time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives one line per rotation noticed; default slog.Default().
	Logger *slog.Logger
}

// Manager holds the current key set in memory and refreshes it from the store.
type Manager struct {
	store Store
	aead  cipher.AEAD
	opts  Options

	refreshMu sync.Mutex // one Refresh at a time: each builds on the previous set
	missMu    sync.Mutex // guards lastMiss; held across a reload on an unknown kid
	lastMiss  time.Time

	mu  sync.RWMutex
	set *keySet
}

// keySet is one loaded set of keys.
type keySet struct {
	loadedAt time.Time
	keys     []*Key // newest first
	byKID    map[string]*Key
	jwks     []byte
}

// activeAt is the key of alg signing at t: the newest of that algorithm
// whose window holds t. (Windows of one algorithm do not overlap: a
// rotation ends every earlier window of its algorithm at the new key's
// activation.)
func (s *keySet) activeAt(t time.Time, alg string) *Key {
	if s == nil {
		return nil
	}
	for _, k := range s.keys {
		if k.Alg == alg && k.signsAt(t) {
			return k
		}
	}
	return nil
}

// signedUntil reports whether this set could have had kid sign between its
// loading and now, and until when.
func (s *keySet) signedUntil(kid string, now time.Time) (time.Time, bool) {
	k, ok := s.byKID[kid]
	if !ok || now.Before(k.ActivatesAt) || (k.RetiredAt != nil && !k.RetiredAt.After(s.loadedAt)) {
		return time.Time{}, false
	}
	if k.RetiredAt != nil && k.RetiredAt.Before(now) {
		return *k.RetiredAt, true
	}
	return now, true
}

// Derive returns a 32-byte subkey of the system secret for one purpose
// (HKDF-SHA256 with the purpose as info).
func Derive(secret []byte, purpose string) []byte {
	k, err := hkdf.Key(sha256.New, secret, nil, "manam "+purpose, 32)
	if err != nil {
		// Only a length over 255*32 fails.
		panic(err)
	}
	return k
}

// New loads the keys from store, making the first one if there is none.
func New(ctx context.Context, store Store, secret []byte, opts Options) (*Manager, error) {
	if len(secret) < 32 {
		return nil, errors.New("keys: system secret must be at least 32 bytes")
	}
	if opts.Alg == "" {
		opts.Alg = RS256
	}
	if !slices.Contains(opts.Algs, opts.Alg) {
		opts.Algs = append(slices.Clone(opts.Algs), opts.Alg)
	}
	for _, alg := range opts.Algs {
		if alg != RS256 && alg != ES256 {
			return nil, ErrUnknownAlg
		}
	}
	if opts.MaxTokenLifetime == 0 {
		opts.MaxTokenLifetime = 24 * time.Hour
	}
	if opts.RefreshInterval == 0 {
		opts.RefreshInterval = 30 * time.Second
	}
	if opts.PropagationDelay == 0 {
		opts.PropagationDelay = 2 * opts.RefreshInterval
	}
	if opts.Margin == 0 {
		opts.Margin = 5 * time.Minute
	}
	if opts.MissReloadInterval == 0 {
		opts.MissReloadInterval = time.Second
	}
	if opts.MaxTokenLifetime < 0 || opts.RefreshInterval < 0 || opts.Margin < 0 || opts.MissReloadInterval < 0 {
		return nil, errors.New("keys: negative duration in options")
	}
	if opts.PropagationDelay < opts.RefreshInterval {
		return nil, fmt.Errorf("keys: propagation delay %s is shorter than the refresh interval %s: servers could sign with a key others do not publish yet",
			opts.PropagationDelay, opts.RefreshInterval)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	block, err := aes.NewCipher(Derive(secret, "signing keys at rest"))
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	m := &Manager{store: store, aead: aead, opts: opts}
	if err := m.Refresh(ctx); err != nil {
		return nil, err
	}
	if err := m.ensureAlgs(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// ensureAlgs makes a key for each algorithm of Options.Algs that has
// none active or pending. On an empty store the keys sign at once:
// nothing signs yet, so no server needs to load them first. Otherwise
// (an algorithm added to a running deployment: an upgrade) the key
// activates after PropagationDelay like any rotation, so every server
// publishes it before anyone signs with it, and its creation time is set
// just before the oldest key still signing: a server of the previous
// release, which signs with the newest signing key of any algorithm,
// keeps the key it has. Replicas starting together may each add one;
// the later retires the earlier at its activation (AddKey), which is
// harmless.
func (m *Manager) ensureAlgs(ctx context.Context) error {
	now := m.opts.Now()
	var missing []string
	created := now.UTC()
	live := false
	for _, k := range m.All() {
		if st := k.State(now); st == Active || st == Pending {
			live = true
			if k.CreatedAt.Before(created) {
				created = k.CreatedAt
			}
		}
	}
	for _, alg := range m.opts.Algs {
		if !m.hasLiveKey(alg, now) {
			missing = append(missing, alg)
		}
	}
	for _, alg := range missing {
		var err error
		if !live {
			_, err = m.rotate(ctx, alg, 0, time.Time{})
		} else {
			_, err = m.rotate(ctx, alg, m.opts.PropagationDelay, created.Add(-time.Second))
		}
		if err != nil {
			return err
		}
		m.opts.Logger.Info("signing key made for an algorithm that had none", "alg", alg)
	}
	return nil
}

// hasLiveKey reports whether alg has a loaded key active or pending at now.
func (m *Manager) hasLiveKey(alg string, now time.Time) bool {
	for _, k := range m.All() {
		if st := k.State(now); k.Alg == alg && (st == Active || st == Pending) {
			return true
		}
	}
	return false
}

// Options are the options in effect (defaults filled in).
func (m *Manager) Options() Options { return m.opts }

// Now is the manager's clock.
func (m *Manager) Now() time.Time { return m.opts.Now() }

// Active is the key of the default algorithm (Options.Alg) that signs now.
func (m *Manager) Active() *Key { return m.ActiveFor(m.opts.Alg) }

// ActiveFor is the key of alg new tokens are signed with now: the newest
// loaded key of alg whose activation time has passed and that is not
// retired (nil if none). It is chosen at each call, so a server switches
// at the activation time, not at its next reload.
func (m *Manager) ActiveFor(alg string) *Key {
	now := m.opts.Now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.set.activeAt(now, alg)
}

// State is k's state now, as this manager sees it: Key.State, except that
// a key whose window holds now but that a newer one overlaps (two rotations
// racing on MySQL) is Retired, as only the newest signs.
func (m *Manager) State(k *Key) string {
	now := m.opts.Now()
	st := k.State(now)
	if act := m.ActiveFor(k.Alg); st == Active && (act == nil || act.KID != k.KID) {
		return Retired
	}
	return st
}

// Lookup finds a loaded, published key by kid.
func (m *Manager) Lookup(kid string) (*Key, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.set == nil {
		return nil, false
	}
	k, ok := m.set.byKID[kid]
	return k, ok
}

// Verifier finds the published key a token's kid names. When no loaded
// key has that kid — another server may already sign with a key loaded
// here at the next refresh — and the kid is well formed (an RFC 7638
// SHA-256 thumbprint, as every kid made here), it reloads the keys once
// and looks again. Such reloads happen at most once per
// MissReloadInterval; others fail at once with ErrUnknownKey.
func (m *Manager) Verifier(ctx context.Context, kid string) (*Key, error) {
	if k, ok := m.Lookup(kid); ok {
		return k, nil
	}
	if !WellFormedKID(kid) {
		return nil, fmt.Errorf("%w: malformed kid", ErrUnknownKey)
	}
	m.missMu.Lock()
	defer m.missMu.Unlock()
	// A reload made while this call waited may have found it.
	if k, ok := m.Lookup(kid); ok {
		return k, nil
	}
	now := m.opts.Now()
	if !m.lastMiss.IsZero() && now.Sub(m.lastMiss) < m.opts.MissReloadInterval {
		return nil, fmt.Errorf("%w: %q (reloaded less than %s ago)", ErrUnknownKey, kid, m.opts.MissReloadInterval)
	}
	m.lastMiss = now
	if err := m.Refresh(ctx); err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrUnknownKey, kid, err)
	}
	if k, ok := m.Lookup(kid); ok {
		m.opts.Logger.Info("signing key loaded on first use", "kid", kid)
		return k, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownKey, kid)
}

// WellFormedKID reports whether kid has the shape of the kids made here:
// a base64url (unpadded) SHA-256 thumbprint, 43 characters.
func WellFormedKID(kid string) bool {
	if len(kid) != 43 {
		return false
	}
	for i := 0; i < len(kid); i++ {
		c := kid[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// All returns the published keys (pending, active and retired), newest first.
func (m *Manager) All() []*Key {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.set == nil {
		return nil
	}
	return slices.Clone(m.set.keys)
}

// JWKS is the published key set, as JSON (public halves only).
func (m *Manager) JWKS() []byte {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.set == nil {
		return []byte(`{"keys":[]}`)
	}
	return m.set.jwks
}

// Algs lists the algorithms of the published keys (for discovery).
func (m *Manager) Algs() []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range m.All() {
		if !seen[k.Alg] {
			seen[k.Alg] = true
			out = append(out, k.Alg)
		}
	}
	return out
}

// Refresh reloads the key set from the store.
//
// Before that, it keeps published every retired key this process may
// have signed with since the previous load: to at least the last moment
// it could have signed with it plus MaxTokenLifetime and Margin (the
// store only ever raises a publication). So a retired key's publication
// follows the token lifetimes of the servers that signed with it, not only
// those of the process that rotated, and a server that switched late
// (a missed reload) extends it by its own delay.
func (m *Manager) Refresh(ctx context.Context) error {
	m.refreshMu.Lock()
	defer m.refreshMu.Unlock()
	rows, err := m.store.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("keys: refresh: %w", err)
	}
	now := m.opts.Now()
	m.mu.RLock()
	prev := m.set
	m.mu.RUnlock()
	if prev != nil {
		for i := range rows {
			row := &rows[i]
			if row.PublishUntil == nil {
				continue
			}
			until, used := prev.signedUntil(row.KID, now)
			if !used {
				continue
			}
			need := until.Add(m.opts.MaxTokenLifetime + m.opts.Margin).UTC()
			if !row.PublishUntil.Before(need) {
				continue
			}
			if _, err := m.store.ExtendPublication(ctx, row.KID, need); err != nil {
				return fmt.Errorf("keys: refresh: %w", err)
			}
			m.opts.Logger.Info("retired signing key kept published for the tokens this server signed with it",
				"kid", row.KID, "publish_until", need, "was", *row.PublishUntil)
			row.PublishUntil = &need
		}
	}
	set := &keySet{loadedAt: now, byKID: make(map[string]*Key, len(rows))}
	for i := range rows {
		row := &rows[i]
		if row.PublishUntil != nil && now.After(*row.PublishUntil) {
			continue
		}
		var k *Key
		if prev != nil {
			// Same kid, same key (the kid is its thumbprint): skip the unsealing.
			if p, ok := prev.byKID[row.KID]; ok && p.Alg == row.Alg {
				k = keyFromRow(row, p.Signer)
			}
		}
		if k == nil {
			if k, err = m.open(row); err != nil {
				return err
			}
		}
		set.byKID[k.KID] = k
		set.keys = append(set.keys, k)
	}
	sortNewestFirst(set.keys)
	var jwks jose.JSONWebKeySet
	jwks.Keys = []jose.JSONWebKey{}
	for _, k := range set.keys {
		jwks.Keys = append(jwks.Keys, jose.JSONWebKey{Key: k.Public, KeyID: k.KID, Algorithm: k.Alg, Use: "sig"})
	}
	if set.jwks, err = json.Marshal(jwks); err != nil {
		return fmt.Errorf("keys: encode JWKS: %w", err)
	}
	m.mu.Lock()
	m.set = set
	m.mu.Unlock()
	m.logChanges(prev, set, now)
	return nil
}

// logChanges logs a key newly published ahead of its activation and a
// change of signing key since the previous load.
func (m *Manager) logChanges(prev, cur *keySet, now time.Time) {
	if prev == nil {
		return
	}
	for _, k := range cur.keys {
		if _, seen := prev.byKID[k.KID]; !seen && k.State(now) == Pending {
			m.opts.Logger.Info("signing key published, pending activation", "kid", k.KID, "alg", k.Alg, "activates_at", k.ActivatesAt)
		}
	}
	for _, alg := range m.opts.Algs {
		old, act := prev.activeAt(prev.loadedAt, alg), cur.activeAt(now, alg)
		if old != nil && act != nil && old.KID != act.KID {
			m.opts.Logger.Info("signing key rotated", "kid", act.KID, "alg", act.Alg, "previous", old.KID)
		}
	}
}

// Run refreshes every RefreshInterval until ctx ends.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(m.opts.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := m.Refresh(ctx); err != nil && ctx.Err() == nil {
				m.opts.Logger.Error("signing keys refresh failed", "err", err)
			}
		}
	}
}

// Rotate makes a new key (alg "" means the configured default), published
// at once and signing from PropagationDelay later, when every server has
// loaded it. It replaces the keys of its algorithm only: the other
// algorithm's active key is left alone. The keys it replaces sign until then and stay published for
// PropagationDelay + MaxTokenLifetime + Margin from now (and longer if a
// server still signs with them: see Refresh).
func (m *Manager) Rotate(ctx context.Context, alg string) (*Key, error) {
	return m.rotate(ctx, alg, m.opts.PropagationDelay, time.Time{})
}

// RotateNow is an emergency rotation: the new key signs at once on this
// process and on every other server from its next reload (within
// RefreshInterval). Until then other servers still sign with the replaced
// key, and may reject tokens signed with the new one until they reload
// (verification reloads once on an unknown kid, so only relying parties
// with a stale JWKS see that). Retention is as for Rotate.
func (m *Manager) RotateNow(ctx context.Context, alg string) (*Key, error) {
	return m.rotate(ctx, alg, 0, time.Time{})
}

// rotate makes and stores a key of alg signing from delay on; created,
// when not zero, is the creation time recorded (see ensureAlgs).
func (m *Manager) rotate(ctx context.Context, alg string, delay time.Duration, created time.Time) (*Key, error) {
	if alg == "" {
		alg = m.opts.Alg
	}
	var signer crypto.Signer
	var err error
	switch alg {
	case RS256:
		signer, err = rsa.GenerateKey(rand.Reader, 2048)
	case ES256:
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, ErrUnknownAlg
	}
	if err != nil {
		return nil, fmt.Errorf("keys: generate: %w", err)
	}
	kid, err := Thumbprint(signer.Public())
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		return nil, fmt.Errorf("keys: encode: %w", err)
	}
	now := m.opts.Now().UTC()
	act := now
	if delay > 0 {
		// Rounded up to a whole second: what `keys list` shows is exact,
		// and every database keeps it as is.
		act = now.Add(delay)
		if r := act.Truncate(time.Second); !r.Equal(act) {
			act = r.Add(time.Second)
		}
	}
	row := &storage.SigningKey{KID: kid, Alg: alg, PrivateKey: m.seal(der, kid), CreatedAt: now, ActivatesAt: &act}
	if !created.IsZero() && created.Before(now) {
		row.CreatedAt = created.UTC()
	}
	if err := m.store.AddKey(ctx, row, now.Add(m.Retention())); err != nil {
		return nil, fmt.Errorf("keys: store: %w", err)
	}
	if err := m.Refresh(ctx); err != nil {
		return nil, err
	}
	k, ok := m.Lookup(kid)
	if !ok {
		return nil, fmt.Errorf("keys: key %s not found after storing it", kid)
	}
	return k, nil
}

// JWKSMaxAge is how long a client or shared cache may keep the JWKS: a
// copy fetched from a server that has not reloaded yet (up to
// RefreshInterval stale) must expire before a key made meanwhile
// activates, so PropagationDelay − RefreshInterval (30 s by default).
func (m *Manager) JWKSMaxAge() time.Duration {
	return m.opts.PropagationDelay - m.opts.RefreshInterval
}

// Retention is how long after a rotation the replaced keys stay published
// at least: PropagationDelay + MaxTokenLifetime + Margin.
func (m *Manager) Retention() time.Duration {
	return m.opts.PropagationDelay + m.opts.MaxTokenLifetime + m.opts.Margin
}

// Prune deletes retired keys whose tokens have all expired.
func (m *Manager) Prune(ctx context.Context) (int64, error) {
	return m.store.DeleteUnpublished(ctx, m.opts.Now())
}

// Thumbprint is the RFC 7638 SHA-256 thumbprint of a public key, base64url.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("keys: thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// seal encrypts a private key; the kid is bound as associated data so a
// sealed key cannot be swapped onto another row.
func (m *Manager) seal(plain []byte, kid string) []byte {
	nonce := make([]byte, m.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return m.aead.Seal(nonce, nonce, plain, []byte(kid))
}

func (m *Manager) open(row *storage.SigningKey) (*Key, error) {
	ns := m.aead.NonceSize()
	if len(row.PrivateKey) < ns {
		return nil, fmt.Errorf("keys: key %s: sealed key too short", row.KID)
	}
	der, err := m.aead.Open(nil, row.PrivateKey[:ns], row.PrivateKey[ns:], []byte(row.KID))
	if err != nil {
		return nil, fmt.Errorf("keys: key %s cannot be opened with this MANAM_SECRET: %w", row.KID, err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("keys: key %s: %w", row.KID, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("keys: key %s: not a signer", row.KID)
	}
	return keyFromRow(row, signer), nil
}

func keyFromRow(row *storage.SigningKey, signer crypto.Signer) *Key {
	act := row.CreatedAt
	if row.ActivatesAt != nil {
		act = *row.ActivatesAt
	}
	return &Key{KID: row.KID, Alg: row.Alg, Signer: signer, Public: signer.Public(),
		CreatedAt: row.CreatedAt, ActivatesAt: act, RetiredAt: row.RetiredAt, PublishUntil: row.PublishUntil}
}

func sortNewestFirst(ks []*Key) {
	slices.SortFunc(ks, func(a, b *Key) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		if c := b.ActivatesAt.Compare(a.ActivatesAt); c != 0 {
			return c
		}
		return strings.Compare(a.KID, b.KID)
	})
}
