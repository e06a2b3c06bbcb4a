package storage

import (
	"errors"

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
//
// The WAL keeper (wal.go) refuses writes here before they queue when the
// disk is nearly full, is told how many writes each batch held and how it
// failed, and runs its writer-side checkpoints between batches (alone), so
// no other write interleaves with them.
type batcher struct {
	w        *gorm.DB
	wal      *walKeeper // nil: no refusals, no reports
	jobs     chan *writeJob
	stop     chan struct{}
	done     chan struct{}
	maxBatch int
}

type writeJob struct {
	fn    func(*gorm.DB) error
	err   chan error
	alone bool // runs by itself, outside any transaction (a checkpoint)
}

func newBatcher(w *gorm.DB, wal *walKeeper) *batcher {
	b := &batcher{w: w, wal: wal, jobs: make(chan *writeJob), stop: make(chan struct{}), done: make(chan struct{}), maxBatch: 128}
	go b.run()
	return b
}

// submit runs fn (exactly one SQL statement) in the next batch and waits
// for its commit. The write goes through even if ctx ends while it waits:
// a half-finished request must not leave a half-finished write.
func (b *batcher) submit(fn func(*gorm.DB) error) error {
	if err := b.wal.refusal(); err != nil {
		return err
	}
	return b.enqueue(&writeJob{fn: fn, err: make(chan error, 1)})
}

// alone runs fn on the writer connection between two batches, outside any
// transaction, and returns its error.
func (b *batcher) alone(fn func(*gorm.DB) error) error {
	return b.enqueue(&writeJob{fn: fn, err: make(chan error, 1), alone: true})
}

func (b *batcher) enqueue(j *writeJob) error {
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
		if first.alone {
			first.err <- first.fn(b.w)
			continue
		}
		batch := []*writeJob{first}
		var after *writeJob
	gather:
		for len(batch) < b.maxBatch {
			select {
			case j := <-b.jobs:
				if j.alone {
					after = j
					break gather
				}
				batch = append(batch, j)
			default:
				break gather
			}
		}
		b.wal.wrote(len(batch), b.commit(batch))
		if after != nil {
			after.err <- after.fn(b.w)
		}
	}
}

// commit runs a batch and returns the first error it met (for the WAL keeper).
func (b *batcher) commit(batch []*writeJob) error {
	if len(batch) == 1 {
		err := batch[0].fn(b.w)
		batch[0].err <- err
		return err
	}
	tx := b.w.Begin()
	if tx.Error != nil {
		for _, j := range batch {
			j.err <- tx.Error
		}
		return tx.Error
	}
	errs := make([]error, len(batch))
	for i, j := range batch {
		errs[i] = j.fn(tx)
	}
	cerr := tx.Commit().Error
	if cerr != nil {
		_ = tx.Rollback()
		for i := range errs {
			if errs[i] == nil {
				errs[i] = cerr
			}
		}
	}
	for i, j := range batch {
		j.err <- errs[i]
	}
	if cerr != nil {
		return cerr
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (b *batcher) close() {
	close(b.stop)
	<-b.done
}
