package store

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseDSNPostgres(t *testing.T) {
	for _, dsn := range []string{
		"postgres://flask:secret@db:5432/flask?sslmode=disable",
		"postgresql://flask@db/flask",
		"postgres:///flask?host=/var/run/postgresql",
	} {
		d, driver, source, err := parseDSN(dsn)
		require.NoError(t, err, dsn)
		require.Equal(t, postgres, d, dsn)
		require.Equal(t, "postgres", driver, dsn)
		require.Equal(t, dsn, source, "lib/pq takes the URL as it is")
	}
}

func TestParseDSNErrors(t *testing.T) {
	for dsn, want := range map[string]string{
		"":                                "empty",
		"  ":                              "empty",
		"postgres://flask:secret@db/%zz":  "not a valid postgres:// URL",
		"postgres:///flask":               "no host",
		"sqlite:":                         "path is empty",
		"file:?_pragma=journal_mode(WAL)": "path is empty",
		"x.db?%zz":                        "bad query",
	} {
		_, _, _, err := parseDSN(dsn)
		require.Error(t, err, "%q", dsn)
		require.Contains(t, err.Error(), want, "%q", dsn)
		require.NotContains(t, err.Error(), "secret", "the password is never in an error")
	}
}

// sqliteSource splits a driver source into its path and query.
func sqliteSource(t *testing.T, source string) (string, url.Values) {
	t.Helper()
	require.True(t, strings.HasPrefix(source, "file:"), source)
	path, query, _ := strings.Cut(strings.TrimPrefix(source, "file:"), "?")
	q, err := url.ParseQuery(query)
	require.NoError(t, err)
	return path, q
}

func TestParseDSNSQLite(t *testing.T) {
	defaults := []string{"busy_timeout(10000)", "foreign_keys(ON)", "journal_mode(WAL)", "synchronous(NORMAL)"}
	for dsn, path := range map[string]string{
		"flask.db":               "flask.db",
		"./data/flask.db":        "./data/flask.db",
		"/var/lib/flask/db":      "/var/lib/flask/db",
		"sqlite:flask.db":        "flask.db",
		"sqlite:///tmp/flask.db": "/tmp/flask.db",
		"sqlite://flask.db":      "flask.db",
		"file:flask.db":          "flask.db",
		"file:/tmp/flask.db":     "/tmp/flask.db",
	} {
		d, driver, source, err := parseDSN(dsn)
		require.NoError(t, err, dsn)
		require.Equal(t, sqlite, d, dsn)
		require.Equal(t, "sqlite", driver, dsn)
		gotPath, q := sqliteSource(t, source)
		require.Equal(t, path, gotPath, dsn)
		require.ElementsMatch(t, defaults, q["_pragma"], dsn)
		require.Equal(t, "immediate", q.Get("_txlock"), dsn)
	}
}

func TestParseDSNSQLiteKeepsOwnParameters(t *testing.T) {
	_, _, source, err := parseDSN("file:flask.db?mode=rwc&_pragma=journal_mode(DELETE)&_pragma=busy_timeout=500&_txlock=deferred")
	require.NoError(t, err)
	path, q := sqliteSource(t, source)
	require.Equal(t, "flask.db", path)
	require.Equal(t, "rwc", q.Get("mode"))
	require.Equal(t, "deferred", q.Get("_txlock"))
	require.ElementsMatch(t, []string{"journal_mode(DELETE)", "busy_timeout=500", "foreign_keys(ON)", "synchronous(NORMAL)"}, q["_pragma"],
		"a pragma the DSN sets is not set twice")
}

// TestParseDSNSQLiteOpens checks that the driver accepts the source and
// applies the pragmas.
func TestParseDSNSQLiteOpens(t *testing.T) {
	t.Parallel()
	_, driver, source, err := parseDSN("sqlite:" + filepath.Join(t.TempDir(), "flask.db"))
	require.NoError(t, err)
	db, err := sql.Open(driver, source)
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	var mode string
	require.NoError(t, db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode))
	require.Equal(t, "wal", mode)
	var n int
	require.NoError(t, db.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&n))
	require.Equal(t, 10000, n)
	require.NoError(t, db.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&n))
	require.Equal(t, 1, n)
	require.NoError(t, db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&n))
	require.Equal(t, 1, n, "NORMAL")
}
