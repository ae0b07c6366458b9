package job

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTransitions(t *testing.T) {
	// allowed lists every legal move; every other pair must be refused.
	allowed := map[[2]State]bool{
		{StateScheduled, StateQueued}:    true,
		{StateScheduled, StateCancelled}: true,
		{StateQueued, StateRunning}:      true,
		{StateQueued, StateCancelled}:    true,
		{StateQueued, StateScheduled}:    true,
		{StateRunning, StateSucceeded}:   true,
		{StateRunning, StateFailed}:      true,
		{StateRunning, StateRetrying}:    true,
		{StateRunning, StateCancelled}:   true,
		{StateRunning, StateQueued}:      true,
		{StateRunning, StateScheduled}:   true,
		{StateRunning, StateRunning}:     true,
		{StateRetrying, StateQueued}:     true,
		{StateRetrying, StateCancelled}:  true,
		{StateFailed, StateQueued}:       true,
		{StateCancelled, StateQueued}:    true,
	}
	for _, from := range States() {
		for _, to := range States() {
			require.Equal(t, allowed[[2]State{from, to}], CanTransition(from, to), "%s → %s", from, to)
		}
	}
	require.False(t, CanTransition("bogus", StateQueued))
}

func TestStatePredicates(t *testing.T) {
	cases := []struct {
		s                                          State
		terminal, runnable, cancellable, retryable bool
	}{
		{StateScheduled, false, false, true, false},
		{StateQueued, false, true, true, false},
		{StateRunning, false, false, true, false},
		{StateRetrying, false, false, true, false},
		{StateSucceeded, true, false, false, false},
		{StateFailed, true, false, false, true},
		{StateCancelled, true, false, false, true},
	}
	require.Len(t, cases, len(States()), "every state has a row")
	for _, c := range cases {
		require.True(t, c.s.Valid())
		require.Equal(t, c.terminal, c.s.Terminal(), "%s terminal", c.s)
		require.Equal(t, c.runnable, c.s.Runnable(), "%s runnable", c.s)
		require.Equal(t, c.cancellable, c.s.Cancellable(), "%s cancellable", c.s)
		require.Equal(t, c.retryable, c.s.Retryable(), "%s retryable", c.s)
		// No terminal state may move anywhere but back to queued by hand.
		if c.terminal {
			for _, to := range States() {
				if CanTransition(c.s, to) {
					require.Equal(t, StateQueued, to)
				}
			}
		}
	}
	require.False(t, State("").Valid())
}
