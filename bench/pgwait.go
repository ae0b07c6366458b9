package main

import (
	"context"
	"database/sql"
	"sort"
	"strings"
	"sync"
	"time"
)

// activity samples pg_stat_activity for the sessions of one database: what
// each of Flask's connections is doing (running a statement on the CPU,
// waiting on an event such as a WAL flush, or idle in a transaction waiting
// for the client), and which statement. It is a sampling profile of the
// database side.
type activity struct {
	stop, done chan struct{}

	mu      sync.Mutex
	samples int
	counts  map[activityKey]int
}

// activityKey is one kind of session state.
type activityKey struct {
	App   string // application_name: flask-api or flask-worker
	State string // active, idle in transaction, idle
	Wait  string // wait_event_type:wait_event, or CPU while active without a wait
	Stmt  string // the statement, classified
}

// activityRow is one line of the report.
type activityRow struct {
	activityKey
	// Sessions is the average number of sessions in this state.
	Sessions float64
}

func startActivity(ctx context.Context, db *sql.DB, dbName string, every time.Duration) *activity {
	a := &activity{stop: make(chan struct{}), done: make(chan struct{}), counts: map[activityKey]int{}}
	go func() {
		defer close(a.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-a.stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			a.sample(ctx, db, dbName)
		}
	}()
	return a
}

func (a *activity) sample(ctx context.Context, db *sql.DB, dbName string) {
	rows, err := db.QueryContext(ctx, `SELECT application_name, COALESCE(state, ''),
			COALESCE(wait_event_type || ':' || wait_event, ''), left(query, 200)
		FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND application_name LIKE 'flask-%'`, dbName)
	if err != nil {
		return
	}
	defer rows.Close()
	seen := map[activityKey]int{}
	for rows.Next() {
		var k activityKey
		var q string
		if err := rows.Scan(&k.App, &k.State, &k.Wait, &q); err != nil {
			return
		}
		if k.State == "idle" {
			k.Wait, k.Stmt = "", ""
		} else {
			k.Stmt = classify(q)
			if k.Wait == "" && k.State == "active" {
				k.Wait = "CPU"
			}
		}
		seen[k]++
	}
	if rows.Err() != nil {
		return
	}
	a.mu.Lock()
	a.samples++
	for k, n := range seen {
		a.counts[k] += n
	}
	a.mu.Unlock()
}

// finish stops sampling and returns the states by average session count,
// busiest first, and the number of samples.
func (a *activity) finish() ([]activityRow, int) {
	close(a.stop)
	<-a.done
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []activityRow
	for k, n := range a.counts {
		out = append(out, activityRow{activityKey: k, Sessions: float64(n) / float64(max(a.samples, 1))})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Sessions != out[j].Sessions {
			return out[i].Sessions > out[j].Sessions
		}
		return out[i].App+out[i].State+out[i].Wait+out[i].Stmt < out[j].App+out[j].State+out[j].Wait+out[j].Stmt
	})
	return out, a.samples
}

// classify names one of Flask's statements from its text.
func classify(q string) string {
	s := strings.Join(strings.Fields(q), " ")
	switch {
	case s == "":
		return ""
	case strings.HasPrefix(s, "INSERT INTO jobs"):
		return "insert jobs"
	case strings.HasPrefix(s, "INSERT INTO job_outbox"):
		return "insert outbox"
	case strings.HasPrefix(s, "DELETE FROM job_outbox"):
		return "delete outbox"
	case strings.HasPrefix(s, "UPDATE jobs SET state = CASE WHEN cancel_requested_at"):
		return "claim: end abandoned"
	case strings.HasPrefix(s, "UPDATE jobs SET errors = CASE"):
		return "claim: update"
	case strings.HasPrefix(s, "SELECT id, state, NOT"):
		return "claim: read the rest"
	case strings.HasPrefix(s, "UPDATE jobs SET state = v_state"):
		return "finish"
	case strings.HasPrefix(s, "INSERT INTO workers"), strings.HasPrefix(s, "SELECT id FROM jobs WHERE worker_id"):
		return "heartbeat"
	case strings.HasPrefix(s, "UPDATE jobs SET state = 'queued' WHERE id IN"), strings.HasPrefix(s, "SELECT id, job_id, queue, type, created_at FROM job_outbox"):
		return "relay"
	case strings.HasPrefix(s, "SELECT queue, state, COUNT(*)"), strings.HasPrefix(s, "SELECT queue, MIN(run_at)"), strings.HasPrefix(s, "SELECT COUNT(*) AS n, MIN(created_at)"):
		return "metrics"
	}
	word, _, _ := strings.Cut(s, " ")
	switch strings.ToUpper(word) {
	case "BEGIN", "COMMIT", "ROLLBACK":
		return strings.ToUpper(word)
	}
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}
