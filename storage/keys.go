package storage

import (
	"context"
	"fmt"
	"time"
)

// SigningKeys stores the sealed signing keys that package keys manages.
type SigningKeys struct{ db *DB }

// NewSigningKeys returns the signing-key store over db.
func NewSigningKeys(db *DB) *SigningKeys { return &SigningKeys{db: db} }

// ListKeys returns every stored key, newest first.
func (s *SigningKeys) ListKeys(ctx context.Context) ([]SigningKey, error) {
	var ks []SigningKey
	if err := s.db.reader(ctx).Order("created_at DESC, kid").Find(&ks).Error; err != nil {
		return nil, fmt.Errorf("storage: list keys: %w", err)
	}
	return ks, nil
}

// AddKey stores a new key and retires the keys before it, atomically: the
// retired ones stay published until publishUntil.
func (s *SigningKeys) AddKey(ctx context.Context, k *SigningKey, publishUntil time.Time) error {
	k.CreatedAt, publishUntil = utc(k.CreatedAt), utc(publishUntil)
	return s.db.InTx(ctx, func(ctx context.Context) error {
		w := s.db.writer(ctx)
		now := k.CreatedAt
		if err := w.Model(&SigningKey{}).Where("retired_at IS NULL").
			Updates(map[string]any{"retired_at": now, "publish_until": publishUntil}).Error; err != nil {
			return fmt.Errorf("storage: retire keys: %w", err)
		}
		if err := w.Create(k).Error; err != nil {
			return fmt.Errorf("storage: add key: %w", err)
		}
		return nil
	})
}

// DeleteUnpublished removes retired keys whose tokens have all expired.
func (s *SigningKeys) DeleteUnpublished(ctx context.Context, now time.Time) (int64, error) {
	res := s.db.writer(ctx).Where("retired_at IS NOT NULL AND publish_until < ?", utc(now)).Delete(&SigningKey{})
	if res.Error != nil {
		return 0, fmt.Errorf("storage: delete old keys: %w", res.Error)
	}
	return res.RowsAffected, nil
}
