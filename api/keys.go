package api

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/flaskhq/flask/api/auth"
	"github.com/flaskhq/flask/store"
)

// KeyView describes an API key, without its secret.
type KeyView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Tenant     string     `json:"tenant"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// NewKeyView is the answer of POST /v1/keys: the key and, this once, the
// token that holds its secret.
type NewKeyView struct {
	KeyView
	// Key is the whole token, flask_<id>_<secret>. It is never shown again.
	Key string `json:"key"`
}

func keyView(k store.APIKey) KeyView {
	scopes := k.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return KeyView{ID: k.ID, Name: k.Name, Tenant: k.Tenant, Scopes: scopes, CreatedAt: k.CreatedAt,
		LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt}
}

var keyFields = []string{"name", "tenant", "scopes"}

// maxKeyName caps the length of a key's name.
const maxKeyName = 100

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	if p := checkContentType(r); p != nil {
		return p
	}
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	var is issues
	members, msg := decodeObject(body)
	if msg != "" {
		is.bad("", "the body %s", msg)
		return is.problem()
	}
	for _, k := range sortedKeys(members) {
		if !slices.Contains(keyFields, k) {
			is.bad(truncate(k, 64), "is not a field of a key; the fields are %s", strings.Join(keyFields, ", "))
		}
	}
	str := func(field string) string {
		raw, ok := members[field]
		if !ok || isNull(raw) {
			is.bad(field, "is required")
			return ""
		}
		var v string
		if raw[0] != '"' || json.Unmarshal(raw, &v) != nil {
			is.bad(field, "must be a string")
			return ""
		}
		if msg := checkText(raw); msg != "" {
			is.bad(field, "%s", msg)
			return ""
		}
		return v
	}
	name, tenant := str("name"), str("tenant")
	if name != "" && (utf8.RuneCountInString(name) > maxKeyName || strings.ContainsFunc(name, isControl)) {
		is.invalid("name", "must be at most %d characters, without control characters", maxKeyName)
	}
	// An empty tenant is refused too: "" is store.AllTenants, the filter of
	// admin keys, never a tenant of its own.
	if raw, ok := members["tenant"]; ok && string(raw) == `""` || tenant != "" {
		if err := auth.ValidateTenant(tenant); err != nil {
			is.invalid("tenant", "%v", err)
		}
	}
	var scopeNames []string
	if raw, ok := members["scopes"]; !ok || isNull(raw) {
		is.bad("scopes", "is required: an array of jobs:submit, jobs:read, jobs:manage, stats:read, admin")
	} else if raw[0] != '[' || json.Unmarshal(raw, &scopeNames) != nil {
		is.bad("scopes", "must be an array of strings")
	}
	var scopes []auth.Scope
	if is.empty() {
		if scopes, err = auth.ParseScopes(scopeNames); err != nil {
			is.invalid("scopes", "%v", err)
		}
	}
	if !is.empty() {
		return is.problem()
	}
	key, err := auth.NewKey()
	if err != nil {
		return err
	}
	stored, err := s.store.CreateAPIKey(r.Context(), store.CreateKeyParams{
		ID: key.ID, Name: name, Tenant: tenant, Scopes: auth.ScopeStrings(scopes), SecretHash: key.Hash(),
	})
	if err != nil {
		return fmt.Errorf("create API key: %w", err)
	}
	s.audit(r, "api key created", "key_id", stored.ID, "key_name", stored.Name, "tenant", stored.Tenant,
		"scopes", strings.Join(stored.Scopes, " "))
	w.Header().Set("Location", "/v1/keys/"+stored.ID)
	writeJSON(w, http.StatusCreated, NewKeyView{KeyView: keyView(*stored), Key: key.Token()})
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var is issues
	for _, k := range sortedKeys(q) {
		switch {
		case k != "tenant":
			is.bad(truncate(k, 64), "is not a query parameter of this route; it is tenant")
		case len(q[k]) > 1:
			is.bad(k, "must be given at most once")
		}
	}
	tenant := q.Get("tenant")
	if tenant != "" {
		if err := auth.ValidateTenant(tenant); err != nil {
			is.bad("tenant", "%v", err)
		}
	}
	if !is.empty() {
		return is.problem()
	}
	keys, err := s.store.ListAPIKeys(r.Context(), tenant)
	if err != nil {
		return fmt.Errorf("list API keys: %w", err)
	}
	out := make([]KeyView, len(keys))
	for i, k := range keys {
		out[i] = keyView(k)
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": out})
	return nil
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "keyID")
	if !auth.ValidKeyID(id) {
		return newProblem(http.StatusNotFound, ProblemNotFound, fmt.Sprintf("no API key has id %q", truncate(id, 64)))
	}
	k, err := s.store.RevokeAPIKey(r.Context(), id)
	if err != nil {
		return fmt.Errorf("revoke API key %s: %w", id, err)
	}
	s.verifier.Forget(id)
	s.audit(r, "api key revoked", "key_id", k.ID, "key_name", k.Name, "tenant", k.Tenant)
	writeJSON(w, http.StatusOK, keyView(*k))
	return nil
}

// audit writes an audit log line: who (the key id, never its secret) did
// what to what. Audit lines carry audit=true, to be filtered and kept.
func (s *Server) audit(r *http.Request, msg string, args ...any) {
	attrs := []any{slog.Bool("audit", true), slog.String("request_id", requestIDFrom(r.Context()))}
	if p, ok := principalFrom(r.Context()); ok {
		attrs = append(attrs, slog.String("actor_key_id", p.KeyID), slog.String("actor_tenant", p.Tenant))
	}
	s.log.InfoContext(r.Context(), msg, append(attrs, args...)...)
}
