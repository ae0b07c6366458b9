package app

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDrainOnlyFromLoopback(t *testing.T) {
	done := make(chan struct{})
	started := 0
	var once sync.Once
	d := drainer{start: func() { started++; once.Do(func() { close(done) }) }, done: done}

	for _, remote := range []string{"10.0.3.7:4410", "[2001:db8::1]:80", "garbage"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/drain", nil)
		req.RemoteAddr = remote
		d.ServeHTTP(rec, req)
		require.Equal(t, http.StatusForbidden, rec.Code, remote)
	}
	require.Zero(t, started, "a remote caller must not start the drain")

	for _, remote := range []string{"127.0.0.1:5000", "[::1]:5000", "[::ffff:127.0.0.1]:5000"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/drain", nil)
		req.RemoteAddr = remote
		d.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code, remote)
		require.Equal(t, "drained\n", rec.Body.String())
	}
	require.Equal(t, 3, started, "each loopback request starts (or joins) the drain")
}
