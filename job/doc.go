// Package job holds Flask's domain types: a Job, its states and the transitions
// between them, the limits on names, and the retry backoff policy.
//
// It is a leaf package: it imports nothing else of Flask's, and every other
// package may import it.
package job
