//go:build sqlite_cgo

package storage

import (
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
