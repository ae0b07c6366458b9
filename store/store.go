package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"  // PostgreSQL driver
	_ "modernc.org/sqlite" // pure-Go SQLite driver
)

type dialect int

const (
	postgres dialect = iota
	sqlite
)

func (d dialect) String() string {
	if d == postgres {
		return "postgres"
	}
	return "sqlite"
}

// Config tunes a Store.
type Config struct {
	// MaxOpenConns caps the connection pool (PostgreSQL). Default 16. SQLite
	// always uses one connection: it has a single writer anyway.
	MaxOpenConns int
	// MaxBatch caps how many items one group-commit transaction carries. Default 1000.
	MaxBatch int
	// Flushers is how many group-commit transactions of one kind may run at
	// once (PostgreSQL). Default 4; SQLite uses 1.
	Flushers int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Store is Flask's durable state. Its methods are safe for concurrent use.
type Store struct {
	db  *sqlx.DB
	d   dialect
	cfg Config
	log *slog.Logger
	now func() time.Time

	inserts *batcher[[]InsertParams, insertOutcome]
	finish  *batcher[FinishParams, bool]

	// forget holds outbox ids deleted in the background (ForgetOutbox).
	forgetMu   sync.Mutex
	forget     []string
	forgetKick chan struct{}
	forgetStop chan struct{}
	forgetDone chan struct{}
	forgetOnce sync.Once
}

// Open connects to the database named by dsn: a postgres:// or postgresql://
// URL, or an SQLite file given as sqlite:PATH, file:PATH or a plain path. It
// does not migrate: call Migrate, or CheckSchema to fail fast when behind.
func Open(ctx context.Context, dsn string, cfg Config, log *slog.Logger) (*Store, error) {
	if cfg.MaxOpenConns <= 0 {
		cfg.MaxOpenConns = 16
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1000
	}
	if cfg.Flushers <= 0 {
		cfg.Flushers = 4
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	d, driver, source, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	db, err := sqlx.Open(driver, source)
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", d, err)
	}
	if d == sqlite {
		db.SetMaxOpenConns(1)
		cfg.Flushers = 1
	} else {
		db.SetMaxOpenConns(cfg.MaxOpenConns)
		db.SetMaxIdleConns(cfg.MaxOpenConns)
		db.SetConnMaxIdleTime(5 * time.Minute)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("connect to %s database: %w", d, err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{db: db, d: d, cfg: cfg, log: log, now: func() time.Time { return dbPrecision(cfg.Now()) }}
	s.inserts = newBatcher(cfg.MaxBatch, cfg.Flushers, func(p []InsertParams) int { return len(p) }, s.insertGroup)
	s.finish = newBatcher(cfg.MaxBatch, cfg.Flushers, nil, s.finishGroup)
	s.forgetKick, s.forgetStop, s.forgetDone = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	go s.forgetLoop()
	return s, nil
}

// dbPrecision returns t as both databases keep it: UTC, in whole
// microseconds (PostgreSQL would round the nanoseconds, SQLite's Unix
// microseconds truncate them). Every time the store writes or returns passes
// through it, so a job returned by a write equals the job read back.
func dbPrecision(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// sqlitePragmas are set on every SQLite connection unless the DSN sets them:
// WAL lets readers run beside the writer, busy_timeout waits out other
// processes' locks instead of failing.
var sqlitePragmas = []struct{ name, value string }{
	{"journal_mode", "WAL"},
	{"synchronous", "NORMAL"},
	{"busy_timeout", "10000"},
	{"foreign_keys", "ON"},
}

// parseDSN picks the dialect, driver name and driver source for a database
// URL. For SQLite it keeps the DSN's own query parameters and adds the
// pragmas above (those the DSN does not set) and immediate transactions, so a
// transaction that will write takes the write lock when it begins.
func parseDSN(dsn string) (dialect, string, string, error) {
	switch {
	case strings.TrimSpace(dsn) == "":
		return 0, "", "", errors.New("database URL is empty: set a postgres:// URL or an SQLite path")
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		u, err := url.Parse(dsn)
		if err != nil {
			// The error would quote the URL, password and all.
			return 0, "", "", errors.New("database URL is not a valid postgres:// URL")
		}
		if u.Host == "" && u.Query().Get("host") == "" {
			return 0, "", "", errors.New("database URL names no host: want postgres://user:password@host:5432/db")
		}
		return postgres, "postgres", dsn, nil
	}
	path := dsn
	for _, prefix := range []string{"sqlite://", "sqlite:", "file:"} {
		if strings.HasPrefix(path, prefix) {
			path = path[len(prefix):]
			break
		}
	}
	var query string
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path, query = path[:i], path[i+1:]
	}
	if path == "" {
		return 0, "", "", errors.New("SQLite database path is empty")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return 0, "", "", fmt.Errorf("SQLite database URL: bad query %q: %w", query, err)
	}
	set := map[string]bool{}
	for _, p := range q["_pragma"] {
		name, _, _ := strings.Cut(p, "(")
		name, _, _ = strings.Cut(name, "=")
		set[strings.ToLower(strings.TrimSpace(name))] = true
	}
	for _, p := range sqlitePragmas {
		if !set[p.name] {
			q.Add("_pragma", p.name+"("+p.value+")")
		}
	}
	if q.Get("_txlock") == "" {
		q.Set("_txlock", "immediate")
	}
	return sqlite, "sqlite", "file:" + path + "?" + q.Encode(), nil
}

// Dialect names the database in use: "postgres" or "sqlite".
func (s *Store) Dialect() string { return s.d.String() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", s.d, err)
	}
	return nil
}

// Close deletes the outbox entries still waiting to be forgotten, stops the
// group-commit flushers, then closes the pool.
func (s *Store) Close() error {
	s.forgetOnce.Do(func() { close(s.forgetStop) })
	<-s.forgetDone
	s.inserts.close()
	s.finish.close()
	return s.db.Close()
}

//go:embed migrations
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

func (s *Store) migrations() ([]migration, error) {
	dir := "migrations/" + s.d.String()
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration file %s must be named NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(migrationFS, dir+"/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// LatestSchemaVersion is the schema version this build expects.
func (s *Store) LatestSchemaVersion() (int, error) {
	ms, err := s.migrations()
	if err != nil || len(ms) == 0 {
		return 0, err
	}
	return ms[len(ms)-1].version, nil
}

// SchemaVersion reports the version the database is at (0 when unmigrated).
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var exists bool
	q := `SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_name = 'schema_migrations' AND table_schema = current_schema())`
	if s.d == sqlite {
		q = `SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')`
	}
	if err := s.db.GetContext(ctx, &exists, q); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := s.db.GetContext(ctx, &v, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// CheckSchema returns an error telling the operator to migrate when the
// database is behind this build, or ahead of it.
func (s *Store) CheckSchema(ctx context.Context) error {
	have, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	want, err := s.LatestSchemaVersion()
	if err != nil {
		return err
	}
	switch {
	case have < want:
		return fmt.Errorf("database schema is at version %d but this build needs %d: run 'flaskctl migrate'", have, want)
	case have > want:
		return fmt.Errorf("database schema is at version %d, newer than this build's %d: upgrade Flask", have, want)
	}
	return nil
}

// Migrate applies the migrations the database lacks, each in its own
// transaction, and returns the versions applied. On PostgreSQL an advisory
// lock keeps concurrent migrators (say, two Helm hooks) from racing.
func (s *Store) Migrate(ctx context.Context) ([]int, error) {
	ms, err := s.migrations()
	if err != nil {
		return nil, err
	}
	conn, err := s.db.Connx(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	if s.d == postgres {
		const lockKey = 7_246_901_355 // arbitrary, fixed: "flask migrations"
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, lockKey); err != nil {
			return nil, fmt.Errorf("migrate: take lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lockKey) //nolint:errcheck // released with the session anyway
	}
	create := `CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`
	if s.d == sqlite {
		create = `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)))`
	}
	if _, err := conn.ExecContext(ctx, create); err != nil {
		return nil, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	var applied []int
	for _, m := range ms {
		var n int
		if err := conn.GetContext(ctx, &n, s.rebind(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), m.version); err != nil {
			return applied, fmt.Errorf("migrate: %w", err)
		}
		if n > 0 {
			continue
		}
		tx, err := conn.BeginTxx(ctx, nil)
		if err != nil {
			return applied, fmt.Errorf("migrate %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			_ = tx.Rollback()
			return applied, fmt.Errorf("migrate %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO schema_migrations (version, name) VALUES (?, ?)`), m.version, m.name); err != nil {
			_ = tx.Rollback()
			return applied, fmt.Errorf("migrate %s: record: %w", m.name, err)
		}
		if err := tx.Commit(); err != nil {
			return applied, fmt.Errorf("migrate %s: commit: %w", m.name, err)
		}
		applied = append(applied, m.version)
	}
	return applied, nil
}

func (s *Store) rebind(q string) string {
	if s.d == postgres {
		return sqlx.Rebind(sqlx.DOLLAR, q)
	}
	return q
}
