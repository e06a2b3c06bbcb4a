package storage

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"gorm.io/gorm"
)

// errClosed is returned for a write submitted after Close.
var errClosed = errors.New("storage: database closed")

// batcher is SQLite's group commit: one goroutine owns the writer
// connection, takes every single-statement write waiting for it, and runs
// them in one transaction. Concurrent token requests then share one commit
// instead of queueing for the connection one by one (the convoy that
// capped the token endpoint; see PERFORMANCE-NOTES.md). A failed statement
// aborts only itself in SQLite, so the others in the batch still commit;
// if the commit fails, every write in the batch gets the error.
type batcher struct {
	w        *gorm.DB
	jobs     chan *writeJob
	stop     chan struct{}
	done     chan struct{}
	maxBatch int
}

type writeJob struct {
	fn  func(*gorm.DB) error
	err chan error
}

func newBatcher(w *gorm.DB) *batcher {
	b := &batcher{w: w, jobs: make(chan *writeJob), stop: make(chan struct{}), done: make(chan struct{}), maxBatch: 128}
	go b.run()
	return b
}

// submit runs fn (exactly one SQL statement) in the next batch and waits
// for its commit. The write goes through even if ctx ends while it waits:
// a half-finished request must not leave a half-finished write.
func (b *batcher) submit(fn func(*gorm.DB) error) error {
	j := &writeJob{fn: fn, err: make(chan error, 1)}
	select {
	case b.jobs <- j: // unbuffered: accepted only by a running loop, which always answers
	case <-b.done:
		return errClosed
	}
	return <-j.err
}

func (b *batcher) run() {
	defer close(b.done)
	for {
		var first *writeJob
		select {
		case first = <-b.jobs:
		case <-b.stop:
			return
		}
		batch := []*writeJob{first}
	gather:
		for len(batch) < b.maxBatch {
			select {
			case j := <-b.jobs:
				batch = append(batch, j)
			default:
				break gather
			}
		}
		b.commit(batch)
	}
}

func (b *batcher) commit(batch []*writeJob) {
	if len(batch) == 1 {
		batch[0].err <- batch[0].fn(b.w)
		return
	}
	tx := b.w.Begin()
	if tx.Error != nil {
		for _, j := range batch {
			j.err <- tx.Error
		}
		return
	}
	errs := make([]error, len(batch))
	for i, j := range batch {
		errs[i] = j.fn(tx)
	}
	if err := tx.Commit().Error; err != nil {
		_ = tx.Rollback()
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	for i, j := range batch {
		j.err <- errs[i]
	}
}

func (b *batcher) close() {
	close(b.stop)
	<-b.done
}

// checkpointer moves the WAL into the database file from a reader
// connection every interval, so no request's commit pays for it (SQLite's
// automatic checkpoint is off on the writer).
func checkpointer(r *gorm.DB, interval time.Duration, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := r.WithContext(ctx).Exec("PRAGMA wal_checkpoint(PASSIVE)").Error; err != nil {
				slog.Default().Warn("sqlite checkpoint failed", "err", err)
			}
			cancel()
		}
	}
}
