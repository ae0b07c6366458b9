// Package app wires Flask's parts into running processes: the API (with its
// outbox relay), the worker pool, and the single-process dev mode. It holds
// each binary's configuration struct, read from FLASK_* environment variables
// by the binaries in cmd/ through envconfig; this package itself never reads
// the environment.
package app
