package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// OutboxMessage is a mail or SMS waiting to be delivered. It is written in
// the same transaction as the change that causes it (an account created, a
// code issued), so a message exists exactly when its change does; a worker
// delivers it later with retries.
type OutboxMessage struct {
	ID            string     `gorm:"primaryKey;size:36"`
	Channel       string     `gorm:"size:8;not null"` // "mail" or "sms"
	Recipient     string     `gorm:"size:320;not null"`
	Subject       string     `gorm:"size:400;not null"`
	Text          string     `gorm:"type:text;not null"`
	HTML          string     `gorm:"type:text;not null"`
	From          string     `gorm:"size:320;not null"` // "" means the configured sender
	CreatedAt     time.Time  `gorm:"not null"`
	NextAttemptAt time.Time  `gorm:"not null;index"`
	Attempts      int        `gorm:"not null"`
	LastError     string     `gorm:"size:1000;not null"`
	SentAt        *time.Time `gorm:"index"`
	GaveUpAt      *time.Time
	ClaimedBy     string `gorm:"size:64;not null"`
	ClaimedUntil  *time.Time
}

// TableName implements gorm's tabler.
func (OutboxMessage) TableName() string { return "outbox" }

// ErrLeaseLost reports a message whose lease ran out (another worker may hold it now).
var ErrLeaseLost = errors.New("storage: outbox lease lost")

// Outbox stores messages to deliver.
type Outbox struct {
	db     *DB
	sealer BodySealer
}

// BodySealer encrypts message bodies at rest, bound to a label
// (mfa.Sealer: AES-GCM under a key derived from the system secret).
type BodySealer interface {
	Seal(plaintext []byte, aad string) (string, error)
	Open(sealed, aad string) ([]byte, error)
}

// NewOutbox returns the outbox over db.
func NewOutbox(db *DB) *Outbox { return &Outbox{db: db} }

// WithSealer returns the outbox storing message bodies (the text and
// HTML, which carry confirmation links, reset links and one-time
// codes) encrypted: a copy of the database, a backup or a replica then
// holds no usable link. Bodies are emptied once a message is delivered or
// given up.
func (o *Outbox) WithSealer(s BodySealer) *Outbox { return &Outbox{db: o.db, sealer: s} }

// sealedPrefix starts every sealed body (mfa.Sealer's version tag); a
// body without it was stored in the clear (before sealing, or without a
// sealer).
const sealedPrefix = "v1."

func bodyLabel(id, field string) string { return "outbox:" + id + ":" + field }

// Enqueue adds a message, inside the transaction in ctx if there is one.
func (o *Outbox) Enqueue(ctx context.Context, m *OutboxMessage) error {
	m.CreatedAt, m.NextAttemptAt = utc(m.CreatedAt), utc(m.NextAttemptAt)
	row := *m
	if o.sealer != nil {
		var err error
		if row.Text, err = o.sealer.Seal([]byte(m.Text), bodyLabel(m.ID, "text")); err != nil {
			return fmt.Errorf("storage: enqueue: %w", unavailableErr(err))
		}
		if row.HTML, err = o.sealer.Seal([]byte(m.HTML), bodyLabel(m.ID, "html")); err != nil {
			return fmt.Errorf("storage: enqueue: %w", unavailableErr(err))
		}
	}
	if err := o.db.writer(ctx).Create(&row).Error; err != nil {
		return fmt.Errorf("storage: enqueue: %w", unavailableErr(err))
	}
	return nil
}

// open decrypts a stored message's bodies in place.
func (o *Outbox) open(m *OutboxMessage) error {
	for field, v := range map[string]*string{"text": &m.Text, "html": &m.HTML} {
		if !strings.HasPrefix(*v, sealedPrefix) {
			continue
		}
		if o.sealer == nil {
			return fmt.Errorf("storage: outbox message %s is sealed and no key was given", m.ID)
		}
		b, err := o.sealer.Open(*v, bodyLabel(m.ID, field))
		if err != nil {
			return fmt.Errorf("storage: outbox message %s: %w", m.ID, err)
		}
		*v = string(b)
	}
	return nil
}

// Claim leases up to limit due messages to owner until now+lease and
// returns them. A message is leased to one owner at a time: each claim is
// a conditional update, so concurrent workers (other replicas) get
// disjoint sets. A lease that ran out (its worker died) can be claimed again.
func (o *Outbox) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]OutboxMessage, error) {
	now = utc(now)
	var ids []string
	err := o.db.reader(ctx).Model(&OutboxMessage{}).
		Where("sent_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until < ?)", now, now).
		Order("next_attempt_at").Limit(limit).Pluck("id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("storage: outbox claim: %w", unavailableErr(err))
	}
	until := now.Add(lease)
	var got []string
	for _, id := range ids {
		res := o.db.writer(ctx).Model(&OutboxMessage{}).
			Where("id = ? AND sent_at IS NULL AND gave_up_at IS NULL AND (claimed_until IS NULL OR claimed_until < ?)", id, now).
			Updates(map[string]any{"claimed_by": owner, "claimed_until": until})
		if res.Error != nil {
			return nil, fmt.Errorf("storage: outbox claim: %w", unavailableErr(res.Error))
		}
		if res.RowsAffected == 1 {
			got = append(got, id)
		}
	}
	if len(got) == 0 {
		return nil, nil
	}
	var ms []OutboxMessage
	if err := o.db.writer(ctx).Where("id IN ?", got).Order("next_attempt_at").Find(&ms).Error; err != nil {
		return nil, fmt.Errorf("storage: outbox claim: %w", unavailableErr(err))
	}
	for i := range ms {
		if err := o.open(&ms[i]); err != nil {
			return nil, err
		}
	}
	return ms, nil
}

// MarkSent records a delivery by the lease holder.
func (o *Outbox) MarkSent(ctx context.Context, id, owner string, at time.Time) error {
	// The bodies go: their links and codes have no business staying.
	return o.settle(ctx, id, owner, at, map[string]any{"sent_at": utc(at), "claimed_until": nil, "attempts": gorm.Expr("attempts + 1"), "last_error": "",
		"text": "", "html": ""})
}

// MarkFailed records a failed attempt by the lease holder: the message is
// tried again at next, or given up when next is zero.
func (o *Outbox) MarkFailed(ctx context.Context, id, owner, reason string, at, next time.Time) error {
	if len(reason) > 1000 {
		reason = reason[:1000]
	}
	set := map[string]any{"claimed_until": nil, "attempts": gorm.Expr("attempts + 1"), "last_error": reason}
	if next.IsZero() {
		set["gave_up_at"] = utc(at)
		set["text"], set["html"] = "", ""
	} else {
		set["next_attempt_at"] = utc(next)
	}
	return o.settle(ctx, id, owner, at, set)
}

func (o *Outbox) settle(ctx context.Context, id, owner string, at time.Time, set map[string]any) error {
	res := o.db.writer(ctx).Model(&OutboxMessage{}).
		Where("id = ? AND claimed_by = ? AND claimed_until IS NOT NULL AND claimed_until >= ?", id, owner, utc(at)).
		Updates(set)
	if res.Error != nil {
		return fmt.Errorf("storage: outbox: %w", unavailableErr(res.Error))
	}
	if res.RowsAffected == 0 {
		return ErrLeaseLost
	}
	return nil
}

// Get loads a message (operators' diagnostics and tests).
func (o *Outbox) Get(ctx context.Context, id string) (*OutboxMessage, error) {
	var m OutboxMessage
	err := o.db.reader(ctx).Where("id = ?", id).Take(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: outbox get: %w", unavailableErr(err))
	}
	if err := o.open(&m); err != nil {
		return nil, err
	}
	return &m, nil
}

// SweepSent deletes up to batch messages delivered (or given up) before cutoff.
func (o *Outbox) SweepSent(ctx context.Context, cutoff time.Time, batch int) (int64, error) {
	var ids []string
	cutoff = utc(cutoff)
	if err := o.db.reader(ctx).Model(&OutboxMessage{}).Where("sent_at < ? OR gave_up_at < ?", cutoff, cutoff).Limit(batch).Pluck("id", &ids).Error; err != nil {
		return 0, fmt.Errorf("storage: outbox sweep: %w", unavailableErr(err))
	}
	if len(ids) == 0 {
		return 0, nil
	}
	res := o.db.writer(ctx).Where("id IN ?", ids).Delete(&OutboxMessage{})
	if res.Error != nil {
		return 0, fmt.Errorf("storage: outbox sweep: %w", unavailableErr(res.Error))
	}
	return res.RowsAffected, nil
}
