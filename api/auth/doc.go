// Package auth holds Flask's API keys: their format, scopes and tenants,
// and the Verifier that turns the bearer token of a request into the
// Principal it acts for.
//
// A key reads flask_<id>_<secret>. The id (16 base32 characters, 80 random
// bits) is public: it names the key in logs, lists and the audit trail. The
// secret (52 base32 characters, 256 random bits) is shown once, when the key
// is made, and stored only as its SHA-256 digest. A secret that long needs no
// slow password hash: guessing it is as hard as guessing the digest.
//
// The Verifier caches verified keys for a short TTL, so authenticating a
// request costs no database round trip; a key revoked on another API replica
// stops working there within that TTL. It records when keys were last used
// in memory and writes that back in the background.
//
// The package is shared by the API and the dashboard (web/): it depends on
// the store's types only.
package auth
