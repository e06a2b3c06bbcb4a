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

// Store is what keys needs of storage.
type Store interface {
	ListKeys(ctx context.Context) ([]storage.SigningKey, error)
	AddKey(ctx context.Context, k *storage.SigningKey, publishUntil time.Time) error
	DeleteUnpublished(ctx context.Context, now time.Time) (int64, error)
}

// Key is one usable signing key.
type Key struct {
	KID       string
	Alg       string
	Signer    crypto.Signer // *rsa.PrivateKey or *ecdsa.PrivateKey
	Public    crypto.PublicKey
	CreatedAt time.Time
	RetiredAt *time.Time
}

// Options tune a Manager.
type Options struct {
	// Alg is the algorithm of a key made on first start or by Rotate with
	// no algorithm given. Default RS256.
	Alg string
	// MaxTokenLifetime is how long after a rotation the retired key stays
	// published: the longest life of any token it signed. Default 24 h.
	MaxTokenLifetime time.Duration
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

	mu     sync.RWMutex
	active *Key
	byKID  map[string]*Key
	jwks   []byte
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
	if opts.Alg != RS256 && opts.Alg != ES256 {
		return nil, ErrUnknownAlg
	}
	if opts.MaxTokenLifetime == 0 {
		opts.MaxTokenLifetime = 24 * time.Hour
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
	if m.Active() == nil {
		if _, err := m.Rotate(ctx, opts.Alg); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Active is the key new tokens are signed with.
func (m *Manager) Active() *Key {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.active
}

// Lookup finds a published key by kid.
func (m *Manager) Lookup(kid string) (*Key, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	k, ok := m.byKID[kid]
	return k, ok
}

// All returns the published keys, newest first.
func (m *Manager) All() []*Key {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*Key, 0, len(m.byKID))
	for _, k := range m.byKID {
		out = append(out, k)
	}
	sortNewestFirst(out)
	return out
}

// JWKS is the published key set, as JSON (public halves only).
func (m *Manager) JWKS() []byte {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.jwks
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
func (m *Manager) Refresh(ctx context.Context) error {
	rows, err := m.store.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("keys: refresh: %w", err)
	}
	now := m.opts.Now()
	byKID := make(map[string]*Key, len(rows))
	var active *Key
	var set jose.JSONWebKeySet
	for i := range rows {
		row := &rows[i]
		if row.PublishUntil != nil && now.After(*row.PublishUntil) {
			continue
		}
		k, err := m.open(row)
		if err != nil {
			return err
		}
		byKID[k.KID] = k
		if k.RetiredAt == nil && (active == nil || k.CreatedAt.After(active.CreatedAt)) {
			active = k
		}
	}
	keys := make([]*Key, 0, len(byKID))
	for _, k := range byKID {
		keys = append(keys, k)
	}
	sortNewestFirst(keys)
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Public, KeyID: k.KID, Algorithm: k.Alg, Use: "sig"})
	}
	if set.Keys == nil {
		set.Keys = []jose.JSONWebKey{}
	}
	js, err := json.Marshal(set)
	if err != nil {
		return fmt.Errorf("keys: encode JWKS: %w", err)
	}
	m.mu.Lock()
	old := m.active
	m.active, m.byKID, m.jwks = active, byKID, js
	m.mu.Unlock()
	if old != nil && active != nil && old.KID != active.KID {
		m.opts.Logger.Info("signing key rotated", "kid", active.KID, "alg", active.Alg, "previous", old.KID)
	}
	return nil
}

// Run refreshes every interval and deletes keys no longer published, until ctx ends.
func (m *Manager) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
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

// Rotate makes a new active key (alg "" means the configured default); the
// previous ones stay published for MaxTokenLifetime.
func (m *Manager) Rotate(ctx context.Context, alg string) (*Key, error) {
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
	row := &storage.SigningKey{KID: kid, Alg: alg, PrivateKey: m.seal(der, kid), CreatedAt: now}
	if err := m.store.AddKey(ctx, row, now.Add(m.opts.MaxTokenLifetime)); err != nil {
		return nil, fmt.Errorf("keys: store: %w", err)
	}
	if err := m.Refresh(ctx); err != nil {
		return nil, err
	}
	k, _ := m.Lookup(kid)
	return k, nil
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
	return &Key{KID: row.KID, Alg: row.Alg, Signer: signer, Public: signer.Public(), CreatedAt: row.CreatedAt, RetiredAt: row.RetiredAt}, nil
}

func sortNewestFirst(ks []*Key) {
	slices.SortFunc(ks, func(a, b *Key) int { return b.CreatedAt.Compare(a.CreatedAt) })
}
