package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/manam-id/manam/idp"
)

// TestThrottleConfig: every MANAM_THROTTLE_* setting, its default, its
// format, and its problems reported together with the rest.
func TestThrottleConfig(t *testing.T) {
	defaults := throttleConfig{
		SignIn: idp.Budget{Burst: 20, Interval: 30 * time.Second}, Register: idp.Budget{Burst: 5, Interval: time.Minute},
		Known: idp.Budget{Burst: 10, Interval: 15 * time.Minute}, ExistEmail: idp.Budget{Burst: 10, Interval: 6 * time.Second},
		Resend: idp.Budget{Burst: 10, Interval: time.Minute}, LockoutFailures: 5, LockoutWindow: 15 * time.Minute,
		LockMin: time.Minute, LockMax: time.Hour, Messages: []idp.MessageLimit{{Max: 1, Within: time.Minute}, {Max: 5, Within: 24 * time.Hour}},
		CodeAttempts: 5,
	}
	with := func(change func(*throttleConfig)) throttleConfig {
		c := defaults
		c.Messages = append([]idp.MessageLimit(nil), defaults.Messages...)
		change(&c)
		return c
	}
	cases := []struct {
		name string
		env  map[string]string
		want throttleConfig
		errs []string // each must be named in the one error
	}{
		{name: "defaults", want: defaults},
		{name: "every budget", env: map[string]string{
			"MANAM_THROTTLE_SIGNIN": "100/1s", "MANAM_THROTTLE_REGISTER": " 50 / 10s ", "MANAM_THROTTLE_KNOWN_SOURCE": "3/1h",
			"MANAM_THROTTLE_EXIST_EMAIL": "1/1m", "MANAM_THROTTLE_RESEND": "2/2m", "MANAM_THROTTLE_LOCKOUT": "10/1h",
			"MANAM_THROTTLE_LOCK_MIN": "30s", "MANAM_THROTTLE_LOCK_MAX": "24h", "MANAM_THROTTLE_MESSAGES": "2/1m, 20/24h, 50/168h",
			"MANAM_THROTTLE_CODE_ATTEMPTS": "3",
		}, want: throttleConfig{
			SignIn: idp.Budget{Burst: 100, Interval: time.Second}, Register: idp.Budget{Burst: 50, Interval: 10 * time.Second},
			Known: idp.Budget{Burst: 3, Interval: time.Hour}, ExistEmail: idp.Budget{Burst: 1, Interval: time.Minute},
			Resend: idp.Budget{Burst: 2, Interval: 2 * time.Minute}, LockoutFailures: 10, LockoutWindow: time.Hour,
			LockMin: 30 * time.Second, LockMax: 24 * time.Hour,
			Messages:     []idp.MessageLimit{{Max: 2, Within: time.Minute}, {Max: 20, Within: 24 * time.Hour}, {Max: 50, Within: 168 * time.Hour}},
			CodeAttempts: 3,
		}},
		{name: "sub-second refill", env: map[string]string{"MANAM_THROTTLE_SIGNIN": "1000/100ms"},
			want: with(func(c *throttleConfig) { c.SignIn = idp.Budget{Burst: 1000, Interval: 100 * time.Millisecond} })},
		{name: "no slash", env: map[string]string{"MANAM_THROTTLE_SIGNIN": "20"}, errs: []string{`MANAM_THROTTLE_SIGNIN: want COUNT/DURATION such as 5/1m`}},
		{name: "a rate the wrong way round", env: map[string]string{"MANAM_THROTTLE_REGISTER": "1m/5"}, errs: []string{"MANAM_THROTTLE_REGISTER"}},
		{name: "a zero burst", env: map[string]string{"MANAM_THROTTLE_KNOWN_SOURCE": "0/1m"}, errs: []string{"MANAM_THROTTLE_KNOWN_SOURCE"}},
		{name: "no refill", env: map[string]string{"MANAM_THROTTLE_EXIST_EMAIL": "5/0s"}, errs: []string{"MANAM_THROTTLE_EXIST_EMAIL"}},
		{name: "a negative count", env: map[string]string{"MANAM_THROTTLE_RESEND": "-1/1m"}, errs: []string{"MANAM_THROTTLE_RESEND"}},
		{name: "a bad window in a list", env: map[string]string{"MANAM_THROTTLE_MESSAGES": "1/1m,5/tomorrow"}, errs: []string{`MANAM_THROTTLE_MESSAGES: want COUNT/DURATION such as 5/1m (a count of at least 1, a duration of at least 1ms), got "5/tomorrow"`}},
		{name: "locks the wrong way round", env: map[string]string{"MANAM_THROTTLE_LOCK_MIN": "2h", "MANAM_THROTTLE_LOCK_MAX": "1h"}, errs: []string{"MANAM_THROTTLE_LOCK_MIN, MANAM_THROTTLE_LOCK_MAX"}},
		{name: "no code attempts", env: map[string]string{"MANAM_THROTTLE_CODE_ATTEMPTS": "0"}, errs: []string{"MANAM_THROTTLE_CODE_ATTEMPTS"}},
		{name: "every problem together, with the rest of the configuration", env: map[string]string{
			"MANAM_THROTTLE_SIGNIN": "x", "MANAM_THROTTLE_LOCKOUT": "5", "MANAM_THROTTLE_CODE_ATTEMPTS": "1000", "MANAM_LOG_LEVEL": "loud",
		}, errs: []string{"MANAM_THROTTLE_SIGNIN", "MANAM_THROTTLE_LOCKOUT", "MANAM_THROTTLE_CODE_ATTEMPTS", "MANAM_LOG_LEVEL"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadConfig(newFlags("serve"), envOf(tc.env))
			if len(tc.errs) > 0 {
				if err == nil {
					t.Fatalf("accepted: %+v", c.Throttle)
				}
				for _, want := range tc.errs {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("the error does not say %q:\n%v", want, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Throttle, tc.want) {
				t.Fatalf("throttles = %+v\nwant        %+v", c.Throttle, tc.want)
			}
		})
	}
}

// TestThrottleFlagsAndFile: the throttles are settings like the others: a
// flag, or a config file keyed by flag name.
func TestThrottleFlagsAndFile(t *testing.T) {
	fs := newFlags("serve")
	if _, err := parse(fs, []string{"--throttle-signin", "7/7s"}); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig(fs, envOf(map[string]string{"MANAM_THROTTLE_SIGNIN": "1/1s"}))
	if err != nil || c.Throttle.SignIn != (idp.Budget{Burst: 7, Interval: 7 * time.Second}) {
		t.Fatalf("flag over environment: %+v, %v", c.Throttle.SignIn, err)
	}
	file := filepath.Join(t.TempDir(), "manam.json")
	if err := os.WriteFile(file, []byte(`{"throttle-register":"9/9s"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := loadConfig(newFlags("serve"), envOf(map[string]string{"MANAM_CONFIG": file})); err != nil || c.Throttle.Register != (idp.Budget{Burst: 9, Interval: 9 * time.Second}) {
		t.Fatalf("config file: %+v, %v", c, err)
	}
	// The idp settings carry them.
	ic := c.Throttle.idpConfig(idp.Config{})
	if ic.SignIn != c.Throttle.SignIn || ic.MaxFailures != 5 || ic.FailureWindow != 15*time.Minute || ic.LockBase != time.Minute ||
		ic.LockMax != time.Hour || ic.CodeAttempts != 5 || len(ic.MessageLimits) != 2 {
		t.Fatalf("idp config: %+v", ic)
	}
}
