package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store"
)

// JobList is the body of GET /v1/jobs.
type JobList struct {
	Jobs []job.Job `json:"jobs"`
	// NextCursor is the cursor of the next page, or nil on the last page.
	NextCursor *string `json:"next_cursor"`
}

// BatchResponse is the body of a successful POST /v1/jobs/batch.
type BatchResponse struct {
	Jobs []job.Job `json:"jobs"`
}

// QueueView summarises one queue in GET /v1/queues.
type QueueView struct {
	Queue string `json:"queue"`
	// Counts has every state, zero included.
	Counts map[job.State]int `json:"counts"`
	// OldestQueuedAt is when the oldest waiting job became runnable, nil if none waits.
	OldestQueuedAt *time.Time `json:"oldest_queued_at"`
	// OldestQueuedAgeSeconds is how long that job has waited, nil if none waits.
	OldestQueuedAgeSeconds *float64 `json:"oldest_queued_age_seconds"`
}

// TypeView describes an accepted job type in GET /v1/types.
type TypeView struct {
	Type        string       `json:"type"`
	Queue       string       `json:"queue"`
	MaxAttempts int          `json:"max_attempts"`
	Timeout     job.Duration `json:"timeout"`
	Backoff     BackoffView  `json:"backoff"`
}

// BackoffView is a type's retry backoff.
type BackoffView struct {
	Base job.Duration `json:"base"`
	Max  job.Duration `json:"max"`
	Min  job.Duration `json:"min"`
}

// jobView normalises a job for the wire: empty lists rather than null.
func jobView(j job.Job) job.Job {
	if j.Errors == nil {
		j.Errors = []job.AttemptError{}
	}
	if j.Payload == nil {
		j.Payload = json.RawMessage("null")
	}
	return j
}

func (s *Server) submit(w http.ResponseWriter, r *http.Request) error {
	if p := checkContentType(r); p != nil {
		return p
	}
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	var is issues
	hdrKey, hasHdrKey := headerIdempotencyKey(r, &is)
	members, msg := decodeObject(body)
	if msg != "" {
		is.bad("", "the body %s", msg)
		return is.problem()
	}
	params := (&jobDecoder{s: s, is: &is, m: members}).decode()
	params.Tenant = mustPrincipal(r).Tenant
	if hasHdrKey {
		switch {
		case params.IdempotencyKey == "":
			params.IdempotencyKey = hdrKey
		case params.IdempotencyKey != hdrKey:
			is.bad("idempotency_key", "differs from the %s header; send one key, or the same in both", IdempotencyKeyHeader)
		}
	}
	if !is.empty() {
		return is.problem()
	}
	if err := s.admit(r, params.Tenant, 1); err != nil {
		return err
	}

	batch := []store.InsertParams{params}
	spans := s.startPublish(r.Context(), batch)
	results, entries, err := s.store.InsertJobs(r.Context(), batch)
	if err == nil && len(results) != 1 {
		err = fmt.Errorf("store returned %d results for 1 job", len(results))
	}
	if err != nil {
		endPublish(spans, nil, nil, err)
		return fmt.Errorf("insert job of type %s: %w", params.Type, err)
	}
	s.dispatch(r.Context(), entries)
	endPublish(spans, results, entries, nil)
	res := results[0]
	s.countSubmitted(results)
	if res.Existing {
		writeJSON(w, http.StatusOK, jobView(res.Job))
		return nil
	}
	s.log.DebugContext(spans[0].ctx, "job submitted", "job_id", res.Job.ID, "queue", res.Job.Queue, "type", res.Job.Type,
		"attempt", res.Job.Attempt, "request_id", requestIDFrom(r.Context()))
	w.Header().Set("Location", "/v1/jobs/"+res.Job.ID)
	writeJSON(w, http.StatusCreated, jobView(res.Job))
	return nil
}

func (s *Server) submitBatch(w http.ResponseWriter, r *http.Request) error {
	if p := checkContentType(r); p != nil {
		return p
	}
	body, err := readBody(w, r, s.cfg.MaxBatchBodyBytes)
	if err != nil {
		return err
	}
	var is issues
	if len(r.Header.Values(IdempotencyKeyHeader)) > 0 {
		is.bad(IdempotencyKeyHeader, "is not supported on batches; set idempotency_key on each job")
	}
	members, msg := decodeObject(body)
	if msg != "" {
		is.bad("", "the body %s", msg)
		return is.problem()
	}
	for _, k := range sortedKeys(members) {
		if k != "jobs" {
			is.bad(truncate(k, 64), "is not a field of a batch; the only field is jobs")
		}
	}
	var items []json.RawMessage
	raw, ok := members["jobs"]
	switch {
	case !ok || isNull(raw):
		is.bad("jobs", "is required: an array of 1 to %d jobs", s.cfg.MaxBatch)
	case raw[0] != '[' || json.Unmarshal(raw, &items) != nil:
		is.bad("jobs", "must be an array of jobs")
	case len(items) == 0:
		is.bad("jobs", "must hold at least one job")
	case len(items) > s.cfg.MaxBatch:
		is.bad("jobs", "holds %d jobs; a batch holds at most %d", len(items), s.cfg.MaxBatch)
		items = nil
	}

	params := make([]store.InsertParams, 0, len(items))
	keys := make(map[string]int)
	for i, item := range items {
		prefix := fmt.Sprintf("jobs[%d]", i)
		m, msg := decodeObject(item)
		if msg != "" {
			is.bad(prefix, "%s", msg)
			continue
		}
		p := (&jobDecoder{s: s, is: &is, prefix: prefix + ".", m: m}).decode()
		p.Tenant = mustPrincipal(r).Tenant
		if k := p.IdempotencyKey; k != "" {
			if first, dup := keys[k]; dup {
				is.bad(prefix+".idempotency_key", "repeats the key of jobs[%d]; keys must differ within a batch", first)
			} else {
				keys[k] = i
			}
		}
		params = append(params, p)
	}
	if !is.empty() {
		return is.problem()
	}
	if err := s.admit(r, mustPrincipal(r).Tenant, len(params)); err != nil {
		return err
	}

	spans := s.startPublish(r.Context(), params)
	results, entries, err := s.store.InsertJobs(r.Context(), params)
	if err == nil && len(results) != len(params) {
		err = fmt.Errorf("store returned %d results", len(results))
	}
	if err != nil {
		endPublish(spans, nil, nil, err)
		return fmt.Errorf("insert batch of %d jobs: %w", len(params), err)
	}
	s.dispatch(r.Context(), entries)
	endPublish(spans, results, entries, nil)
	s.countSubmitted(results)
	out := BatchResponse{Jobs: make([]job.Job, len(results))}
	status := http.StatusOK
	for i, res := range results {
		out.Jobs[i] = jobView(res.Job)
		if !res.Existing {
			status = http.StatusCreated
		}
	}
	writeJSON(w, status, out)
	return nil
}

// admit checks the tenant's cap on waiting jobs before n more are inserted.
func (s *Server) admit(r *http.Request, tenant string, n int) error {
	if s.quota == nil {
		return nil
	}
	ok, waiting, err := s.quota.admit(r.Context(), tenant, n)
	if err != nil {
		return err
	}
	if !ok {
		p := newProblem(http.StatusTooManyRequests, ProblemQuotaExceeded,
			fmt.Sprintf("tenant %s has about %d jobs waiting to run, and at most %d may wait; %d more would not fit: try again when some have run",
				tenant, waiting, s.cfg.TenantMaxQueued, n))
		return p
	}
	return nil
}

// dispatch publishes new outbox entries before the response goes out. It
// outlives a client that hangs up: the jobs are committed either way.
func (s *Server) dispatch(ctx context.Context, entries []store.OutboxEntry) {
	if s.dispatcher == nil || len(entries) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.DispatchTimeout)
	defer cancel()
	s.dispatcher.Dispatch(ctx, entries)
}

func (s *Server) countSubmitted(results []store.InsertResult) {
	for _, res := range results {
		if !res.Existing {
			s.metrics.submitted.WithLabelValues(res.Job.Queue, res.Job.Type).Inc()
		}
	}
}

// jobID reads and canonicalises the {id} path parameter. A malformed id
// answers 404, like an unknown one: no job can have it.
func jobID(r *http.Request) (string, error) {
	raw := chi.URLParam(r, "id")
	if len(raw) == 36 {
		if u, err := uuid.Parse(raw); err == nil {
			return u.String(), nil
		}
	}
	return "", newProblem(http.StatusNotFound, ProblemNotFound,
		fmt.Sprintf("no job has id %q: job ids are UUIDs", truncate(raw, 64)))
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) error {
	id, err := jobID(r)
	if err != nil {
		return err
	}
	j, err := s.store.GetTenantJob(r.Context(), mustPrincipal(r).JobTenant(), id)
	if err != nil {
		return fmt.Errorf("get job %s: %w", id, err)
	}
	writeJSON(w, http.StatusOK, jobView(*j))
	return nil
}

func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) error {
	id, err := jobID(r)
	if err != nil {
		return err
	}
	p := mustPrincipal(r)
	j, err := s.store.CancelTenantJob(r.Context(), p.JobTenant(), id)
	if err != nil {
		return fmt.Errorf("cancel job %s: %w", id, err)
	}
	s.auditJob(r, "job cancelled", j, "state", j.State)
	writeJSON(w, http.StatusOK, jobView(*j))
	return nil
}

func (s *Server) retryJob(w http.ResponseWriter, r *http.Request) error {
	id, err := jobID(r)
	if err != nil {
		return err
	}
	j, entries, err := s.store.RetryTenantJob(r.Context(), mustPrincipal(r).JobTenant(), id)
	if err != nil {
		return fmt.Errorf("retry job %s: %w", id, err)
	}
	s.dispatch(r.Context(), entries)
	s.auditJob(r, "job retried", j)
	writeJSON(w, http.StatusOK, jobView(*j))
	return nil
}

var listParams = []string{"queue", "state", "type", "limit", "cursor"}

// storeMaxList is the most jobs Store.ListJobs returns in one call.
const storeMaxList = 1000

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var is issues
	for _, k := range sortedKeys(q) {
		switch {
		case !slices.Contains(listParams, k):
			is.bad(truncate(k, 64), "is not a query parameter of this route; they are %s", strings.Join(listParams, ", "))
		case len(q[k]) > 1:
			is.bad(k, "must be given at most once")
		}
	}
	p := store.ListParams{Limit: s.cfg.DefaultListLimit, Tenant: mustPrincipal(r).JobTenant()}
	if v := q.Get("queue"); v != "" {
		if err := job.ValidateQueue(v); err != nil {
			is.bad("queue", "%v", err)
		}
		p.Queue = v
	}
	if v := q.Get("state"); v != "" {
		p.State = job.State(v)
		if !p.State.Valid() {
			names := make([]string, 0, 7)
			for _, st := range job.States() {
				names = append(names, string(st))
			}
			is.bad("state", "must be one of %s", strings.Join(names, ", "))
		}
	}
	if v := q.Get("type"); v != "" {
		if err := job.ValidateType(v); err != nil {
			is.bad("type", "%v", err)
		}
		p.Type = v
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > s.cfg.MaxListLimit {
			is.bad("limit", "must be an integer between 1 and %d", s.cfg.MaxListLimit)
		}
		p.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		u, err := uuid.Parse(v)
		if err != nil || len(v) != 36 {
			is.bad("cursor", "must be the next_cursor of a previous page")
		}
		p.Cursor = u.String()
	}
	if !is.empty() {
		return is.problem()
	}

	// One job more than the page tells whether there is a next page. The
	// store serves at most storeMaxList jobs a call, so a page of that size
	// gets a cursor whenever it is full (the next page may then be empty).
	limit := p.Limit
	p.Limit = min(limit+1, storeMaxList)
	jobs, err := s.store.ListJobs(r.Context(), p)
	if err != nil {
		return fmt.Errorf("list jobs: %w", err)
	}
	out := JobList{Jobs: make([]job.Job, 0, min(len(jobs), limit))}
	if len(jobs) > limit || (p.Limit == limit && len(jobs) == limit) {
		jobs = jobs[:limit]
		next := jobs[limit-1].ID
		out.NextCursor = &next
	}
	for _, j := range jobs {
		out.Jobs = append(out.Jobs, jobView(j))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) listQueues(w http.ResponseWriter, r *http.Request) error {
	stats, err := s.store.TenantQueueStats(r.Context(), mustPrincipal(r).JobTenant())
	if err != nil {
		return fmt.Errorf("read queue statistics: %w", err)
	}
	now := s.now()
	views := make([]QueueView, 0, len(stats))
	for _, st := range stats {
		v := QueueView{Queue: st.Queue, Counts: make(map[job.State]int, 7), OldestQueuedAt: st.OldestQueuedAt}
		for _, state := range job.States() {
			v.Counts[state] = st.Counts[state]
		}
		if st.OldestQueuedAt != nil {
			age := ageSeconds(now, st.OldestQueuedAt)
			v.OldestQueuedAgeSeconds = &age
		}
		views = append(views, v)
	}
	slices.SortFunc(views, func(a, b QueueView) int { return strings.Compare(a.Queue, b.Queue) })
	writeJSON(w, http.StatusOK, map[string]any{"queues": views})
	return nil
}

func (s *Server) listWorkers(w http.ResponseWriter, r *http.Request) error {
	workers, err := s.store.ListWorkers(r.Context())
	if err != nil {
		return fmt.Errorf("list workers: %w", err)
	}
	if workers == nil {
		workers = []store.WorkerInfo{}
	}
	for i := range workers {
		if workers[i].Queues == nil {
			workers[i].Queues = map[string]int{}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"workers": workers})
	return nil
}

func (s *Server) listTypes(w http.ResponseWriter, r *http.Request) error {
	names := s.catalog.Types()
	views := make([]TypeView, 0, len(names))
	for _, name := range names {
		spec, _ := s.catalog.Lookup(name)
		queue := spec.Queue
		if queue == job.DefaultQueue {
			queue = s.cfg.DefaultQueue
		}
		views = append(views, TypeView{
			Type:        spec.Type,
			Queue:       queue,
			MaxAttempts: spec.MaxAttempts,
			Timeout:     job.Duration(spec.Timeout),
			Backoff: BackoffView{
				Base: job.Duration(spec.Backoff.Base),
				Max:  job.Duration(spec.Backoff.Max),
				Min:  job.Duration(spec.Backoff.Min),
			},
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"types": views})
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz pings the store and the broker at once, each within CheckTimeout.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	checks := map[string]Checker{"store": s.store}
	if s.broker != nil {
		checks["broker"] = s.broker
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.CheckTimeout)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	results := make(map[string]string, len(checks))
	var failed []string
	for name, c := range checks {
		wg.Go(func() {
			err := c.Ping(ctx)
			res := "ok"
			if err != nil {
				res = "failed"
				if ctx.Err() != nil {
					res = "timeout"
				}
				s.log.WarnContext(ctx, "readiness check failed", "check", name, "err", err,
					"request_id", requestIDFrom(r.Context()))
			}
			mu.Lock()
			defer mu.Unlock()
			results[name] = res
			if err != nil {
				failed = append(failed, name)
			}
		})
	}
	wg.Wait()
	if len(failed) == 0 {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "checks": results})
		return
	}
	slices.Sort(failed)
	p := newProblem(http.StatusServiceUnavailable, ProblemUnavailable, "not ready: "+strings.Join(failed, " and ")+" unreachable")
	p.Checks = results
	writeProblem(w, r, p)
}
