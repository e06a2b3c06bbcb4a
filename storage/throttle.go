package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ThrottleBucket is one token bucket of a throttle, shared by every
// replica. It is kept as GCRA's "theoretical arrival time": TAT, in Unix
// milliseconds, is when the bucket will be full again. An attempt at now
// passes when max(TAT, now) ≤ now + (burst − 1)·interval, and then moves TAT
// to max(TAT, now) + interval. One integer per key, no clock in the
// database: the refill is arithmetic on the caller's now.
type ThrottleBucket struct {
	ID  string `gorm:"primaryKey;size:64"` // hex SHA-256 of the throttle's name and key (callers hash)
	TAT int64  `gorm:"column:tat;not null;index"`
}

// TableName implements gorm's tabler.
func (ThrottleBucket) TableName() string { return "throttle_buckets" }

// Throttles stores the throttles' token buckets.
type Throttles struct{ db *DB }

// NewThrottles returns the bucket store over db.
func NewThrottles(db *DB) *Throttles { return &Throttles{db: db} }

// errTakeResult reports an answer of MySQL that none of the statement's
// outcomes gives: never read as "passed".
var errTakeResult = errors.New("storage: throttle: unexpected result")

// Take spends one attempt of bucket id (burst attempts at once, one more
// every interval) and tells whether there was one, in one statement: an
// upsert whose arithmetic runs in the database under the row's lock, so
// attempts sent at once, from any number of replicas, cannot all pass.
// Call it outside a transaction: a rollback must not give the attempt back.
func (s *Throttles) Take(ctx context.Context, id string, now time.Time, burst int, interval time.Duration) (bool, error) {
	if burst < 1 || interval < time.Millisecond {
		return false, fmt.Errorf("storage: throttle: burst %d, interval %v", burst, interval)
	}
	n, iv := now.UnixMilli(), interval.Milliseconds()
	limit := n + int64(burst-1)*iv // the latest TAT that still leaves an attempt
	var ok bool
	err := s.db.write(ctx, func(g *gorm.DB) error {
		if s.db.dialect == MySQL {
			// MySQL has no conditional upsert: the update keeps TAT when
			// no attempt is left, and LAST_INSERT_ID(expr) reports which
			// branch ran (1: spent, 2: none left) in the answer itself.
			// clientFoundRows counts an insert 1 and a changed row 2; an
			// unchanged row (refused) 1, told apart by its insert id.
			res, err := exec(ctx, g, "INSERT INTO throttle_buckets (id, tat) VALUES (?, ?) ON DUPLICATE KEY UPDATE "+
				"tat = IF(LAST_INSERT_ID(IF(GREATEST(tat, ?) <= ?, 1, 2)) = 1, GREATEST(tat, ?) + ?, tat)",
				id, n+iv, n, limit, n, iv)
			if err != nil {
				return err
			}
			rows, err1 := res.RowsAffected()
			last, err2 := res.LastInsertId()
			if err := errors.Join(err1, err2); err != nil {
				return err
			}
			switch {
			case rows == 1 && last == 0: // inserted: a new bucket is full
				ok = true
			case rows == 2 && last == 1:
				ok = true
			case last == 2:
				ok = false
			default:
				return fmt.Errorf("%w: %d rows, id %d", errTakeResult, rows, last)
			}
			return nil
		}
		// SQLite: the update runs only while an attempt is left, so the
		// row count is the answer (one writer: no race between replicas
		// or statements).
		res := g.Exec("INSERT INTO throttle_buckets (id, tat) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET "+
			"tat = MAX(tat, ?) + ? WHERE MAX(tat, ?) <= ?", id, n+iv, n, iv, n, limit)
		ok = res.RowsAffected == 1
		return res.Error
	})
	if err != nil {
		return false, fmt.Errorf("storage: throttle take: %w", err)
	}
	return ok, nil
}

// exec runs one statement on g's connection (or transaction) and returns
// the driver's result, which gorm does not expose (the insert id).
func exec(ctx context.Context, g *gorm.DB, query string, args ...any) (sql.Result, error) {
	return g.Statement.ConnPool.ExecContext(context.WithoutCancel(ctx), query, args...)
}

// Refund gives back one attempt taken from bucket id (a bucket already
// full, or swept, stays full).
func (s *Throttles) Refund(ctx context.Context, id string, interval time.Duration) error {
	err := s.db.write(ctx, func(g *gorm.DB) error {
		return g.Exec("UPDATE throttle_buckets SET tat = tat - ? WHERE id = ?", interval.Milliseconds(), id).Error
	})
	if err != nil {
		return fmt.Errorf("storage: throttle refund: %w", err)
	}
	return nil
}

// Sweep deletes up to batch buckets that are full again at now (they
// remember nothing a new bucket would not) and returns how many went.
func (s *Throttles) Sweep(ctx context.Context, now time.Time, batch int) (int64, error) {
	var ids []string
	if err := s.db.reader(ctx).Model(&ThrottleBucket{}).Where("tat <= ?", now.UnixMilli()).Limit(batch).Pluck("id", &ids).Error; err != nil {
		return 0, fmt.Errorf("storage: sweep throttle buckets: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	var n int64
	err := s.db.write(ctx, func(g *gorm.DB) error {
		res := g.Where(clause.IN{Column: clause.Column{Name: "id"}, Values: toAny(ids)}).Where("tat <= ?", now.UnixMilli()).Delete(&ThrottleBucket{})
		n = res.RowsAffected
		return res.Error
	})
	if err != nil {
		return 0, fmt.Errorf("storage: sweep throttle buckets: %w", err)
	}
	return n, nil
}
