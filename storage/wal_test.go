package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"
)

// openScratch opens a migrated SQLite database with a scratch table.
func openScratch(t *testing.T, dsnOpts string, opts ...Option) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wal.db")
	db, err := Open(context.Background(), "sqlite:"+path+dsnOpts, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := db.w.Exec("CREATE TABLE scratch (id TEXT PRIMARY KEY, v BLOB)").Error; err != nil {
		t.Fatal(err)
	}
	return db, path
}

// insertScratch is one batched write of a row with a random key (so it
// lands on a random index page, as token rows do).
func insertScratch(db *DB) error {
	b := make([]byte, 512)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b[:16])
	return db.write(context.Background(), func(g *gorm.DB) error {
		return g.Exec("INSERT INTO scratch (id, v) VALUES (?, ?)", id, b).Error
	})
}

func waitUntil(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWALLimits(t *testing.T) {
	k := &walKeeper{}
	tests := []struct {
		name           string
		total, minFree int64
		limit, reserve int64
	}{
		{"8 MiB file system", 8 << 20, -1, 256 << 10, 1 << 20},
		{"1 GiB file system", 1 << 30, -1, 16 << 20, 64 << 20},
		{"tiny file system", 1 << 20, -1, 64 << 10, 128 << 10},
		{"size unknown", 0, -1, 16 << 20, 0},
		{"reserve set", 1 << 30, 10 << 20, 2560 << 10, 10 << 20},
		{"small reserve set", 1 << 30, 100 << 10, 64 << 10, 100 << 10},
		{"reserve off", 1 << 30, 0, 16 << 20, 0},
		{"reserve off, small file system", 64 << 20, 0, 2 << 20, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k.minFree.Store(tt.minFree)
			if got := walLimit(k.reserve(tt.total), tt.total); got != tt.limit {
				t.Errorf("walLimit = %d, want %d", got, tt.limit)
			}
			if got := k.reserve(tt.total); got != tt.reserve {
				t.Errorf("reserve = %d, want %d", got, tt.reserve)
			}
		})
	}
}

// TestWALStaysBounded: continuous writes through the group commit keep the
// write-ahead log near its limit (a passive checkpoint never caught up and
// the log grew by every commit: 2,000 commits made it 21 MB), and once
// writes stop the log file is emptied. A 4 MiB reserve makes the limit
// 1 MiB.
func TestWALStaysBounded(t *testing.T) {
	const reserve = 4 << 20
	db, path := openScratch(t, "", WithSQLiteMinFree(reserve))
	limit := walLimit(reserve, 0)
	var maxWAL atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if st, err := os.Stat(path + "-wal"); err == nil && st.Size() > maxWAL.Load() {
				maxWAL.Store(st.Size())
			}
		}
	}()
	for i := range 2000 {
		if err := insertScratch(db); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	close(stop)
	<-sampled
	if bound := 6 * limit; maxWAL.Load() > bound || maxWAL.Load() == 0 {
		t.Errorf("the log reached %d bytes under writes, want at most %d", maxWAL.Load(), bound)
	}
	t.Logf("log at most %d bytes over 2,000 commits (limit %d)", maxWAL.Load(), limit)
	waitUntil(t, "the idle log emptied", idleAfter+2*time.Second, func() bool {
		st, err := os.Stat(path + "-wal")
		return err == nil && st.Size() == 0
	})
	var n int64
	if err := db.r.Table("scratch").Count(&n).Error; err != nil || n != 2000 {
		t.Fatalf("rows %d, %v: want 2000", n, err)
	}
}

// TestWritesRefusedOnLowDisk: below the free-space reserve every kind of
// write (group commit, direct, transaction) is refused as ErrDiskFull, an
// ErrUnavailable, and Ready says so; reads go on; once space is back (here:
// the reserve lowered) writes resume without reopening.
func TestWritesRefusedOnLowDisk(t *testing.T) {
	ctx := context.Background()
	db, _ := openScratch(t, "")
	if err := insertScratch(db); err != nil {
		t.Fatal(err)
	}
	db.wal.minFree.Store(1 << 62) // more than any disk has free
	db.wal.nudge()
	waitUntil(t, "writes refused", 2*time.Second, func() bool { return db.Writable() != nil })

	now := time.Now().UTC()
	email := "low@example.com"
	writes := []struct {
		name  string
		write func() error
	}{
		{"group commit", func() error { return insertScratch(db) }},
		{"direct", func() error {
			return NewAccounts(db).CreateAccount(ctx, &Account{ID: "00000000-0000-4000-8000-0000000000d1", Email: &email, CreatedAt: now, UpdatedAt: now})
		}},
		{"transaction", func() error {
			return db.InTx(ctx, func(ctx context.Context) error {
				return db.writer(ctx).Exec("INSERT INTO scratch (id, v) VALUES ('tx', x'00')").Error
			})
		}},
		{"readiness", func() error { return db.Ready(ctx) }},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			if err := w.write(); !errors.Is(err, ErrDiskFull) || !errors.Is(err, ErrUnavailable) {
				t.Errorf("got %v, want ErrDiskFull (an ErrUnavailable)", err)
			}
		})
	}
	var n int64
	if err := db.r.Table("scratch").Count(&n).Error; err != nil || n != 1 {
		t.Fatalf("read while writes are refused: %d rows, %v", n, err)
	}

	db.wal.minFree.Store(-1)
	waitUntil(t, "writes admitted again", 2*time.Second, func() bool { return db.Writable() == nil })
	for _, w := range writes {
		if err := w.write(); err != nil {
			t.Errorf("%s after space came back: %v", w.name, err)
		}
	}
}

// TestDiskFullWriteTrips: a write that fails with SQLITE_FULL (here
// max_page_count, the same error a full disk gives) refuses writes and
// readiness at once, and writes resume by themselves once they fit again.
func TestDiskFullWriteTrips(t *testing.T) {
	ctx := context.Background()
	db, _ := openScratch(t, "")
	var pages int64
	if err := db.w.Raw("PRAGMA page_count").Scan(&pages).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.w.Exec(fmt.Sprintf("PRAGMA max_page_count=%d", pages)).Error; err != nil {
		t.Fatal(err)
	}
	var err error
	for range 100 {
		if err = insertScratch(db); err != nil {
			break
		}
	}
	if !isDiskFull(err) {
		t.Fatalf("write on a full database: %v, want SQLITE_FULL", err)
	}
	waitUntil(t, "writes refused", time.Second, func() bool { return db.Writable() != nil })
	if err := db.Ready(ctx); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Ready on a full database: %v", err)
	}
	if err := insertScratch(db); !errors.Is(err, ErrDiskFull) {
		t.Errorf("write while refused: %v, want ErrDiskFull", err)
	}
	if err := db.w.Exec("PRAGMA max_page_count=1073741823").Error; err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "writes admitted again", tripFor+2*time.Second, func() bool { return db.Writable() == nil })
	if err := insertScratch(db); err != nil {
		t.Fatalf("write after space came back: %v", err)
	}
	if err := db.Ready(ctx); err != nil {
		t.Fatalf("Ready after space came back: %v", err)
	}
}

// TestMigrateRefusedOnFullDisk: a database that has to be created or
// migrated on a disk below the reserve fails clearly, not half-written.
func TestMigrateRefusedOnFullDisk(t *testing.T) {
	db, err := Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "m.db"), WithSQLiteMinFree(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(context.Background()); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("migrate below the reserve: %v, want ErrDiskFull", err)
	}
}
