package store_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/store"
	"github.com/flaskhq/flask/store/storetest"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, openSQLite)
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, cfg store.Config) *store.Store {
		return openPostgres(t, cfg)
	})
}

// openSQLite opens a store on a new file in t.TempDir().
func openSQLite(t *testing.T, cfg store.Config) *store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "flask.db"), cfg, discard())
	require.NoError(t, err, "open SQLite store")
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestMain(m *testing.M) {
	code := m.Run()
	storetest.ClosePostgres()
	os.Exit(code)
}

// openPostgres opens a store on a new database of the test server.
func openPostgres(tb testing.TB, cfg store.Config) *store.Store {
	tb.Helper()
	dsn := storetest.PostgresDB(tb)
	s, err := store.Open(context.Background(), dsn, cfg, discard())
	require.NoError(tb, err, "open PostgreSQL store")
	tb.Cleanup(func() { require.NoError(tb, s.Close()) })
	return s
}
