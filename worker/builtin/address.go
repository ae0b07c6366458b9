package builtin

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
)

// allowCIDRsHint names the setting that lifts the address checks, for error
// messages.
const allowCIDRsHint = "FLASK_HTTP_ALLOW_CIDRS"

// ForbiddenAddressError reports an HTTP target whose address is not public
// (loopback, private, link-local and so on) and not in HTTPConfig.AllowCIDRs.
type ForbiddenAddressError struct {
	Addr netip.Addr
	// Class names the kind of address, such as "loopback" or "private".
	Class string
}

func (e *ForbiddenAddressError) Error() string {
	article := "a"
	if strings.ContainsRune("aeiou", rune(e.Class[0])) {
		article = "an"
	}
	return fmt.Sprintf("target %s is %s %s address; allow it with %s", e.Addr, article, e.Class, allowCIDRsHint)
}

// addrRange is a range of addresses that is not globally reachable.
type addrRange struct {
	prefix netip.Prefix
	class  string
}

func mustRanges(pairs ...string) []addrRange {
	out := make([]addrRange, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, addrRange{netip.MustParsePrefix(pairs[i]), pairs[i+1]})
	}
	return out
}

// Fixed tables from the IANA special-purpose address registries. The first
// match wins, so narrow ranges come before the wide ones that hold them.
var (
	ipv4Ranges = mustRanges(
		"0.0.0.0/8", "unspecified",
		"10.0.0.0/8", "private",
		"100.64.0.0/10", "shared (CGNAT)",
		"127.0.0.0/8", "loopback",
		"169.254.169.254/32", "link-local (cloud metadata)",
		"169.254.0.0/16", "link-local",
		"172.16.0.0/12", "private",
		"192.0.0.0/24", "IETF protocol",
		"192.0.2.0/24", "documentation",
		"192.88.99.0/24", "6to4 relay",
		"192.168.0.0/16", "private",
		"198.18.0.0/15", "benchmarking",
		"198.51.100.0/24", "documentation",
		"203.0.113.0/24", "documentation",
		"224.0.0.0/4", "multicast",
		"255.255.255.255/32", "broadcast",
		"240.0.0.0/4", "reserved",
	)
	ipv6Ranges = mustRanges(
		"::/128", "unspecified",
		"::1/128", "loopback",
		"64:ff9b:1::/48", "private (local NAT64)",
		"100::/64", "discard-only",
		"ff00::/8", "multicast",
		"fe80::/10", "link-local",
		"fec0::/10", "site-local",
		"fc00::/7", "private",
		"2001::/23", "IETF protocol",
		"2001:db8::/32", "documentation",
		"3fff::/20", "documentation",
	)
	// Prefixes whose addresses embed an IPv4 address, which decides.
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
	// globalUnicast holds every public IPv6 address; the rest is reserved.
	globalUnicast = netip.MustParsePrefix("2000::/3")
)

// addressClass returns the kind of a non-public address, or "" when a is a
// public unicast address.
func addressClass(a netip.Addr) string {
	a = a.WithZone("").Unmap()
	if !a.IsValid() {
		return "invalid"
	}
	if a.Is4() {
		return lookupRange(ipv4Ranges, a)
	}
	b := a.As16()
	switch {
	case nat64Prefix.Contains(a):
		return addressClass(netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(a):
		return addressClass(netip.AddrFrom4([4]byte(b[2:6])))
	}
	if c := lookupRange(ipv6Ranges, a); c != "" {
		return c
	}
	if !globalUnicast.Contains(a) {
		return "reserved"
	}
	return ""
}

func lookupRange(ranges []addrRange, a netip.Addr) string {
	for _, r := range ranges {
		if r.prefix.Contains(a) {
			return r.class
		}
	}
	return ""
}

// addrGuard refuses connections to non-public addresses outside its allow list.
type addrGuard struct {
	allow []netip.Prefix
}

// check returns a *ForbiddenAddressError when a may not be dialled.
func (g addrGuard) check(a netip.Addr) error {
	bare := a.WithZone("").Unmap()
	for _, p := range g.allow {
		if p.Contains(bare) {
			return nil
		}
	}
	if class := addressClass(bare); class != "" {
		return &ForbiddenAddressError{Addr: bare, Class: class}
	}
	return nil
}

// control is a net.Dialer ControlContext hook. It runs after name resolution
// and before connect, once per address tried, so it sees the address actually
// dialled, whatever the URL, DNS answer or redirect said.
func (g addrGuard) control(_ context.Context, network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("refuse %s dial to %q: not an IP address and port", network, address)
	}
	return g.check(ap.Addr())
}

// ParseCIDRs reads a comma-separated list of CIDR prefixes, such as
// "10.0.0.0/8,fd00::/8"; a bare address stands for itself alone (/32 or
// /128). It is the format of FLASK_HTTP_ALLOW_CIDRS. An empty string yields
// no prefixes.
func ParseCIDRs(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if !strings.Contains(item, "/") {
			a, err := netip.ParseAddr(item)
			if err != nil {
				return nil, fmt.Errorf("allowed CIDR %q: not an address or prefix such as 10.0.0.0/8", item)
			}
			a = a.WithZone("").Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(item)
		if err != nil {
			return nil, fmt.Errorf("allowed CIDR %q: not a prefix such as 10.0.0.0/8", item)
		}
		if p.Masked() != p {
			return nil, fmt.Errorf("allowed CIDR %q has bits set after the prefix length; did you mean %s?", item, p.Masked())
		}
		out = append(out, p)
	}
	return out, nil
}
