package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestMetricsListener: MANAM_METRICS_ADDR moves /metrics off the public
// listener (sign-in outcomes and traffic are not the public's business)
// onto its own; unset, /metrics stays on the public listener.
func TestMetricsListener(t *testing.T) {
	for _, tc := range []struct {
		name, addr string
		ok         bool
	}{
		{"loopback", "127.0.0.1:9090", true},
		{"internal interface", "10.0.0.5:9090", true},
		{"no port", "127.0.0.1", false},
		{"not an address", "zz", false},
		{"the public listener's address", ":8080", false},
	} {
		t.Run("config "+tc.name, func(t *testing.T) {
			_, err := loadConfig(newFlags("serve"), envOf(map[string]string{"MANAM_METRICS_ADDR": tc.addr}))
			if (err == nil) != tc.ok {
				t.Errorf("MANAM_METRICS_ADDR=%s: %v", tc.addr, err)
			}
		})
	}

	get := func(t *testing.T, url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	t.Run("default: on the public listener", func(t *testing.T) {
		srv := startServer(t, "sqlite:"+t.TempDir()+"/m.db", nil)
		get(t, srv.URL+"/healthz")
		if code, body := get(t, srv.URL+"/metrics"); code != 200 || !strings.Contains(body, "manam_http_requests_total") {
			t.Fatalf("public /metrics: %d", code)
		}
	})
	t.Run("own listener", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		srv := startServer(t, "sqlite:"+t.TempDir()+"/m.db", map[string]string{"MANAM_METRICS_ADDR": addr})
		get(t, srv.URL+"/healthz")
		if code, _ := get(t, srv.URL+"/metrics"); code != http.StatusNotFound {
			t.Errorf("public /metrics with MANAM_METRICS_ADDR set: %d, want 404", code)
		}
		code, body := get(t, "http://"+addr+"/metrics")
		if code != 200 || !strings.Contains(body, `manam_http_requests_total{code="200",method="GET",route="/healthz"}`) {
			t.Errorf("metrics listener: %d %.300s", code, body)
		}
		if code, _ := get(t, "http://"+addr+"/oauth2/auth"); code != http.StatusNotFound {
			t.Errorf("metrics listener serves more than /metrics: %d", code)
		}
	})
}
