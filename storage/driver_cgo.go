//go:build sqlite_cgo

package storage

import (
	"errors"

	"github.com/mattn/go-sqlite3"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
)

// SQLiteDriver names the SQLite driver this binary was built with.
const SQLiteDriver = "mattn/go-sqlite3 (cgo)"

// sqliteDialector: see driver_purego.go; mattn's DSN spells the same settings differently.
func sqliteDialector(path, synchronous string, writer bool) gorm.Dialector {
	dsn := "file:" + path + "?_busy_timeout=10000&_journal_mode=WAL&_foreign_keys=1&_synchronous=" + synchronous
	if writer {
		dsn += "&_txlock=immediate"
	}
	return sqlite.Open(dsn)
}

// isDiskFull recognises SQLITE_FULL and SQLITE_IOERR: the disk refused a write.
func isDiskFull(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.Code == sqlite3.ErrFull || se.Code == sqlite3.ErrIoErr)
}
