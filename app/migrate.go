package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/flaskhq/flask/store"
)

// MigrateUsage is the synopsis of the migrate command.
const MigrateUsage = "migrate [--database URL]   apply database migrations (default: FLASK_DATABASE_URL)"

// MigrateCmd is the migrate command that both 'flaskctl migrate' and
// 'flask-api migrate' run (the Helm hook uses the latter, as the API image
// holds only flask-api). It applies every pending migration to the database
// given by --database, else by FLASK_DATABASE_URL read through getenv, and
// prints one line with the applied versions and the schema version to
// stdout. Warnings go to stderr. Bad use is one error line; -h prints the
// usage to stdout and returns flag.ErrHelp.
func MigrateCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dsn := fs.String("database", getenv("FLASK_DATABASE_URL"), "database URL (default FLASK_DATABASE_URL)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "Usage:", MigrateUsage)
			return err
		}
		return fmt.Errorf("migrate: %w (usage: %s)", err, MigrateUsage)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("migrate: unexpected argument %q (usage: %s)", fs.Arg(0), MigrateUsage)
	}
	if *dsn == "" {
		return errors.New("migrate: no database: set FLASK_DATABASE_URL or --database")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := store.Open(ctx, *dsn, store.Config{MaxOpenConns: 2}, log)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer st.Close()
	applied, err := st.Migrate(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	v, err := st.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "database schema is up to date at version %d\n", v)
		return nil
	}
	fmt.Fprintf(stdout, "applied migrations %v; schema is at version %d\n", applied, v)
	return nil
}
