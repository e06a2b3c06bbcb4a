package provider

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	p := &Provider{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}}}
	cases := []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"no proxy", "203.0.113.9:5000", nil, "203.0.113.9"},
		{"untrusted peer's X-Forwarded-For is ignored", "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"trusted proxy names the client", "10.1.2.3:443", []string{"198.51.100.1"}, "198.51.100.1"},
		{"a client-supplied hop before it is skipped", "10.1.2.3:443", []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1"},
		{"chained trusted proxies", "10.1.2.3:443", []string{"198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"repeated headers", "10.1.2.3:443", []string{"6.6.6.6", "198.51.100.1"}, "198.51.100.1"},
		{"garbage falls back to the peer", "10.1.2.3:443", []string{"not-an-ip"}, "10.1.2.3"},
		{"trusted proxy without the header", "10.1.2.3:443", nil, "10.1.2.3"},
		{"IPv6 loopback proxy", "[::1]:443", []string{"2001:db8::5"}, "2001:db8::5"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/login", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := p.ClientIP(r); got != tc.want {
				t.Fatalf("clientIP = %q, want %q", got, tc.want)
			}
		})
	}
}
