package storage

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
)

// SQLite appends every commit to its write-ahead log (the -wal file); a
// checkpoint copies the log into the database file, and the log starts
// again from its beginning only after a checkpoint copied all of it while
// no reader still needed it. Manam turns SQLite's own checkpoint (run inside
// whichever commit crosses 1,000 pages) off, for latency (PERFORMANCE-NOTES).
// A passive checkpoint every second from a reader connection used to stand
// in for it: under continuous writes it never caught up with the end of the
// log, so the log never started again and grew until the disk was full
// (8 MiB in half a second under four clients). A checkpoint needs free
// space itself (it grows the database file), so nothing could shrink the
// log any more, not even a restart (issue 18).
//
// The walKeeper bounds the log and keeps the disk from filling:
//   - it looks at the log's size and the file system's free space every
//     keeperTick, and after every keeperWrites batched writes (a counter the
//     group commit bumps; no system call on a request's path);
//   - a log longer than its limit is copied by a passive checkpoint from a
//     reader (beside the writes), then finished by a checkpoint on the
//     writer connection between two group commits, so no write can
//     interleave and the next commit starts the log again from its
//     beginning; journal_size_limit then cuts the file back to the limit;
//   - when writes are quiet for idleAfter, a TRUNCATE checkpoint empties the
//     log file and gives its space back;
//   - when free space falls below the reserve, writes are refused with
//     ErrDiskFull (a 503 on every surface, and /readyz) before the disk is
//     exhausted, so the checkpoints that need space still have it; they
//     resume once a TRUNCATE checkpoint succeeded and the reserve plus one
//     log's worth is free again, without a restart. A write failing with
//     SQLITE_FULL or SQLITE_IOERR refuses writes for tripFor and starts a
//     check at once (a quota, or another process filling the disk between
//     two checks).
const (
	keeperTick    = 100 * time.Millisecond
	keeperWrites  = 32
	passiveEvery  = time.Second
	idleAfter     = time.Second
	tripFor       = time.Second
	walLimitMax   = 16 << 20 // with the default reserve of 64 MiB; a longer log measured no faster
	walLimitMin   = 64 << 10 // a smaller log would be checkpointed after every few writes
	reserveMax    = 64 << 20
	ckptBusyWait  = 100 * time.Millisecond // how long a forced checkpoint waits for readers
	ckptTruncWait = 250 * time.Millisecond

	sqliteIOErr = 10 // SQLITE_IOERR
	sqliteFull  = 13 // SQLITE_FULL
)

// ErrDiskFull reports a write refused because the SQLite database's file
// system is (nearly) full. It is an ErrUnavailable: every surface answers 503.
var ErrDiskFull = fmt.Errorf("%w: the database's disk is (nearly) full", ErrUnavailable)

// Option is an optional setting of Open.
type Option func(*options)

type options struct {
	minFree int64 // < 0: automatic
	log     *slog.Logger
}

// WithSQLiteMinFree makes writes to a SQLite database refuse (ErrDiskFull)
// while its file system has fewer than n bytes free: 0 never refuses, a
// negative n keeps the default, the smaller of 64 MiB and an eighth of the
// file system. No effect on MySQL.
func WithSQLiteMinFree(n int64) Option { return func(o *options) { o.minFree = n } }

// WithLogger is where the database reports what it does by itself
// (checkpoints, refused writes). Default slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

func openOptions(opts []Option) options {
	o := options{minFree: -1, log: slog.Default()}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// walLimit is the log size that forces a checkpoint, given the free-space
// reserve and the file system's size (0: unknown): a quarter of the reserve
// (so the checkpoint that must run to recover always fits in it), or
// without a reserve a thirty-second of the file system, between walLimitMin
// and walLimitMax. A longer log means fewer checkpoints, and a page written
// many times between two is copied once.
func walLimit(reserve, total int64) int64 {
	switch {
	case reserve > 0:
		return min(max(reserve/4, walLimitMin), walLimitMax)
	case total > 0:
		return min(max(total/32, walLimitMin), walLimitMax)
	default:
		return walLimitMax
	}
}

// reserve is the free space below which writes are refused.
func (k *walKeeper) reserve(total int64) int64 {
	if n := k.minFree.Load(); n >= 0 {
		return n
	}
	return min(int64(reserveMax), total/8)
}

// walKeeper bounds SQLite's write-ahead log and refuses writes before the
// disk is full (see above). Its methods are safe on a nil keeper (MySQL).
type walKeeper struct {
	walPath, dir string
	minFree      atomic.Int64 // < 0: automatic
	r            *gorm.DB     // the reader pool: passive and truncating checkpoints
	batch        *batcher
	log          *slog.Logger
	now          func() time.Time

	refusing     atomic.Bool
	why          atomic.Value // string: the last reason for refusing
	trippedUntil atomic.Int64 // unix nanoseconds
	writes       atomic.Int64 // batched writes since the last check
	wake         chan struct{}
	stop, done   chan struct{}

	// Owned by the loop.
	low          bool // below the reserve
	refused      bool // what the loop last stored in refusing
	lastPassive  time.Time
	boundMod     time.Time // the log's modification time when bound last copied it whole
	ckptFailing  bool
	spaceFailing bool
}

// newWALKeeper makes the keeper of the SQLite database at path and puts
// its refusal in front of every write statement of w (gorm create, update,
// delete and exec; PRAGMAs pass, so checkpoints still run).
func newWALKeeper(path string, w, r *gorm.DB, o options) (*walKeeper, error) {
	k := &walKeeper{walPath: path + "-wal", dir: filepath.Dir(path), r: r,
		log: o.log, now: time.Now, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	k.minFree.Store(o.minFree)
	k.why.Store("")
	refuse := func(g *gorm.DB) {
		if err := k.refusal(); err != nil && !isPragma(g.Statement.SQL.String()) {
			_ = g.AddError(err)
		}
	}
	cb := w.Callback()
	for _, err := range []error{
		cb.Create().Before("gorm:create").Register("manam:disk_full", refuse),
		cb.Update().Before("gorm:update").Register("manam:disk_full", refuse),
		cb.Delete().Before("gorm:delete").Register("manam:disk_full", refuse),
		cb.Raw().Before("gorm:raw").Register("manam:disk_full", refuse),
	} {
		if err != nil {
			return nil, fmt.Errorf("storage: sqlite: %w", err)
		}
	}
	return k, nil
}

func isPragma(q string) bool {
	q = strings.TrimSpace(q)
	return len(q) >= 6 && strings.EqualFold(q[:6], "PRAGMA")
}

// start checks once (a database left with a long log or on a full disk
// starts in the right state) and then keeps checking until close.
func (k *walKeeper) start(b *batcher) {
	k.batch = b
	k.check(context.Background())
	go k.loop()
}

func (k *walKeeper) close() {
	close(k.stop)
	<-k.done
}

func (k *walKeeper) loop() {
	defer close(k.done)
	t := time.NewTicker(keeperTick)
	defer t.Stop()
	for {
		select {
		case <-k.stop:
			return
		case <-t.C:
		case <-k.wake:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		k.check(ctx)
		cancel()
	}
}

// refusal is ErrDiskFull (with the reason) while writes are refused.
func (k *walKeeper) refusal() error {
	if k == nil || !k.refusing.Load() {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrDiskFull, k.why.Load())
}

// wrote is told by the group commit how many writes a batch held and its
// first error: one atomic add per batch, a check every keeperWrites.
func (k *walKeeper) wrote(n int, err error) {
	if k == nil {
		return
	}
	if err != nil && isDiskFull(err) {
		k.trippedUntil.Store(k.now().Add(tripFor).UnixNano())
		k.why.Store("a write failed: " + err.Error())
		k.refusing.Store(true)
		k.nudge()
		return
	}
	if k.writes.Add(int64(n)) >= keeperWrites {
		k.nudge()
	}
}

func (k *walKeeper) nudge() {
	select {
	case k.wake <- struct{}{}:
	default:
	}
}

// check is one round: measure, checkpoint as needed, refuse or admit writes.
func (k *walKeeper) check(ctx context.Context) {
	k.writes.Store(0)
	now := k.now()
	free, total, known := k.space()
	walSize, walMod := fileSizeTime(k.walPath)
	reserve := k.reserve(total)
	limit := walLimit(reserve, total)
	need := reserve
	if k.low {
		need += limit // resume only with room for one more log above the reserve
	}
	low := known && reserve > 0 && free < need
	tripped := now.UnixNano() < k.trippedUntil.Load()
	switch {
	case walSize > 0 && (low || tripped || now.Sub(walMod) >= idleAfter):
		// Writes are refused or quiet: copy the whole log and give its space back.
		if k.checkpoint(ctx, k.r, "TRUNCATE", ckptTruncWait) && low {
			free, total, known = k.space()
			low = known && reserve > 0 && free < need
		}
	case walSize > limit && !walMod.Equal(k.boundMod):
		if k.bound(ctx, limit, walSize > limit+limit/2) {
			k.boundMod = walMod
		}
	case walSize > 0 && now.Sub(k.lastPassive) >= passiveEvery:
		k.checkpoint(ctx, k.r, "PASSIVE", 0)
		k.lastPassive = now
	}
	k.admit(low, tripped, free, reserve, walSize)
}

// admit refuses or admits writes, and says so when that changes.
func (k *walKeeper) admit(low, tripped bool, free, reserve, walSize int64) {
	if low && !k.low {
		k.why.Store(fmt.Sprintf("%d bytes free on %s, fewer than the %d kept in reserve", free, k.dir, reserve))
		k.log.Warn("sqlite: disk nearly full: writes refused until space is freed (MANAM_SQLITE_MIN_FREE)",
			"dir", k.dir, "free", free, "reserve", reserve, "wal", walSize)
	}
	if tripped && !k.refused {
		k.log.Warn("sqlite: a write failed for lack of space or an I/O error: writes refused for a moment",
			"dir", k.dir, "err", k.why.Load(), "free", free)
	}
	refuse := low || tripped
	if !refuse && k.refused {
		k.log.Info("sqlite: writes resumed", "dir", k.dir, "free", free, "reserve", reserve)
	}
	k.low, k.refused = low, refuse
	k.refusing.Store(refuse)
}

// bound brings a log longer than limit back to its beginning: the copying
// beside the writes from a reader, then the rest on the writer between two
// group commits, so nothing is appended meanwhile and the next commit
// restarts the log (and cuts the file to limit). hard (the log outgrew its
// limit by half: writes outran the copying, or readers kept a checkpoint
// from completing) copies everything on the writer, writes waiting, and
// waits a moment for readers. It reports whether the log was copied whole.
func (k *walKeeper) bound(ctx context.Context, limit int64, hard bool) bool {
	mode, wait := "RESTART", ckptBusyWait
	if !hard {
		k.checkpoint(ctx, k.r, "PASSIVE", 0)
		k.lastPassive = k.now()
		mode, wait = "PASSIVE", 0
	}
	var done bool
	err := k.batch.alone(func(w *gorm.DB) error {
		done = k.checkpoint(ctx, w, mode, wait, fmt.Sprintf("PRAGMA journal_size_limit=%d", limit))
		return nil
	})
	return err == nil && done
}

// checkpoint runs PRAGMA wal_checkpoint(mode) on one connection of pool,
// after pragmas, with the busy timeout cut to wait (0: the connection's
// own), and reports whether it copied the whole log. Failures are logged
// once until a checkpoint succeeds again.
func (k *walKeeper) checkpoint(ctx context.Context, pool *gorm.DB, mode string, wait time.Duration, pragmas ...string) bool {
	complete, err := runCheckpoint(ctx, pool, mode, wait, pragmas)
	switch {
	case err != nil && !k.ckptFailing:
		k.ckptFailing = true
		k.log.Warn("sqlite checkpoint failed (retrying)", "mode", mode, "err", err)
	case err == nil && k.ckptFailing:
		k.ckptFailing = false
		k.log.Info("sqlite checkpoints succeed again", "mode", mode)
	}
	return err == nil && complete
}

func runCheckpoint(ctx context.Context, pool *gorm.DB, mode string, wait time.Duration, pragmas []string) (bool, error) {
	sqlDB, err := pool.DB()
	if err != nil {
		return false, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	for _, p := range pragmas {
		if _, err := conn.ExecContext(ctx, p); err != nil {
			return false, err
		}
	}
	if wait > 0 {
		var was int64
		if err := conn.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&was); err != nil {
			return false, err
		}
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout=%d", wait.Milliseconds())); err != nil {
			return false, err
		}
		defer func() {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf("PRAGMA busy_timeout=%d", was))
		}()
	}
	var busy, logFrames, copied sql.NullInt64
	if err := conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &logFrames, &copied); err != nil {
		return false, err
	}
	return busy.Int64 == 0 && logFrames.Int64 == copied.Int64, nil
}

// space is the free and total bytes of the database's file system (known
// false where it cannot be measured: only the log's bound applies then).
func (k *walKeeper) space() (free, total int64, known bool) {
	free, total, err := diskSpace(k.dir)
	switch {
	case err != nil && !k.spaceFailing:
		k.spaceFailing = true
		k.log.Warn("sqlite: cannot measure free disk space: writes are not refused before the disk is full", "dir", k.dir, "err", err)
	case err == nil:
		k.spaceFailing = false
	}
	return free, total, err == nil
}

func fileSizeTime(path string) (int64, time.Time) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, time.Time{}
	}
	return st.Size(), st.ModTime()
}

// Writable reports whether writes are admitted: ErrDiskFull while the
// SQLite database's disk is (nearly) full, nil otherwise and on MySQL.
func (db *DB) Writable() error { return db.wal.refusal() }
