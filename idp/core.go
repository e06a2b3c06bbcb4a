package idp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/manam-id/manam/idp/mfa"
	"github.com/manam-id/manam/storage"
)

// AccountStore is what idp needs to read and write accounts. Every
// sub-service reads accounts; the lockout is kept on them.
type AccountStore interface {
	CreateAccount(ctx context.Context, a *storage.Account) error
	AccountByID(ctx context.Context, id string) (*storage.Account, error)
	AccountByEmail(ctx context.Context, email string) (*storage.Account, error)
	AccountByMobile(ctx context.Context, mobile string) (*storage.Account, error)
	SetPasswordHash(ctx context.Context, id, hash string) error
	RecordLoginFailure(ctx context.Context, id string, now time.Time, p storage.LockoutPolicy) (*time.Time, error)
	ClearLoginFailures(ctx context.Context, id string) error
}

// core is what the sub-services share: the clock, the logger, the
// password hasher, the throttles and the device-cookie sealer (the
// guards of every guess, source.go), the tenants' settings (tenant.go),
// the accounts, and mail and SMS with their confirmations (messages.go).
// Randomness comes from crypto/rand.
type core struct {
	accounts  AccountStore
	pw        *Passwords
	cfg       Config
	now       func() time.Time
	log       *slog.Logger
	throttles struct{ signIn, register, known *Throttle }
	devices   *mfa.Sealer      // seals device cookies (nil: none)
	life      *LifecycleConfig // mail, SMS and confirmations (nil: none)
	tenants   TenantSource
}

// lookup finds the account an identifier names: an e-mail address, or a
// mobile number (international, or national with DefaultCountryCode).
func (s *core) lookup(ctx context.Context, identifier string) (*storage.Account, bool, error) {
	if strings.Contains(identifier, "@") {
		e, err := NormalizeEmail(identifier)
		if err != nil {
			return nil, false, err
		}
		a, err := s.accounts.AccountByEmail(ctx, e)
		return a, false, err
	}
	m, err := NormalizeMobile(identifier, s.cfg.DefaultCountryCode)
	if err != nil {
		return nil, true, err
	}
	a, err := s.accounts.AccountByMobile(ctx, m)
	return a, true, err
}

// inTx runs fn in the lifecycle's transaction when there is one.
func (s *core) inTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if s.life != nil && s.life.InTx != nil {
		return s.life.InTx(ctx, fn)
	}
	return fn(ctx)
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

// newID is a random UUID (version 4).
func newID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
