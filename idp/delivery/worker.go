package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/manam-id/manam/storage"
)

// Store is what the worker needs of the outbox.
type Store interface {
	Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]storage.OutboxMessage, error)
	MarkSent(ctx context.Context, id, owner string, at time.Time) error
	MarkFailed(ctx context.Context, id, owner, reason string, at, next time.Time) error
}

// WorkerOptions tune a Worker; zero values take the defaults in brackets.
type WorkerOptions struct {
	Owner       string        // this worker's name in leases (required; unique per process)
	From        string        // sender of mail that names none
	Lease       time.Duration // how long a claimed message is this worker's (2 min)
	SendTimeout time.Duration // bound on one send; must be well inside Lease (30 s)
	Poll        time.Duration // how often the outbox is checked without a nudge (2 s)
	Batch       int           // messages claimed at once (20)
	MaxAttempts int           // attempts before giving up (12: about a day with the backoff below)
	BackoffBase time.Duration // first retry delay, doubled each attempt (30 s)
	BackoffMax  time.Duration // longest retry delay (4 h)
	Now         func() time.Time
	Logger      *slog.Logger
}

// Worker delivers outbox messages.
type Worker struct {
	store Store
	mail  MailSender
	sms   SMSSender
	o     WorkerOptions
	nudge chan struct{}
}

// NewWorker returns a worker over store sending with mail and sms.
func NewWorker(store Store, mail MailSender, sms SMSSender, o WorkerOptions) (*Worker, error) {
	if o.Owner == "" || store == nil || mail == nil || sms == nil {
		return nil, errors.New("delivery: worker needs an owner, a store and both senders")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.Lease, 2*time.Minute)
	def(&o.SendTimeout, 30*time.Second)
	def(&o.Poll, 2*time.Second)
	def(&o.BackoffBase, 30*time.Second)
	def(&o.BackoffMax, 4*time.Hour)
	if o.SendTimeout*2 > o.Lease {
		return nil, errors.New("delivery: the send timeout must be under half the lease")
	}
	if o.Batch == 0 {
		o.Batch = 20
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 12
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Worker{store: store, mail: mail, sms: sms, o: o, nudge: make(chan struct{}, 1)}, nil
}

// Notify asks the worker to look at the outbox now (after an enqueue).
func (w *Worker) Notify() {
	select {
	case w.nudge <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	t := time.NewTicker(w.o.Poll)
	defer t.Stop()
	for {
		for {
			n, err := w.RunOnce(ctx)
			if err != nil && ctx.Err() == nil {
				w.o.Logger.Error("outbox delivery failed", "err", err)
			}
			if n < w.o.Batch || err != nil {
				break // drained (a full batch means there may be more)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.nudge:
		}
	}
}

// RunOnce claims one batch of due messages and tries each once; it
// returns how many it claimed.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	msgs, err := w.store.Claim(ctx, w.o.Owner, w.o.Now(), w.o.Lease, w.o.Batch)
	if err != nil {
		return 0, err
	}
	var errs []error
	for i := range msgs {
		if err := w.deliver(ctx, &msgs[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return len(msgs), errors.Join(errs...)
}

// deliver sends one message and records the outcome. Only a failure to
// record is returned: a failed send is the message's state, not an error.
func (w *Worker) deliver(ctx context.Context, m *storage.OutboxMessage) error {
	sctx, cancel := context.WithTimeout(ctx, w.o.SendTimeout)
	var err error
	switch m.Channel {
	case "mail":
		from := m.From
		if from == "" {
			from = w.o.From
		}
		err = w.mail.SendMail(sctx, Mail{From: from, To: m.Recipient, Subject: m.Subject, Text: m.Text, HTML: m.HTML})
	case "sms":
		err = w.sms.SendSMS(sctx, m.Recipient, m.Text)
	default:
		err = fmt.Errorf("%w: unknown channel %q", ErrPermanent, m.Channel)
	}
	cancel()
	now := w.o.Now()
	if err == nil {
		if rerr := w.store.MarkSent(ctx, m.ID, w.o.Owner, now); rerr != nil {
			return fmt.Errorf("delivery: recording message %s as sent: %w", m.ID, rerr)
		}
		return nil
	}
	attempt := m.Attempts + 1
	var next time.Time
	if !errors.Is(err, ErrPermanent) && attempt < w.o.MaxAttempts {
		next = now.Add(w.backoff(attempt))
	}
	if next.IsZero() {
		w.o.Logger.Error("outbox message given up", "id", m.ID, "channel", m.Channel, "attempts", attempt, "err", err)
	} else {
		w.o.Logger.Warn("outbox delivery failed, will retry", "id", m.ID, "channel", m.Channel, "attempt", attempt, "retry_at", next, "err", err)
	}
	if rerr := w.store.MarkFailed(ctx, m.ID, w.o.Owner, err.Error(), now, next); rerr != nil {
		return fmt.Errorf("delivery: recording a failed attempt of %s: %w", m.ID, rerr)
	}
	return nil
}

// backoff is base·2^(attempt-1), capped, with ±20 % jitter so replicas do
// not retry in step.
func (w *Worker) backoff(attempt int) time.Duration {
	d := w.o.BackoffBase
	for i := 1; i < attempt && d < w.o.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, w.o.BackoffMax)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
