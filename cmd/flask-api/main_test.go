package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/store"
	"github.com/flaskhq/flask/store/storetest"
)

// mainArgsEnv makes the test binary run main with these JSON-encoded
// arguments instead of the tests, so that exit codes can be checked.
const mainArgsEnv = "FLASK_API_TEST_MAIN_ARGS"

func TestMain(m *testing.M) {
	if a := os.Getenv(mainArgsEnv); a != "" {
		var args []string
		if err := json.Unmarshal([]byte(a), &args); err != nil {
			panic(err)
		}
		os.Args = append([]string{"flask-api"}, args...)
		main()
		os.Exit(0)
	}
	code := m.Run()
	storetest.ClosePostgres()
	os.Exit(code)
}

func noEnv(string) string { return "" }

// checkSchema fails unless the database at dsn has this build's schema.
func checkSchema(t *testing.T, dsn string) {
	t.Helper()
	st, err := store.Open(context.Background(), dsn, store.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	defer st.Close()
	require.NoError(t, st.CheckSchema(context.Background()))
}

func TestMigrateSQLite(t *testing.T) {
	t.Parallel()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "flask.db")
	var out, errOut bytes.Buffer
	require.NoError(t, run([]string{"migrate", "--database", dsn}, &out, &errOut, noEnv))
	require.Regexp(t, `^applied migrations \[1( \d+)*\]; schema is at version \d+\n$`, out.String())
	require.Empty(t, errOut.String())
	checkSchema(t, dsn)

	out.Reset()
	require.NoError(t, run([]string{"migrate", "--database", dsn}, &out, &errOut, noEnv))
	require.Regexp(t, `^database schema is up to date at version \d+\n$`, out.String())
}

func TestMigratePostgresFromEnv(t *testing.T) {
	t.Parallel()
	dsn := storetest.PostgresDB(t)
	getenv := func(k string) string {
		if k == "FLASK_DATABASE_URL" {
			return dsn
		}
		return ""
	}
	var out, errOut bytes.Buffer
	require.NoError(t, run([]string{"migrate"}, &out, &errOut, getenv))
	require.Contains(t, out.String(), "applied migrations [1")
	checkSchema(t, dsn)
}

func TestHelp(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := run([]string{"migrate", "-h"}, &out, io.Discard, noEnv)
	require.True(t, errors.Is(err, flag.ErrHelp), "err = %v", err)
	require.Contains(t, out.String(), "migrate [--database URL]")
}

// TestBadUse runs the binary's main: bad use prints one line and exits 1.
func TestBadUse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve"}, `flask-api: unknown command "serve"`},
		{[]string{"migrate", "--nope"}, "flask-api: migrate: flag provided but not defined: -nope"},
		{[]string{"migrate", "extra"}, `flask-api: migrate: unexpected argument "extra"`},
		{[]string{"migrate"}, "flask-api: migrate: no database: set FLASK_DATABASE_URL or --database"},
		{[]string{"migrate", "--database", "mysql://x"}, "flask-api: migrate: "},
	} {
		t.Run(strings.Join(tc.args, "_"), func(t *testing.T) {
			t.Parallel()
			a, err := json.Marshal(tc.args)
			require.NoError(t, err)
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), mainArgsEnv+"="+string(a), "FLASK_DATABASE_URL=")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err = cmd.Run()
			var exit *exec.ExitError
			require.True(t, errors.As(err, &exit), "want a non-zero exit, got %v", err)
			require.Equal(t, 1, exit.ExitCode())
			require.Empty(t, stdout.String())
			require.True(t, strings.HasPrefix(stderr.String(), tc.want), "stderr %q does not start with %q", stderr.String(), tc.want)
			require.Equal(t, 1, strings.Count(stderr.String(), "\n"), "want one line, got %q", stderr.String())
		})
	}
}
