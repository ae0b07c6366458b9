package job

import (
	"errors"
	"fmt"
)

// Errors shared by every layer. Stores translate driver errors into these.
var (
	// ErrNotFound: no job (or other record) has that id.
	ErrNotFound = errors.New("not found")
	// ErrDuplicate: a record with the same unique key already exists.
	ErrDuplicate = errors.New("duplicate")
)

// StateError reports an operation that the job's current state does not allow,
// such as cancelling a succeeded job.
type StateError struct {
	ID    string
	Op    string
	State State
}

func (e *StateError) Error() string {
	return fmt.Sprintf("cannot %s job %s in state %s", e.Op, e.ID, e.State)
}
