package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrKeyNotFound is returned for an API key id that does not exist.
var ErrKeyNotFound = errors.New("API key not found")

// APIKey is a stored API key. The secret itself is never stored: only its
// SHA-256 digest, SecretHash.
type APIKey struct {
	// ID is the public part of the key, used to look it up.
	ID string `json:"id"`
	// Name is a label for people ("ci", "billing service").
	Name string `json:"name"`
	// Tenant owns the jobs the key submits and bounds what it may see
	// (unless it has the admin scope).
	Tenant string `json:"tenant"`
	// Scopes are the permissions of the key, such as jobs:submit.
	Scopes    []string  `json:"scopes"`
	CreatedAt time.Time `json:"created_at"`
	// LastUsedAt is when the key last authenticated a request, to within the
	// API's write-back interval; nil if never.
	LastUsedAt *time.Time `json:"last_used_at"`
	// RevokedAt is when the key was revoked; nil while it is valid.
	RevokedAt *time.Time `json:"revoked_at"`
	// SecretHash is the SHA-256 digest of the secret. Never serialised.
	SecretHash []byte `json:"-"`
}

// CreateKeyParams describes an API key to store.
type CreateKeyParams struct {
	ID         string
	Name       string
	Tenant     string
	Scopes     []string
	SecretHash []byte
}

const keyColumns = `id, name, tenant, scopes, secret_hash, created_at, last_used_at, revoked_at`

type keyRow struct {
	ID         string `db:"id"`
	Name       string `db:"name"`
	Tenant     string `db:"tenant"`
	Scopes     string `db:"scopes"`
	SecretHash []byte `db:"secret_hash"`
	CreatedAt  dbTime `db:"created_at"`
	LastUsedAt dbTime `db:"last_used_at"`
	RevokedAt  dbTime `db:"revoked_at"`
}

func (r keyRow) key() APIKey {
	return APIKey{
		ID: r.ID, Name: r.Name, Tenant: r.Tenant, Scopes: strings.Fields(r.Scopes), SecretHash: r.SecretHash,
		CreatedAt: r.CreatedAt.T, LastUsedAt: r.LastUsedAt.ptr(), RevokedAt: r.RevokedAt.ptr(),
	}
}

func (p CreateKeyParams) validate() error {
	switch {
	case p.ID == "":
		return errors.New("an API key needs an id")
	case p.Tenant == "":
		return errors.New("an API key needs a tenant")
	case len(p.Scopes) == 0:
		return errors.New("an API key needs at least one scope")
	case len(p.SecretHash) != 32:
		return fmt.Errorf("an API key's secret hash is SHA-256 (32 bytes), not %d bytes", len(p.SecretHash))
	}
	for _, sc := range p.Scopes {
		if sc == "" || strings.ContainsAny(sc, " \t\n") {
			return fmt.Errorf("scope %q is not a single word", sc)
		}
	}
	return nil
}

// CreateAPIKey stores a new API key. An id already taken gives job.ErrDuplicate (see translate).
func (s *Store) CreateAPIKey(ctx context.Context, p CreateKeyParams) (*APIKey, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	now := s.now()
	_, err := s.db.ExecContext(ctx, s.rebind(`INSERT INTO api_keys (id, name, tenant, scopes, secret_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
		p.ID, p.Name, p.Tenant, strings.Join(p.Scopes, " "), p.SecretHash, s.ts(now))
	if err != nil {
		return nil, fmt.Errorf("create API key %s: %w", p.ID, s.translate(err))
	}
	return &APIKey{ID: p.ID, Name: p.Name, Tenant: p.Tenant, Scopes: p.Scopes, SecretHash: p.SecretHash, CreatedAt: now}, nil
}

// EnsureAPIKey stores the key unless a key with its id exists, and returns
// the stored key and whether this call created it. The caller compares the
// stored key with what it asked for: an existing key keeps its secret,
// scopes and revocation.
func (s *Store) EnsureAPIKey(ctx context.Context, p CreateKeyParams) (*APIKey, bool, error) {
	if err := p.validate(); err != nil {
		return nil, false, err
	}
	res, err := s.db.ExecContext(ctx, s.rebind(`INSERT INTO api_keys (id, name, tenant, scopes, secret_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`),
		p.ID, p.Name, p.Tenant, strings.Join(p.Scopes, " "), p.SecretHash, s.ts(s.now()))
	if err != nil {
		return nil, false, fmt.Errorf("ensure API key %s: %w", p.ID, s.translate(err))
	}
	n, _ := res.RowsAffected()
	k, err := s.GetAPIKey(ctx, p.ID)
	if err != nil {
		return nil, false, err
	}
	return k, n > 0, nil
}

// GetAPIKey returns the key with id, revoked or not, or ErrKeyNotFound.
func (s *Store) GetAPIKey(ctx context.Context, id string) (*APIKey, error) {
	var r keyRow
	err := s.db.GetContext(ctx, &r, s.rebind(`SELECT `+keyColumns+` FROM api_keys WHERE id = ?`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrKeyNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get API key %s: %w", id, s.translate(err))
	}
	k := r.key()
	return &k, nil
}

// ListAPIKeys lists the keys of tenant (every tenant's for AllTenants),
// revoked ones included, oldest first.
func (s *Store) ListAPIKeys(ctx context.Context, tenant string) ([]APIKey, error) {
	q, args := `SELECT `+keyColumns+` FROM api_keys`, []any(nil)
	if tenant != AllTenants {
		q, args = q+` WHERE tenant = ?`, []any{tenant}
	}
	var rows []keyRow
	if err := s.db.SelectContext(ctx, &rows, s.rebind(q+` ORDER BY created_at, id`), args...); err != nil {
		return nil, fmt.Errorf("list API keys: %w", s.translate(err))
	}
	out := make([]APIKey, len(rows))
	for i, r := range rows {
		out[i] = r.key()
	}
	return out, nil
}

// RevokeAPIKey revokes the key with id and returns it. Revoking a revoked
// key keeps the first revocation time. ErrKeyNotFound when no key has id.
func (s *Store) RevokeAPIKey(ctx context.Context, id string) (*APIKey, error) {
	var r keyRow
	err := s.db.GetContext(ctx, &r, s.rebind(`UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? RETURNING `+keyColumns),
		s.ts(s.now()), id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrKeyNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("revoke API key %s: %w", id, s.translate(err))
	}
	k := r.key()
	return &k, nil
}

// TouchAPIKeys records that the keys ids were used at at. It never moves
// a key's last use back in time. The API calls it in the background with
// the keys used since its last call, so a request costs no write.
func (s *Store) TouchAPIKeys(ctx context.Context, ids []string, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	cond, arg := s.inList("id", "text", ids)
	ts := s.ts(at)
	_, err := s.db.ExecContext(ctx, s.rebind(`UPDATE api_keys SET last_used_at = ? WHERE `+cond+` AND (last_used_at IS NULL OR last_used_at < ?)`),
		ts, arg, ts)
	if err != nil {
		return fmt.Errorf("record use of %d API keys: %w", len(ids), s.translate(err))
	}
	return nil
}
