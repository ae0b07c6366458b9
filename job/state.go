package job

// State is where a job is in its life.
type State string

// The states of a job. A job starts in StateQueued (or StateScheduled when its
// run_at lies in the future) and ends in one of the terminal states.
const (
	// StateScheduled: waiting for its run_at before it is queued.
	StateScheduled State = "scheduled"
	// StateQueued: published (or about to be) and waiting for a worker.
	StateQueued State = "queued"
	// StateRunning: claimed by a worker and running an attempt.
	StateRunning State = "running"
	// StateRetrying: an attempt failed; waiting for its backoff before it is queued again.
	StateRetrying State = "retrying"
	// StateSucceeded: an attempt succeeded. Terminal.
	StateSucceeded State = "succeeded"
	// StateFailed: every attempt failed, or the handler said not to retry. Terminal;
	// this is Flask's dead-letter state.
	StateFailed State = "failed"
	// StateCancelled: cancelled before it could finish. Terminal.
	StateCancelled State = "cancelled"
)

// States lists every state in life-cycle order.
func States() []State {
	return []State{StateScheduled, StateQueued, StateRunning, StateRetrying, StateSucceeded, StateFailed, StateCancelled}
}

// Valid reports whether s is one of the known states.
func (s State) Valid() bool {
	_, ok := transitions[s]
	return ok
}

// Terminal reports whether s ends a job's run: succeeded, failed or cancelled.
// Only an explicit retry moves a job out of failed or cancelled.
func (s State) Terminal() bool {
	return s == StateSucceeded || s == StateFailed || s == StateCancelled
}

// Runnable reports whether a worker may claim a job in state s.
func (s State) Runnable() bool { return s == StateQueued }

// Cancellable reports whether a job in state s can be cancelled. A running job
// is cancelled through its context once its worker sees the request.
func (s State) Cancellable() bool {
	switch s {
	case StateScheduled, StateQueued, StateRetrying, StateRunning:
		return true
	}
	return false
}

// Retryable reports whether a job in state s can be queued again by hand.
func (s State) Retryable() bool { return s == StateFailed || s == StateCancelled }

// transitions lists, for each state, the states a job may move to next.
var transitions = map[State][]State{
	StateScheduled: {StateQueued, StateCancelled},
	// queued → scheduled defers a job that a worker could not start (its
	// type at its cap) to be published afresh.
	StateQueued: {StateRunning, StateCancelled, StateScheduled},
	// running → queued is a hand-back on shutdown, running → scheduled the
	// same through the store (a fresh message); running → running is a
	// reclaim after the worker that held the job died.
	StateRunning:   {StateSucceeded, StateFailed, StateRetrying, StateCancelled, StateQueued, StateScheduled, StateRunning},
	StateRetrying:  {StateQueued, StateCancelled},
	StateSucceeded: {},
	StateFailed:    {StateQueued},
	StateCancelled: {StateQueued},
}

// CanTransition reports whether a job may move from one state to another.
func CanTransition(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}
