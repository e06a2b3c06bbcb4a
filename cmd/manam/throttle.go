package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/manam-id/manam/idp"
)

// throttleConfig is every throttle and lockout (MANAM_THROTTLE_*). A
// budget is BURST/INTERVAL: BURST attempts at once, then one more every
// INTERVAL ("5/1m": five at once, then one a minute), shared by every
// replica (it is kept in the database).
type throttleConfig struct {
	SignIn     idp.Budget // MANAM_THROTTLE_SIGNIN: failed sign-ins and wrong codes per client address. Default 20/30s.
	Register   idp.Budget // MANAM_THROTTLE_REGISTER: registrations and password-recovery requests (one budget) per client address. Default 5/1m.
	Known      idp.Budget // MANAM_THROTTLE_KNOWN_SOURCE: failed sign-ins per account from one known source (a device that signed in before; a tenant's back end). Default 10/15m.
	ExistEmail idp.Budget // MANAM_THROTTLE_EXIST_EMAIL: 004's exist-email per client address. Default 10/6s.
	Resend     idp.Budget // MANAM_THROTTLE_RESEND: 004's resend-email-verification per client address. Default 10/1m.
	// MANAM_THROTTLE_LOCKOUT: COUNT/WINDOW failures from unknown sources
	// within WINDOW lock an account. Default 5/15m.
	LockoutFailures int
	LockoutWindow   time.Duration
	LockMin         time.Duration // MANAM_THROTTLE_LOCK_MIN: the first lock; each further one doubles. Default 1m.
	LockMax         time.Duration // MANAM_THROTTLE_LOCK_MAX: the longest lock. Default 1h.
	// MANAM_THROTTLE_MESSAGES: links, codes and "already registered"
	// notices one account gets for one purpose, COUNT/WINDOW[,…]: at most
	// COUNT within any WINDOW. Default 1/1m,5/24h.
	Messages     []idp.MessageLimit
	CodeAttempts int // MANAM_THROTTLE_CODE_ATTEMPTS: wrong guesses one SMS code or one second-factor step takes. Default 5.
}

// parseRate reads COUNT/DURATION.
func parseRate(v string) (int, time.Duration, error) {
	n, d, ok := strings.Cut(strings.TrimSpace(v), "/")
	count, err1 := strconv.Atoi(strings.TrimSpace(n))
	dur, err2 := time.ParseDuration(strings.TrimSpace(d))
	if !ok || err1 != nil || err2 != nil || count < 1 || dur < time.Millisecond {
		return 0, 0, fmt.Errorf("want COUNT/DURATION such as 5/1m (a count of at least 1, a duration of at least 1ms), got %q", v)
	}
	return count, dur, nil
}

func budget(dst func(*throttleConfig) *idp.Budget) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, d, err := parseRate(v)
		if err != nil {
			return err
		}
		*dst(&c.Throttle) = idp.Budget{Burst: n, Interval: d}
		return nil
	}
}

var throttleSettings = []setting{
	{"throttle-signin", "MANAM_THROTTLE_SIGNIN", "20/30s", "failed sign-ins and wrong codes per client address, BURST/INTERVAL",
		budget(func(t *throttleConfig) *idp.Budget { return &t.SignIn })},
	{"throttle-register", "MANAM_THROTTLE_REGISTER", "5/1m", "registrations and recovery requests per client address, BURST/INTERVAL",
		budget(func(t *throttleConfig) *idp.Budget { return &t.Register })},
	{"throttle-known-source", "MANAM_THROTTLE_KNOWN_SOURCE", "10/15m", "failed sign-ins per account from one known device or tenant back end, BURST/INTERVAL",
		budget(func(t *throttleConfig) *idp.Budget { return &t.Known })},
	{"throttle-exist-email", "MANAM_THROTTLE_EXIST_EMAIL", "10/6s", "the jwt-auth-api exist-email check per client address, BURST/INTERVAL",
		budget(func(t *throttleConfig) *idp.Budget { return &t.ExistEmail })},
	{"throttle-resend", "MANAM_THROTTLE_RESEND", "10/1m", "the jwt-auth-api resend-email-verification per client address, BURST/INTERVAL",
		budget(func(t *throttleConfig) *idp.Budget { return &t.Resend })},
	{"throttle-lockout", "MANAM_THROTTLE_LOCKOUT", "5/15m", "failures from unknown sources within a window that lock an account, COUNT/WINDOW",
		func(c *Config, v string) error {
			n, d, err := parseRate(v)
			c.Throttle.LockoutFailures, c.Throttle.LockoutWindow = n, d
			return err
		}},
	{"throttle-lock-min", "MANAM_THROTTLE_LOCK_MIN", "1m", "an account's first lock (each further one doubles)", dur(func(c *Config) *time.Duration { return &c.Throttle.LockMin })},
	{"throttle-lock-max", "MANAM_THROTTLE_LOCK_MAX", "1h", "an account's longest lock", dur(func(c *Config) *time.Duration { return &c.Throttle.LockMax })},
	{"throttle-messages", "MANAM_THROTTLE_MESSAGES", "1/1m,5/24h", "links, codes and notices per account and purpose, COUNT/WINDOW[,COUNT/WINDOW]",
		func(c *Config, v string) error {
			c.Throttle.Messages = nil
			for _, f := range strings.Split(v, ",") {
				n, d, err := parseRate(f)
				if err != nil {
					return err
				}
				c.Throttle.Messages = append(c.Throttle.Messages, idp.MessageLimit{Max: n, Within: d})
			}
			return nil
		}},
	{"throttle-code-attempts", "MANAM_THROTTLE_CODE_ATTEMPTS", "5", "wrong guesses one SMS code or second-factor step takes",
		integer(func(c *Config) *int { return &c.Throttle.CodeAttempts })},
}

// validate reports what the parsers cannot see alone.
func (t *throttleConfig) validate() []error {
	var errs []error
	if t.LockMin <= 0 || t.LockMax < t.LockMin {
		errs = append(errs, fmt.Errorf("MANAM_THROTTLE_LOCK_MIN, MANAM_THROTTLE_LOCK_MAX: want 0 < %v ≤ %v", t.LockMin, t.LockMax))
	}
	if t.CodeAttempts < 1 || t.CodeAttempts > 100 {
		errs = append(errs, errors.New("MANAM_THROTTLE_CODE_ATTEMPTS: between 1 and 100 (a one-time code of six digits)"))
	}
	return errs
}

// idpConfig carries the throttles into the account service's settings.
func (t *throttleConfig) idpConfig(c idp.Config) idp.Config {
	c.SignIn, c.Register, c.Known = t.SignIn, t.Register, t.Known
	c.MaxFailures, c.FailureWindow, c.LockBase, c.LockMax = t.LockoutFailures, t.LockoutWindow, t.LockMin, t.LockMax
	c.MessageLimits, c.CodeAttempts = t.Messages, t.CodeAttempts
	return c
}
