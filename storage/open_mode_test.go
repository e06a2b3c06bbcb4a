package storage_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/manam-id/manam/storage"
)

// TestSQLiteFilesPrivate: a new SQLite database, and the -wal and -shm
// files SQLite makes beside it, are readable by their owner only.
func TestSQLiteFilesPrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix file modes")
	}
	path := filepath.Join(t.TempDir(), "private.db")
	db, err := storage.Open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if perm := st.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %v, want no access for group and others", filepath.Base(f), perm)
		}
	}
}
