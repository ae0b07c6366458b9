package builtin

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAddressClass(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		// Public: allowed.
		"8.8.8.8":              "",
		"1.1.1.1":              "",
		"100.63.255.255":       "",
		"100.128.0.0":          "",
		"172.32.0.1":           "",
		"2606:4700:4700::1111": "",
		"64:ff9b::808:808":     "", // NAT64 of 8.8.8.8
		"2002:808:808::1":      "", // 6to4 of 8.8.8.8
		"::ffff:8.8.8.8":       "",

		"127.0.0.1":         "loopback",
		"127.255.255.254":   "loopback",
		"::1":               "loopback",
		"::ffff:127.0.0.1":  "loopback",
		"10.0.0.1":          "private",
		"172.16.0.1":        "private",
		"172.31.255.255":    "private",
		"192.168.1.1":       "private",
		"fc00::1":           "private",
		"fd12:3456::1":      "private",
		"fd00:ec2::254":     "private",
		"169.254.169.254":   "link-local (cloud metadata)",
		"169.254.170.2":     "link-local",
		"fe80::1":           "link-local",
		"fe80::1%eth0":      "link-local",
		"0.0.0.0":           "unspecified",
		"0.1.2.3":           "unspecified",
		"::":                "unspecified",
		"100.64.0.1":        "shared (CGNAT)",
		"100.100.100.200":   "shared (CGNAT)",
		"224.0.0.1":         "multicast",
		"239.255.255.250":   "multicast",
		"ff02::1":           "multicast",
		"255.255.255.255":   "broadcast",
		"240.0.0.1":         "reserved",
		"192.0.0.8":         "IETF protocol",
		"192.0.2.1":         "documentation",
		"198.51.100.7":      "documentation",
		"203.0.113.9":       "documentation",
		"2001:db8::1":       "documentation",
		"198.18.0.1":        "benchmarking",
		"64:ff9b::a00:1":    "private",  // NAT64 of 10.0.0.1
		"64:ff9b::7f00:1":   "loopback", // NAT64 of 127.0.0.1
		"64:ff9b:1::1":      "private (local NAT64)",
		"2002:a9fe:a9fe::1": "link-local (cloud metadata)", // 6to4 of 169.254.169.254
		"2001::1":           "IETF protocol",               // Teredo
		"100::1":            "discard-only",
		"fec0::1":           "site-local",
		"::127.0.0.1":       "reserved", // IPv4-compatible, deprecated
		"4000::1":           "reserved",
		"3fff::1":           "documentation",
	}
	for in, want := range cases {
		require.Equal(t, want, addressClass(netip.MustParseAddr(in)), in)
	}
	require.Equal(t, "invalid", addressClass(netip.Addr{}))
}

func TestAddrGuard(t *testing.T) {
	t.Parallel()
	g := addrGuard{allow: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("fe80::/10")}}
	require.NoError(t, g.check(netip.MustParseAddr("10.1.2.3")))
	require.NoError(t, g.check(netip.MustParseAddr("::ffff:10.1.2.3")), "a mapped address matches its IPv4 prefix")
	require.NoError(t, g.check(netip.MustParseAddr("fe80::1%eth0")), "the zone does not defeat the allow list")
	require.NoError(t, g.check(netip.MustParseAddr("93.184.215.14")), "public addresses need no allow list")
	err := g.check(netip.MustParseAddr("10.2.0.1"))
	require.EqualError(t, err, "target 10.2.0.1 is a private address; allow it with FLASK_HTTP_ALLOW_CIDRS")
	err = g.check(netip.MustParseAddr("0.0.0.0"))
	require.EqualError(t, err, "target 0.0.0.0 is an unspecified address; allow it with FLASK_HTTP_ALLOW_CIDRS")

	require.NoError(t, g.control(t.Context(), "tcp4", "10.1.0.9:443", nil))
	require.Error(t, g.control(t.Context(), "tcp6", "[::1]:443", nil))
	require.Error(t, g.control(t.Context(), "tcp", "example.com:443", nil), "an unresolved name must be refused")
}

func TestParseCIDRs(t *testing.T) {
	t.Parallel()
	got, err := ParseCIDRs(" 10.0.0.0/8, fd00::/8,,192.168.1.5 ,::ffff:172.16.0.1")
	require.NoError(t, err)
	require.Equal(t, []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("fd00::/8"),
		netip.MustParsePrefix("192.168.1.5/32"),
		netip.MustParsePrefix("172.16.0.1/32"),
	}, got)

	got, err = ParseCIDRs("")
	require.NoError(t, err)
	require.Empty(t, got)

	for in, want := range map[string]string{
		"10.0.0.0/33":   "not a prefix",
		"10.1.2.3/8":    "did you mean 10.0.0.0/8?",
		"example.com":   "not an address or prefix",
		"10.0.0.0/8,x/": "not a prefix",
	} {
		_, err := ParseCIDRs(in)
		require.ErrorContains(t, err, want, in)
		require.False(t, strings.Contains(err.Error(), "\n"), in)
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	require.Equal(t, "abc", truncate("abc", 3))
	require.Equal(t, "a…", truncate("abcdef", 4))
	require.Equal(t, "…", truncate("ééé", 4), "never cut inside a rune")
	require.Equal(t, "", truncate("abcdef", 2))
	for n := 0; n < 20; n++ {
		s := truncate(strings.Repeat("日本", 5), n)
		require.LessOrEqual(t, len(s), n)
	}
}
