package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	_ "github.com/lib/pq" // PostgreSQL driver for the admin connection
	"github.com/stretchr/testify/require"
)

// HowToRunPostgres tells how to get a PostgreSQL for the tests.
const HowToRunPostgres = "TEST_DATABASE_URL is not set: run the tests with " +
	"`scripts/with-postgres.sh go test ./...` (it starts a throwaway cluster), " +
	"point TEST_DATABASE_URL at a server where you may create databases, or pass -short to skip them"

// PostgresDB returns the URL of an empty database on the server named by
// TEST_DATABASE_URL, dropped after the test. Without TEST_DATABASE_URL the
// test fails — it is skipped only with -short — so that a green run never
// hides that the PostgreSQL half did not run. Call ClosePostgres from
// TestMain so that the background drops finish.
func PostgresDB(tb testing.TB) string {
	tb.Helper()
	return postgresAdmin(tb).createDatabase(tb)
}

// ClosePostgres waits for the databases being dropped and closes the admin
// connection, if PostgresDB opened one.
func ClosePostgres() {
	adminMu.Lock()
	a := admin
	adminMu.Unlock()
	if a != nil {
		a.close()
	}
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

// The admin connection is shared by the tests of one process.
var (
	adminOnce sync.Once
	adminMu   sync.Mutex
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
			tb.Skip("-short: " + HowToRunPostgres)
		}
		tb.Fatal(HowToRunPostgres)
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
		a := &pgAdmin{url: u, db: db, ready: make(chan created, 1024)}
		for range pgAhead {
			a.createAhead()
		}
		adminMu.Lock()
		admin = a
		adminMu.Unlock()
	})
	require.NoError(tb, adminErr)
	adminMu.Lock()
	defer adminMu.Unlock()
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
			fmt.Fprintf(os.Stderr, "tests: drop database %s: %v\n", name, err)
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
