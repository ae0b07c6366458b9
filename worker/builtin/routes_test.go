package builtin_test

import (
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/worker/builtin"
)

func TestParseRoutes(t *testing.T) {
	t.Parallel()
	got, err := builtin.ParseRoutes(" invoice.render = https://render.internal/jobs?sig=a=b ,, mail:send=http://mailer:8080/send,")
	require.NoError(t, err)
	require.Equal(t, map[string]string{
		"invoice.render": "https://render.internal/jobs?sig=a=b",
		"mail:send":      "http://mailer:8080/send",
	}, got)

	got, err = builtin.ParseRoutes("")
	require.NoError(t, err)
	require.Empty(t, got)

	for in, want := range map[string]string{
		"nope":                    `route "nope": want type=url`,
		"=http://x/":              "type must not be empty",
		"bad type=http://x/":      `type "bad type" must be`,
		"a=":                      "route a: URL is empty",
		"a=ftp://x/":              `route a: URL scheme "ftp" is not http or https`,
		"a=/relative":             `URL scheme "" is not http or https`,
		"a=http://":               "has no host",
		"a=http:opaque":           "has no host",
		"a=http://:8080/":         "has no host",
		"a=http://[::1/":          "does not parse",
		"a=http://x:port/":        "does not parse",
		"a=http://x/,a=http://y/": "route a: type is routed twice",
		"a=http://x/," + strings.Repeat("t", 200):   "want type=url",
		"a=http://x/,b=" + strings.Repeat("t", 200): "route b: URL scheme",
	} {
		got, err := builtin.ParseRoutes(in)
		require.Nil(t, got, in)
		require.ErrorContains(t, err, want, in)
		require.NotContains(t, err.Error(), "\n", in)
		require.Less(t, len(err.Error()), 200, "errors stay on one short line: %s", err)
	}

	// Credentials in a URL never reach an error message.
	for _, in := range []string{"a=ftp://user:hunter2@x/", "a=http://user:hunter2@/", "a=http://u:hunter2@x:bad/"} {
		_, err := builtin.ParseRoutes(in)
		require.Error(t, err, in)
		require.NotContains(t, err.Error(), "hunter2", in)
	}
}

func TestHTTPSpecs(t *testing.T) {
	t.Parallel()
	require.Empty(t, builtin.HTTPSpecs(nil))
	routes := map[string]string{"z.hook": "https://z/", "a.hook": "https://a/"}
	require.Equal(t, []job.Spec{{Type: "a.hook"}, {Type: "z.hook"}}, builtin.HTTPSpecs(routes))
}

func FuzzParseRoutes(f *testing.F) {
	for _, seed := range []string{
		"", "a=http://x/", "a=https://x:1/p?q=1=2,b=http://[::1]:80/",
		"=", ",,,", "a=http://", "a = http://x/ , b=https://y", "a=http://x/,a=http://x/",
		"a=http://%zz/", "a=http://x/\x00", "é=http://x/",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		routes, err := builtin.ParseRoutes(s)
		if err != nil {
			if routes != nil {
				t.Fatalf("routes %v returned with error %v", routes, err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		entries := make([]string, 0, len(routes))
		for typ, target := range routes {
			if err := job.ValidateType(typ); err != nil {
				t.Fatalf("accepted bad type %q: %v", typ, err)
			}
			u, err := url.Parse(target)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
				t.Fatalf("accepted bad URL %q", target)
			}
			entries = append(entries, typ+"="+target)
		}
		sort.Strings(entries)
		again, err := builtin.ParseRoutes(strings.Join(entries, ","))
		if err != nil {
			t.Fatalf("re-parsing %q: %v", entries, err)
		}
		if len(again) != len(routes) {
			t.Fatalf("round trip changed %v into %v", routes, again)
		}
		for k, v := range routes {
			if again[k] != v {
				t.Fatalf("round trip changed %v into %v", routes, again)
			}
		}
	})
}
