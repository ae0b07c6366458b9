package job

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Defaults for job types that do not set their own.
const (
	DefaultMaxAttempts = 10
	DefaultTimeout     = time.Minute
	// MaxMaxAttempts and MaxTimeout bound what a submission may ask for.
	MaxMaxAttempts = 1000
	MaxTimeout     = 24 * time.Hour
)

// Spec is a job type known to Flask, with the defaults its jobs get.
type Spec struct {
	Type        string
	Queue       string
	MaxAttempts int
	Timeout     time.Duration
	Backoff     Backoff
	// Concurrency caps how many jobs of this type one worker runs at once,
	// within its queue's concurrency. 0 means no cap of its own.
	Concurrency int
}

// withDefaults fills unset fields from the platform defaults.
func (s Spec) withDefaults() Spec {
	if s.Queue == "" {
		s.Queue = DefaultQueue
	}
	if s.MaxAttempts == 0 {
		s.MaxAttempts = DefaultMaxAttempts
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultTimeout
	}
	if s.Backoff == (Backoff{}) {
		s.Backoff = DefaultBackoff
	}
	return s
}

// Validate explains what is wrong with the spec, or returns nil.
func (s Spec) Validate() error {
	if err := ValidateType(s.Type); err != nil {
		return err
	}
	if s.Queue != "" {
		if err := ValidateQueue(s.Queue); err != nil {
			return fmt.Errorf("type %s: %w", s.Type, err)
		}
	}
	if s.MaxAttempts < 0 || s.MaxAttempts > MaxMaxAttempts {
		return fmt.Errorf("type %s: max_attempts must be between 1 and %d", s.Type, MaxMaxAttempts)
	}
	if s.Concurrency < 0 {
		return fmt.Errorf("type %s: concurrency must not be negative", s.Type)
	}
	if s.Timeout < 0 || s.Timeout > MaxTimeout {
		return fmt.Errorf("type %s: timeout must be between 1ms and %s", s.Type, MaxTimeout)
	}
	return nil
}

// Catalog is the set of job types a deployment accepts, by name.
type Catalog struct {
	specs map[string]Spec
}

// NewCatalog builds a catalog; a type named twice is an error.
func NewCatalog(specs ...Spec) (*Catalog, error) {
	c := &Catalog{specs: make(map[string]Spec, len(specs))}
	for _, s := range specs {
		if err := c.Add(s); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Add registers one more type.
func (c *Catalog) Add(s Spec) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if _, ok := c.specs[s.Type]; ok {
		return fmt.Errorf("job type %s is defined twice", s.Type)
	}
	c.specs[s.Type] = s.withDefaults()
	return nil
}

// Lookup returns the spec of a type, with defaults filled in.
func (c *Catalog) Lookup(typ string) (Spec, bool) {
	s, ok := c.specs[typ]
	return s, ok
}

// Types lists the known type names, sorted.
func (c *Catalog) Types() []string {
	out := make([]string, 0, len(c.specs))
	for t := range c.specs {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// ParseSpecs reads job type definitions from a configuration string: entries
// separated by commas, each a type name followed by optional
// ":key=value" settings, e.g.
//
//	email.send:queue=mail:max_attempts=5:timeout=30s,report.build
//
// Keys: queue, max_attempts, timeout, backoff_base, backoff_max, concurrency.
func ParseSpecs(s string) ([]Spec, error) {
	var out []Spec
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		parts := strings.Split(entry, ":")
		spec := Spec{Type: strings.TrimSpace(parts[0])}
		for _, kv := range parts[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf("job type %s: setting %q must be key=value", spec.Type, kv)
			}
			if err := spec.set(strings.TrimSpace(k), strings.TrimSpace(v)); err != nil {
				return nil, fmt.Errorf("job type %s: %w", spec.Type, err)
			}
		}
		if err := spec.Validate(); err != nil {
			return nil, err
		}
		out = append(out, spec)
	}
	return out, nil
}

func (s *Spec) set(k, v string) error {
	var err error
	switch k {
	case "queue":
		s.Queue = v
	case "max_attempts":
		s.MaxAttempts, err = strconv.Atoi(v)
		if err == nil && s.MaxAttempts < 1 {
			err = fmt.Errorf("must be at least 1")
		}
	case "timeout":
		s.Timeout, err = parsePositive(v)
	case "concurrency":
		s.Concurrency, err = strconv.Atoi(v)
		if err == nil && s.Concurrency < 1 {
			err = fmt.Errorf("must be at least 1")
		}
	case "backoff_base":
		s.Backoff.Base, err = parsePositive(v)
	case "backoff_max":
		s.Backoff.Max, err = parsePositive(v)
	default:
		return fmt.Errorf("unknown setting %q (want queue, max_attempts, timeout, backoff_base, backoff_max or concurrency)", k)
	}
	if err != nil {
		return fmt.Errorf("%s=%s: %w", k, v, err)
	}
	return nil
}

func parsePositive(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("not a duration such as 30s")
	}
	if d <= 0 {
		return 0, fmt.Errorf("must be positive")
	}
	return d, nil
}
