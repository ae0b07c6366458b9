package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/flaskhq/flask/job"
)

// DefaultTimeout bounds one HTTP exchange unless WithTimeout says otherwise.
const DefaultTimeout = 30 * time.Second

// Client calls the API. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	http      *http.Client
	apiKey    string
	userAgent string
	timeout   time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send its requests through hc instead of
// its own http.Client. WithTimeout does not apply to it.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithAPIKey sends key as "Authorization: Bearer <key>" on every request.
// An empty key sends none.
func WithAPIKey(key string) Option { return func(c *Client) { c.apiKey = key } }

// WithTimeout bounds each HTTP exchange, body included. Default DefaultTimeout.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithUserAgent sets the User-Agent header. Default "flask-client/1".
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client of the API at baseURL, such as
// "http://127.0.0.1:8080" or "https://flask.example.com/prefix".
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil {
		return nil, fmt.Errorf("api URL %q: %w", baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("api URL %q: want http:// or https:// and a host", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("api URL %q: must not have a query or fragment", baseURL)
	}
	c := &Client{base: u, userAgent: "flask-client/1", timeout: DefaultTimeout}
	for _, o := range opts {
		o(c)
	}
	if c.http == nil {
		c.http = &http.Client{
			Timeout: c.timeout,
			Transport: &http.Transport{
				Proxy:                 http.ProxyFromEnvironment,
				DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
				TLSHandshakeTimeout:   5 * time.Second,
				ResponseHeaderTimeout: c.timeout,
				IdleConnTimeout:       90 * time.Second,
				MaxIdleConnsPerHost:   4,
				ForceAttemptHTTP2:     true,
			},
		}
	}
	return c, nil
}

// SubmitRequest is a job to submit. Zero fields take the job type's
// defaults (and a nil Payload is JSON null).
type SubmitRequest struct {
	Type           string
	Queue          string
	Payload        json.RawMessage
	MaxAttempts    int
	Timeout        time.Duration
	RunAt          time.Time
	IdempotencyKey string
}

type submitWire struct {
	Type           string          `json:"type"`
	Queue          string          `json:"queue,omitempty"`
	Payload        json.RawMessage `json:"payload,omitempty"`
	MaxAttempts    int             `json:"max_attempts,omitempty"`
	Timeout        string          `json:"timeout,omitempty"`
	RunAt          *time.Time      `json:"run_at,omitempty"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
}

// MarshalJSON writes the request as the API's JobRequest, leaving out zero
// fields.
func (r SubmitRequest) MarshalJSON() ([]byte, error) {
	w := submitWire{
		Type:           r.Type,
		Queue:          r.Queue,
		Payload:        r.Payload,
		MaxAttempts:    r.MaxAttempts,
		IdempotencyKey: r.IdempotencyKey,
	}
	if r.Timeout != 0 {
		w.Timeout = r.Timeout.String()
	}
	if !r.RunAt.IsZero() {
		t := r.RunAt
		w.RunAt = &t
	}
	return json.Marshal(w)
}

// SubmitResult is the outcome of Submit.
type SubmitResult struct {
	Job job.Job
	// Existing is true when a job with the same idempotency key already
	// existed: Job is that job and nothing was created.
	Existing bool
}

// ListOpts filters and pages List. Zero fields do not filter.
type ListOpts struct {
	Queue string
	State job.State
	Type  string
	// Limit is the page size; 0 takes the server's default.
	Limit int
	// Cursor is the NextCursor of the previous page.
	Cursor string
}

// JobList is one page of jobs, newest first.
type JobList struct {
	Jobs []job.Job `json:"jobs"`
	// NextCursor fetches the next page; "" on the last page.
	NextCursor string `json:"next_cursor"`
}

// UnmarshalJSON reads a page whose next_cursor may be null.
func (l *JobList) UnmarshalJSON(b []byte) error {
	var w struct {
		Jobs       []job.Job `json:"jobs"`
		NextCursor *string   `json:"next_cursor"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	l.Jobs = w.Jobs
	l.NextCursor = ""
	if w.NextCursor != nil {
		l.NextCursor = *w.NextCursor
	}
	return nil
}

// MarshalJSON writes the page as the API does, next_cursor null on the last page.
func (l JobList) MarshalJSON() ([]byte, error) {
	var next *string
	if l.NextCursor != "" {
		next = &l.NextCursor
	}
	jobs := l.Jobs
	if jobs == nil {
		jobs = []job.Job{}
	}
	return json.Marshal(struct {
		Jobs       []job.Job `json:"jobs"`
		NextCursor *string   `json:"next_cursor"`
	}{jobs, next})
}

// Queue summarises one queue.
type Queue struct {
	Queue string `json:"queue"`
	// Counts has every state.
	Counts map[job.State]int `json:"counts"`
	// OldestQueuedAt is when the oldest waiting job became runnable; nil if none waits.
	OldestQueuedAt *time.Time `json:"oldest_queued_at"`
	// OldestQueuedAgeSeconds is how long it has waited; nil if none waits.
	OldestQueuedAgeSeconds *float64 `json:"oldest_queued_age_seconds"`
}

// Worker is a live worker process.
type Worker struct {
	ID       string `json:"id"`
	Hostname string `json:"hostname"`
	// Queues maps each queue served to its concurrency.
	Queues      map[string]int `json:"queues"`
	InFlight    int            `json:"in_flight"`
	StartedAt   time.Time      `json:"started_at"`
	HeartbeatAt time.Time      `json:"heartbeat_at"`
}

// JobType is an accepted job type with its defaults.
type JobType struct {
	Type        string       `json:"type"`
	Queue       string       `json:"queue"`
	MaxAttempts int          `json:"max_attempts"`
	Timeout     job.Duration `json:"timeout"`
	Backoff     Backoff      `json:"backoff"`
}

// Backoff is a job type's retry backoff.
type Backoff struct {
	Base job.Duration `json:"base"`
	Max  job.Duration `json:"max"`
	Min  job.Duration `json:"min"`
}

// Submit submits one job.
func (c *Client) Submit(ctx context.Context, req SubmitRequest) (*SubmitResult, error) {
	var j job.Job
	status, err := c.do(ctx, http.MethodPost, []string{"v1", "jobs"}, nil, req, &j)
	if err != nil {
		return nil, fmt.Errorf("submit job of type %s: %w", req.Type, err)
	}
	return &SubmitResult{Job: j, Existing: status == http.StatusOK}, nil
}

// SubmitBatch submits jobs all or nothing and returns them in order.
func (c *Client) SubmitBatch(ctx context.Context, reqs []SubmitRequest) ([]job.Job, error) {
	var out struct {
		Jobs []job.Job `json:"jobs"`
	}
	body := struct {
		Jobs []SubmitRequest `json:"jobs"`
	}{reqs}
	if _, err := c.do(ctx, http.MethodPost, []string{"v1", "jobs", "batch"}, nil, body, &out); err != nil {
		return nil, fmt.Errorf("submit batch of %d jobs: %w", len(reqs), err)
	}
	return out.Jobs, nil
}

// Get returns a job; errors.Is(err, job.ErrNotFound) when there is none.
func (c *Client) Get(ctx context.Context, id string) (*job.Job, error) {
	return c.jobCall(ctx, "get", http.MethodGet, id, "")
}

// Cancel cancels a job. A running job stays running with
// CancelRequestedAt set. A *ProblemError with State tells why it may not.
func (c *Client) Cancel(ctx context.Context, id string) (*job.Job, error) {
	return c.jobCall(ctx, "cancel", http.MethodPost, id, "cancel")
}

// Retry queues a failed or cancelled job again.
func (c *Client) Retry(ctx context.Context, id string) (*job.Job, error) {
	return c.jobCall(ctx, "retry", http.MethodPost, id, "retry")
}

func (c *Client) jobCall(ctx context.Context, op, method, id, action string) (*job.Job, error) {
	if id == "" {
		return nil, fmt.Errorf("%s job: the job id is empty", op)
	}
	path := []string{"v1", "jobs", url.PathEscape(id)}
	if action != "" {
		path = append(path, action)
	}
	var j job.Job
	if _, err := c.do(ctx, method, path, nil, nil, &j); err != nil {
		return nil, fmt.Errorf("%s job %s: %w", op, id, err)
	}
	return &j, nil
}

// List returns one page of jobs, newest first.
func (c *Client) List(ctx context.Context, opts ListOpts) (*JobList, error) {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("queue", opts.Queue)
	set("state", string(opts.State))
	set("type", opts.Type)
	set("cursor", opts.Cursor)
	if opts.Limit != 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	var out JobList
	if _, err := c.do(ctx, http.MethodGet, []string{"v1", "jobs"}, q, nil, &out); err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	return &out, nil
}

// Queues summarises every queue.
func (c *Client) Queues(ctx context.Context) ([]Queue, error) {
	var out struct {
		Queues []Queue `json:"queues"`
	}
	if _, err := c.do(ctx, http.MethodGet, []string{"v1", "queues"}, nil, nil, &out); err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	return out.Queues, nil
}

// Workers lists the live workers.
func (c *Client) Workers(ctx context.Context) ([]Worker, error) {
	var out struct {
		Workers []Worker `json:"workers"`
	}
	if _, err := c.do(ctx, http.MethodGet, []string{"v1", "workers"}, nil, nil, &out); err != nil {
		return nil, fmt.Errorf("list workers: %w", err)
	}
	return out.Workers, nil
}

// Types lists the accepted job types.
func (c *Client) Types(ctx context.Context) ([]JobType, error) {
	var out struct {
		Types []JobType `json:"types"`
	}
	if _, err := c.do(ctx, http.MethodGet, []string{"v1", "types"}, nil, nil, &out); err != nil {
		return nil, fmt.Errorf("list job types: %w", err)
	}
	return out.Types, nil
}

// Key describes an API key, without its secret.
type Key struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Tenant     string     `json:"tenant"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// NewKey is a key just created: Secret is the whole token
// (flask_<id>_<secret>), which the server never shows again.
type NewKey struct {
	Key
	Secret string `json:"key"`
}

// CreateKeyRequest describes a key to create (admin scope).
type CreateKeyRequest struct {
	Name   string   `json:"name"`
	Tenant string   `json:"tenant"`
	Scopes []string `json:"scopes"`
}

// CreateKey creates an API key (admin scope).
func (c *Client) CreateKey(ctx context.Context, req CreateKeyRequest) (*NewKey, error) {
	var out NewKey
	if _, err := c.do(ctx, http.MethodPost, []string{"v1", "keys"}, nil, req, &out); err != nil {
		return nil, fmt.Errorf("create API key: %w", err)
	}
	return &out, nil
}

// ListKeys lists the API keys of tenant, or every key when tenant is ""
// (admin scope).
func (c *Client) ListKeys(ctx context.Context, tenant string) ([]Key, error) {
	q := url.Values{}
	if tenant != "" {
		q.Set("tenant", tenant)
	}
	var out struct {
		Keys []Key `json:"keys"`
	}
	if _, err := c.do(ctx, http.MethodGet, []string{"v1", "keys"}, q, nil, &out); err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	return out.Keys, nil
}

// RevokeKey revokes the API key with id (admin scope).
func (c *Client) RevokeKey(ctx context.Context, id string) (*Key, error) {
	var out Key
	if _, err := c.do(ctx, http.MethodPost, []string{"v1", "keys", id, "revoke"}, nil, nil, &out); err != nil {
		return nil, fmt.Errorf("revoke API key %s: %w", id, err)
	}
	return &out, nil
}

// Wait polls a job every interval until it reaches a terminal state, and
// returns it then. It returns early with ctx's error.
func (c *Client) Wait(ctx context.Context, id string, interval time.Duration) (*job.Job, error) {
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		j, err := c.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if j.State.Terminal() {
			return j, nil
		}
		select {
		case <-ctx.Done():
			return j, fmt.Errorf("wait for job %s (%s): %w", id, j.State, ctx.Err())
		case <-t.C:
		}
	}
}

// maxErrorBody caps what is read of an error response, maxBody of any
// other: a misbehaving server cannot make the client read without end.
const (
	maxErrorBody = 64 << 10
	maxBody      = 256 << 20
)

// do sends one request and decodes a 2xx answer into out. It returns the
// status, and a *ProblemError for any other answer.
func (c *Client) do(ctx context.Context, method string, path []string, q url.Values, in, out any) (int, error) {
	u := c.base.JoinPath(path...)
	u.RawQuery = q.Encode()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("User-Agent", c.userAgent)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, readProblem(resp)
	}
	if out != nil {
		if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %d response: %w", resp.StatusCode, err)
		}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	return resp.StatusCode, nil
}

// readProblem turns an error response into a *ProblemError, whether or not
// it is a problem document (a proxy in between may answer HTML).
func readProblem(resp *http.Response) error {
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	p := &ProblemError{Status: resp.StatusCode, RequestID: resp.Header.Get("X-Request-Id")}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err == nil && (mt == "application/problem+json" || mt == "application/json") && json.Unmarshal(b, p) == nil && p.Title != "" {
		p.Status = resp.StatusCode
		return p
	}
	*p = ProblemError{Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode), RequestID: p.RequestID}
	if s := strings.Join(strings.Fields(string(b)), " "); s != "" {
		p.Detail = truncate(s, 200)
	}
	return p
}

// FieldError names one field at fault in a request.
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// ProblemError is an error answer of the API (an RFC 9457 problem).
type ProblemError struct {
	Status int    `json:"status"`
	Type   string `json:"type"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	// Errors names the fields at fault.
	Errors []FieldError `json:"errors"`
	// State is the job's state in a state conflict (409).
	State job.State `json:"state"`
	// Checks tells how each dependency fared in a readiness failure.
	Checks    map[string]string `json:"checks"`
	RequestID string            `json:"request_id"`
}

// Error is one line: the title and status, then the fields at fault or the
// detail.
func (e *ProblemError) Error() string {
	var b strings.Builder
	title := e.Title
	if title == "" {
		title = http.StatusText(e.Status)
	}
	fmt.Fprintf(&b, "%s (HTTP %d)", title, e.Status)
	if len(e.Errors) > 1 {
		const show = 5
		for i, fe := range e.Errors {
			if i == show {
				fmt.Fprintf(&b, "; and %d more", len(e.Errors)-show)
				break
			}
			sep := "; "
			if i == 0 {
				sep = ": "
			}
			b.WriteString(sep)
			if fe.Field != "" {
				b.WriteString(fe.Field + ": ")
			}
			b.WriteString(fe.Detail)
		}
	} else if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// Is reports a 404 as job.ErrNotFound.
func (e *ProblemError) Is(target error) bool {
	return target == job.ErrNotFound && e.Status == http.StatusNotFound
}

// IsProblem returns the *ProblemError in err's chain, if any.
func IsProblem(err error) (*ProblemError, bool) {
	var p *ProblemError
	ok := errors.As(err, &p)
	return p, ok
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
