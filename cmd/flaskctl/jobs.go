package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flaskhq/flask/client"
	"github.com/flaskhq/flask/job"
)

// defaultAPIURL is the API flaskctl talks to without --api or FLASK_API_URL.
const defaultAPIURL = "http://127.0.0.1:8080"

const jobsUsage = `Usage: flaskctl jobs <subcommand> [flags]

Subcommands:
  submit --type T [--queue Q] [--payload JSON|@file|-] [--max-attempts N]
         [--timeout 30s] [--run-at 2026-11-26T10:00:00Z|+10m]
         [--idempotency-key K] [--wait]     submit a job
  get <id>                                  show a job
  list [--queue Q] [--state S] [--type T] [--limit N] [--cursor C]
                                            list jobs, newest first
  cancel <id>                               cancel a job
  retry <id>                                queue a failed or cancelled job again

Every subcommand takes --api URL (default $FLASK_API_URL, else ` + defaultAPIURL + `)
and --json to print the API's JSON instead of a table. The API key, if any,
comes from $FLASK_API_KEY.
`

// runJobs runs "flaskctl jobs ...".
func runJobs(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	return runJobsIO(ctx, args, os.Stdin, stdout, stderr, getenv)
}

// runJobsIO is runJobs with standard input given, for --payload -.
func runJobsIO(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, jobsUsage)
		return errors.New("jobs: no subcommand given (submit, get, list, cancel or retry)")
	}
	cmd := &jobsCmd{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	switch args[0] {
	case "submit":
		return cmd.submit(ctx, args[1:])
	case "get":
		return cmd.get(ctx, args[1:])
	case "list":
		return cmd.list(ctx, args[1:])
	case "cancel", "retry":
		return cmd.change(ctx, args[0], args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(stdout, jobsUsage)
		return nil
	}
	fmt.Fprint(stderr, jobsUsage)
	return fmt.Errorf("jobs: unknown subcommand %q (want submit, get, list, cancel or retry)", args[0])
}

// runQueues runs "flaskctl queues": a summary of every queue.
func runQueues(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cmd := &jobsCmd{stdin: os.Stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	fs, common := cmd.flags("queues", "", "summarise every queue: jobs by state and the oldest wait")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	c, err := common.client()
	if err != nil {
		return err
	}
	queues, err := c.Queues(ctx)
	if err != nil {
		return common.explain(err)
	}
	if common.json {
		return writeJSON(stdout, map[string]any{"queues": queues})
	}
	if len(queues) == 0 {
		fmt.Fprintln(stdout, "no queues hold jobs")
		return nil
	}
	tw := newTable(stdout)
	fmt.Fprintln(tw, "QUEUE\tSCHEDULED\tQUEUED\tRUNNING\tRETRYING\tSUCCEEDED\tFAILED\tCANCELLED\tOLDEST WAIT")
	for _, q := range queues {
		wait := "-"
		if q.OldestQueuedAgeSeconds != nil {
			wait = (time.Duration(*q.OldestQueuedAgeSeconds * float64(time.Second))).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", q.Queue,
			q.Counts[job.StateScheduled], q.Counts[job.StateQueued], q.Counts[job.StateRunning], q.Counts[job.StateRetrying],
			q.Counts[job.StateSucceeded], q.Counts[job.StateFailed], q.Counts[job.StateCancelled], wait)
	}
	return tw.Flush()
}

type jobsCmd struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

// commonFlags are the flags of every subcommand.
type commonFlags struct {
	api    string
	json   bool
	getenv func(string) string
}

func (cmd *jobsCmd) flags(name, synopsis, summary string) (*flag.FlagSet, *commonFlags) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(cmd.stderr)
	cf := &commonFlags{getenv: cmd.getenv}
	def := cmd.getenv("FLASK_API_URL")
	if def == "" {
		def = defaultAPIURL
	}
	fs.StringVar(&cf.api, "api", def, "API base URL; taken from $FLASK_API_URL when set")
	fs.BoolVar(&cf.json, "json", false, "print the API's JSON instead of a table")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: flaskctl %s [flags] %s\n\n%s.\n\nFlags:\n", name, synopsis, summary)
		fs.PrintDefaults()
	}
	return fs, cf
}

func (cf *commonFlags) client() (*client.Client, error) {
	c, err := client.New(cf.api, client.WithAPIKey(cf.getenv("FLASK_API_KEY")), client.WithUserAgent("flaskctl"))
	if err != nil {
		return nil, fmt.Errorf("--api: %w", err)
	}
	return c, nil
}

// explain adds a hint to an error that did not come from the API itself.
func (cf *commonFlags) explain(err error) error {
	if _, ok := client.IsProblem(err); ok || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w (is the Flask API running at %s? set --api or FLASK_API_URL)", err, cf.api)
}

// parseArgs parses flags wherever they stand among the arguments (so that
// "get <id> --json" works) and requires exactly want positional arguments.
func parseArgs(fs *flag.FlagSet, args []string, want int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%s: %w", fs.Name(), err)
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if len(pos) != want {
		fs.Usage()
		what := "job id"
		if strings.HasPrefix(fs.Name(), "keys") {
			what = "key id"
		}
		switch {
		case want == 0:
			return nil, fmt.Errorf("%s: unexpected argument %q", fs.Name(), pos[0])
		case len(pos) < want:
			return nil, fmt.Errorf("%s: give a %s", fs.Name(), what)
		default:
			return nil, fmt.Errorf("%s: give one %s, not %d arguments", fs.Name(), what, len(pos))
		}
	}
	return pos, nil
}

func (cmd *jobsCmd) submit(ctx context.Context, args []string) error {
	fs, common := cmd.flags("jobs submit", "", "submit a job")
	var req client.SubmitRequest
	var payload, runAt string
	var wait bool
	var poll time.Duration
	fs.StringVar(&req.Type, "type", "", "job type (required; see GET /v1/types)")
	fs.StringVar(&req.Queue, "queue", "", "queue (default: the type's)")
	fs.StringVar(&payload, "payload", "", "payload: JSON, @file.json, or - for standard input (default null)")
	fs.IntVar(&req.MaxAttempts, "max-attempts", 0, "attempts before the job fails (default: the type's)")
	fs.DurationVar(&req.Timeout, "timeout", 0, "time limit of one attempt, such as 30s (default: the type's)")
	fs.StringVar(&runAt, "run-at", "", "do not run before this RFC 3339 time, or +duration from now such as +10m")
	fs.StringVar(&req.IdempotencyKey, "idempotency-key", "", "submitting the same key again returns the first job")
	fs.BoolVar(&wait, "wait", false, "wait until the job ends; fail if it failed or was cancelled")
	fs.DurationVar(&poll, "poll-interval", time.Second, "how often --wait polls the job")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if req.Type == "" {
		return errors.New("jobs submit: --type is required")
	}
	var err error
	if req.Payload, err = readPayload(payload, cmd.stdin); err != nil {
		return fmt.Errorf("jobs submit: --payload: %w", err)
	}
	if runAt != "" {
		if req.RunAt, err = parseRunAt(runAt, time.Now()); err != nil {
			return fmt.Errorf("jobs submit: --run-at: %w", err)
		}
	}
	c, err := common.client()
	if err != nil {
		return err
	}
	res, err := c.Submit(ctx, req)
	if err != nil {
		return common.explain(err)
	}
	j := &res.Job
	if res.Existing {
		fmt.Fprintf(cmd.stderr, "job %s already exists for idempotency key %q; nothing was submitted\n", j.ID, j.IdempotencyKey)
	}
	if wait && !j.State.Terminal() {
		if !common.json {
			fmt.Fprintf(cmd.stderr, "submitted job %s; waiting for it to end\n", j.ID)
		}
		if j, err = c.Wait(ctx, j.ID, poll); err != nil {
			return common.explain(err)
		}
	}
	if common.json {
		err = writeJSON(cmd.stdout, j)
	} else {
		err = printJob(cmd.stdout, j)
	}
	if err != nil {
		return err
	}
	if wait {
		return outcome(j)
	}
	return nil
}

// outcome is nil for a job that succeeded and explains any other end.
func outcome(j *job.Job) error {
	switch j.State {
	case job.StateSucceeded:
		return nil
	case job.StateFailed:
		msg := fmt.Sprintf("job %s failed after %d attempt", j.ID, j.Attempt)
		if j.Attempt != 1 {
			msg += "s"
		}
		if j.Error != "" {
			msg += ": " + oneLine(j.Error, 300)
		}
		return errors.New(msg)
	case job.StateCancelled:
		return fmt.Errorf("job %s was cancelled", j.ID)
	}
	return fmt.Errorf("job %s is %s", j.ID, j.State)
}

// readPayload reads --payload: inline JSON, @file, or - for stdin.
func readPayload(v string, stdin io.Reader) (json.RawMessage, error) {
	var b []byte
	var err error
	switch {
	case v == "":
		return nil, nil
	case v == "-":
		if b, err = io.ReadAll(stdin); err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
	case strings.HasPrefix(v, "@"):
		if b, err = os.ReadFile(v[1:]); err != nil {
			return nil, err
		}
	default:
		b = []byte(v)
	}
	if !json.Valid(b) {
		return nil, errors.New("not valid JSON (quote a string: '\"text\"')")
	}
	return b, nil
}

// parseRunAt reads an RFC 3339 time or +duration from now.
func parseRunAt(v string, now time.Time) (time.Time, error) {
	if rest, ok := strings.CutPrefix(v, "+"); ok {
		d, err := time.ParseDuration(rest)
		if err != nil || d < 0 {
			return time.Time{}, fmt.Errorf("%q: want +duration such as +10m", v)
		}
		return now.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want an RFC 3339 time such as 2026-11-26T10:00:00Z, or +10m", v)
	}
	return t, nil
}

func (cmd *jobsCmd) get(ctx context.Context, args []string) error {
	fs, common := cmd.flags("jobs get", "<id>", "show a job")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	c, err := common.client()
	if err != nil {
		return err
	}
	j, err := c.Get(ctx, pos[0])
	if err != nil {
		return common.explain(err)
	}
	if common.json {
		return writeJSON(cmd.stdout, j)
	}
	return printJob(cmd.stdout, j)
}

func (cmd *jobsCmd) list(ctx context.Context, args []string) error {
	fs, common := cmd.flags("jobs list", "", "list jobs, newest first")
	var opts client.ListOpts
	var state string
	fs.StringVar(&opts.Queue, "queue", "", "only jobs of this queue")
	fs.StringVar(&state, "state", "", "only jobs in this state: "+stateNames())
	fs.StringVar(&opts.Type, "type", "", "only jobs of this type")
	fs.IntVar(&opts.Limit, "limit", 0, "page size, 1 to 1000 (default: the server's, 50)")
	fs.StringVar(&opts.Cursor, "cursor", "", "the next-page cursor printed by a previous list")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if state != "" {
		opts.State = job.State(state)
		if !opts.State.Valid() {
			return fmt.Errorf("jobs list: --state %q: want one of %s", state, stateNames())
		}
	}
	c, err := common.client()
	if err != nil {
		return err
	}
	page, err := c.List(ctx, opts)
	if err != nil {
		return common.explain(err)
	}
	if common.json {
		return writeJSON(cmd.stdout, page)
	}
	if len(page.Jobs) == 0 {
		fmt.Fprintln(cmd.stdout, "no jobs match")
		return nil
	}
	tw := newTable(cmd.stdout)
	fmt.Fprintln(tw, "ID\tTYPE\tQUEUE\tSTATE\tATTEMPT\tCREATED\tRUN AT")
	for _, j := range page.Jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\n", j.ID, j.Type, j.Queue, j.State,
			j.Attempt, j.MaxAttempts, formatTime(j.CreatedAt), formatTime(j.RunAt))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if page.NextCursor != "" {
		fmt.Fprintf(cmd.stderr, "more jobs: add --cursor %s\n", page.NextCursor)
	}
	return nil
}

// change runs cancel or retry.
func (cmd *jobsCmd) change(ctx context.Context, op string, args []string) error {
	summary := map[string]string{"cancel": "cancel a job", "retry": "queue a failed or cancelled job again"}[op]
	fs, common := cmd.flags("jobs "+op, "<id>", summary)
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	c, err := common.client()
	if err != nil {
		return err
	}
	var j *job.Job
	if op == "cancel" {
		j, err = c.Cancel(ctx, pos[0])
	} else {
		j, err = c.Retry(ctx, pos[0])
	}
	if err != nil {
		return common.explain(err)
	}
	if common.json {
		return writeJSON(cmd.stdout, j)
	}
	switch {
	case op == "retry":
		fmt.Fprintf(cmd.stdout, "job %s is %s again\n", j.ID, j.State)
	case j.State == job.StateRunning:
		fmt.Fprintf(cmd.stdout, "job %s is running; its worker was asked to stop it\n", j.ID)
	default:
		fmt.Fprintf(cmd.stdout, "job %s is %s\n", j.ID, j.State)
	}
	return nil
}

// printJob writes one job as an aligned list of fields; unset optional
// fields are left out.
func printJob(w io.Writer, j *job.Job) error {
	tw := newTable(w)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	optional := func(k, v string) {
		if v != "" {
			row(k, v)
		}
	}
	row("ID", j.ID)
	row("TYPE", j.Type)
	row("QUEUE", j.Queue)
	row("STATE", string(j.State))
	row("ATTEMPT", fmt.Sprintf("%d of %d", j.Attempt, j.MaxAttempts))
	row("TIMEOUT", time.Duration(j.Timeout).String())
	row("RUN AT", formatTime(j.RunAt))
	row("CREATED", formatTime(j.CreatedAt))
	optional("STARTED", formatTimePtr(j.StartedAt))
	optional("FINISHED", formatTimePtr(j.FinishedAt))
	optional("CANCEL REQUESTED", formatTimePtr(j.CancelRequestedAt))
	optional("WORKER", j.WorkerID)
	if j.IdempotencyKey != "" {
		row("IDEMPOTENCY KEY", strconv.Quote(j.IdempotencyKey))
	}
	row("PAYLOAD", oneLine(string(j.Payload), 200))
	if len(j.Result) > 0 && string(j.Result) != "null" {
		row("RESULT", oneLine(string(j.Result), 200))
	}
	optional("ERROR", oneLine(j.Error, 200))
	for i, e := range j.Errors {
		k := ""
		if i == 0 {
			k = "ERRORS"
		}
		row(k, fmt.Sprintf("attempt %d at %s: %s", e.Attempt, formatTime(e.At), oneLine(e.Error, 160)))
	}
	return tw.Flush()
}

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func formatTimePtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return formatTime(*t)
}

// oneLine flattens s to one line of at most n runes, so that a table stays
// aligned whatever a payload or an error holds.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

func stateNames() string {
	names := make([]string, 0, 7)
	for _, s := range job.States() {
		names = append(names, string(s))
	}
	return strings.Join(names, ", ")
}
