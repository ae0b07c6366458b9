package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/flaskhq/flask/store"
)

// Principal is who a request acts for: the key that authenticated it.
type Principal struct {
	KeyID  string
	Tenant string
	Scopes []Scope
}

// Allows reports whether the principal holds scope; admin holds them all.
func (p Principal) Allows(scope Scope) bool {
	return slices.Contains(p.Scopes, ScopeAdmin) || slices.Contains(p.Scopes, scope)
}

// Admin reports whether the principal holds the admin scope.
func (p Principal) Admin() bool { return slices.Contains(p.Scopes, ScopeAdmin) }

// JobTenant is the tenant filter of the principal's reads and updates:
// store.AllTenants for an admin, its own tenant otherwise.
func (p Principal) JobTenant() string {
	if p.Admin() {
		return store.AllTenants
	}
	return p.Tenant
}

// KeyStore is what the Verifier needs from the store.
type KeyStore interface {
	// GetAPIKey returns store.ErrKeyNotFound for an unknown id.
	GetAPIKey(ctx context.Context, id string) (*store.APIKey, error)
	// TouchAPIKeys records the last use of keys.
	TouchAPIKeys(ctx context.Context, ids []string, at time.Time) error
}

// ErrUnauthenticated is returned by Verify for a token that is malformed,
// unknown, wrong or revoked. The cause is deliberately not told apart.
var ErrUnauthenticated = errors.New("the API key is missing, malformed, unknown or revoked")

// Defaults of VerifierConfig.
const (
	DefaultCacheTTL      = 10 * time.Second
	DefaultMaxCached     = 10000
	DefaultTouchInterval = time.Minute
)

// VerifierConfig tunes a Verifier. A zero field takes its default.
type VerifierConfig struct {
	// CacheTTL is how long a looked-up key is trusted without reading the
	// store again: the longest a revocation takes to reach this process.
	// Default 10s.
	CacheTTL time.Duration
	// MaxCached bounds the cache (known and unknown ids). Default 10000.
	MaxCached int
	// TouchInterval is how often Run writes the keys' last use. Default 1m.
	TouchInterval time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Verifier authenticates API keys against a KeyStore, with a cache.
type Verifier struct {
	cfg   VerifierConfig
	store KeyStore
	log   *slog.Logger

	mu    sync.Mutex
	cache map[string]cached
	used  map[string]time.Time
}

type cached struct {
	key *store.APIKey // nil: no key has the id
	at  time.Time
}

// NewVerifier builds a verifier. Call Run to write last-use times back.
func NewVerifier(cfg VerifierConfig, ks KeyStore, log *slog.Logger) *Verifier {
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	if cfg.MaxCached <= 0 {
		cfg.MaxCached = DefaultMaxCached
	}
	if cfg.TouchInterval <= 0 {
		cfg.TouchInterval = DefaultTouchInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Verifier{cfg: cfg, store: ks, log: log, cache: map[string]cached{}, used: map[string]time.Time{}}
}

// Verify returns the principal of token, ErrUnauthenticated when the token
// does not authenticate, or another error when the store cannot be read.
func (v *Verifier) Verify(ctx context.Context, token string) (Principal, error) {
	k, err := ParseKey(token)
	if err != nil {
		return Principal{}, ErrUnauthenticated
	}
	now := v.cfg.Now()
	c, err := v.lookup(ctx, k.ID, now)
	if err != nil {
		return Principal{}, err
	}
	// Compare digests in constant time even for an unknown id, so that
	// timing tells nothing about which ids exist.
	want := make([]byte, 32)
	if c.key != nil {
		want = c.key.SecretHash
	}
	match := subtle.ConstantTimeCompare(k.Hash(), want) == 1
	if c.key == nil || !match || c.key.RevokedAt != nil {
		return Principal{}, ErrUnauthenticated
	}
	return v.principal(c.key, now), nil
}

// Lookup returns the principal of the key with id while the key exists and
// is not revoked, with the same cache as Verify. It checks no secret: it is
// for a caller that verified the secret before, such as a signed session
// cookie made at sign-in.
func (v *Verifier) Lookup(ctx context.Context, id string) (Principal, error) {
	if !ValidKeyID(id) {
		return Principal{}, ErrUnauthenticated
	}
	now := v.cfg.Now()
	c, err := v.lookup(ctx, id, now)
	if err != nil {
		return Principal{}, err
	}
	if c.key == nil || c.key.RevokedAt != nil {
		return Principal{}, ErrUnauthenticated
	}
	return v.principal(c.key, now), nil
}

// lookup returns the cached entry of id, reading the store when it is
// missing or stale.
func (v *Verifier) lookup(ctx context.Context, id string, now time.Time) (cached, error) {
	v.mu.Lock()
	c, ok := v.cache[id]
	v.mu.Unlock()
	if ok && now.Sub(c.at) < v.cfg.CacheTTL && !now.Before(c.at) {
		return c, nil
	}
	stored, err := v.store.GetAPIKey(ctx, id)
	switch {
	case errors.Is(err, store.ErrKeyNotFound):
		stored = nil
	case err != nil:
		return cached{}, fmt.Errorf("verify API key %s: %w", id, err)
	}
	c = cached{key: stored, at: now}
	v.put(id, c)
	return c, nil
}

// principal records the key's use and returns its principal.
func (v *Verifier) principal(k *store.APIKey, now time.Time) Principal {
	scopes := make([]Scope, len(k.Scopes))
	for i, s := range k.Scopes {
		scopes[i] = Scope(s)
	}
	v.mu.Lock()
	v.used[k.ID] = now
	v.mu.Unlock()
	return Principal{KeyID: k.ID, Tenant: k.Tenant, Scopes: scopes}
}

type ctxKey struct{}

// NewContext returns ctx carrying p: a request authenticated by other means
// than its Authorization header, such as the dashboard's session cookie.
// The API honours it only when the request has no Authorization header.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal NewContext put in ctx.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}

// put caches an entry, first dropping stale entries (or, if none is stale,
// one at random) when the cache is full.
func (v *Verifier) put(id string, c cached) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.cache[id]; !ok && len(v.cache) >= v.cfg.MaxCached {
		for k, e := range v.cache {
			if c.at.Sub(e.at) >= v.cfg.CacheTTL {
				delete(v.cache, k)
			}
		}
		for k := range v.cache {
			if len(v.cache) < v.cfg.MaxCached {
				break
			}
			delete(v.cache, k)
		}
	}
	v.cache[id] = c
}

// Forget drops a key from the cache, so that a revocation made through this
// process takes effect here at once.
func (v *Verifier) Forget(id string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.cache, id)
}

// Run writes the keys' last use every TouchInterval until ctx ends, then
// once more.
func (v *Verifier) Run(ctx context.Context) {
	t := time.NewTicker(v.cfg.TouchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			v.Flush(fctx)
			cancel()
			return
		case <-t.C:
			v.Flush(ctx)
		}
	}
}

// Flush writes the last use of the keys used since the previous flush.
func (v *Verifier) Flush(ctx context.Context) {
	v.mu.Lock()
	used := v.used
	v.used = map[string]time.Time{}
	v.mu.Unlock()
	if len(used) == 0 {
		return
	}
	// One write for all, at the latest time: last use is coarse by design.
	var ids []string
	var latest time.Time
	for id, at := range used {
		ids = append(ids, id)
		if at.After(latest) {
			latest = at
		}
	}
	if err := v.store.TouchAPIKeys(ctx, ids, latest); err != nil {
		v.log.WarnContext(ctx, "could not record API key use", "keys", len(ids), "err", err)
	}
}
