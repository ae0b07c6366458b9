package auth_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/api/auth"
	"github.com/flaskhq/flask/store"
)

// keyStore is an in-memory KeyStore that counts its reads.
type keyStore struct {
	mu      sync.Mutex
	keys    map[string]store.APIKey
	reads   int
	touched map[string]time.Time
	fail    error
}

func (s *keyStore) GetAPIKey(_ context.Context, id string) (*store.APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	if s.fail != nil {
		return nil, s.fail
	}
	k, ok := s.keys[id]
	if !ok {
		return nil, store.ErrKeyNotFound
	}
	return &k, nil
}

func (s *keyStore) TouchAPIKeys(_ context.Context, ids []string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.touched[id] = at
	}
	return nil
}

func (s *keyStore) add(tenant string, scopes ...string) auth.Key {
	k, err := auth.NewKey()
	if err != nil {
		panic(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[k.ID] = store.APIKey{ID: k.ID, Tenant: tenant, Scopes: scopes, SecretHash: k.Hash()}
	return k
}

func TestKeyFormat(t *testing.T) {
	t.Parallel()
	k, err := auth.NewKey()
	require.NoError(t, err)
	tok := k.Token()
	require.Regexp(t, `^flask_[a-z2-7]{16}_[a-z2-7]{52}$`, tok)
	back, err := auth.ParseKey(tok)
	require.NoError(t, err)
	require.Equal(t, k, back)
	require.NotContains(t, k.String(), k.Secret, "printing a key never shows its secret")
	require.NotContains(t, fmt.Sprint(k), k.Secret)
	require.Len(t, k.Hash(), 32)
	other, _ := auth.NewKey()
	require.NotEqual(t, k.ID, other.ID)
	require.NotEqual(t, k.Secret, other.Secret)

	for _, bad := range []string{"", "flask_", tok[:len(tok)-1], tok + "a", strings.ToUpper(tok), strings.Replace(tok, "_", "-", 1),
		"flask_" + strings.Repeat("a", 16) + "_" + strings.Repeat("1", 52), "Bearer " + tok} {
		_, err := auth.ParseKey(bad)
		require.ErrorIs(t, err, auth.ErrMalformedKey, bad)
	}
}

func TestScopesAndTenants(t *testing.T) {
	t.Parallel()
	got, err := auth.ParseScopes([]string{"jobs:read", "admin", "jobs:read"})
	require.NoError(t, err)
	require.Equal(t, []auth.Scope{auth.ScopeRead, auth.ScopeAdmin}, got)
	_, err = auth.ParseScopes(nil)
	require.Error(t, err)
	_, err = auth.ParseScopes([]string{"root"})
	require.Error(t, err)

	for _, ok := range []string{"default", "acme", "a", "team-7_x", strings.Repeat("a", 63)} {
		require.NoError(t, auth.ValidateTenant(ok), ok)
	}
	for _, bad := range []string{"", "Acme", "-x", "a b", "*", strings.Repeat("a", 64), "é"} {
		require.Error(t, auth.ValidateTenant(bad), bad)
	}

	admin := auth.Principal{KeyID: "k", Tenant: "acme", Scopes: []auth.Scope{auth.ScopeAdmin}}
	require.True(t, admin.Allows(auth.ScopeManage))
	require.Equal(t, store.AllTenants, admin.JobTenant())
	reader := auth.Principal{KeyID: "k", Tenant: "acme", Scopes: []auth.Scope{auth.ScopeRead}}
	require.True(t, reader.Allows(auth.ScopeRead))
	require.False(t, reader.Allows(auth.ScopeSubmit))
	require.False(t, reader.Admin())
	require.Equal(t, "acme", reader.JobTenant())
}

func TestVerifier(t *testing.T) {
	t.Parallel()
	ks := &keyStore{keys: map[string]store.APIKey{}, touched: map[string]time.Time{}}
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	v := auth.NewVerifier(auth.VerifierConfig{CacheTTL: 10 * time.Second, Now: clock}, ks, nil)
	ctx := t.Context()

	k := ks.add("acme", "jobs:read")
	p, err := v.Verify(ctx, k.Token())
	require.NoError(t, err)
	require.Equal(t, auth.Principal{KeyID: k.ID, Tenant: "acme", Scopes: []auth.Scope{auth.ScopeRead}}, p)
	for range 5 {
		_, err = v.Verify(ctx, k.Token())
		require.NoError(t, err)
	}
	require.Equal(t, 1, ks.reads, "verified keys are cached")

	wrong := auth.Key{ID: k.ID, Secret: strings.Repeat("a", 52)}
	_, err = v.Verify(ctx, wrong.Token())
	require.ErrorIs(t, err, auth.ErrUnauthenticated, "a known id with the wrong secret")
	_, err = v.Verify(ctx, "flask_nope")
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
	unknown, _ := auth.NewKey()
	_, err = v.Verify(ctx, unknown.Token())
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
	_, err = v.Verify(ctx, unknown.Token())
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
	require.Equal(t, 2, ks.reads, "unknown ids are cached too")

	// Revoked elsewhere: still valid here until the TTL runs out.
	ks.mu.Lock()
	rk := ks.keys[k.ID]
	revoked := now
	rk.RevokedAt = &revoked
	ks.keys[k.ID] = rk
	ks.mu.Unlock()
	_, err = v.Verify(ctx, k.Token())
	require.NoError(t, err)
	advance(10 * time.Second)
	_, err = v.Verify(ctx, k.Token())
	require.ErrorIs(t, err, auth.ErrUnauthenticated, "revocation reaches this process within the TTL")

	k2 := ks.add("acme", "jobs:submit")
	_, err = v.Verify(ctx, k2.Token())
	require.NoError(t, err)
	v.Forget(k2.ID)
	ks.mu.Lock()
	delete(ks.keys, k2.ID)
	ks.mu.Unlock()
	_, err = v.Verify(ctx, k2.Token())
	require.ErrorIs(t, err, auth.ErrUnauthenticated, "Forget drops the cached key at once")

	ks.mu.Lock()
	ks.fail = errors.New("db down")
	ks.mu.Unlock()
	k3 := ks.add("acme", "jobs:read")
	_, err = v.Verify(ctx, k3.Token())
	require.Error(t, err)
	require.NotErrorIs(t, err, auth.ErrUnauthenticated, "a store failure is not a bad key")
	require.NotContains(t, err.Error(), k3.Secret)

	// Last use is written in one batch.
	v.Flush(ctx)
	require.Contains(t, ks.touched, k.ID)
	require.NotContains(t, ks.touched, unknown.ID)
}

func TestVerifierCacheIsBounded(t *testing.T) {
	t.Parallel()
	ks := &keyStore{keys: map[string]store.APIKey{}, touched: map[string]time.Time{}}
	v := auth.NewVerifier(auth.VerifierConfig{MaxCached: 10}, ks, nil)
	for range 100 {
		k, _ := auth.NewKey()
		_, err := v.Verify(t.Context(), k.Token())
		require.ErrorIs(t, err, auth.ErrUnauthenticated)
	}
	good := ks.add("acme", "admin")
	_, err := v.Verify(t.Context(), good.Token())
	require.NoError(t, err, "a flood of unknown ids does not lock out a good key")
	require.Equal(t, 101, ks.reads)
}
