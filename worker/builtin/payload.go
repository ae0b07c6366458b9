package builtin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/flaskhq/flask/worker"
)

// decodePayload reads a job payload into v, a pointer to a struct, refusing
// unknown fields and trailing data. An empty payload reads as null. Errors are
// marked SkipRetry: retrying cannot fix a payload. fields lists the accepted
// field names for the error message.
func decodePayload(raw json.RawMessage, v any, fields string) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = json.RawMessage("null")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return worker.SkipRetry(fmt.Errorf("bad payload: %s", describeJSONError(err, fields)))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return worker.SkipRetry(errors.New("bad payload: unexpected data after the JSON object"))
	}
	return nil
}

func describeJSONError(err error, fields string) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return fmt.Sprintf("payload must be a JSON object with fields %s, not %s", fields, typeErr.Value)
		}
		return fmt.Sprintf("payload.%s must be %s, not %s", typeErr.Field, kindName(typeErr.Type), typeErr.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "payload is not valid JSON (it ends too early)"
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("payload is not valid JSON (%v)", syntaxErr)
	case strings.Contains(err.Error(), "unknown field"):
		_, name, _ := strings.Cut(err.Error(), "unknown field ")
		return fmt.Sprintf("unknown field %s (known fields: %s)", name, fields)
	}
	return err.Error()
}

func kindName(t reflect.Type) string {
	if t == nil {
		return "a different type"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return t.String()
}
