package storage

import (
	"errors"
	"sync/atomic"

	"gorm.io/gorm"
)

// FaultHook decides, before each database operation, whether it fails as
// if the database had failed it. op is "begin", "commit", or the kind of
// statement and its table ("query tenants", "update oauth2_refresh_tokens").
// It exists for tests and fault drills: every surface must answer a
// storage failure at any of its calls with its own 503, never a 500, a
// "wrong password" or an "expired link".
type FaultHook func(op string) error

// faults holds the hook of a DB (nil: none).
type faults struct{ hook atomic.Pointer[FaultHook] }

// SetFaultHook installs h (nil removes it). Production code never sets one.
func (db *DB) SetFaultHook(h FaultHook) {
	if h == nil {
		db.faults.hook.Store(nil)
		return
	}
	db.faults.hook.Store(&h)
}

// fault runs the hook for op.
func (db *DB) fault(op string) error {
	if h := db.faults.hook.Load(); h != nil {
		return (*h)(op)
	}
	return nil
}

// registerFaults makes every statement of g ask the hook first; an error
// from it fails the statement before it reaches the database.
func (db *DB) registerFaults(g *gorm.DB) error {
	before := func(kind string) func(*gorm.DB) {
		return func(tx *gorm.DB) {
			if db.faults.hook.Load() == nil {
				return
			}
			if err := db.fault(kind + " " + tx.Statement.Table); err != nil {
				_ = tx.AddError(err)
			}
		}
	}
	cb := g.Callback()
	return errors.Join(
		cb.Create().Before("gorm:create").Register("manam:fault", before("insert")),
		cb.Query().Before("gorm:query").Register("manam:fault", before("query")),
		cb.Update().Before("gorm:update").Register("manam:fault", before("update")),
		cb.Delete().Before("gorm:delete").Register("manam:fault", before("delete")),
		cb.Row().Before("gorm:row").Register("manam:fault", before("row")),
		cb.Raw().Before("gorm:raw").Register("manam:fault", before("exec")),
	)
}
