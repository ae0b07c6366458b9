package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store"
)

// meta is what the layout needs from every page.
type meta struct {
	// Title goes in <title> and the page's heading.
	Title string
	// Nav names the navigation entry of the page.
	Nav string
	// LiveOverview asks the stream for the overview's counters and charts.
	LiveOverview bool
	// Live says the page opens a stream (for its watched jobs or the overview).
	Live bool
}

// pageResult is a rendered page to write: the template, its data and the status.
type pageResult struct {
	name   string
	status int
	data   any
}

type pageFunc func(ctx context.Context, r *http.Request) (*pageResult, error)

// page renders what fn returns, or an error page when fn fails. The page is
// rendered into memory first, so that a template error cannot leave half a
// page behind a 200.
func (d *Dashboard) page(fn pageFunc) http.Handler {
	return securityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d.cfg.ReadTimeout)
		defer cancel()
		res, err := fn(ctx, r)
		var to redirect
		if errors.As(err, &to) {
			http.Redirect(w, r, string(to), http.StatusSeeOther)
			return
		}
		if err != nil {
			if r.Context().Err() != nil {
				return // the browser went away
			}
			d.log.ErrorContext(ctx, "dashboard page failed", "path", r.URL.Path, "err", err)
			res = errorPage(http.StatusInternalServerError, "Something went wrong",
				"The dashboard could not read the job store. The error has been logged; try again in a moment.")
		}
		var buf bytes.Buffer
		if err := d.pages[res.name].ExecuteTemplate(&buf, "layout", res.data); err != nil {
			d.log.ErrorContext(ctx, "dashboard template failed", "page", res.name, "err", err)
			http.Error(w, "the page could not be rendered; the error has been logged", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(res.status)
		_, _ = w.Write(buf.Bytes())
	}))
}

// errorView is the data of the error page.
type errorView struct {
	Page    meta
	Status  int
	Message string
}

func errorPage(status int, title, message string) *pageResult {
	return &pageResult{name: "error", status: status, data: errorView{Page: meta{Title: title}, Status: status, Message: message}}
}

// --- overview

// overviewView is the data of the overview page and of its live fragment.
type overviewView struct {
	Page    meta
	Queues  []queueView
	Workers []workerView
	// Since is when the charts' history starts, if less than the window ago.
	Since *time.Time
	// Window is the charts' span, for labels.
	Window string
}

// queueView is one queue on the overview.
type queueView struct {
	Name           string
	Counts         map[job.State]int
	Total          int
	OldestQueuedAt *time.Time
	// Finished, Failed and FailureRate sum the chart window.
	Finished, Failed int
	FailureRate      float64
	Throughput       chart
	Failures         chart
}

// workerView is one live worker on the overview.
type workerView struct {
	store.WorkerInfo
	// QueueList is "default:10, mail:2".
	QueueList   string
	Concurrency int
}

func (d *Dashboard) overview(ctx context.Context, r *http.Request) (*pageResult, error) {
	v, err := d.overviewData(ctx)
	if err != nil {
		return nil, err
	}
	v.Page = meta{Title: "Overview", Nav: "overview", Live: true, LiveOverview: true}
	return &pageResult{name: "overview", status: http.StatusOK, data: v}, nil
}

// overviewData reads what the overview shows.
func (d *Dashboard) overviewData(ctx context.Context) (overviewView, error) {
	snap, err := d.stats.StatsSnapshot(ctx)
	if err != nil {
		return overviewView{}, fmt.Errorf("read queue statistics: %w", err)
	}
	return d.buildOverview(snap.Queues, snap.Workers), nil
}

func (d *Dashboard) buildOverview(stats []store.QueueStats, workers []store.WorkerInfo) overviewView {
	now := d.now()
	series, since := d.hub.sampler.series(now)
	v := overviewView{Window: "15 min"}
	if !since.IsZero() && now.Sub(since) < sampleWindow {
		s := since
		v.Since = &s
	}
	for _, st := range stats {
		q := queueView{Name: st.Queue, Counts: st.Counts, OldestQueuedAt: st.OldestQueuedAt}
		for _, n := range st.Counts {
			q.Total += n
		}
		buckets := series[st.Queue]
		for _, b := range buckets {
			q.Finished += b.finished
			q.Failed += b.failed
		}
		if q.Finished > 0 {
			q.FailureRate = float64(q.Failed) / float64(q.Finished)
		}
		q.Throughput, q.Failures = charts(buckets)
		v.Queues = append(v.Queues, q)
	}
	slices.SortFunc(v.Queues, func(a, b queueView) int { return strings.Compare(a.Name, b.Name) })
	for _, w := range workers {
		names := make([]string, 0, len(w.Queues))
		wv := workerView{WorkerInfo: w}
		for q, n := range w.Queues {
			names = append(names, q+":"+strconv.Itoa(n))
			wv.Concurrency += n
		}
		sort.Strings(names)
		wv.QueueList = strings.Join(names, ", ")
		v.Workers = append(v.Workers, wv)
	}
	slices.SortFunc(v.Workers, func(a, b workerView) int { return strings.Compare(a.ID, b.ID) })
	return v
}

// --- jobs

// jobsView is the data of the jobs page.
type jobsView struct {
	Page    meta
	Filter  jobsFilter
	Errors  map[string]string
	Jobs    []job.Job
	NextURL string
	// FirstURL is set when the page is not the first.
	FirstURL  string
	Types     []string
	Queues    []string
	PageSizes []int
	// Filtered is true when any filter is set (for the empty state).
	Filtered bool
	// Miss is the search that found no job.
	Miss string
}

// jobsFilter is the query of the jobs page.
type jobsFilter struct {
	Queue, State, Type, Q, Cursor string
	Limit                         int
}

func (f jobsFilter) query(cursor string) string {
	q := url.Values{}
	for k, v := range map[string]string{"queue": f.Queue, "state": f.State, "type": f.Type, "cursor": cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Limit != DefaultPageSize {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if len(q) == 0 {
		return "/jobs"
	}
	return "/jobs?" + q.Encode()
}

func (d *Dashboard) jobs(ctx context.Context, r *http.Request) (*pageResult, error) {
	q := r.URL.Query()
	v := jobsView{
		Page:      meta{Title: "Jobs", Nav: "jobs", Live: true},
		Errors:    map[string]string{},
		Filter:    jobsFilter{Queue: q.Get("queue"), State: q.Get("state"), Type: q.Get("type"), Q: strings.TrimSpace(q.Get("q")), Cursor: q.Get("cursor"), Limit: DefaultPageSize},
		Types:     d.catalog.Types(),
		Queues:    d.knownQueues(),
		PageSizes: []int{25, 50, 100},
	}
	f := &v.Filter
	v.Filtered = f.Queue != "" || f.State != "" || f.Type != ""

	if f.Q != "" {
		found, err := d.search(ctx, f.Q)
		if err != nil {
			return nil, err
		}
		switch len(found) {
		case 0:
			v.Miss = f.Q
			return &pageResult{name: "jobs", status: http.StatusNotFound, data: v}, nil
		case 1:
			return nil, redirectTo("/jobs/" + found[0].ID)
		}
		v.Jobs = found // one key, several tenants
		return &pageResult{name: "jobs", status: http.StatusOK, data: v}, nil
	}

	p := store.ListParams{Limit: DefaultPageSize}
	if f.Queue != "" {
		if err := job.ValidateQueue(f.Queue); err != nil {
			v.Errors["queue"] = err.Error()
		}
		p.Queue = f.Queue
	}
	if f.State != "" {
		p.State = job.State(f.State)
		if !p.State.Valid() {
			v.Errors["state"] = "is not a state"
		}
	}
	if f.Type != "" {
		if err := job.ValidateType(f.Type); err != nil {
			v.Errors["type"] = err.Error()
		}
		p.Type = f.Type
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageSize {
			v.Errors["limit"] = fmt.Sprintf("must be a page size from 1 to %d", maxPageSize)
		} else {
			f.Limit, p.Limit = n, n
		}
	}
	if f.Cursor != "" {
		u, err := uuid.Parse(f.Cursor)
		if err != nil || len(f.Cursor) != 36 {
			v.Errors["cursor"] = "is not a page of this list; start again from the first page"
		}
		p.Cursor = u.String()
	}
	if len(v.Errors) > 0 {
		v.FirstURL = "/jobs"
		return &pageResult{name: "jobs", status: http.StatusBadRequest, data: v}, nil
	}
	limit := p.Limit
	p.Limit++ // one more tells whether a next page exists
	jobs, err := d.store.ListJobs(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	if len(jobs) > limit {
		jobs = jobs[:limit]
		v.NextURL = f.query(jobs[limit-1].ID)
	}
	if f.Cursor != "" {
		v.FirstURL = f.query("")
	}
	v.Jobs = jobs
	return &pageResult{name: "jobs", status: http.StatusOK, data: v}, nil
}

// search finds a job by id or, failing that, the jobs of every tenant
// with that idempotency key. The dashboard sees every tenant until it
// signs users in.
func (d *Dashboard) search(ctx context.Context, q string) ([]job.Job, error) {
	if u, err := uuid.Parse(q); err == nil && len(q) == 36 {
		j, err := d.store.GetJob(ctx, u.String())
		switch {
		case err == nil:
			return []job.Job{*j}, nil
		case !errors.Is(err, job.ErrNotFound):
			return nil, fmt.Errorf("get job %s: %w", u, err)
		}
	}
	found, err := d.store.FindJobsByKey(ctx, store.AllTenants, q)
	if err != nil {
		return nil, fmt.Errorf("find jobs by idempotency key: %w", err)
	}
	return found, nil
}

// knownQueues lists the queues of the catalog's types, for suggestions.
func (d *Dashboard) knownQueues() []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range d.catalog.Types() {
		s, _ := d.catalog.Lookup(t)
		q := d.queueOf(s)
		if !seen[q] {
			seen[q] = true
			out = append(out, q)
		}
	}
	sort.Strings(out)
	return out
}

func (d *Dashboard) queueOf(s job.Spec) string {
	if s.Queue == job.DefaultQueue {
		return d.cfg.DefaultQueue
	}
	return s.Queue
}

// redirect is an error that answers with a redirect instead of a page.
type redirect string

func (r redirect) Error() string { return "redirect to " + string(r) }

func redirectTo(path string) error { return redirect(path) }

// --- job detail

// jobView is the data of the job page and of its live fragment.
type jobView struct {
	Page     meta
	Job      job.Job
	Timeline []step
	// Wait is how long the latest attempt waited to start; Run how long it ran.
	Wait, Run *time.Duration
}

// step is one line of a job's timeline.
type step struct {
	At      time.Time
	Kind    string
	Attempt int
	Worker  string
	Text    string
	Error   string
}

func (d *Dashboard) jobDetail(ctx context.Context, r *http.Request) (*pageResult, error) {
	raw := r.PathValue("id")
	u, err := uuid.Parse(raw)
	if err != nil || len(raw) != 36 {
		return errorPage(http.StatusNotFound, "No such job", fmt.Sprintf("%q is not a job id: job ids are UUIDs.", truncate(raw, 64))), nil
	}
	j, err := d.store.GetJob(ctx, u.String())
	if errors.Is(err, job.ErrNotFound) {
		return errorPage(http.StatusNotFound, "No such job", "No job has id "+u.String()+"."), nil
	}
	if err != nil {
		return nil, fmt.Errorf("get job %s: %w", u, err)
	}
	v := buildJobView(*j)
	v.Page = meta{Title: "Job " + shortID(j.ID), Nav: "jobs", Live: true}
	return &pageResult{name: "job", status: http.StatusOK, data: v}, nil
}

// buildJobView lays out a job's timeline: submission, each failed attempt
// with its error and worker, the latest attempt's start and its end.
func buildJobView(j job.Job) jobView {
	v := jobView{Job: j}
	add := func(e step) { v.Timeline = append(v.Timeline, e) }
	add(step{At: j.CreatedAt, Kind: "created", Text: "Submitted to queue " + j.Queue})
	if j.State == job.StateScheduled {
		add(step{At: j.RunAt, Kind: "scheduled", Text: "Scheduled to run"})
	}
	for _, e := range j.Errors {
		add(step{At: e.At, Kind: "attempt-failed", Attempt: e.Attempt, Worker: e.WorkerID,
			Text: fmt.Sprintf("Attempt %d failed", e.Attempt), Error: e.Error})
	}
	if j.StartedAt != nil && j.Attempt > 0 {
		add(step{At: *j.StartedAt, Kind: "started", Attempt: j.Attempt, Worker: j.WorkerID,
			Text: fmt.Sprintf("Attempt %d started", j.Attempt)})
		if w := j.StartedAt.Sub(j.RunAt); w >= 0 {
			v.Wait = &w
		}
	}
	if j.CancelRequestedAt != nil {
		add(step{At: *j.CancelRequestedAt, Kind: "cancel-requested", Text: "Cancel requested; the worker stops the job at its next heartbeat"})
	}
	if j.FinishedAt != nil {
		text := map[job.State]string{
			job.StateSucceeded: "Succeeded", job.StateFailed: "Failed: no attempt left, or the handler asked not to retry",
			job.StateCancelled: "Cancelled",
		}[j.State]
		if text != "" {
			add(step{At: *j.FinishedAt, Kind: string(j.State), Attempt: j.Attempt, Text: text})
		}
		if j.StartedAt != nil && j.State != job.StateCancelled {
			r := j.FinishedAt.Sub(*j.StartedAt)
			v.Run = &r
		}
	}
	if j.State == job.StateRetrying {
		add(step{At: j.RunAt, Kind: "retry-at", Attempt: j.Attempt + 1, Text: fmt.Sprintf("Attempt %d queued after the backoff", j.Attempt+1)})
	}
	slices.SortStableFunc(v.Timeline, func(a, b step) int { return a.At.Compare(b.At) })
	return v
}

// --- submit

// submitView is the data of the submit page.
type submitView struct {
	Page     meta
	Types    []typeView
	Selected string
}

// typeView is a job type offered by the submit form, with its defaults.
type typeView struct {
	Name        string
	Queue       string
	MaxAttempts int
	Timeout     string
}

func (d *Dashboard) submit(ctx context.Context, r *http.Request) (*pageResult, error) {
	v := submitView{Page: meta{Title: "Submit a job", Nav: "submit"}, Selected: r.URL.Query().Get("type")}
	for _, name := range d.catalog.Types() {
		s, _ := d.catalog.Lookup(name)
		v.Types = append(v.Types, typeView{Name: name, Queue: d.queueOf(s), MaxAttempts: s.MaxAttempts, Timeout: s.Timeout.String()})
	}
	return &pageResult{name: "submit", status: http.StatusOK, data: v}, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
