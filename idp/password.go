package idp

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Argon2Params are argon2id's cost settings.
type Argon2Params struct {
	MemoryKiB   uint32 // default 19456 (19 MiB, OWASP's minimum for argon2id)
	Time        uint32 // default 2
	Parallelism uint8  // default 1
}

// DefaultArgon2 is OWASP's recommended minimum for argon2id.
var DefaultArgon2 = Argon2Params{MemoryKiB: 19456, Time: 2, Parallelism: 1}

// ErrHashFormat reports a stored hash this package cannot read.
var ErrHashFormat = errors.New("idp: unrecognised password hash")

// Passwords hashes and verifies passwords. At most Concurrency hashes run
// at once (each holds MemoryKiB), so a login flood queues instead of
// exhausting memory.
type Passwords struct {
	p     Argon2Params
	slots chan struct{}
	dummy string
}

// NewPasswords returns a hasher computing at most concurrency hashes at once.
func NewPasswords(p Argon2Params, concurrency int) (*Passwords, error) {
	if p.MemoryKiB < 8*1024 || p.Time < 1 || p.Parallelism < 1 {
		return nil, errors.New("idp: argon2id needs memory ≥ 8192 KiB, time ≥ 1, parallelism ≥ 1")
	}
	if concurrency < 1 {
		return nil, errors.New("idp: hash concurrency must be ≥ 1")
	}
	pw := &Passwords{p: p, slots: make(chan struct{}, concurrency)}
	// The dummy costs exactly what a real hash costs to verify (same
	// parameters) and matches no password; it needs no argon2 run to make,
	// so start-up does not allocate MemoryKiB.
	salt, sum := make([]byte, 16), make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	if _, err := rand.Read(sum); err != nil {
		return nil, err
	}
	pw.dummy = pw.format(p, salt, sum)
	return pw, nil
}

func (pw *Passwords) acquire(ctx context.Context) error {
	select {
	case pw.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("idp: waiting to hash: %w", ctx.Err())
	}
}

func (pw *Passwords) release() { <-pw.slots }

// Hash returns a PHC-format argon2id hash of password.
func (pw *Passwords) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("idp: salt: %w", err)
	}
	if err := pw.acquire(ctx); err != nil {
		return "", err
	}
	sum := argon2.IDKey([]byte(password), salt, pw.p.Time, pw.p.MemoryKiB, pw.p.Parallelism, 32)
	pw.release()
	return pw.format(pw.p, salt, sum), nil
}

// format writes a PHC-format argon2id hash.
func (pw *Passwords) format(p Argon2Params, salt, sum []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Parallelism,
		b64.EncodeToString(salt), b64.EncodeToString(sum))
}

// Verify checks password against a stored hash (argon2id, or bcrypt as the
// legacy system stored). rehash is true when the hash should be replaced by
// one with the current parameters.
func (pw *Passwords) Verify(ctx context.Context, hash, password string) (ok, rehash bool, err error) {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		p, salt, sum, err := parseArgon2(hash)
		if err != nil {
			return false, false, err
		}
		if err := pw.acquire(ctx); err != nil {
			return false, false, err
		}
		got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Parallelism, uint32(len(sum)))
		pw.release()
		ok := subtle.ConstantTimeCompare(got, sum) == 1
		return ok, ok && p != pw.p, nil
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		if err := pw.acquire(ctx); err != nil {
			return false, false, err
		}
		err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
		pw.release()
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return false, false, nil
		}
		if err != nil {
			return false, false, fmt.Errorf("%w: %w", ErrHashFormat, err)
		}
		return true, true, nil
	default:
		return false, false, ErrHashFormat
	}
}

// Waste spends the time of one verification, so a sign-in for an unknown
// account takes as long as one with a wrong password.
func (pw *Passwords) Waste(ctx context.Context, password string) {
	_, _, _ = pw.Verify(ctx, pw.dummy, password)
}

func parseArgon2(h string) (Argon2Params, []byte, []byte, error) {
	parts := strings.Split(h, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, sum
	if len(parts) != 6 {
		return Argon2Params{}, nil, nil, ErrHashFormat
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return Argon2Params{}, nil, nil, ErrHashFormat
	}
	var p Argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Parallelism); err != nil {
		return Argon2Params{}, nil, nil, ErrHashFormat
	}
	if p.MemoryKiB > 4*1024*1024 || p.Time > 100 || p.Time < 1 || p.Parallelism < 1 {
		return Argon2Params{}, nil, nil, ErrHashFormat
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	sum, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(sum) < 16 || len(sum) > 64 {
		return Argon2Params{}, nil, nil, ErrHashFormat
	}
	return p, salt, sum, nil
}
