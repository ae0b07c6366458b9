// Package apitest provides in-memory fakes of the API's seams for tests of
// the api package and of its clients: a Store and a Dispatcher that records
// what it was given.
//
// The fakes follow the contracts of api.Store and api.Dispatcher closely
// enough for handler tests; the real stores have their own conformance suite.
package apitest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/flaskhq/flask/api/auth"
	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store"
)

// Store is an in-memory job store. It is safe for concurrent use.
type Store struct {
	now func() time.Time

	mu      sync.Mutex
	jobs    map[string]*job.Job
	order   []string          // ids in insertion order
	keys    map[string]string // tenant + "\x00" + idempotency key → job id
	tenants map[string]string // job id → tenant
	apiKeys map[string]*store.APIKey
	workers []store.WorkerInfo
	// pending are the outbox entries handed out; the fake never publishes.
	pending []store.OutboxEntry
	// fail, when set, is asked before each operation whether it fails.
	fail     func(op string) error
	pingErr  error
	getCount map[string]int
	onGet    func(j *job.Job, n int)
}

// NewStore returns an empty store using the given clock (nil: time.Now).
func NewStore(now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{
		now:      now,
		jobs:     make(map[string]*job.Job),
		keys:     make(map[string]string),
		tenants:  make(map[string]string),
		apiKeys:  make(map[string]*store.APIKey),
		getCount: make(map[string]int),
	}
}

// FailWith makes every later operation op ("InsertJobs", "GetJob", …) for
// which f returns an error fail with it. Nil clears it.
func (s *Store) FailWith(f func(op string) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = f
}

// SetPingError makes Ping return err.
func (s *Store) SetPingError(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pingErr = err
}

// SetWorkers sets what ListWorkers returns.
func (s *Store) SetWorkers(ws []store.WorkerInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.workers = slices.Clone(ws)
}

// OnGet calls f under the store's lock each time GetJob finds a job, with the
// number of times that job was read so far (1 on the first); f may change it.
// It lets tests move a job along while a client polls it.
func (s *Store) OnGet(f func(j *job.Job, n int)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onGet = f
}

// Update changes a stored job in place.
func (s *Store) Update(id string, f func(j *job.Job)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		return fmt.Errorf("update job %s: %w", id, job.ErrNotFound)
	}
	f(j)
	return nil
}

// Put stores a job of the default tenant as given, replacing one with the
// same id.
func (s *Store) Put(j job.Job) { s.PutTenant(store.DefaultTenant, j) }

// PutTenant stores a job of tenant as given, replacing one with the same id.
func (s *Store) PutTenant(tenant string, j job.Job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.jobs[j.ID]; !ok {
		s.order = append(s.order, j.ID)
	}
	j.Tenant = tenant
	s.jobs[j.ID] = &j
	s.tenants[j.ID] = tenant
	if j.IdempotencyKey != "" {
		s.keys[tenant+"\x00"+j.IdempotencyKey] = j.ID
	}
}

// AddKey stores a new API key of tenant with scopes and returns its token.
func (s *Store) AddKey(tenant string, scopes ...auth.Scope) string {
	k, err := auth.NewKey()
	if err != nil {
		panic(err)
	}
	if _, err := s.CreateAPIKey(context.Background(), store.CreateKeyParams{
		ID: k.ID, Name: "test", Tenant: tenant, Scopes: auth.ScopeStrings(scopes), SecretHash: k.Hash(),
	}); err != nil {
		panic(err)
	}
	return k.Token()
}

// Len counts the stored jobs.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.jobs)
}

func (s *Store) check(op string) error { return failed(s.fail, op) }

// failed asks the fault hook fail (nil: none) whether op fails.
func failed(fail func(op string) error, op string) error {
	if fail != nil {
		if err := fail(op); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	return nil
}

func clone(j *job.Job) *job.Job {
	c := *j
	c.Errors = slices.Clone(j.Errors)
	c.Payload = slices.Clone(j.Payload)
	c.Result = slices.Clone(j.Result)
	return &c
}

func (s *Store) outbox(j *job.Job) store.OutboxEntry {
	e := store.OutboxEntry{ID: uuid.Must(uuid.NewV7()).String(), JobID: j.ID, Queue: j.Queue, Type: j.Type, CreatedAt: s.now()}
	s.pending = append(s.pending, e)
	return e
}

// InsertJobs inserts every job or none, honouring idempotency keys.
func (s *Store) InsertJobs(ctx context.Context, params []store.InsertParams) ([]store.InsertResult, []store.OutboxEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("InsertJobs"); err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	now := s.now().UTC()
	results := make([]store.InsertResult, 0, len(params))
	var entries []store.OutboxEntry
	var fresh []*job.Job
	seen := make(map[string]*job.Job)
	tenantOf := make(map[*job.Job]string)
	for _, p := range params {
		tenant := p.Tenant
		if tenant == "" {
			tenant = store.DefaultTenant
		}
		idemKey := tenant + "\x00" + p.IdempotencyKey
		if p.IdempotencyKey != "" {
			if id, ok := s.keys[idemKey]; ok {
				results = append(results, store.InsertResult{Job: *clone(s.jobs[id]), Existing: true})
				continue
			}
			if j, ok := seen[idemKey]; ok {
				results = append(results, store.InsertResult{Job: *clone(j), Existing: true})
				continue
			}
		}
		j := &job.Job{
			ID:             uuid.Must(uuid.NewV7()).String(),
			Queue:          p.Queue,
			Type:           p.Type,
			Payload:        slices.Clone(p.Payload),
			State:          job.StateQueued,
			MaxAttempts:    p.MaxAttempts,
			Timeout:        job.Duration(p.Timeout),
			RunAt:          now,
			CreatedAt:      now,
			Errors:         []job.AttemptError{},
			IdempotencyKey: p.IdempotencyKey,
			Trace:          p.Trace,
		}
		if !p.RunAt.IsZero() {
			j.RunAt = p.RunAt.UTC()
		}
		if j.RunAt.After(now) {
			j.State = job.StateScheduled
		} else {
			entries = append(entries, s.outbox(j))
		}
		if p.IdempotencyKey != "" {
			seen[idemKey] = j
		}
		j.Tenant = tenant
		tenantOf[j] = tenant
		fresh = append(fresh, j)
		results = append(results, store.InsertResult{Job: *clone(j)})
	}
	for _, j := range fresh {
		s.jobs[j.ID] = j
		s.order = append(s.order, j.ID)
		s.tenants[j.ID] = tenantOf[j]
		if j.IdempotencyKey != "" {
			s.keys[tenantOf[j]+"\x00"+j.IdempotencyKey] = j.ID
		}
	}
	return results, entries, nil
}

// owned returns the job with id when tenant may see it.
func (s *Store) owned(tenant, id string) (*job.Job, bool) {
	j, ok := s.jobs[id]
	if !ok || (tenant != store.AllTenants && s.tenants[id] != tenant) {
		return nil, false
	}
	return j, true
}

// TenantOf returns the tenant of a job ("" if there is no such job).
func (s *Store) TenantOf(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tenants[id]
}

// GetJob returns a copy of the job, whatever its tenant.
func (s *Store) GetJob(ctx context.Context, id string) (*job.Job, error) {
	return s.GetTenantJob(ctx, store.AllTenants, id)
}

// GetTenantJob returns a copy of the job if it is tenant's.
func (s *Store) GetTenantJob(ctx context.Context, tenant, id string) (*job.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("GetJob"); err != nil {
		return nil, err
	}
	j, ok := s.owned(tenant, id)
	if !ok {
		return nil, fmt.Errorf("get job %s: %w", id, job.ErrNotFound)
	}
	s.getCount[id]++
	if s.onGet != nil {
		s.onGet(j, s.getCount[id])
	}
	return clone(j), nil
}

// ListJobs returns jobs newest first (by id, as UUIDv7 sort by time). Like
// the real stores, it returns at most 1000 jobs, whatever p.Limit says.
func (s *Store) ListJobs(ctx context.Context, p store.ListParams) ([]job.Job, error) {
	if p.Limit <= 0 || p.Limit > 1000 {
		p.Limit = 1000
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("ListJobs"); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(s.jobs))
	for id := range s.jobs {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int { return strings.Compare(b, a) })
	var out []job.Job
	for _, id := range ids {
		j := s.jobs[id]
		switch {
		case p.Tenant != store.AllTenants && s.tenants[id] != p.Tenant,
			p.Cursor != "" && id >= p.Cursor,
			p.Queue != "" && j.Queue != p.Queue,
			p.State != "" && j.State != p.State,
			p.Type != "" && j.Type != p.Type:
			continue
		}
		out = append(out, *clone(j))
		if len(out) == p.Limit {
			break
		}
	}
	return out, nil
}

// CancelTenantJob cancels a job of tenant that has not finished; a running
// one only gets CancelRequestedAt.
func (s *Store) CancelTenantJob(ctx context.Context, tenant, id string) (*job.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("CancelJob"); err != nil {
		return nil, err
	}
	j, ok := s.owned(tenant, id)
	if !ok {
		return nil, fmt.Errorf("cancel job %s: %w", id, job.ErrNotFound)
	}
	if !j.State.Cancellable() {
		return nil, &job.StateError{ID: id, Op: "cancel", State: j.State}
	}
	now := s.now().UTC()
	if j.State == job.StateRunning {
		if j.CancelRequestedAt == nil {
			j.CancelRequestedAt = &now
		}
	} else {
		j.State = job.StateCancelled
		j.FinishedAt = &now
	}
	return clone(j), nil
}

// RetryTenantJob queues a failed or cancelled job of tenant again.
func (s *Store) RetryTenantJob(ctx context.Context, tenant, id string) (*job.Job, []store.OutboxEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("RetryJob"); err != nil {
		return nil, nil, err
	}
	j, ok := s.owned(tenant, id)
	if !ok {
		return nil, nil, fmt.Errorf("retry job %s: %w", id, job.ErrNotFound)
	}
	if !j.State.Retryable() {
		return nil, nil, &job.StateError{ID: id, Op: "retry", State: j.State}
	}
	j.State = job.StateQueued
	j.RunAt = s.now().UTC()
	j.FinishedAt = nil
	j.CancelRequestedAt = nil
	if j.Attempt >= j.MaxAttempts {
		j.MaxAttempts = j.Attempt + 1
	}
	return clone(j), []store.OutboxEntry{s.outbox(j)}, nil
}

// OutboxStats counts the outbox entries handed out (the fake never
// publishes them) and returns the oldest one's time.
func (s *Store) OutboxStats(ctx context.Context) (int, *time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("OutboxStats"); err != nil {
		return 0, nil, err
	}
	if len(s.pending) == 0 {
		return 0, nil, nil
	}
	t := s.pending[0].CreatedAt
	return len(s.pending), &t, nil
}

// QueueStats counts jobs by queue and state.
func (s *Store) QueueStats(ctx context.Context) ([]store.QueueStats, error) {
	return s.TenantQueueStats(ctx, store.AllTenants)
}

// TenantQueueStats counts the jobs of tenant by queue and state.
func (s *Store) TenantQueueStats(ctx context.Context, tenant string) ([]store.QueueStats, error) {
	return s.queueStats("QueueStats", tenant, func(job.State) bool { return true })
}

// ActiveQueueStats counts the jobs of tenant in a state that is not
// terminal; its fault-injection name is "QueueStats", as the read that
// autoscalers depend on.
func (s *Store) ActiveQueueStats(ctx context.Context, tenant string) ([]store.QueueStats, error) {
	return s.queueStats("QueueStats", tenant, func(st job.State) bool { return !st.Terminal() })
}

// TerminalQueueStats counts the succeeded, failed and cancelled jobs of
// tenant (fault-injection name "TerminalQueueStats").
func (s *Store) TerminalQueueStats(ctx context.Context, tenant string) ([]store.QueueStats, error) {
	return s.queueStats("TerminalQueueStats", tenant, job.State.Terminal)
}

// queueStats counts the jobs of tenant whose state is kept, by queue and state.
// Its fault hook runs without the store's lock, so that a test may hold one
// read while others go on.
func (s *Store) queueStats(op, tenant string, keep func(job.State) bool) ([]store.QueueStats, error) {
	s.mu.Lock()
	fail := s.fail
	s.mu.Unlock()
	if err := failed(fail, op); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	byQueue := make(map[string]*store.QueueStats)
	for _, id := range s.order {
		j, ok := s.owned(tenant, id)
		if !ok || !keep(j.State) {
			continue
		}
		q, ok := byQueue[j.Queue]
		if !ok {
			q = &store.QueueStats{Queue: j.Queue, Counts: make(map[job.State]int)}
			byQueue[j.Queue] = q
		}
		q.Counts[j.State]++
		if j.State == job.StateQueued && (q.OldestQueuedAt == nil || j.RunAt.Before(*q.OldestQueuedAt)) {
			t := j.RunAt
			q.OldestQueuedAt = &t
		}
	}
	out := make([]store.QueueStats, 0, len(byQueue))
	for _, q := range byQueue {
		out = append(out, *q)
	}
	slices.SortFunc(out, func(a, b store.QueueStats) int { return strings.Compare(a.Queue, b.Queue) })
	return out, nil
}

// CountWaiting counts the scheduled, queued and retrying jobs of tenant.
func (s *Store) CountWaiting(ctx context.Context, tenant string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("CountWaiting"); err != nil {
		return 0, err
	}
	n := 0
	for id, j := range s.jobs {
		if s.tenants[id] == tenant && (j.State == job.StateScheduled || j.State == job.StateQueued || j.State == job.StateRetrying) {
			n++
		}
	}
	return n, nil
}

// CreateAPIKey stores a key; job.ErrDuplicate when its id is taken.
func (s *Store) CreateAPIKey(ctx context.Context, p store.CreateKeyParams) (*store.APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("CreateAPIKey"); err != nil {
		return nil, err
	}
	if _, ok := s.apiKeys[p.ID]; ok {
		return nil, fmt.Errorf("create API key %s: %w", p.ID, job.ErrDuplicate)
	}
	k := &store.APIKey{ID: p.ID, Name: p.Name, Tenant: p.Tenant, Scopes: slices.Clone(p.Scopes),
		SecretHash: slices.Clone(p.SecretHash), CreatedAt: s.now().UTC()}
	s.apiKeys[p.ID] = k
	c := *k
	return &c, nil
}

// GetAPIKey returns a key, or store.ErrKeyNotFound.
func (s *Store) GetAPIKey(ctx context.Context, id string) (*store.APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("GetAPIKey"); err != nil {
		return nil, err
	}
	k, ok := s.apiKeys[id]
	if !ok {
		return nil, store.ErrKeyNotFound
	}
	c := *k
	return &c, nil
}

// ListAPIKeys lists the keys of tenant (all for store.AllTenants), by id.
func (s *Store) ListAPIKeys(ctx context.Context, tenant string) ([]store.APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("ListAPIKeys"); err != nil {
		return nil, err
	}
	var out []store.APIKey
	for _, k := range s.apiKeys {
		if tenant == store.AllTenants || k.Tenant == tenant {
			out = append(out, *k)
		}
	}
	slices.SortFunc(out, func(a, b store.APIKey) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// RevokeAPIKey revokes a key, keeping the first revocation time.
func (s *Store) RevokeAPIKey(ctx context.Context, id string) (*store.APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("RevokeAPIKey"); err != nil {
		return nil, err
	}
	k, ok := s.apiKeys[id]
	if !ok {
		return nil, store.ErrKeyNotFound
	}
	if k.RevokedAt == nil {
		now := s.now().UTC()
		k.RevokedAt = &now
	}
	c := *k
	return &c, nil
}

// TouchAPIKeys records the keys' last use.
func (s *Store) TouchAPIKeys(ctx context.Context, ids []string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if k, ok := s.apiKeys[id]; ok && (k.LastUsedAt == nil || k.LastUsedAt.Before(at)) {
			t := at
			k.LastUsedAt = &t
		}
	}
	return nil
}

// ListWorkers returns what SetWorkers set.
func (s *Store) ListWorkers(ctx context.Context) ([]store.WorkerInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("ListWorkers"); err != nil {
		return nil, err
	}
	return slices.Clone(s.workers), nil
}

// Ping returns what SetPingError set, or the context's error.
func (s *Store) Ping(ctx context.Context) error {
	s.mu.Lock()
	err := s.pingErr
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return ctx.Err()
}

// Dispatcher records the outbox entries it is given.
type Dispatcher struct {
	mu      sync.Mutex
	entries []store.OutboxEntry
}

// Dispatch records the entries.
func (d *Dispatcher) Dispatch(ctx context.Context, entries []store.OutboxEntry) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.entries = append(d.entries, entries...)
}

// Entries returns every entry dispatched so far.
func (d *Dispatcher) Entries() []store.OutboxEntry {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.entries)
}

// Checker is a readiness check whose answer tests set.
type Checker struct {
	mu  sync.Mutex
	err error
}

// SetError sets what Ping returns.
func (c *Checker) SetError(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = err
}

// Ping returns the error set, or the context's error.
func (c *Checker) Ping(ctx context.Context) error {
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return ctx.Err()
}

// MustJSON marshals v or panics; for building test payloads.
func MustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
