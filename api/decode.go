package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store"
)

// jobFields are the members of a job request, in the order of the docs.
var jobFields = []string{"type", "queue", "payload", "max_attempts", "timeout", "run_at", "idempotency_key"}

// IdempotencyKeyHeader may carry the idempotency key of POST /v1/jobs.
const IdempotencyKeyHeader = "Idempotency-Key"

// checkContentType requires a JSON body: application/json, in UTF-8 if a
// charset is named.
func checkContentType(r *http.Request) *problem {
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil && mt == "application/json" {
		if cs, ok := params["charset"]; !ok || strings.EqualFold(cs, "utf-8") {
			return nil
		}
	}
	if ct == "" {
		ct = "none"
	}
	return newProblem(http.StatusUnsupportedMediaType, ProblemUnsupportedMedia,
		fmt.Sprintf("the body must be application/json (UTF-8); got Content-Type %s", truncate(ct, 100)),
		FieldError{Field: "Content-Type", Detail: "must be application/json"})
}

// readBody reads the whole body, refusing more than limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, newProblem(http.StatusRequestEntityTooLarge, ProblemTooLarge,
				fmt.Sprintf("the body is larger than %d bytes", limit),
				FieldError{Field: "", Detail: fmt.Sprintf("must be at most %d bytes", limit)})
		}
		return nil, fmt.Errorf("read request body: %w", err)
	}
	return body, nil
}

// decodeObject decodes data, which must hold exactly one JSON object, into
// its members. It returns what is wrong otherwise, and refuses an object
// that names a member twice: parsers disagree on which value wins, so such
// a body could mean one thing to Flask and another to whoever checked it.
//
// Members are matched exactly, by decoding into a map: encoding/json matches
// struct fields case-insensitively, so even with DisallowUnknownFields a
// struct would accept "TYPE" for "type", which the OpenAPI schema refuses.
func decodeObject(data []byte) (map[string]json.RawMessage, string) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, describeJSONError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, "must be a JSON object, not " + jsonKind(tok)
	}
	members := make(map[string]json.RawMessage)
	// Inside the object, the end of the input is a truncation.
	describe := func(err error) string {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return describeJSONError(err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, describe(err)
		}
		name, _ := tok.(string) // object keys are always strings
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, describe(err)
		}
		if _, dup := members[name]; dup {
			return nil, fmt.Sprintf("names the member %q twice", truncate(name, 64))
		}
		members[name] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, describe(err)
	}
	end := dec.InputOffset()
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Sprintf("unexpected data after the JSON object at byte offset %d", end)
	}
	return members, ""
}

// jsonKind names the JSON type of a first token.
func jsonKind(tok any) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			return "array"
		}
	case string:
		return "string"
	case float64, json.Number:
		return "number"
	case bool:
		return "bool"
	case nil:
		return "null"
	}
	return "a JSON value of another kind"
}

func describeJSONError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return "is empty; send a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "is malformed JSON: it ends before the JSON value does"
	case errors.As(err, &se):
		return fmt.Sprintf("is malformed JSON at byte offset %d: %s", se.Offset, se.Error())
	case errors.As(err, &te):
		return fmt.Sprintf("must be a JSON object, not %s", te.Value)
	}
	return "is malformed JSON"
}

// checkText explains what in a valid JSON text cannot be stored faithfully
// by every store: invalid UTF-8, a lone UTF-16 surrogate escape, or \u0000
// (which PostgreSQL's jsonb refuses). It returns "" when there is nothing.
// encoding/json would silently replace the first two with U+FFFD.
func checkText(raw []byte) string {
	if !utf8.Valid(raw) {
		return "contains invalid UTF-8"
	}
	// A backslash occurs only inside strings in valid JSON.
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		i++
		if i >= len(raw) || raw[i] != 'u' {
			continue
		}
		code, ok := hex4(raw, i+1)
		if !ok {
			continue
		}
		i += 4
		switch {
		case code == 0:
			return `must not contain \u0000`
		case code >= 0xDC00 && code <= 0xDFFF:
			return "contains a lone UTF-16 surrogate escape"
		case code >= 0xD800 && code <= 0xDBFF:
			low, ok := hex4(raw, i+3)
			if i+2 >= len(raw) || raw[i+1] != '\\' || raw[i+2] != 'u' || !ok || low < 0xDC00 || low > 0xDFFF {
				return "contains a lone UTF-16 surrogate escape"
			}
			i += 6
		}
	}
	return ""
}

// hex4 reads the four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i < 0 || i+4 > len(b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[i:i+4]), 16, 16)
	if err != nil {
		return 0, false
	}
	return rune(v), true
}

func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

// jobDecoder turns the members of one job request into InsertParams,
// recording what is wrong in its issues.
type jobDecoder struct {
	s      *Server
	is     *issues
	prefix string
	m      map[string]json.RawMessage
}

func (d *jobDecoder) field(name string) string { return d.prefix + name }

// str reads a string member. It reports false when the member is absent,
// null or wrong (which it reports).
func (d *jobDecoder) str(name string) (string, bool) {
	raw, ok := d.m[name]
	if !ok || isNull(raw) {
		return "", false
	}
	var v string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &v) != nil {
		d.is.bad(d.field(name), "must be a string")
		return "", false
	}
	if msg := checkText(raw); msg != "" {
		d.is.bad(d.field(name), "%s", msg)
		return "", false
	}
	return v, true
}

func (d *jobDecoder) present(name string) bool {
	raw, ok := d.m[name]
	return ok && !isNull(raw)
}

func (d *jobDecoder) decode() store.InsertParams {
	var p store.InsertParams
	for _, k := range sortedKeys(d.m) {
		if !slices.Contains(jobFields, k) {
			d.is.bad(d.field(truncate(k, 64)), "is not a field of a job; the fields are %s", strings.Join(jobFields, ", "))
		}
	}

	var spec job.Spec
	known := false
	if !d.present("type") {
		d.is.bad(d.field("type"), "is required; %s", d.s.typesHint())
	} else if typ, ok := d.str("type"); ok && typ == "" {
		d.is.bad(d.field("type"), "must not be empty; %s", d.s.typesHint())
	} else if ok {
		if spec, known = d.s.catalog.Lookup(typ); known {
			p.Type = typ
		} else {
			d.is.add(http.StatusUnprocessableEntity, ProblemUnknownJobType, d.field("type"),
				fmt.Sprintf("%q is not an accepted job type; %s", truncate(typ, 64), d.s.typesHint()))
		}
	}

	if q, ok := d.str("queue"); ok {
		if err := job.ValidateQueue(q); err != nil {
			d.is.invalid(d.field("queue"), "%v", err)
		}
		p.Queue = q
	} else if known {
		p.Queue = spec.Queue
		if p.Queue == job.DefaultQueue {
			p.Queue = d.s.cfg.DefaultQueue
		}
	}

	p.Payload = d.payload()

	p.MaxAttempts = spec.MaxAttempts
	if raw, ok := d.m["max_attempts"]; ok && !isNull(raw) {
		n, err := strconv.ParseInt(string(raw), 10, 64)
		switch {
		case errors.Is(err, strconv.ErrRange) || err == nil && (n < 1 || n > job.MaxMaxAttempts):
			d.is.invalid(d.field("max_attempts"), "must be between 1 and %d", job.MaxMaxAttempts)
		case err != nil:
			d.is.bad(d.field("max_attempts"), "must be an integer")
		default:
			p.MaxAttempts = int(n)
		}
	}

	p.Timeout = spec.Timeout
	if v, ok := d.str("timeout"); ok {
		t, err := time.ParseDuration(v)
		switch {
		case err != nil:
			d.is.bad(d.field("timeout"), "must be a duration such as \"30s\", \"5m\" or \"1h30m\"")
		case t < time.Millisecond || t > job.MaxTimeout:
			d.is.invalid(d.field("timeout"), "must be between 1ms and %s", formatDuration(job.MaxTimeout))
		default:
			p.Timeout = t
		}
	}

	if v, ok := d.str("run_at"); ok {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			d.is.bad(d.field("run_at"), "must be an RFC 3339 time such as \"2026-11-26T09:30:00Z\"")
		} else {
			p.RunAt = t.UTC()
		}
	}

	if k, ok := d.str("idempotency_key"); ok {
		if err := job.ValidateIdempotencyKey(k); err != nil {
			d.is.invalid(d.field("idempotency_key"), "%v", err)
		}
		p.IdempotencyKey = k
	}
	return p
}

// payload reads the payload member, compacted; JSON null when absent.
func (d *jobDecoder) payload() json.RawMessage {
	raw, ok := d.m["payload"]
	if !ok {
		return json.RawMessage("null")
	}
	if msg := checkText(raw); msg != "" {
		d.is.bad(d.field("payload"), "%s", msg)
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		d.is.bad(d.field("payload"), "is malformed JSON")
		return nil
	}
	if limit := d.s.cfg.MaxPayloadBytes; buf.Len() > limit {
		d.is.add(http.StatusRequestEntityTooLarge, ProblemTooLarge, d.field("payload"),
			fmt.Sprintf("is %d bytes; at most %d are allowed", buf.Len(), limit))
		return nil
	}
	return buf.Bytes()
}

// typesHint lists a few accepted types for an error message.
func (s *Server) typesHint() string {
	types := s.catalog.Types()
	const show = 5
	switch {
	case len(types) == 0:
		return "this server accepts no job types yet"
	case len(types) <= show:
		return "accepted types: " + strings.Join(types, ", ")
	}
	return fmt.Sprintf("accepted types include %s and %d more (GET /v1/types lists them)",
		strings.Join(types[:show], ", "), len(types)-show)
}

// headerIdempotencyKey reads the Idempotency-Key header. Its value may be a
// bare token or a structured-field string ("..."), as in the IETF draft.
func headerIdempotencyKey(r *http.Request, is *issues) (string, bool) {
	vals := r.Header.Values(IdempotencyKeyHeader)
	switch len(vals) {
	case 0:
		return "", false
	case 1:
	default:
		is.bad(IdempotencyKeyHeader, "must be given once")
		return "", false
	}
	v := strings.TrimSpace(vals[0])
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		var b strings.Builder
		for i := 1; i < len(v)-1; i++ {
			if v[i] == '\\' && i+1 < len(v)-1 {
				i++
			}
			b.WriteByte(v[i])
		}
		v = b.String()
	}
	if v == "" {
		return "", false
	}
	if !utf8.ValidString(v) {
		is.bad(IdempotencyKeyHeader, "contains invalid UTF-8")
		return "", false
	}
	if err := job.ValidateIdempotencyKey(v); err != nil {
		is.invalid(IdempotencyKeyHeader, "%v", err)
		return "", false
	}
	return v, true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// truncate shortens s for an error message, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// formatDuration writes d without zero units: 24h rather than 24h0m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
