package provider

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/storage"
)

// TestSource: a tenant's registered back end is recognised by the client
// address (after the trusted proxies), and only it is believed about its
// end user's address.
func TestSource(t *testing.T) {
	p := &Provider{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	shop := &storage.Tenant{ID: "shop", TenantSettings: storage.TenantSettings{BackendCIDRs: []string{"192.0.2.0/28", "2001:db8:5::/48"}}}
	cases := []struct {
		name, peer string
		hdr        map[string][]string
		tenant     *storage.Tenant
		want       idp.Source
	}{
		{"anyone: the client address", "203.0.113.9:5000", nil, shop, idp.FromAddr("203.0.113.9")},
		{"anyone's end-user header is ignored", "203.0.113.9:5000", map[string][]string{EndUserIPHeader: {"198.51.100.7"}}, shop, idp.FromAddr("203.0.113.9")},
		{"the back end, without the header", "192.0.2.3:5000", nil, shop, idp.Source{Backend: "shop"}},
		{"the back end names its end user", "192.0.2.3:5000", map[string][]string{EndUserIPHeader: {" 198.51.100.7 "}}, shop, idp.Source{Backend: "shop", Addr: "198.51.100.7"}},
		{"an IPv4-mapped end user is IPv4", "192.0.2.3:5000", map[string][]string{EndUserIPHeader: {"::ffff:198.51.100.7"}}, shop, idp.Source{Backend: "shop", Addr: "198.51.100.7"}},
		{"a garbled end-user header is no address", "192.0.2.3:5000", map[string][]string{EndUserIPHeader: {"198.51.100.7, 6.6.6.6"}}, shop, idp.Source{Backend: "shop"}},
		{"two end-user headers are no address", "192.0.2.3:5000", map[string][]string{EndUserIPHeader: {"198.51.100.7", "6.6.6.6"}}, shop, idp.Source{Backend: "shop"}},
		{"the back end behind a trusted proxy", "10.1.1.1:443", map[string][]string{"X-Forwarded-For": {"192.0.2.5"}}, shop, idp.Source{Backend: "shop"}},
		{"a client claiming the back end's address through the proxy is believed only as the proxy says", "10.1.1.1:443",
			map[string][]string{"X-Forwarded-For": {"192.0.2.5, 203.0.113.9"}}, shop, idp.FromAddr("203.0.113.9")},
		{"IPv6 back end", "[2001:db8:5:1::9]:5000", nil, shop, idp.Source{Backend: "shop"}},
		{"another tenant's back end is anyone to this one", "192.0.2.3:5000", nil, &storage.Tenant{ID: "other"}, idp.FromAddr("192.0.2.3")},
		{"no tenant", "192.0.2.3:5000", nil, nil, idp.FromAddr("192.0.2.3")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/auth/login", nil)
			r.RemoteAddr = tc.peer
			for k, vs := range tc.hdr {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			if got := p.Source(r, tc.tenant); got != tc.want {
				t.Fatalf("Source = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestParseCIDR: back-end CIDRs as operators write them.
func TestParseCIDR(t *testing.T) {
	cases := []struct{ in, want, err string }{
		{"192.0.2.0/24", "192.0.2.0/24", ""},
		{"192.0.2.7/24", "192.0.2.0/24", ""},
		{"192.0.2.7", "192.0.2.7/32", ""},
		{"2001:db8::1", "2001:db8::1/128", ""},
		{"::ffff:192.0.2.7", "192.0.2.7/32", ""},
		{"10.0.0.0/8", "10.0.0.0/8", ""},
		{"0.0.0.0/0", "", "wider"},
		{"2001:db8::/16", "", "wider"},
		{"example.com", "", "ParsePrefix"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseCIDR(tc.in)
			if tc.err == "" && (err != nil || got != tc.want) || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("ParseCIDR(%q) = %q, %v; want %q, error containing %q", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}
