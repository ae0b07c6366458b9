package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"
)

// The hand-written analysis between these markers survives a rerun.
const (
	analysisBegin = "<!-- analysis: kept when make bench rewrites this file -->"
	analysisEnd   = "<!-- /analysis -->"
)

// targets of the issue, per scenario.
const (
	targetBatch     = 15000.0
	targetSingle    = 8000.0
	targetLatP50    = 5 * time.Millisecond
	targetLatP99    = 25 * time.Millisecond
	targetLatPhrase = "p50 ≤ 5 ms and p99 ≤ 25 ms (submit → start)"
)

func met(ok bool) string {
	if ok {
		return "**MET**"
	}
	return "**NOT MET**"
}

// verdict is a scenario's headline figure, target and verdict.
func verdict(r *result) (figure, target, status string) {
	if r.Err != "" && r.Times.N == 0 {
		return "—", "", "**FAILED**"
	}
	switch r.Name {
	case "batch":
		return fmt.Sprintf("%s jobs/s", thousands(r.Throughput())), "≥ 15,000 jobs/s", met(r.Err == "" && r.Throughput() >= targetBatch)
	case "single":
		return fmt.Sprintf("%s jobs/s", thousands(r.Throughput())), "≥ 8,000 jobs/s", met(r.Err == "" && r.Throughput() >= targetSingle)
	default:
		s := r.Times.Start
		return fmt.Sprintf("p50 %s, p99 %s", ms(s.P50), ms(s.P99)), targetLatPhrase,
			met(r.Err == "" && s.P50 <= targetLatP50 && s.P99 <= targetLatP99)
	}
}

func (b *bench) writeReport(path string, results []*result, sb []storeRow, prof []*inproc) error {
	analysis := "_Not written yet._"
	if old, err := os.ReadFile(path); err == nil {
		if _, rest, ok := strings.Cut(string(old), analysisBegin); ok {
			if body, _, ok := strings.Cut(rest, analysisEnd); ok {
				analysis = strings.TrimSpace(body)
			}
		}
	}
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format+"\n", args...) }
	c := b.cfg

	p("# Benchmarks")
	p("")
	p("End-to-end throughput and latency of Flask, measured by `%s` (`scripts/bench.sh`, driver in `bench/`) on %s.",
		c.command, time.Now().Format("2006-01-02"))
	p("This file is written by the driver; the analysis section is kept when it is rewritten.")
	if c.quick {
		p("")
		p("> **Smoke run** (`BENCH_QUICK=1`): small loads, figures not comparable with the targets.")
	}
	p("")
	p("## Setup")
	p("")
	p("| | |")
	p("|---|---|")
	p("| machine | %d CPUs (%s), %s memory |", b.mach.CPUs, b.mach.Model, b.mach.MemTotal)
	p("| Go | %s |", b.goVersion)
	var settings []string
	for _, s := range b.pg.Settings {
		settings = append(settings, s[0]+"="+s[1])
	}
	p("| PostgreSQL | %s (`scripts/with-postgres.sh`: %s) |", b.pg.Version, strings.Join(settings, ", "))
	p("| disk | %s writes of 8 KiB + fdatasync per second on the file system of PostgreSQL's data (%s ms each): the ceiling of un-grouped commits |",
		thousands(b.fsyncRate), fmt.Sprintf("%.2f", 1000/b.fsyncRate))
	p("| Flask | one `flask-api` and one `flask-worker` (built with `CGO_ENABLED=0`), `FLASK_QUEUES=default:%d`, `FLASK_DB_MAX_CONNS=%d`, `FLASK_LOG_LEVEL=warn`, other settings at their defaults%s; %s |",
		c.concurrency, c.dbConns, extraEnv(c), brokerLine(c))
	p("| placement | everything on 127.0.0.1 and on the same %d CPUs, the load generator included |", b.mach.CPUs)
	p("| method | each scenario gets a fresh database (`FLASK_MIGRATE=true`), a fresh broker (NATS server and stream, or SQS queues), fresh processes. Throughput is N / (max(finished_at) − min(created_at)) read from PostgreSQL once all N jobs have succeeded; latencies from the jobs' timestamps (`percentile_cont`). Memory: peak is VmHWM, end is VmRSS (`/proc/PID/status`); PostgreSQL is the sum of PSS over the postmaster and its children (peak sampled every second). CPU is user+system time from `/proc/PID/stat` between the first request and the poll that saw every job succeed. |")
	p("")
	p("## Results")
	p("")
	p("| scenario | measured | target | verdict |")
	p("|---|---|---|---|")
	for _, r := range results {
		fig, target, status := verdict(r)
		p("| %s | %s | %s | %s |", r.Title, fig, target, status)
	}
	for _, r := range results {
		b.writeScenario(&w, r)
	}
	if len(sb) > 0 {
		b.writeStoreBench(&w, sb)
	}
	p("## Hottest path")
	p("")
	b.writeProfiles(&w, results, prof)
	p("## Analysis")
	p("")
	p("%s", analysisBegin)
	p("%s", analysis)
	p("%s", analysisEnd)
	return os.WriteFile(path, []byte(w.String()), 0o644)
}

func extraEnv(c config) string {
	var parts []string
	for _, kv := range c.apiEnv {
		parts = append(parts, "api `"+kv+"`")
	}
	for _, kv := range c.workerEnv {
		parts = append(parts, "worker `"+kv+"`")
	}
	if len(c.dbParams) > 0 {
		parts = append(parts, "`"+c.dbParams.Encode()+"` added to `FLASK_DATABASE_URL`")
	}
	if len(parts) == 0 {
		return ""
	}
	return " except " + strings.Join(parts, ", ")
}

func (b *bench) writeScenario(w *strings.Builder, r *result) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("")
	p("### %s", r.Title)
	p("")
	p("Load: %s.", r.Load)
	p("")
	if r.Err != "" {
		p("**Did not complete:** %s", r.Err)
		p("")
	}
	fig, target, status := verdict(r)
	p("| measure | value |")
	p("|---|---|")
	p("| jobs succeeded | %s of %s accepted (%d requests, %d failed) |", thousands(float64(r.Succeeded)), thousands(float64(r.Jobs)), r.Client.Requests, r.Client.Errors)
	p("| **result** | **%s** — target %s: %s |", fig, target, status)
	if r.Name == "latency" {
		p("| throughput | %s jobs/s (first created_at → last finished_at) |", thousands(r.Throughput()))
		offered := r.Client.Last.Sub(r.Client.First)
		if offered > 0 {
			p("| accepted rate | %s jobs/s over %s |", thousands(float64(r.Jobs)/offered.Seconds()), secs(offered))
		}
	} else {
		p("| submit → start, p50 / p99 / max | %s |", distMS(r.Times.Start))
	}
	p("| submit → finish, p50 / p99 / max | %s |", distMS(r.Times.Finish))
	p("| span: first created_at → last finished_at | %s |", secs(r.Times.Span))
	if r.Times.Ingest > 0 {
		p("| ingest: first → last created_at | %s (%s jobs/s committed) |", secs(r.Times.Ingest), thousands(float64(r.Times.N)/r.Times.Ingest.Seconds()))
	}
	p("| drain: last created_at → last finished_at | %s |", secs(r.Times.Drain))
	p("| client: first request → last answer | %s |", secs(r.Client.Last.Sub(r.Client.First)))
	lat := r.Client.Latencies
	label := "HTTP request latency"
	if r.Name == "latency" {
		label = "HTTP submit latency (from the planned send time)"
	}
	p("| %s, p50 / p99 / max | %s / %s / %s |", label, ms(percentile(lat, 0.5)), ms(percentile(lat, 0.99)), ms(percentile(lat, 1)))
	p("")
	perJob := func(cpu time.Duration) string {
		if r.Times.N == 0 {
			return "—"
		}
		return fmt.Sprintf("%.0f µs", float64(cpu)/float64(time.Microsecond)/float64(r.Times.N))
	}
	p("| process | memory peak | memory at end | CPU | CPU per job | share of %d CPUs over %s |", b.mach.CPUs, secs(r.CPUWindow))
	p("|---|---|---|---|---|---|")
	var total time.Duration
	for _, name := range []string{"api", "worker", "nats", "sqs", "postgres", "driver"} {
		cpu := r.CPU[name]
		total += cpu
		label := map[string]string{"api": "flask-api", "worker": "flask-worker", "nats": "nats-server", "sqs": "fauxqs (SQS emulator)",
			"postgres": fmt.Sprintf("postgres (%d processes, PSS)", r.PGProcs), "driver": "driver (load generator, polls)"}[name]
		m, ok := r.Mem[name]
		peak, end := "—", "—"
		if ok {
			peak, end = mib(m.Peak), mib(m.End)
		}
		p("| %s | %s | %s | %s | %s | %s |", label, peak, end, secs(cpu), perJob(cpu), share(cpu, r.CPUWindow, b.mach.CPUs))
	}
	p("| **all of the benchmark** | | | %s | %s | %s |", secs(total), perJob(total), share(total, r.CPUWindow, b.mach.CPUs))
	if others := r.CPU["machine"] - total; r.CPU["machine"] > 0 {
		p("| other processes on the machine | | | %s | | %s |", secs(max(others, 0)), share(max(others, 0), r.CPUWindow, b.mach.CPUs))
	}
	if r.CPU["steal"] > 0 {
		p("| stolen by the hypervisor | | | %s | | %s |", secs(r.CPU["steal"]), share(r.CPU["steal"], r.CPUWindow, b.mach.CPUs))
	}
	p("")
	p("Before the scenario: load average %s; %s writes of 8 KiB + fdatasync per second.", r.LoadAvg, thousands(r.FsyncRate))
	p("")
	n := float64(max(r.Times.N, 1))
	commits := r.PG.Commits - int64(r.Polls)
	p("| counter | value |")
	p("|---|---|")
	p("| PostgreSQL transactions committed (Flask's only; the driver's %d polls excluded) | %s (%.1f per 1,000 jobs) |", r.Polls, thousands(float64(commits)), float64(commits)/n*1000)
	p("| WAL fsyncs (`pg_stat_wal.wal_sync`, whole server) | %s (%.1f commits per fsync; %s/s over the span) |", thousands(float64(r.PG.WALSyncs)),
		float64(commits)/float64(max(r.PG.WALSyncs, 1)), thousands(float64(r.PG.WALSyncs)/max(r.Times.Span.Seconds(), 0.001)))
	p("| WAL written | %s (%s bytes per job, %s records per job, %d times WAL buffers were full) |", mib(r.PG.WALBytes/1024),
		thousands(float64(r.PG.WALBytes)/n), fmt.Sprintf("%.1f", float64(r.PG.WALRecords)/n), r.PG.WALBuffersFull)
	if r.PG.WALSyncTime > 0 {
		p("| WAL write / sync time of the Flask sessions (`track_wal_io_timing`) | %s / %s (%.2f ms per sync) |", secs(r.PG.WALWriteTime), secs(r.PG.WALSyncTime),
			float64(r.PG.WALSyncTime)/float64(time.Millisecond)/float64(max(r.PG.WALSyncs, 1)))
	}
	p("| rows inserted / updated (HOT) / deleted | %s / %s (%s) / %s |", thousands(float64(r.PG.Inserted)), thousands(float64(r.PG.Updated)),
		thousands(float64(r.PG.HotUpd)), thousands(float64(r.PG.Deleted)))
	p("| outbox: published / publish errors / republished by the sweep | %s / %s / %s |", thousands(r.API["flask_outbox_published_total"]),
		thousands(r.API["flask_outbox_publish_errors_total"]), thousands(r.API["flask_outbox_swept_total"]))
	p("| worker: deliveries skipped / redeliveries / store errors / broker errors | %s / %s / %s / %s %s |", thousands(r.Worker["flask_deliveries_skipped_total"]),
		thousands(r.Worker["flask_redeliveries_total"]), thousands(r.Worker["flask_worker_errors_total"]),
		thousands(r.Worker["flask_broker_consume_errors_total"]),
		strings.Join(append(append(r.Worker.matching("flask_deliveries_skipped_total"), r.Worker.matching("flask_worker_errors_total")...),
			r.Worker.matching("flask_broker_consume_errors_total")...), " "))
	p("| GC cycles: api / worker | %s / %s |", thousands(r.API["go_gc_duration_seconds_count"]), thousands(r.Worker["go_gc_duration_seconds_count"]))
	writeActivity(w, r)
}

// writeActivity renders the sampled database sessions: per application
// the average number of sessions busy, idle in a transaction and idle,
// then the busiest states.
func writeActivity(w *strings.Builder, r *result) {
	if r.ActSamples == 0 {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("")
	p("What Flask's PostgreSQL sessions were doing (`pg_stat_activity` sampled every 20 ms, %d samples; average number of sessions in each state):", r.ActSamples)
	p("")
	p("| session | state | waiting on | statement | sessions |")
	p("|---|---|---|---|---|")
	type sum struct{ busy, inTx, idle float64 }
	sums := map[string]*sum{}
	shown := 0
	for _, a := range r.Activity {
		s := sums[a.App]
		if s == nil {
			s = &sum{}
			sums[a.App] = s
		}
		switch a.State {
		case "active":
			s.busy += a.Sessions
		case "idle":
			s.idle += a.Sessions
			continue
		default:
			s.inTx += a.Sessions
		}
		if shown < 14 && a.Sessions >= 0.02 {
			p("| %s | %s | %s | %s | %.2f |", a.App, a.State, a.Wait, a.Stmt, a.Sessions)
			shown++
		}
	}
	for _, app := range []string{"flask-api", "flask-worker"} {
		if s := sums[app]; s != nil {
			p("| **%s, all** | active %.2f, idle in transaction %.2f, idle %.2f | | | %.2f |", app, s.busy, s.inTx, s.idle, s.busy+s.inTx+s.idle)
		}
	}
}

func (b *bench) writeProfiles(w *strings.Builder, results []*result, prof []*inproc) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	binary := false
	for _, r := range results {
		for _, name := range []string{"api", "worker"} {
			path, ok := r.Profiles[name]
			if !ok {
				continue
			}
			binary = true
			text, err := goTool(context.Background(), "pprof", "-top", "-cum", fmt.Sprintf("-nodecount=%d", b.cfg.profileNodes), path)
			if err != nil {
				text = err.Error()
			}
			p("CPU profile of the `flask-%s` binary during scenario %s (`/debug/pprof/profile` on `FLASK_DEBUG_ADDR`, %s):", name, r.Name, b.cfg.profileWindow)
			p("")
			p("```")
			p("%s", trimPprof(text))
			p("```")
			p("")
		}
	}
	if len(prof) == 0 {
		p("_No in-process reproduction (`-profile=false`)._")
		p("")
		return
	}
	if !binary {
		p("The binaries do not serve pprof (the driver profiles them through `FLASK_DEBUG_ADDR` once they do), so the CPU")
		p("profiles are of an **in-process reproduction** of scenarios (a) and (b).")
	}
	p("The reproduction runs `app.ServeAPI` and a pool from `app.NewPool` — the code of `flask-api` and `flask-worker`, each")
	p("with its own store and NATS connection — in the driver's process, against a fresh database and a NATS server of its")
	p("own (a separate process), and offers the load from the same process; the CPUs are shared as in the scenarios, but one")
	p("Go runtime serves all three. Goroutines carry the pprof label `proc` (`api`, `worker`, `client`; a label passes to the")
	p("goroutines started under it); the garbage collector's background work carries none. The worker's store and broker")
	p("and the API's broker are wrapped to time each call (the wrappers add no I/O).")
	p("")
	for _, r := range prof {
		p("### In process: %s", r.Load)
		p("")
		if r.Err != "" {
			p("**Did not complete:** %s", r.Err)
			p("")
			continue
		}
		p("%s jobs/s (%d jobs in %s); HTTP request latency p50 %s, p99 %s.", thousands(float64(r.Jobs)/max(r.Span.Seconds(), 0.001)),
			r.Jobs, secs(r.Span), ms(percentile(r.HTTP, 0.5)), ms(percentile(r.HTTP, 0.99)))
		p("")
		p("| stage | calls | items per call | p50 | p99 | time in calls |")
		p("|---|---|---|---|---|---|")
		for _, o := range r.Ops {
			extra := ""
			if o.Empty > 0 {
				extra = fmt.Sprintf(" (+%d empty)", o.Empty)
			}
			p("| %s | %s%s | %.1f | %s | %s | %s |", o.Name, thousands(float64(o.Calls)), extra, o.PerCall, ms(o.P50), ms(o.P99), secs(o.Total))
		}
		p("")
		if r.Profile == "" {
			continue
		}
		p("CPU by component (`go tool pprof -tags`):")
		p("")
		p("```")
		p("%s", strings.TrimRight(r.Tags, "\n"))
		p("```")
		p("")
		for _, s := range r.Sections {
			p("%s (`%s`):", s.Title, s.Command)
			p("")
			p("```")
			p("%s", s.Text)
			p("```")
			p("")
		}
	}
}

func (b *bench) writeStoreBench(w *strings.Builder, rows []storeRow) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("## Group commit on the single-submission path")
	p("")
	p("A micro-benchmark of the store alone (`store.Open` in the driver, same PostgreSQL): %d goroutines each insert one job", b.cfg.singleClients)
	p("(`InsertJobs`, the transaction `POST /v1/jobs` waits for) and hand its outbox entry to `ForgetOutbox` (deleted in the")
	p("background, as the relay does after a publish), for %s per setting of `store.Config.Flushers` (the binaries use the", b.cfg.storeDuration)
	p("default, 4). Transactions count both the inserts and the background deletes.")
	p("")
	p("| Flushers | jobs/s | transactions | jobs per transaction | InsertJobs p50 / p99 |")
	p("|---|---|---|---|---|")
	for _, r := range rows {
		if r.Err != "" {
			p("| %d | failed: %s | | | |", r.Flushers, r.Err)
			continue
		}
		p("| %d | %s | %s | %.2f | %s / %s |", r.Flushers, thousands(r.JobsPerSec()), thousands(float64(r.Commits)),
			float64(r.Jobs)/float64(max(r.Commits, 1)), ms(r.Insert.P50), ms(r.Insert.P99))
	}
	p("")
}

func thousands(f float64) string {
	n := int64(f + 0.5)
	if f < 0 {
		n = int64(f - 0.5)
	}
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func secs(d time.Duration) string {
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func distMS(d dist) string {
	return ms(d.P50) + " / " + ms(d.P99) + " / " + ms(d.Max)
}

func mib(kb int64) string {
	return fmt.Sprintf("%.0f MiB", float64(kb)/1024)
}

func share(cpu, window time.Duration, cpus int) string {
	if window <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f%%", 100*cpu.Seconds()/(window.Seconds()*float64(cpus)))
}

// brokerLine says which broker the deployments used.
func brokerLine(c config) string {
	if c.broker == "sqs" {
		return "`FLASK_BROKER=sqs` on the fauxqs SQS emulator (Node.js, one process shared by the scenarios, fresh queues per scenario, on 127.0.0.1): the figures show Flask's overhead on SQS's API, not AWS's latency"
	}
	return "one NATS server with JetStream (file storage) in a process of its own"
}
