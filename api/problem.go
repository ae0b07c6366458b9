package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store"
)

// Problem types, RFC 9457. They are URNs: stable names, not pages to fetch.
const (
	ProblemInvalidRequest   = "urn:flask:problem:invalid-request"
	ProblemUnsupportedMedia = "urn:flask:problem:unsupported-media-type"
	ProblemTooLarge         = "urn:flask:problem:too-large"
	ProblemUnknownJobType   = "urn:flask:problem:unknown-job-type"
	ProblemInvalidValue     = "urn:flask:problem:invalid-value"
	ProblemNotFound         = "urn:flask:problem:not-found"
	ProblemMethodNotAllowed = "urn:flask:problem:method-not-allowed"
	ProblemStateConflict    = "urn:flask:problem:state-conflict"
	ProblemDuplicate        = "urn:flask:problem:duplicate"
	ProblemUnavailable      = "urn:flask:problem:unavailable"
	ProblemInternal         = "urn:flask:problem:internal"
	ProblemUnauthorized     = "urn:flask:problem:unauthorized"
	ProblemForbidden        = "urn:flask:problem:forbidden"
	ProblemRateLimited      = "urn:flask:problem:rate-limited"
	ProblemQuotaExceeded    = "urn:flask:problem:quota-exceeded"
)

var problemTitles = map[string]string{
	ProblemInvalidRequest:   "Invalid request",
	ProblemUnsupportedMedia: "Unsupported media type",
	ProblemTooLarge:         "Content too large",
	ProblemUnknownJobType:   "Unknown job type",
	ProblemInvalidValue:     "Invalid value",
	ProblemNotFound:         "Not found",
	ProblemMethodNotAllowed: "Method not allowed",
	ProblemStateConflict:    "Job state conflict",
	ProblemDuplicate:        "Duplicate",
	ProblemUnavailable:      "Service unavailable",
	ProblemInternal:         "Internal server error",
	ProblemUnauthorized:     "Unauthorized",
	ProblemForbidden:        "Forbidden",
	ProblemRateLimited:      "Too many requests",
	ProblemQuotaExceeded:    "Too many waiting jobs",
}

// maxFieldErrors caps the field errors listed in one problem.
const maxFieldErrors = 50

// FieldError names one field at fault and says what is wrong with it.
type FieldError struct {
	// Field is a path into the request: "type", "jobs[3].timeout", a query
	// parameter name, or "" for the body as a whole.
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// problem is an RFC 9457 problem document. It is an error, so handlers can
// return it.
type problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail"`
	Errors []FieldError `json:"errors,omitempty"`
	// State is the job's current state in a state conflict.
	State job.State `json:"state,omitempty"`
	// Checks tells, in a readiness failure, how each dependency fared.
	Checks    map[string]string `json:"checks,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
}

func (p *problem) Error() string { return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail) }

func newProblem(status int, typ, detail string, errs ...FieldError) *problem {
	return &problem{Type: typ, Title: problemTitles[typ], Status: status, Detail: detail, Errors: errs}
}

// issue is one thing wrong with a request, with the status it calls for.
type issue struct {
	status int
	typ    string
	FieldError
}

// issues collects what is wrong with a request so that one response can
// name every field at fault.
type issues struct {
	list []issue
}

func (is *issues) add(status int, typ, field, detail string) {
	is.list = append(is.list, issue{status: status, typ: typ, FieldError: FieldError{Field: field, Detail: detail}})
}

func (is *issues) bad(field, format string, args ...any) {
	is.add(http.StatusBadRequest, ProblemInvalidRequest, field, fmt.Sprintf(format, args...))
}

func (is *issues) invalid(field, format string, args ...any) {
	is.add(http.StatusUnprocessableEntity, ProblemInvalidValue, field, fmt.Sprintf(format, args...))
}

func (is *issues) empty() bool { return len(is.list) == 0 }

// problem turns the issues into one problem. Its status is that of the most
// basic kind of fault found: a request that cannot be read (400) before one
// too large (413) before one whose values are refused (422).
func (is *issues) problem() *problem {
	if is.empty() {
		return nil
	}
	rank := func(it issue) int {
		switch it.status {
		case http.StatusBadRequest:
			return 0
		case http.StatusRequestEntityTooLarge:
			return 1
		}
		if it.typ == ProblemUnknownJobType {
			return 2
		}
		return 3
	}
	lead := is.list[0]
	for _, it := range is.list[1:] {
		if rank(it) < rank(lead) {
			lead = it
		}
	}
	detail := lead.Detail
	if lead.Field != "" {
		detail = lead.Field + ": " + detail
	}
	if n := len(is.list) - 1; n == 1 {
		detail += " (and 1 more error)"
	} else if n > 1 {
		detail += fmt.Sprintf(" (and %d more errors)", n)
	}
	errs := make([]FieldError, 0, min(len(is.list), maxFieldErrors))
	for _, it := range is.list[:min(len(is.list), maxFieldErrors)] {
		errs = append(errs, it.FieldError)
	}
	return newProblem(lead.status, lead.typ, detail, errs...)
}

// writeProblem writes p as application/problem+json.
func writeProblem(w http.ResponseWriter, r *http.Request, p *problem) {
	out := *p
	out.RequestID = requestIDFrom(r.Context())
	if out.Title == "" {
		out.Title = http.StatusText(out.Status)
	}
	writeJSONType(w, out.Status, "application/problem+json", out)
}

// writeJSON writes v as application/json with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	writeJSONType(w, status, "application/json", v)
}

func writeJSONType(w http.ResponseWriter, status int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only a programming error gets here: every response type marshals.
		b = []byte(`{"type":"` + ProblemInternal + `","title":"Internal server error","status":500,"detail":"the response could not be encoded"}`)
		status = http.StatusInternalServerError
		contentType = "application/problem+json"
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// handlerFunc is a handler that may fail; wrap writes its error.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) wrap(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// writeError answers a failed request. Domain errors become their problems;
// anything else is logged here, once, and answered with a generic 500.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var p *problem
	var se *job.StateError
	switch {
	case errors.As(err, &p):
	case errors.Is(err, job.ErrNotFound):
		p = newProblem(http.StatusNotFound, ProblemNotFound, "no job has that id")
		if id := chi.URLParam(r, "id"); id != "" {
			p.Detail = fmt.Sprintf("no job has id %s", id)
		}
	case errors.As(err, &se):
		p = newProblem(http.StatusConflict, ProblemStateConflict,
			fmt.Sprintf("job %s is %s, which does not allow %s", se.ID, se.State, se.Op))
		p.State = se.State
	case errors.Is(err, store.ErrKeyNotFound):
		p = newProblem(http.StatusNotFound, ProblemNotFound, "no API key has that id")
	case errors.Is(err, job.ErrDuplicate):
		p = newProblem(http.StatusConflict, ProblemDuplicate,
			"a job with that idempotency key was being created at the same time; send the request again to get it")
	case errors.Is(err, context.DeadlineExceeded) && r.Context().Err() != nil:
		s.log.WarnContext(r.Context(), "request timed out", "route", routePattern(r), "request_id", requestIDFrom(r.Context()), "err", err)
		p = newProblem(http.StatusServiceUnavailable, ProblemUnavailable, "the request took too long; try again")
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads this answer.
		s.log.DebugContext(r.Context(), "request cancelled by the client", "route", routePattern(r), "request_id", requestIDFrom(r.Context()))
		p = newProblem(http.StatusServiceUnavailable, ProblemUnavailable, "the request was cancelled")
	default:
		s.log.ErrorContext(r.Context(), "request failed", "route", routePattern(r), "method", r.Method,
			"request_id", requestIDFrom(r.Context()), "err", err)
		p = newProblem(http.StatusInternalServerError, ProblemInternal,
			"the server could not complete the request; it has been logged with the request id")
	}
	writeProblem(w, r, p)
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	writeProblem(w, r, newProblem(http.StatusNotFound, ProblemNotFound, fmt.Sprintf("no route for %s", r.URL.Path)))
}

var probeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions}

func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range probeMethods {
		if s.router.Match(chi.NewRouteContext(), m, r.URL.Path) {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
	}
	writeProblem(w, r, newProblem(http.StatusMethodNotAllowed, ProblemMethodNotAllowed,
		fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, strings.Join(allowed, ", "))))
}
