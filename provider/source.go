package provider

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/storage"
)

// EndUserIPHeader is where a tenant's registered back end may pass the
// address of the end user it calls for. It is believed only from the
// tenant's own back ends (--backend-cidr); from anywhere else it is
// ignored.
const EndUserIPHeader = "X-Manam-End-User-IP"

// Source is where a request to tenant t's API (the legacy and dialect
// surfaces) comes from, for the throttles. The client address is found as
// ClientIP finds it (MANAM_TRUSTED_PROXIES). When it is one of t's
// registered back ends, the request counts per tenant and end user
// (idp.Source.Backend), with the end user's address when the back end
// passes EndUserIPHeader; otherwise it counts per client address.
func (p *Provider) Source(r *http.Request, t *storage.Tenant) idp.Source {
	client := p.ClientIP(r)
	if t == nil || !IsBackend(t, client) {
		return idp.FromAddr(client)
	}
	src := idp.Source{Backend: t.ID}
	if vs := r.Header.Values(EndUserIPHeader); len(vs) == 1 {
		if a, err := netip.ParseAddr(strings.TrimSpace(vs[0])); err == nil {
			src.Addr = a.Unmap().String()
		}
	}
	return src
}

// PeerAddr is the address of the connection's peer, without its port.
func PeerAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// IsBackend tells whether addr is within one of t's back-end CIDRs.
func IsBackend(t *storage.Tenant, addr string) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	return InPrefixes(a, parsePrefixes(t.BackendCIDRs))
}

// InPrefixes tells whether a (IPv4-mapped addresses as IPv4) is within one of ps.
func InPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parsePrefixes reads stored CIDRs (validated when set; anything else is skipped).
func parsePrefixes(cidrs []string) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// ParseCIDR reads a back-end CIDR as an operator writes it: a prefix, or
// a single address; the canonical form is stored.
func ParseCIDR(s string) (string, error) {
	s = strings.TrimSpace(s)
	p, err := netip.ParsePrefix(s)
	if err != nil {
		a, aerr := netip.ParseAddr(s)
		if aerr != nil {
			return "", err
		}
		p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	// A back end may name any end user's address: a network that large
	// is a mistake, not a tenant's servers.
	if p.Addr().Is4() && p.Bits() < 8 || !p.Addr().Is4() && p.Bits() < 32 {
		return "", errors.New("wider than a /8 (IPv4) or a /32 (IPv6)")
	}
	return p.Masked().String(), nil
}
