package idp

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/manam-id/manam/storage"
)

// ImportedAccount is one account moved in from another system.
type ImportedAccount struct {
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
	// PasswordHash is a bcrypt ($2a$/$2b$/$2y$) or argon2id (PHC) hash;
	// bcrypt is upgraded to argon2id at the account's next sign-in.
	PasswordHash string `json:"password_hash"`
	Name         string `json:"name"`
}

// ImportAccount stores an account with its existing password hash.
// Problems come back as FieldErrors; an address already present is ErrExists.
func (s *Accounts) ImportAccount(ctx context.Context, in ImportedAccount) (*storage.Account, error) {
	fe := FieldErrors{}
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		fe["email"] = "not a valid e-mail address"
	}
	if msg := checkImportedHash(in.PasswordHash); msg != "" {
		fe["password_hash"] = msg
	}
	name := strings.TrimSpace(in.Name)
	if len(name) > 200 || strings.ContainsAny(name, "\x00\r\n<>") {
		fe["name"] = "at most 200 characters, without < or >"
	}
	if len(fe) > 0 {
		return nil, fe
	}
	now := s.now().UTC()
	a := &storage.Account{ID: newID(), Email: &email, EmailVerified: in.EmailVerified, PasswordHash: in.PasswordHash, Name: name,
		CreatedAt: now, UpdatedAt: now}
	if err := s.accounts.CreateAccount(ctx, a); err != nil {
		if errors.Is(err, storage.ErrDuplicate) {
			return nil, ErrExists
		}
		return nil, err
	}
	return a, nil
}

// checkImportedHash accepts hashes this service can verify, with sane costs.
func checkImportedHash(h string) string {
	switch {
	case strings.HasPrefix(h, "$argon2id$"):
		if _, _, _, err := parseArgon2(h); err != nil {
			return "not a readable argon2id hash (PHC format, m ≤ 4 GiB, t ≤ 100)"
		}
	case strings.HasPrefix(h, "$2a$"), strings.HasPrefix(h, "$2b$"), strings.HasPrefix(h, "$2y$"):
		cost, err := bcrypt.Cost([]byte(h))
		if err != nil || len(h) != 60 {
			return "not a readable bcrypt hash"
		}
		if cost < 4 || cost > 16 {
			return fmt.Sprintf("bcrypt cost %d outside 4..16", cost)
		}
	case h == "":
		return "required (bcrypt or argon2id)"
	default:
		return "must be bcrypt ($2a$, $2b$, $2y$) or argon2id ($argon2id$)"
	}
	return ""
}
