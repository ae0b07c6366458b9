package main

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/app"
)

// The in-process reproduction's settings pass the binaries' validation: a
// new required setting must be given here too, or `make bench` fails at
// its last step (as FLASK_STATS_CACHE_TTL once made it).
func TestInprocConfigsValid(t *testing.T) {
	t.Parallel()
	common := app.Common{DatabaseURL: "postgres://127.0.0.1:5432/bench", DBMaxConns: 16, DBFlushers: 2, Broker: "nats",
		NATS: app.NATSConfig{URL: "nats://127.0.0.1:4222", Stream: "FLASK_JOBS", SubjectPrefix: "flask.jobs", AckWait: 30 * time.Second,
			Replicas: 1, MaxAckPending: 20000},
		DemoTypes: true, LogLevel: "warn", LogFormat: "text", Migrate: true}
	apiCfg, wcfg := inprocConfigs(common, "127.0.0.1:0", 2000)
	require.NoError(t, errors.Join(apiCfg.Validate(), wcfg.Validate()))
}
