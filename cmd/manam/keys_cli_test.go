package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestKeysRotateCLI: `manam keys rotate` publishes a pending key that
// activates after the propagation delay (2 × MANAM_KEY_REFRESH); --now
// activates at once; `keys list` shows the states.
func TestKeysRotateCLI(t *testing.T) {
	srv := &testServer{env: map[string]string{"MANAM_DSN": "sqlite:" + t.TempDir() + "/keys.db", "MANAM_SECRET": testSecret, "MANAM_KEY_REFRESH": "1m"}}
	type listed struct {
		KID          string    `json:"kid"`
		Alg          string    `json:"alg"`
		State        string    `json:"state"`
		Active       bool      `json:"active"`
		ActivatesAt  time.Time `json:"activates_at"`
		RetiredAt    *string   `json:"retired_at"`
		PublishUntil *string   `json:"publish_until"`
	}
	list := func(t *testing.T) map[string]listed {
		t.Helper()
		var ks []listed
		if err := json.Unmarshal([]byte(srv.cli(t, "keys", "list", "--json")), &ks); err != nil {
			t.Fatalf("keys list --json: %v", err)
		}
		m := map[string]listed{}
		for _, k := range ks {
			m[k.KID] = k
		}
		return m
	}
	type rotated struct {
		KID         string    `json:"kid"`
		Alg         string    `json:"alg"`
		State       string    `json:"state"`
		ActivatesAt time.Time `json:"activates_at"`
	}
	rotate := func(t *testing.T, args ...string) rotated {
		t.Helper()
		var r rotated
		if err := json.Unmarshal([]byte(srv.cli(t, append([]string{"keys", "rotate", "--json"}, args...)...)), &r); err != nil {
			t.Fatalf("keys rotate --json: %v", err)
		}
		return r
	}
	// The server keeps one active key per algorithm.
	var first, firstRS string
	for kid, k := range list(t) {
		switch k.Alg {
		case "ES256":
			first = kid
		case "RS256":
			firstRS = kid
		}
	}
	if first == "" || firstRS == "" {
		t.Fatalf("keys %v, want an ES256 and an RS256 key", list(t))
	}

	var pending rotated
	for _, c := range []struct {
		name string
		run  func(t *testing.T)
	}{
		{"rotate publishes a pending key, activating after 2 × MANAM_KEY_REFRESH", func(t *testing.T) {
			start := time.Now()
			pending = rotate(t, "--alg", "ES256")
			if pending.State != "pending" || pending.Alg != "ES256" {
				t.Fatalf("rotate: %+v, want a pending ES256 key", pending)
			}
			if d := pending.ActivatesAt.Sub(start); d < 2*time.Minute-time.Second || d > 2*time.Minute+2*time.Second {
				t.Fatalf("activates %s after the rotation, want 2m", d)
			}
			ks := list(t)
			if k := ks[pending.KID]; k.State != "pending" || k.Active || k.PublishUntil != nil {
				t.Fatalf("new key listed as %+v", k)
			}
			if k := ks[first]; k.State != "active" || !k.Active || k.PublishUntil == nil || k.RetiredAt == nil {
				t.Fatalf("old key listed as %+v, want still active, retiring at the activation", k)
			}
			if k := ks[firstRS]; k.State != "active" || !k.Active || k.PublishUntil != nil || k.RetiredAt != nil {
				t.Fatalf("RS256 key listed as %+v after an ES256 rotation, want active and not retiring", k)
			}
		}},
		{"list table shows the states and times", func(t *testing.T) {
			out := srv.cli(t, "keys", "list")
			for _, want := range []string{"STATE", "ACTIVATES", "PUBLISHED UNTIL", "pending", "active"} {
				if !strings.Contains(out, want) {
					t.Fatalf("keys list lacks %q:\n%s", want, out)
				}
			}
		}},
		{"rotate text output keeps its first words", func(t *testing.T) {
			out := srv.cli(t, "keys", "rotate")
			if !strings.HasPrefix(out, "new active key ") || !strings.Contains(out, "published until at least") {
				t.Fatalf("rotate output:\n%s", out)
			}
		}},
		{"rotate --now activates at once and cancels the pending keys of its algorithm", func(t *testing.T) {
			r := rotate(t, "--now")
			if r.State != "active" || r.Alg != "RS256" {
				t.Fatalf("rotate --now: %+v", r)
			}
			ks := list(t)
			active := 0
			for kid, k := range ks {
				if k.Alg != "RS256" {
					continue // the other algorithm's keys are not its business
				}
				if k.Active {
					active++
				}
				if kid != r.KID && (k.State != "retired" || k.PublishUntil == nil) {
					t.Errorf("key %s after --now: %+v, want retired and still published", kid, k)
				}
			}
			if active != 1 || !ks[r.KID].Active {
				t.Fatalf("%d active keys, want only %s", active, r.KID)
			}
		}},
		{"--now and --alg belong to rotate", func(t *testing.T) {
			for _, args := range [][]string{{"keys", "list", "--now"}, {"keys", "list", "--alg", "ES256"}} {
				if _, code, _ := srv.cliCode(args...); code != 2 {
					t.Errorf("%v: exit %d, want 2", args, code)
				}
			}
		}},
	} {
		if !t.Run(c.name, c.run) {
			return
		}
	}
}
