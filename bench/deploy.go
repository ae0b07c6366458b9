package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// deployment is one scenario's Flask: a fresh database, a fresh NATS
// server (so a fresh stream), one flask-api and one flask-worker.
type deployment struct {
	name          string
	dir           string
	dbName, dbURL string
	db            *sql.DB // the driver's own pool on the scenario's database
	nats          *proc
	api, worker   *proc
	natsURL       string
	apiURL        string
	apiMetricsURL string // flask-api's FLASK_METRICS_ADDR
	workerURL     string
	apiDebug      string // FLASK_DEBUG_ADDR handed to flask-api
	workerDebug   string // and to flask-worker
	sqsPID        int    // the SQS emulator, shared by every scenario (-broker sqs)
}

// pids are the processes whose memory and CPU are reported by name.
func (d *deployment) pids() map[string]int {
	if d.nats == nil {
		m := map[string]int{"api": d.api.pid(), "worker": d.worker.pid()}
		if d.sqsPID > 0 {
			m["sqs"] = d.sqsPID
		}
		return m
	}
	return map[string]int{"api": d.api.pid(), "worker": d.worker.pid(), "nats": d.nats.pid()}
}

// deploy creates the database and starts NATS, the API and the worker.
// On error it tears down what it started.
func (b *bench) deploy(ctx context.Context, name string) (d *deployment, err error) {
	d = &deployment{name: name, dir: filepath.Join(b.tmp, name)}
	defer func() {
		if err != nil {
			d.teardown(b)
			d = nil
		}
	}()
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return d, err
	}
	d.dbName = "flask_bench_" + name + "_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, err := b.admin.ExecContext(ctx, "CREATE DATABASE "+d.dbName); err != nil {
		d.dbName = ""
		return d, fmt.Errorf("create database: %w", err)
	}
	// Diagnostics only: time the WAL writes and syncs of this database's sessions.
	if _, err := b.admin.ExecContext(ctx, "ALTER DATABASE "+d.dbName+" SET track_wal_io_timing = on"); err != nil {
		return d, fmt.Errorf("alter database: %w", err)
	}
	d.dbURL = dbURL(b.base, d.dbName, "", nil)

	var brokerEnv []string
	if b.cfg.broker == "sqs" {
		// Fresh queues per scenario on the shared emulator.
		d.sqsPID = b.cfg.sqsPID
		brokerEnv = []string{"FLASK_BROKER=sqs", "FLASK_SQS_ENDPOINT=" + b.cfg.sqsEndpoint,
			"FLASK_SQS_QUEUE_PREFIX=bench-" + name + "-" + strconv.FormatInt(time.Now().UnixNano(), 36),
			"FLASK_SQS_CREATE_QUEUES=true", "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=bench", "AWS_SECRET_ACCESS_KEY=bench"}
	} else {
		d.nats, d.natsURL, err = startNATS(b.self, filepath.Join(d.dir, "nats"), filepath.Join(d.dir, "nats.log"))
		if err != nil {
			return d, err
		}
		brokerEnv = []string{"FLASK_NATS_URL=" + d.natsURL}
	}
	apiAddr, err := freeAddr()
	if err != nil {
		return d, err
	}
	workerAddr, err := freeAddr()
	if err != nil {
		return d, err
	}
	if d.apiDebug, err = freeAddr(); err != nil {
		return d, err
	}
	if d.workerDebug, err = freeAddr(); err != nil {
		return d, err
	}
	common := append(brokerEnv,
		"FLASK_MIGRATE=true",
		"FLASK_LOG_LEVEL=warn",
		"FLASK_LOG_FORMAT=text",
		"FLASK_DB_MAX_CONNS="+strconv.Itoa(b.cfg.dbConns),
	)
	metricsAddr, err := freeAddr()
	if err != nil {
		return d, err
	}
	// One key, no per-key rate limit and no cap on waiting jobs: the load
	// is one client pushing as hard as the platform takes.
	apiEnv := append(append(append([]string{}, common...),
		"FLASK_DATABASE_URL="+dbURL(b.base, d.dbName, "flask-api", b.cfg.dbParams), "FLASK_HTTP_ADDR="+apiAddr, "FLASK_DEBUG_ADDR="+d.apiDebug,
		"FLASK_METRICS_ADDR="+metricsAddr, "FLASK_BOOTSTRAP_API_KEY="+benchKey, "FLASK_RATE_LIMIT=-1", "FLASK_TENANT_MAX_QUEUED=-1"), b.cfg.apiEnv...)
	d.api, err = startProc("api", b.apiBin, nil, apiEnv, filepath.Join(d.dir, "api.log"))
	if err != nil {
		return d, err
	}
	d.apiURL = "http://" + apiAddr
	d.apiMetricsURL = "http://" + metricsAddr + "/metrics"
	if err := waitReady(ctx, d.api, d.apiURL+"/readyz", 30*time.Second); err != nil {
		return d, err
	}
	workerEnv := append(append(append([]string{}, common...),
		"FLASK_DATABASE_URL="+dbURL(b.base, d.dbName, "flask-worker", b.cfg.dbParams),
		"FLASK_HTTP_ADDR="+workerAddr,
		"FLASK_DEBUG_ADDR="+d.workerDebug,
		"FLASK_QUEUES=default:"+strconv.Itoa(b.cfg.concurrency),
		"FLASK_WORKER_ID=bench-worker",
	), b.cfg.workerEnv...)
	d.worker, err = startProc("worker", b.workerBin, nil, workerEnv, filepath.Join(d.dir, "worker.log"))
	if err != nil {
		return d, err
	}
	d.workerURL = "http://" + workerAddr
	if err := waitReady(ctx, d.worker, d.workerURL+"/readyz", 30*time.Second); err != nil {
		return d, err
	}
	if d.db, err = openDB(ctx, d.dbURL); err != nil {
		return d, fmt.Errorf("open %s: %w", d.dbName, err)
	}
	return d, nil
}

// debugPprof reports whether addr serves net/http/pprof (the binaries do
// once they honour FLASK_DEBUG_ADDR).
func debugPprof(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/debug/pprof/cmdline", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// stopFlask stops the API, then the worker (it drains), and returns their
// errors.
func (d *deployment) stopFlask() error {
	return errors.Join(d.api.stop(30*time.Second), d.worker.stop(40*time.Second))
}

// teardown stops everything that runs and drops the database. It is safe
// on a partial deployment and after stopFlask.
func (d *deployment) teardown(b *bench) {
	for _, p := range []*proc{d.api, d.worker, d.nats} {
		if err := p.stop(30 * time.Second); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s: %v\n", d.name, err)
		}
	}
	if d.db != nil {
		d.db.Close()
	}
	if d.dbName != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := b.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+d.dbName+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "bench: drop database %s: %v\n", d.dbName, err)
		}
	}
}
