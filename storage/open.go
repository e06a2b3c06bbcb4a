package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"
	"gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Dialect names the database family behind a DB.
type Dialect string

// The supported dialects.
const (
	SQLite Dialect = "sqlite"
	MySQL  Dialect = "mysql"
)

// ErrBadDSN reports a DSN that names no supported backend or is malformed.
var ErrBadDSN = errors.New("storage: bad DSN")

// DB is an open database: a writer handle used for every write and
// transaction, and a reader handle for reads outside a transaction (the
// same pool on MySQL).
type DB struct {
	w, r    *gorm.DB
	dialect Dialect
	path    string // SQLite file path, "" for MySQL

	clients   *clientCache // tenants loaded recently (see ClientCacheTTL)
	batch     *batcher     // SQLite group commit
	wal       *walKeeper   // SQLite checkpoints and disk space (wal.go)
	closeOnce sync.Once
	closeErr  error
	faults    faults // see SetFaultHook
	// maxAccessLifetime keeps revocation rows (revocations.go).
	maxAccessLifetime maxLifetime
}

// ParsedDSN is what a DSN says.
type ParsedDSN struct {
	Dialect Dialect
	// Path is the SQLite file (for SQLite).
	Path string
	// Synchronous is the SQLite synchronous pragma ("FULL" unless the DSN says otherwise).
	Synchronous string
	// MySQLDSN is the go-sql-driver form (for MySQL).
	MySQLDSN string
}

// ParseDSN reads "sqlite:PATH[?synchronous=normal]" or "mysql://user:pass@tcp(host:port)/db[?params]".
func ParseDSN(dsn string) (ParsedDSN, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		rest := strings.TrimPrefix(dsn, "sqlite:")
		rest = strings.TrimPrefix(rest, "//")
		path, query, _ := strings.Cut(rest, "?")
		if path == "" {
			return ParsedDSN{}, fmt.Errorf("%w: sqlite DSN has no file path", ErrBadDSN)
		}
		sync := "FULL"
		if query != "" {
			q, err := url.ParseQuery(query)
			if err != nil {
				return ParsedDSN{}, fmt.Errorf("%w: %v", ErrBadDSN, err)
			}
			for k := range q {
				if k != "synchronous" {
					return ParsedDSN{}, fmt.Errorf("%w: unknown sqlite option %q", ErrBadDSN, k)
				}
			}
			switch s := strings.ToUpper(q.Get("synchronous")); s {
			case "FULL", "NORMAL", "EXTRA":
				sync = s
			default:
				return ParsedDSN{}, fmt.Errorf("%w: synchronous must be full, normal or extra", ErrBadDSN)
			}
		}
		return ParsedDSN{Dialect: SQLite, Path: path, Synchronous: sync}, nil
	case strings.HasPrefix(dsn, "mysql://"):
		rest := strings.TrimPrefix(dsn, "mysql://")
		if !strings.Contains(rest, "/") || !strings.Contains(rest, "@") {
			return ParsedDSN{}, fmt.Errorf("%w: want mysql://user:pass@tcp(host:port)/db", ErrBadDSN)
		}
		base, query, _ := strings.Cut(rest, "?")
		q, err := url.ParseQuery(query)
		if err != nil {
			return ParsedDSN{}, fmt.Errorf("%w: %v", ErrBadDSN, err)
		}
		// Times in UTC, parsed into time.Time; full Unicode.
		q.Set("parseTime", "true")
		q.Set("loc", "UTC")
		// RowsAffected counts matched rows, as on SQLite (MySQL counts changed ones).
		q.Set("clientFoundRows", "true")
		if q.Get("charset") == "" {
			q.Set("charset", "utf8mb4")
		}
		return ParsedDSN{Dialect: MySQL, MySQLDSN: base + "?" + q.Encode()}, nil
	default:
		return ParsedDSN{}, fmt.Errorf("%w: %q must start with sqlite: or mysql://", ErrBadDSN, redactDSN(dsn))
	}
}

// redactDSN hides a password in a DSN for messages.
func redactDSN(dsn string) string {
	at := strings.LastIndex(dsn, "@")
	if at < 0 {
		return dsn
	}
	head := dsn[:at]
	if c := strings.LastIndex(head, ":"); c > strings.Index(head, "//") && c >= 0 {
		return head[:c+1] + "***" + dsn[at:]
	}
	return dsn
}

// Open connects to the database a DSN names. It does not migrate.
func Open(ctx context.Context, dsn string, opts ...Option) (*DB, error) {
	p, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	cfg := &gorm.Config{
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		PrepareStmt:            false,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	}
	db := &DB{dialect: p.Dialect, path: p.Path, clients: newClientCache(ClientCacheTTL, time.Now)}
	switch p.Dialect {
	case SQLite:
		if err := createPrivate(p.Path); err != nil {
			return nil, err
		}
		// No prepared-statement cache on either handle. On the reader, a
		// cached query kept its read transaction (a stale snapshot) open
		// with mattn's driver; on the writer, gorm's cache deadlocked: a
		// transaction holding the one writer connection waited for a
		// statement another goroutine was preparing, which waited for the
		// connection.
		w, err := gorm.Open(sqliteDialector(p.Path, p.Synchronous, true), cfg)
		if err != nil {
			return nil, fmt.Errorf("storage: open sqlite %s: %w", p.Path, err)
		}
		r, err := gorm.Open(sqliteDialector(p.Path, p.Synchronous, false), cfg)
		if err != nil {
			return nil, fmt.Errorf("storage: open sqlite %s: %w", p.Path, err)
		}
		wsql, _ := w.DB()
		wsql.SetMaxOpenConns(1)
		wsql.SetMaxIdleConns(1)
		wsql.SetConnMaxLifetime(0)
		rsql, _ := r.DB()
		rsql.SetMaxOpenConns(4)
		rsql.SetMaxIdleConns(4)
		// Checkpoints run in the background (walKeeper), not inside a request's commit.
		if err := w.Exec("PRAGMA wal_autocheckpoint=0").Error; err != nil {
			return nil, fmt.Errorf("storage: sqlite: %w", err)
		}
		db.w, db.r = w, r
		if db.wal, err = newWALKeeper(p.Path, w, r, openOptions(opts)); err != nil {
			return nil, err
		}
		db.batch = newBatcher(w, db.wal)
		db.wal.start(db.batch)
	case MySQL:
		g, err := openMySQL(p.MySQLDSN, cfg)
		if err != nil {
			return nil, fmt.Errorf("storage: open mysql: %w: %w", ErrUnavailable, err)
		}
		s, _ := g.DB()
		s.SetMaxOpenConns(32)
		s.SetMaxIdleConns(16)
		s.SetConnMaxLifetime(5 * time.Minute)
		db.w, db.r = g, g
	}
	for _, g := range []*gorm.DB{db.w, db.r} {
		if err := db.registerFaults(g); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("storage: open: %w", err)
		}
		if db.w == db.r {
			break
		}
	}
	if err := db.Ping(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// openMySQL opens a MySQL/MariaDB pool whose sessions use READ COMMITTED.
// Under InnoDB's default REPEATABLE READ, an UPDATE through the
// non-unique request_id index takes next-key locks: the matching rows and
// the gap after them, which holds the neighbouring grant's rows (request
// IDs are time-ordered, so concurrent grants are neighbours). Two refresh
// rotations of different grants then deadlocked on each other's gaps
// and inserts. READ COMMITTED locks only the rows a statement matches.
// Manam does not depend on repeatable reads: single-use credentials are
// consumed by conditional UPDATEs and locking reads, which see the latest
// committed row under either level. The variable is transaction_isolation
// on MySQL 8 and MariaDB 11.1+, tx_isolation on older MariaDB.
func openMySQL(dsn string, cfg *gorm.Config) (*gorm.DB, error) {
	var err error
	for _, v := range []string{"transaction_isolation", "tx_isolation"} {
		var g *gorm.DB
		g, err = gorm.Open(mysql.Open(dsn+"&"+v+"=%27READ-COMMITTED%27"), cfg)
		if err == nil {
			return g, nil
		}
		var me *mysqldriver.MySQLError
		if !errors.As(err, &me) || me.Number != 1193 { // 1193: unknown system variable
			return nil, err
		}
	}
	return nil, err
}

// createPrivate creates a new SQLite database file readable by its owner
// only (SQLite gives the -wal and -shm files the database file's mode):
// it holds password hashes, personal data and sealed secrets, and the
// process umask would otherwise leave it world-readable. An existing file
// open to others is reported, not changed (an operator may mean it).
func createPrivate(path string) error {
	if path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	switch {
	case err == nil:
		return f.Close()
	case errors.Is(err, fs.ErrExist):
		if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
			slog.Default().Warn("the SQLite database can be read by other users: chmod 600 it (and its -wal and -shm files)", "path", path, "mode", st.Mode().Perm().String())
		}
		return nil
	default:
		return fmt.Errorf("storage: create sqlite %s: %w", path, err)
	}
}

// Dialect tells which backend this is.
func (db *DB) Dialect() Dialect { return db.dialect }

// SQLitePath is the database file for SQLite, "" otherwise.
func (db *DB) SQLitePath() string { return db.path }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	s, err := db.r.DB()
	if err != nil {
		return fmt.Errorf("storage: ping: %w", err)
	}
	if err := s.PingContext(ctx); err != nil {
		return fmt.Errorf("storage: ping: %w", err)
	}
	return nil
}

// Ready checks that the database serves Manam: a query of the schema's
// own table, not only a connection (a pooled connection answers a ping
// after the database itself was dropped), and writes admitted (Writable).
func (db *DB) Ready(ctx context.Context) error {
	if err := db.Writable(); err != nil {
		return err
	}
	v, err := db.CurrentVersion(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if v == 0 {
		return fmt.Errorf("%w: the schema is not migrated", ErrUnavailable)
	}
	return nil
}

// ErrUnavailable marks a failure of the database itself (not a missing
// row): the surfaces answer 503, not "invalid client" or a 500.
var ErrUnavailable = errors.New("storage: database unavailable")

// Close releases every connection. Closing twice is harmless.
func (db *DB) Close() error {
	db.closeOnce.Do(func() { db.closeErr = db.close() })
	return db.closeErr
}

func (db *DB) close() error {
	if db.batch != nil {
		db.batch.close()
		db.wal.close()
		// A last full checkpoint leaves the WAL empty for the next start.
		_ = db.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)").Error
	}
	var errs []error
	for _, g := range []*gorm.DB{db.w, db.r} {
		if g == nil {
			continue
		}
		if s, err := g.DB(); err == nil {
			errs = append(errs, s.Close())
		}
		if db.w == db.r {
			break
		}
	}
	return errors.Join(errs...)
}

type txKey struct{}

// joinedKey marks a context whose BeginTX joined an outer transaction.
type joinedKey struct{}

func joined(ctx context.Context) bool { v, _ := ctx.Value(joinedKey{}).(bool); return v }

// writer is the handle for writes: the transaction in ctx, or the writer.
func (db *DB) writer(ctx context.Context) *gorm.DB {
	if tx, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return tx
	}
	return db.w.WithContext(context.WithoutCancel(ctx))
}

// write runs one single-statement write: inside the transaction in ctx if
// there is one, through the group commit on SQLite, directly on MySQL.
func (db *DB) write(ctx context.Context, fn func(*gorm.DB) error) error {
	if tx, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return fn(tx)
	}
	if db.batch != nil {
		return db.batch.submit(fn)
	}
	// MySQL may pick this statement as a deadlock victim (concurrent
	// revocations of one token family lock the same index ranges): a
	// single statement outside a transaction is safe to run again.
	g := db.w.WithContext(context.WithoutCancel(ctx))
	var err error
	for attempt := range 5 {
		if err = fn(g); !retryable(err) {
			return err
		}
		time.Sleep(time.Duration(1+rand.IntN(5*(attempt+1))) * time.Millisecond)
	}
	// Still losing: the database is overloaded. The driver's error is
	// kept as text only, so IsRetryable does not tell a caller to rerun
	// a whole transaction this statement was never part of.
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

// IsRetryable reports a MySQL deadlock victim (1213) or lock wait timeout
// (1205) inside a transaction: it lost to a concurrent one, and once the
// caller rolls it back it has changed nothing, so the whole transaction
// can run again. It is never evidence about the rows it touched.
func IsRetryable(err error) bool { return retryable(err) }

// retryable recognises MySQL's deadlock (1213) and lock wait timeout (1205).
func retryable(err error) bool {
	var me *mysqldriver.MySQLError
	return err != nil && errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205)
}

// reader is the handle for reads: the transaction in ctx (so a transaction
// sees its own writes and never waits on itself), or the reader pool.
func (db *DB) reader(ctx context.Context) *gorm.DB {
	if tx, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return tx
	}
	return db.r.WithContext(ctx)
}

// BeginTX starts a transaction and carries it in the returned context
// (fosite's storage.Transactional). Writes that must complete do not
// inherit the request's cancellation: a client hanging up mid-commit must
// not leave the writer connection broken (PERFORMANCE-NOTES).
//
// In a context that already carries a transaction, BeginTX joins it:
// Commit and Rollback of the joined context do nothing, and the owner of
// the outer transaction commits or rolls back everything. The provider
// runs a grant this way when it must write more in the same transaction
// than fosite's handler does (the answer kept for a refresh grace period).
func (db *DB) BeginTX(ctx context.Context) (context.Context, error) {
	if _, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return context.WithValue(ctx, joinedKey{}, true), nil
	}
	if err := db.fault("begin"); err != nil {
		return ctx, fmt.Errorf("storage: begin: %w: %w", ErrUnavailable, err)
	}
	tx := db.w.WithContext(context.WithoutCancel(ctx)).Begin()
	if tx.Error != nil {
		// A connection refused, an account locked, a server gone: the
		// database is unavailable, whatever the driver calls it.
		return ctx, fmt.Errorf("storage: begin: %w: %w", ErrUnavailable, tx.Error)
	}
	return context.WithValue(ctx, txKey{}, tx), nil
}

// Commit commits the transaction carried in ctx.
func (db *DB) Commit(ctx context.Context) error {
	tx, ok := ctx.Value(txKey{}).(*gorm.DB)
	if !ok {
		return errors.New("storage: commit without transaction")
	}
	if joined(ctx) {
		return nil
	}
	if err := db.fault("commit"); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("storage: commit: %w: %w", ErrUnavailable, err)
	}
	if err := tx.Commit().Error; err != nil {
		return fmt.Errorf("storage: commit: %w: %w", ErrUnavailable, err)
	}
	return nil
}

// Rollback abandons the transaction carried in ctx.
func (db *DB) Rollback(ctx context.Context) error {
	tx, ok := ctx.Value(txKey{}).(*gorm.DB)
	if !ok {
		return errors.New("storage: rollback without transaction")
	}
	if joined(ctx) {
		return nil
	}
	if err := tx.Rollback().Error; err != nil && !errors.Is(err, gorm.ErrInvalidTransaction) {
		return fmt.Errorf("storage: rollback: %w", err)
	}
	return nil
}

// InTx runs fn in a transaction (joining one already in ctx), committing
// when fn returns nil and rolling back otherwise.
func (db *DB) InTx(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	if _, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return fn(ctx)
	}
	tctx, err := db.BeginTX(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			_ = db.Rollback(tctx)
			panic(p)
		}
		if err != nil {
			_ = db.Rollback(tctx)
		}
	}()
	if err = fn(tctx); err != nil {
		return err
	}
	return db.Commit(tctx)
}

// RowCounts counts the rows of every table (diagnostics, and tests that
// assert a failed request wrote nothing).
func (db *DB) RowCounts(ctx context.Context) (map[string]int64, error) {
	tables := []string{Tenant{}.TableName(), tableCodes, tablePKCE, tableOIDC, tableAccess, tableRefresh,
		Account{}.TableName(), LoginSession{}.TableName(), Consent{}.TableName(), SigningKey{}.TableName(), OutboxMessage{}.TableName(), Confirmation{}.TableName(), Membership{}.TableName(), UpstreamLink{}.TableName(), PendingUpstreamLink{}.TableName(), tableGrace}
	out := make(map[string]int64, len(tables))
	for _, t := range tables {
		var n int64
		if err := db.reader(ctx).Table(t).Count(&n).Error; err != nil {
			return nil, fmt.Errorf("storage: count %s: %w", t, err)
		}
		out[t] = n
	}
	return out, nil
}
