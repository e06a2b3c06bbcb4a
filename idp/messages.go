package idp

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	htmltemplate "html/template"
	"math/big"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/manam-id/manam/idp/i18n"
	"github.com/manam-id/manam/storage"
)

// Mail and SMS, as the sub-services send them: rendered, queued in the
// caller's transaction (the outbox of LifecycleConfig), bounded per account
// and purpose (overLimit), and the keyed hashes of the codes they carry.

// notify wakes the delivery worker after a commit.
func (s *core) notify() {
	if s.life != nil && s.life.Notify != nil {
		s.life.Notify()
	}
}

//go:embed mail/*.tmpl
var mailFS embed.FS

var (
	mailText = texttemplate.Must(texttemplate.New("mail").Funcs(texttemplate.FuncMap{"t": i18n.T}).ParseFS(mailFS, "mail/*.txt.tmpl"))
	mailHTML = htmltemplate.Must(htmltemplate.New("mail").Funcs(htmltemplate.FuncMap{"t": i18n.T}).ParseFS(mailFS, "mail/*.html.tmpl"))
)

// mail renders the named mail (its subject, text and HTML templates) and
// queues it in the transaction in ctx.
func (s *core) mail(ctx context.Context, accountID, to, name string, data map[string]any) error {
	if l, ok := data["Links"].(Links); ok {
		data["Lang"], data["Dir"] = l.Lang, l.Lang.Dir()
		if l.Lang == "" {
			data["Lang"], data["Dir"] = i18n.EN, "ltr"
		}
	}
	var subj, text, html bytes.Buffer
	if err := mailText.ExecuteTemplate(&subj, name+".subject.txt.tmpl", data); err != nil {
		return fmt.Errorf("idp: mail %s: %w", name, err)
	}
	if err := mailText.ExecuteTemplate(&text, name+".txt.tmpl", data); err != nil {
		return fmt.Errorf("idp: mail %s: %w", name, err)
	}
	if err := mailHTML.ExecuteTemplate(&html, name+".html.tmpl", data); err != nil {
		return fmt.Errorf("idp: mail %s: %w", name, err)
	}
	now := s.now().UTC()
	from := ""
	if l, ok := data["Links"].(Links); ok {
		from = l.From
	}
	return s.life.Enqueue(ctx, &storage.OutboxMessage{ID: newID(), Channel: "mail", Recipient: to, From: from,
		Subject: strings.TrimSpace(subj.String()), Text: text.String(), HTML: html.String(), CreatedAt: now, NextAttemptAt: now})
}

// overLimit tells whether an account already had a link of this purpose
// in the last minute, or five in the last day.
func (s *core) overLimit(ctx context.Context, accountID, purpose string) (bool, error) {
	now := s.now()
	for _, lim := range s.cfg.MessageLimits {
		n, err := s.life.Store.CountConfirmations(ctx, accountID, purpose, now.Add(-lim.Within))
		if err != nil {
			return false, err
		}
		if n >= int64(lim.Max) {
			s.log.InfoContext(ctx, "link refused: over the limit", "account", accountID, "purpose", purpose)
			return true, nil
		}
	}
	return false, nil
}

// codeHash is the keyed hash a code is stored as: a 6-digit code hashed
// without a key could be recovered from a stolen database in a moment.
func (s *core) codeHash(accountID, code string) string {
	m := hmac.New(sha256.New, s.life.CodeKey)
	m.Write([]byte(accountID + ":" + code))
	return hex.EncodeToString(m.Sum(nil))
}

// sixDigits is a random 6-digit code.
func sixDigits() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

func (s *core) sms(ctx context.Context, to, text string) error {
	now := s.now().UTC()
	return s.life.Enqueue(ctx, &storage.OutboxMessage{ID: newID(), Channel: "sms", Recipient: to, Text: text, CreatedAt: now, NextAttemptAt: now})
}

// smsCode stores a new code of a purpose and queues its SMS.
func (s *core) smsCode(ctx context.Context, accountID, phone, purpose string, ttl time.Duration, text func(code string) string) error {
	code, err := sixDigits()
	if err != nil {
		return err
	}
	now := s.now().UTC()
	if err := s.life.Store.CreateConfirmation(ctx, &storage.Confirmation{ID: hashToken(randomToken(16)), AccountID: accountID, Purpose: purpose,
		Target: phone, CodeHash: s.codeHash(accountID, code), CreatedAt: now, ExpiresAt: now.Add(ttl)}); err != nil {
		return err
	}
	return s.sms(ctx, phone, text(code))
}
