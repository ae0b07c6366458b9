package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"strings"
	"time"

	"github.com/flaskhq/flask/job"
)

// pageNames are the templates under templates/ that are whole pages; the
// others (layout.html, fragments.html) are shared by every page.
var pageNames = []string{"overview", "jobs", "job", "submit", "error", "login"}

// parseTemplates parses every page with the shared templates, and the
// shared templates alone for the fragments the hub renders.
func parseTemplates(a *assets) (map[string]*template.Template, *template.Template, error) {
	funcs := template.FuncMap{
		"asset":      a.url,
		"ts":         formatTime,
		"iso":        isoTime,
		"dur":        formatDuration,
		"pretty":     prettyJSON,
		"short":      shortID,
		"states":     job.States,
		"stateCount": func(m map[job.State]int, s job.State) int { return m[s] },
		"percent":    func(f float64) string { return fmt.Sprintf("%.0f%%", math.Round(f*100)) },
		"terminal":   func(s job.State) bool { return s.Terminal() },
		"retryable":  func(s job.State) bool { return s.Retryable() },
		"cancellable": func(j job.Job) bool {
			return j.State.Cancellable() && j.CancelRequestedAt == nil
		},
	}
	shared, err := template.New("shared").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/fragments.html")
	if err != nil {
		return nil, nil, fmt.Errorf("parse templates: %w", err)
	}
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := template.Must(shared.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		pages[name] = t
	}
	// Every page file must exist and nothing else lie there unparsed.
	entries, err := fs.ReadDir(templateFS, "templates")
	if err != nil {
		return nil, nil, fmt.Errorf("read templates: %w", err)
	}
	if len(entries) != len(pageNames)+2 {
		return nil, nil, fmt.Errorf("templates: %d files, want the %d pages and layout.html, fragments.html", len(entries), len(pageNames))
	}
	return pages, shared, nil
}

// renderFragment executes one of the shared templates into bytes.
func (d *Dashboard) renderFragment(name string, data any) ([]byte, error) {
	var buf bytes.Buffer
	if err := d.frags.ExecuteTemplate(&buf, name, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// formatTime writes a time in UTC, to the second; the script shows it
// relative to now in the browser.
func formatTime(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return "—"
		}
		return v.UTC().Format("2006-01-02 15:04:05 UTC")
	case *time.Time:
		if v == nil {
			return "—"
		}
		return formatTime(*v)
	}
	return ""
}

// isoTime is a time for a datetime attribute.
func isoTime(t any) string {
	switch v := t.(type) {
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	case *time.Time:
		if v == nil {
			return ""
		}
		return v.UTC().Format(time.RFC3339Nano)
	}
	return ""
}

// formatDuration rounds a duration for people: 850ms, 12.4s, 3m20s, 2h5m.
func formatDuration(v any) string {
	var d time.Duration
	switch x := v.(type) {
	case time.Duration:
		d = x
	case *time.Duration:
		if x == nil {
			return "—"
		}
		d = *x
	case job.Duration:
		d = time.Duration(x)
	default:
		return ""
	}
	switch {
	case d < 0:
		return "—"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return strings.TrimSuffix(d.Round(time.Second).String(), "0s")
	}
	return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
}

// prettyJSON indents a JSON value by two spaces; "" when there is none.
func prettyJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}

// shortID is the last 8 digits of a job id: enough to tell jobs apart on a
// page. A UUIDv7 starts with its time, so jobs of the same minute share
// their first digits but not their last, which are random.
func shortID(id string) string {
	if len(id) >= 8 {
		return id[len(id)-8:]
	}
	return id
}
