//go:build !sqlite_cgo

package storage

import (
	"errors"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
)

// SQLiteDriver names the SQLite driver this binary was built with: the
// pure-Go one by default, mattn's cgo driver with -tags sqlite_cgo.
const SQLiteDriver = "glebarez/sqlite (pure Go)"

// sqliteDialector opens path with WAL, a busy timeout, foreign keys and the
// given synchronous level; the writer's transactions begin IMMEDIATE.
//
// No _time_format: the driver's default is SQLite's own format, and
// glebarez/go-sqlite v1.21 ignores every parameter after _time_format (so
// _txlock would silently not apply). Times are stored in UTC (see utc), so
// they compare correctly as text.
func sqliteDialector(path, synchronous string, writer bool) gorm.Dialector {
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)" +
		"&_pragma=synchronous(" + synchronous + ")"
	if writer {
		dsn += "&_txlock=immediate"
	}
	return sqlite.Open(dsn)
}

// isDiskFull recognises SQLITE_FULL and SQLITE_IOERR (primary or extended
// codes): the disk refused a write.
func isDiskFull(err error) bool {
	var se interface{ Code() int }
	if !errors.As(err, &se) {
		return false
	}
	c := se.Code() & 0xff
	return c == sqliteFull || c == sqliteIOErr
}
