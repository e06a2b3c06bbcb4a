package storage_test

import (
	"strings"
	"testing"

	"github.com/manam-id/manam/storage"
)

// FuzzParseDSN: any string either fails with ErrBadDSN or names a backend
// with the fields that backend needs.
func FuzzParseDSN(f *testing.F) {
	for _, s := range []string{"sqlite:manam.db", "sqlite:/x/y.db?synchronous=normal", "mysql://u:p@tcp(h:3306)/db?x=1", "postgres://x", "sqlite:", "mysql://"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, dsn string) {
		p, err := storage.ParseDSN(dsn)
		if err != nil {
			return
		}
		switch p.Dialect {
		case storage.SQLite:
			if p.Path == "" || strings.Contains(p.Path, "?") || (p.Synchronous != "FULL" && p.Synchronous != "NORMAL" && p.Synchronous != "EXTRA") {
				t.Fatalf("%q parsed to %+v", dsn, p)
			}
		case storage.MySQL:
			if !strings.Contains(p.MySQLDSN, "parseTime=true") || !strings.Contains(p.MySQLDSN, "clientFoundRows=true") {
				t.Fatalf("%q parsed to %+v", dsn, p)
			}
		default:
			t.Fatalf("%q parsed to unknown dialect %q", dsn, p.Dialect)
		}
	})
}
