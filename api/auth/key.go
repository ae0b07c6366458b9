package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
)

// Scope is one permission of an API key.
type Scope string

// The scopes. ScopeAdmin grants every other scope, over every tenant, and the
// key management routes. ScopeStats reads aggregate counts over every tenant
// (GET /v1/stats/...) and nothing else: no job, payload or tenant name; it is
// the scope of an autoscaler's key (KEDA's metrics-api trigger).
const (
	ScopeSubmit Scope = "jobs:submit"
	ScopeRead   Scope = "jobs:read"
	ScopeManage Scope = "jobs:manage"
	ScopeStats  Scope = "stats:read"
	ScopeAdmin  Scope = "admin"
)

// scopeList names every scope for error messages.
const scopeList = "jobs:submit, jobs:read, jobs:manage, stats:read or admin"

// Scopes lists every scope, in the order of the docs.
func Scopes() []Scope { return []Scope{ScopeSubmit, ScopeRead, ScopeManage, ScopeStats, ScopeAdmin} }

// ParseScopes checks scope names and returns them without duplicates, in
// the order of Scopes.
func ParseScopes(names []string) ([]Scope, error) {
	if len(names) == 0 {
		return nil, errors.New("at least one scope is required: " + scopeList)
	}
	set := map[Scope]bool{}
	for _, n := range names {
		sc := Scope(strings.TrimSpace(n))
		if !slices.Contains(Scopes(), sc) {
			return nil, fmt.Errorf("%q is not a scope: use %s", truncate(n, 40), scopeList)
		}
		set[sc] = true
	}
	var out []Scope
	for _, sc := range Scopes() {
		if set[sc] {
			out = append(out, sc)
		}
	}
	return out, nil
}

// ScopeStrings converts scopes to their names.
func ScopeStrings(scopes []Scope) []string {
	out := make([]string, len(scopes))
	for i, s := range scopes {
		out[i] = string(s)
	}
	return out
}

var tenantRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidateTenant checks a tenant name: 1 to 63 lower-case letters, digits,
// '-' or '_', starting with a letter or digit.
func ValidateTenant(t string) error {
	if !tenantRe.MatchString(t) {
		return fmt.Errorf("tenant %q must be 1 to 63 lower-case letters, digits, '-' or '_', starting with a letter or digit", truncate(t, 70))
	}
	return nil
}

// Prefix starts every API key.
const Prefix = "flask_"

const (
	idBytes     = 10 // 16 base32 characters
	secretBytes = 32 // 52 base32 characters
	idLen       = 16
	secretLen   = 52
)

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Key is an API key: its public id and its secret.
type Key struct {
	ID     string
	Secret string
}

// ErrMalformedKey is returned by ParseKey for a token that is not an API key.
var ErrMalformedKey = errors.New("not a Flask API key: want flask_<id>_<secret>")

// NewKey makes a key from the system's random source.
func NewKey() (Key, error) {
	b := make([]byte, idBytes+secretBytes)
	if _, err := rand.Read(b); err != nil {
		return Key{}, fmt.Errorf("make API key: %w", err)
	}
	return Key{ID: b32.EncodeToString(b[:idBytes]), Secret: b32.EncodeToString(b[idBytes:])}, nil
}

// ParseKey reads a token of the form flask_<id>_<secret>.
func ParseKey(token string) (Key, error) {
	rest, ok := strings.CutPrefix(token, Prefix)
	if !ok || len(rest) != idLen+1+secretLen || rest[idLen] != '_' {
		return Key{}, ErrMalformedKey
	}
	k := Key{ID: rest[:idLen], Secret: rest[idLen+1:]}
	if !validB32(k.ID) || !validB32(k.Secret) {
		return Key{}, ErrMalformedKey
	}
	return k, nil
}

// ValidKeyID reports whether id has the form of a key id.
func ValidKeyID(id string) bool { return len(id) == idLen && validB32(id) }

func validB32(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// Token returns what a client sends: flask_<id>_<secret>. It holds the
// secret: never log it.
func (k Key) Token() string { return Prefix + k.ID + "_" + k.Secret }

// String names the key without its secret, so that a key printed by
// mistake gives nothing away.
func (k Key) String() string { return Prefix + k.ID + "_…" }

// Hash is the SHA-256 digest of the secret, as the store keeps it.
func (k Key) Hash() []byte {
	d := sha256.Sum256([]byte(k.Secret))
	return d[:]
}

// LogValue keeps the secret out of structured logs: a Key logs as its id.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.ID) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
