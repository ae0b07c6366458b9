package store_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
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

// pgAdmin is a connection to the server named by TEST_DATABASE_URL that
// creates one database per test and drops it afterwards. CREATE DATABASE
// takes 0.1–0.5 s of server I/O, so databases are created a few ahead of need
// and dropped in the background: otherwise that wait would hold one of the
// few parallel test slots. TestMain waits for the drops.
type pgAdmin struct {
	url   *url.URL
	db    *sql.DB
	ready chan created   // created ahead, not yet handed out
	bg    sync.WaitGroup // creations and drops under way
}

type created struct {
	name string
	err  error
}

// pgAhead is how many databases are created ahead of need.
const pgAhead = 4

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
			adminErr = errors.New("TEST_DATABASE_URL is not a valid URL")
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
		db.SetMaxOpenConns(2 * pgAhead)
		admin = &pgAdmin{url: u, db: db, ready: make(chan created, 1024)}
		for range pgAhead {
			admin.createAhead()
		}
	})
	require.NoError(tb, adminErr)
	return admin
}

// createAhead creates one database in the background.
func (a *pgAdmin) createAhead() {
	a.bg.Go(func() {
		var b [6]byte
		_, _ = rand.Read(b[:])
		name := "flask_test_" + hex.EncodeToString(b[:])
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := a.db.ExecContext(ctx, "CREATE DATABASE "+name)
		if err != nil {
			err = fmt.Errorf("create database %s: %w", name, err)
		}
		a.ready <- created{name: name, err: err}
	})
}

// drop drops a database in the background; WITH (FORCE) ends sessions a
// failed test left open.
func (a *pgAdmin) drop(name string) {
	a.bg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := a.db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "store tests: drop database %s: %v\n", name, err)
		}
	})
}

// createDatabase hands out an empty database for one test, dropped after the
// test (and after the cleanups registered later, such as closing its store),
// and returns its URL.
func (a *pgAdmin) createDatabase(tb testing.TB) string {
	tb.Helper()
	a.createAhead()
	c := <-a.ready
	require.NoError(tb, c.err)
	tb.Cleanup(func() { a.drop(c.name) })
	u := *a.url
	u.Path = "/" + c.name
	return u.String()
}

// close waits for the work under way, drops the databases created ahead
// and closes the connection.
func (a *pgAdmin) close() {
	a.bg.Wait()
	for {
		select {
		case c := <-a.ready:
			if c.err == nil {
				a.drop(c.name)
			}
			continue
		default:
		}
		break
	}
	a.bg.Wait()
	_ = a.db.Close()
}

func TestMain(m *testing.M) {
	code := m.Run()
	if admin != nil {
		admin.close()
	}
	os.Exit(code)
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
