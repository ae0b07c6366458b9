package web

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// keepAlive is how often an idle stream gets a comment, so that proxies and
// the browser do not take it for dead.
const keepAlive = 15 * time.Second

// sessionRecheck is how often a stream opened by a signed-in browser checks
// that its session still holds; when it does not (expired, or its key
// revoked) the stream ends.
const sessionRecheck = 2 * time.Second

// writeWindow is how long one write to a stream may take: the server's
// WriteTimeout would otherwise end every stream after a minute.
const writeWindow = 30 * time.Second

// events serves GET /ui/events?overview=1&job=ID&job=ID: one stream of
// server-sent events per page. Events:
//
//	overview  the overview's live section (HTML)
//	job       {"id","state","row","detail"}: a watched job's fragments (JSON)
//	live      the stream is up to date
//	stale     the server cannot read the store; updates resume by themselves
func (d *Dashboard) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	overview := q.Get("overview") == "1"
	var ids []string
	seen := map[string]bool{}
	for _, raw := range q["job"] {
		u, err := uuid.Parse(raw)
		if err != nil || len(raw) != 36 {
			http.Error(w, fmt.Sprintf("job: %q is not a job id", truncate(raw, 64)), http.StatusBadRequest)
			return
		}
		if id := u.String(); !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) > maxWatched {
		http.Error(w, fmt.Sprintf("job: at most %d jobs per stream", maxWatched), http.StatusBadRequest)
		return
	}
	if !overview && len(ids) == 0 {
		http.Error(w, "nothing to watch: ask for overview=1 or job=ID", http.StatusBadRequest)
		return
	}
	s, err := d.hub.subscribe(overview, ids)
	if err != nil {
		retry := int(d.cfg.PollInterval.Seconds()*5) + 1
		if errors.Is(err, errHubClosed) {
			retry = 5
		}
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer d.hub.unsubscribe(s)

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	// A reconnecting EventSource waits this long; the script manages its
	// own backoff on top.
	if !write(w, rc, []byte("retry: 2000\n\n")) {
		return
	}
	ping := time.NewTicker(keepAlive)
	defer ping.Stop()
	check := sessionCheck(r.Context())
	var recheck <-chan time.Time
	if check != nil {
		t := time.NewTicker(d.sessionRecheck)
		defer t.Stop()
		recheck = t.C
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.gone:
			return
		case <-recheck:
			if !check() {
				return
			}
		case <-ping.C:
			if !write(w, rc, []byte(": ping\n\n")) {
				return
			}
		case m := <-s.ch:
			if !write(w, rc, encodeEvent(m)) {
				return
			}
		}
	}
}

// encodeEvent writes m in the event-stream format: one data line per line.
func encodeEvent(m message) []byte {
	var b bytes.Buffer
	b.WriteString("event: ")
	b.WriteString(m.name)
	b.WriteByte('\n')
	for line := range bytes.SplitSeq(m.data, []byte("\n")) {
		b.WriteString("data: ")
		b.Write(bytes.TrimSuffix(line, []byte("\r")))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// write sends p at once, within writeWindow. It reports whether the
// stream is still usable.
func write(w http.ResponseWriter, rc *http.ResponseController, p []byte) bool {
	// Not every writer supports deadlines (httptest's recorder does not);
	// without one the server's WriteTimeout, if any, applies.
	_ = rc.SetWriteDeadline(time.Now().Add(writeWindow))
	if _, err := w.Write(p); err != nil {
		return false
	}
	return rc.Flush() == nil
}
