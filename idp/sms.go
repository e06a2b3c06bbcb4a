package idp

import (
	"context"
	"crypto/hmac"
	"errors"
	"strings"
	"time"

	"github.com/manam-id/manam/idp/i18n"
	"github.com/manam-id/manam/storage"
)

const (
	purposeSMS = "sms"
	smsCodeTTL = 10 * time.Minute
)

// sendCode stores a new 6-digit code for the account's mobile and queues the SMS.
func (s *Lifecycle) sendCode(ctx context.Context, a *storage.Account, links Links) error {
	code, err := sixDigits()
	if err != nil {
		return err
	}
	now := s.now().UTC()
	if err := s.life.Store.CreateConfirmation(ctx, &storage.Confirmation{ID: hashToken(randomToken(16)), AccountID: a.ID, Purpose: purposeSMS,
		Target: *a.Mobile, CodeHash: s.codeHash(a.ID, code), CreatedAt: now, ExpiresAt: now.Add(smsCodeTTL)}); err != nil {
		return err
	}
	return s.sms(ctx, *a.Mobile, i18n.T(links.Lang, "Your %s code is %s. It works for 10 minutes. Do not share it.", links.Product, code))
}

// registerMobile is Register for a mobile number: the account is created
// unconfirmed and a code goes by SMS; a number that already has an account
// gets an SMS saying so, and the caller the same answer.
func (s *Lifecycle) registerMobile(ctx context.Context, in Registration, links Links, hash string) (*storage.Account, error) {
	var created *storage.Account
	name := strings.TrimSpace(in.Name)
	now := s.now().UTC()
	err := s.life.InTx(ctx, func(ctx context.Context) error {
		if existing, err := s.accounts.AccountByMobile(ctx, in.Mobile); err == nil {
			if ok, err := s.noticeAllowed(ctx, existing.ID, in.Mobile); err != nil || !ok {
				return err
			}
			return s.sms(ctx, in.Mobile, i18n.T(links.Lang, "Someone tried to create a %s account with this number. You already have one: sign in, or reset your password.", links.Product))
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		m := in.Mobile
		a := &storage.Account{ID: newID(), Mobile: &m, PasswordHash: hash, Name: name, CreatedAt: now, UpdatedAt: now}
		if in.Profile != nil {
			a.Profile = *in.Profile
		}
		if err := s.accounts.CreateAccount(ctx, a); err != nil {
			if errors.Is(err, storage.ErrDuplicate) {
				return nil
			}
			return err
		}
		created = a
		if err := s.joinRegistered(ctx, a, in); err != nil {
			return err
		}
		return s.sendCode(ctx, a, links)
	})
	if err != nil {
		return nil, err
	}
	s.notify()
	return created, nil
}

// ConfirmMobile checks the SMS code sent to a number (E.164, or national
// with DefaultCountryCode). Five wrong codes end the code; an unknown
// number, a wrong, used or expired code are all ErrInvalidToken.
func (s *Lifecycle) ConfirmMobile(ctx context.Context, mobile, code string) (*storage.Account, error) {
	cs, ok := s.life.Store.(CodeStore)
	if !ok || len(s.life.CodeKey) == 0 {
		return nil, errors.New("idp: SMS codes are not configured")
	}
	m, err := NormalizeMobile(mobile, s.cfg.DefaultCountryCode)
	if err != nil {
		return nil, ErrInvalidToken
	}
	code = toASCIIDigits(strings.TrimSpace(code))
	a, err := s.accounts.AccountByMobile(ctx, m)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, err
	}
	want := s.codeHash(a.ID, code)
	_, err = cs.CheckCode(ctx, a.ID, purposeSMS, s.now(), s.cfg.CodeAttempts, func(stored string) bool {
		return hmac.Equal([]byte(stored), []byte(want))
	})
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrUsed) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, err
	}
	if err := cs.MarkMobileVerified(ctx, a.ID, m); err != nil {
		return nil, err
	}
	return s.accounts.AccountByID(ctx, a.ID)
}

// ResendCode sends a new code to an unconfirmed number: one a minute,
// five a day, and the same answer whatever the number.
func (s *Lifecycle) ResendCode(ctx context.Context, mobile string, links Links) error {
	links = s.forTenant(ctx, links)
	m, err := NormalizeMobile(mobile, s.cfg.DefaultCountryCode)
	if err != nil {
		return nil
	}
	a, err := s.accounts.AccountByMobile(ctx, m)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil || a.MobileVerified {
		return err
	}
	if over, err := s.overLimit(ctx, a.ID, purposeSMS); err != nil || over {
		return err
	}
	if err := s.life.InTx(ctx, func(ctx context.Context) error { return s.sendCode(ctx, a, links) }); err != nil {
		return err
	}
	s.notify()
	return nil
}
