package idp

import (
	"context"
	"errors"
	"time"

	"github.com/manam-id/manam/storage"
)

// Lifecycle runs what an account goes through after it is made, each
// step proved by mail or SMS: registration and its confirmation
// (register.go, sms.go), recovery (recover.go), and changes of password,
// e-mail address and mobile number (change.go). Its stores are the
// LifecycleConfig's (the confirmations, the outbox, and the optional
// capabilities below); a registration's tenant membership is the
// Accounts'.
type Lifecycle struct {
	*core
	members memberWriter
}

// memberWriter makes a registered account a member of its tenant (Accounts).
type memberWriter interface {
	Join(ctx context.Context, accountID, clientID, via string) error
	UpdateMembership(ctx context.Context, accountID, clientID string, role *string, fields map[string]any) error
}

// Errors of the account lifecycle.
var (
	// ErrInvalidToken: a confirmation link that is unknown, used or expired.
	ErrInvalidToken = errors.New("idp: invalid or expired link")
	// ErrUnconfirmed: the password was right but the e-mail is not confirmed yet.
	ErrUnconfirmed = errors.New("idp: e-mail not confirmed")
)

// LifecycleStore is what registration and confirmation need beyond AccountStore.
type LifecycleStore interface {
	CreateConfirmation(ctx context.Context, c *storage.Confirmation) error
	UseConfirmation(ctx context.Context, id, purpose string, now time.Time) (*storage.Confirmation, error)
	CountConfirmations(ctx context.Context, accountID, purpose string, since time.Time) (int64, error)
	MarkEmailVerified(ctx context.Context, accountID, email string) error
}

// Outbox takes messages to deliver, in the caller's transaction.
type Outbox interface {
	Enqueue(ctx context.Context, m *storage.OutboxMessage) error
}

// LifecycleConfig configures registration and confirmation, and the mail
// and SMS every sub-service sends.
type LifecycleConfig struct {
	Store LifecycleStore
	Outbox
	// InTx runs fn in one transaction: the account, its confirmation and
	// the mail are written together or not at all.
	InTx func(ctx context.Context, fn func(ctx context.Context) error) error
	// Notify wakes the delivery worker after a commit (optional).
	Notify func()
	// ConfirmTTL is how long an e-mail link works (24 h).
	ConfirmTTL time.Duration
	// CodeKey keys the hash of SMS codes (derived from the system secret).
	CodeKey []byte
	// Revoker and Sessions end an account's tokens and sessions on a
	// password reset.
	Revoker  TokenRevoker
	Sessions SessionEnder
}

// TokenRevoker ends every token of an account (storage.FositeStore).
type TokenRevoker interface {
	RevokeSubject(ctx context.Context, subject string) error
}

// SessionEnder ends an account's sign-in sessions.
type SessionEnder interface {
	DeleteSessionsOf(ctx context.Context, accountID, keep string) error
}

// CodeStore checks one-time codes and records confirmed numbers (an
// optional capability of the LifecycleStore, for SMS codes).
type CodeStore interface {
	CheckCode(ctx context.Context, accountID, purpose string, now time.Time, maxAttempts int, equal func(string) bool) (*storage.Confirmation, error)
	MarkMobileVerified(ctx context.Context, accountID, mobile string) error
}

// IdentifierStore changes an account's e-mail or mobile once the new one
// is proved (an optional capability of the LifecycleStore).
type IdentifierStore interface {
	ChangeEmail(ctx context.Context, accountID, email string) error
	ChangeMobile(ctx context.Context, accountID, mobile string) error
}

// ConfirmationVoider ends unused confirmations (storage.Accounts; an
// optional capability of the LifecycleStore).
type ConfirmationVoider interface {
	VoidConfirmations(ctx context.Context, accountID string, purposes []string, now time.Time) error
}
