package store_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/store"
	"github.com/flaskhq/flask/store/storetest"
)

// howToRunPostgres tells how to get a PostgreSQL for the tests.
const howToRunPostgres = "TEST_DATABASE_URL is not set: run the PostgreSQL tests with " +
	"`scripts/with-postgres.sh go test ./store/...` (it starts a throwaway cluster), " +
	"point TEST_DATABASE_URL at a server where you may create databases, or pass -short to skip them"

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, openSQLite)
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	admin := postgresAdmin(t)
	storetest.Run(t, func(t *testing.T, cfg store.Config) *store.Store {
		return openPostgres(t, admin, cfg)
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

// pgAdmin is a connection to the server named by TEST_DATABASE_URL, used to
// create and drop one database per test.
type pgAdmin struct {
	url *url.URL
	db  *sql.DB
}

var (
	adminOnce sync.Once
	admin     *pgAdmin
	adminErr  error
)

// postgresAdmin connects to TEST_DATABASE_URL once per process. Without it the
// test fails (it is skipped only with -short): a green run must not hide that
// the PostgreSQL half never ran.
func postgresAdmin(tb testing.TB) *pgAdmin {
	tb.Helper()
	raw := os.Getenv("TEST_DATABASE_URL")
	if raw == "" {
		if testing.Short() {
			tb.Skip("-short: " + howToRunPostgres)
		}
		tb.Fatal(howToRunPostgres)
	}
	adminOnce.Do(func() {
		u, err := url.Parse(raw)
		if err != nil {
			adminErr = fmt.Errorf("TEST_DATABASE_URL is not a URL: %w", err)
			return
		}
		db, err := sql.Open("postgres", raw)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err = db.PingContext(ctx)
			cancel()
		}
		if err != nil {
			adminErr = fmt.Errorf("connect to TEST_DATABASE_URL: %w", err)
			return
		}
		db.SetMaxOpenConns(4)
		admin = &pgAdmin{url: u, db: db}
	})
	require.NoError(tb, adminErr)
	return admin
}

// createDatabase creates an empty database for one test, dropped (forcibly,
// after the test's store is closed) in tb.Cleanup, and returns its URL.
func (a *pgAdmin) createDatabase(tb testing.TB) string {
	tb.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "flask_test_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	_, err := a.db.ExecContext(ctx, "CREATE DATABASE "+name)
	require.NoError(tb, err, "create database %s", name)
	tb.Cleanup(func() {
		_, err := a.db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		require.NoError(tb, err, "drop database %s", name)
	})
	u := *a.url
	u.Path = "/" + name
	return u.String()
}

// openPostgres opens a store on a new database of the test server.
func openPostgres(tb testing.TB, a *pgAdmin, cfg store.Config) *store.Store {
	tb.Helper()
	dsn := a.createDatabase(tb)
	s, err := store.Open(context.Background(), dsn, cfg, discard())
	require.NoError(tb, err, "open PostgreSQL store")
	tb.Cleanup(func() { require.NoError(tb, s.Close()) })
	return s
}
