package web

import (
	"net"
	"net/http"
)

// clientAddr is the address the request came from, without the port. Behind
// a proxy it is the proxy's: forwarded headers are not trusted.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
