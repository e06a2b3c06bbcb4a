package storage

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// SigningKeys stores the sealed signing keys that package keys manages.
type SigningKeys struct{ db *DB }

// NewSigningKeys returns the signing-key store over db.
func NewSigningKeys(db *DB) *SigningKeys { return &SigningKeys{db: db} }

// ListKeys returns every stored key, newest first.
func (s *SigningKeys) ListKeys(ctx context.Context) ([]SigningKey, error) {
	var ks []SigningKey
	if err := s.db.reader(ctx).Order("created_at DESC, kid").Find(&ks).Error; err != nil {
		return nil, fmt.Errorf("storage: list keys: %w", unavailableErr(err))
	}
	return ks, nil
}

// AddKey stores a new key and, atomically, retires every key of its
// algorithm that would still be signing when it activates (k.ActivatesAt;
// nil means k.CreatedAt): those keys stop signing at that activation time
// and stay published until at least publishUntil (a later publication
// already set is kept). Keys retired earlier, and keys of the other
// algorithm (each algorithm has an active key of its own), are left alone.
func (s *SigningKeys) AddKey(ctx context.Context, k *SigningKey, publishUntil time.Time) error {
	k.CreatedAt, publishUntil = utc(k.CreatedAt), utc(publishUntil)
	act := k.CreatedAt
	if k.ActivatesAt != nil {
		act = utc(*k.ActivatesAt)
	}
	k.ActivatesAt = &act
	return s.db.InTx(ctx, func(ctx context.Context) error {
		w := s.db.writer(ctx)
		// Publication first: the second statement changes retired_at, which
		// selects the rows. A publication only ever grows.
		if err := w.Model(&SigningKey{}).
			Where("alg = ? AND (retired_at IS NULL OR retired_at > ?) AND (publish_until IS NULL OR publish_until < ?)", k.Alg, act, publishUntil).
			Update("publish_until", publishUntil).Error; err != nil {
			return fmt.Errorf("storage: retire keys: %w", unavailableErr(err))
		}
		if err := w.Model(&SigningKey{}).Where("alg = ? AND (retired_at IS NULL OR retired_at > ?)", k.Alg, act).
			Update("retired_at", act).Error; err != nil {
			return fmt.Errorf("storage: retire keys: %w", unavailableErr(err))
		}
		if err := w.Create(k).Error; err != nil {
			return fmt.Errorf("storage: add key: %w", unavailableErr(err))
		}
		return nil
	})
}

// ExtendPublication keeps a retired key published until at least until:
// it raises publish_until, never lowers it, and leaves keys that are not
// retired (published indefinitely) alone. It reports whether it changed a row.
func (s *SigningKeys) ExtendPublication(ctx context.Context, kid string, until time.Time) (bool, error) {
	until = utc(until)
	var n int64
	err := s.db.write(ctx, func(g *gorm.DB) error {
		res := g.Model(&SigningKey{}).
			Where("kid = ? AND publish_until IS NOT NULL AND publish_until < ?", kid, until).
			Update("publish_until", until)
		n = res.RowsAffected
		return res.Error
	})
	if err != nil {
		return false, fmt.Errorf("storage: extend key publication: %w", unavailableErr(err))
	}
	return n > 0, nil
}

// DeleteUnpublished removes retired keys whose tokens have all expired.
func (s *SigningKeys) DeleteUnpublished(ctx context.Context, now time.Time) (int64, error) {
	res := s.db.writer(ctx).Where("retired_at IS NOT NULL AND publish_until < ?", utc(now)).Delete(&SigningKey{})
	if res.Error != nil {
		return 0, fmt.Errorf("storage: delete old keys: %w", unavailableErr(res.Error))
	}
	return res.RowsAffected, nil
}
