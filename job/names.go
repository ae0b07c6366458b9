package job

import (
	"fmt"
	"regexp"
)

// Limits on names. Queue names travel in NATS subjects and SQS queue names, so
// they avoid dots and upper case.
const (
	MaxQueueLen          = 48
	MaxTypeLen           = 128
	MaxIdempotencyKeyLen = 255
	// DefaultQueue is the queue a job goes to when none is named.
	DefaultQueue = "default"
)

var (
	queueRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	typeRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]*$`)
)

// ValidateQueue explains what is wrong with a queue name, or returns nil.
func ValidateQueue(q string) error {
	if q == "" {
		return fmt.Errorf("queue must not be empty")
	}
	if len(q) > MaxQueueLen {
		return fmt.Errorf("queue is longer than %d characters", MaxQueueLen)
	}
	if !queueRE.MatchString(q) {
		return fmt.Errorf("queue %q must be lower-case letters, digits, '-' and '_', starting with a letter or digit", q)
	}
	return nil
}

// ValidateType explains what is wrong with a job type name, or returns nil.
func ValidateType(t string) error {
	if t == "" {
		return fmt.Errorf("type must not be empty")
	}
	if len(t) > MaxTypeLen {
		return fmt.Errorf("type is longer than %d characters", MaxTypeLen)
	}
	if !typeRE.MatchString(t) {
		return fmt.Errorf("type %q must be letters, digits, '.', '_', ':' and '-', starting with a letter or digit", t)
	}
	return nil
}

// ValidateIdempotencyKey explains what is wrong with an idempotency key, or returns nil.
func ValidateIdempotencyKey(k string) error {
	if len(k) > MaxIdempotencyKeyLen {
		return fmt.Errorf("idempotency key is longer than %d characters", MaxIdempotencyKeyLen)
	}
	for _, r := range k {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("idempotency key must not contain control characters")
		}
	}
	return nil
}
