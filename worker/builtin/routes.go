package builtin

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/flaskhq/flask/job"
)

// ParseRoutes reads HTTP routes in the form "type=url,type2=url2", the
// format of FLASK_HTTP_ROUTES, e.g.
//
//	invoice.render=https://render.internal/jobs,mail.send=http://mailer:8080/send
//
// Each type must be a valid job type named once; each URL absolute, http or
// https, with a host. URLs may hold '=' but not ','; write a comma as %2C. An
// empty string yields no routes.
func ParseRoutes(s string) (map[string]string, error) {
	routes := map[string]string{}
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		typ, target, ok := strings.Cut(entry, "=")
		typ, target = strings.TrimSpace(typ), strings.TrimSpace(target)
		if !ok {
			return nil, fmt.Errorf("route %q: want type=url", truncate(entry, 64))
		}
		if err := checkRoute(typ, target); err != nil {
			return nil, err
		}
		if _, dup := routes[typ]; dup {
			return nil, fmt.Errorf("route %s: type is routed twice", typ)
		}
		routes[typ] = target
	}
	return routes, nil
}

// checkRoute explains what is wrong with one route, or returns nil. Its
// messages never echo the URL whole, which may carry credentials.
func checkRoute(typ, target string) error {
	if err := job.ValidateType(typ); err != nil {
		return fmt.Errorf("route: %w", err)
	}
	if _, err := parseTarget(target); err != nil {
		return fmt.Errorf("route %s: %w", typ, err)
	}
	return nil
}

// parseTarget parses a route URL and checks that it is an absolute http or
// https URL with a host.
func parseTarget(target string) (*url.URL, error) {
	if target == "" {
		return nil, fmt.Errorf("URL is empty")
	}
	u, err := url.Parse(target)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the whole URL
		}
		return nil, fmt.Errorf("URL does not parse (%v); want an absolute http or https URL", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("URL scheme %q is not http or https", truncate(u.Scheme, 16))
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("URL %s has no host", safeURL(u))
	}
	return u, nil
}

// safeURL renders u for errors and logs: no user info, query or fragment,
// which may carry credentials.
func safeURL(u *url.URL) string {
	v := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return v.String()
}

// HTTPSpecs returns one spec per routed type, sorted by type, for the API's
// catalog. A spec among overrides whose type is routed replaces the default
// (job.Spec{Type: t}, platform defaults); overrides of other types are
// ignored, so the same list can be passed here and to RegisterHTTP.
func HTTPSpecs(routes map[string]string, overrides ...job.Spec) []job.Spec {
	byType := make(map[string]job.Spec, len(overrides))
	for _, s := range overrides {
		byType[s.Type] = s
	}
	types := make([]string, 0, len(routes))
	for t := range routes {
		types = append(types, t)
	}
	sort.Strings(types)
	out := make([]job.Spec, 0, len(types))
	for _, t := range types {
		s, ok := byType[t]
		if !ok {
			s = job.Spec{Type: t}
		}
		out = append(out, s)
	}
	return out
}
