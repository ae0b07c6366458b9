package chartcheck

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/storage"
	"sigs.k8s.io/yaml"
)

// metricsReference is the metrics table of the docs, generated from what
// the binaries register (app's TestMetricsReference).
const metricsReference = "../../docs/observability.md"

// documentedMetrics reads the metric names of the reference table.
func documentedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	raw, err := os.ReadFile(metricsReference)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(flask_[a-z_]+)` \\| (counter|gauge|histogram) \\|").FindAllStringSubmatch(string(raw), -1) {
		names[m[1]] = true
		if m[2] == "histogram" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[m[1]+s] = true
			}
		}
	}
	if len(names) < 20 {
		t.Fatalf("%s: found only %d metrics in the reference table", metricsReference, len(names))
	}
	return names
}

// checkExpr parses a PromQL expression and reports every flask_* metric it
// names that the reference does not list, so that a renamed metric breaks
// the alerts and the dashboard here rather than silently in production.
func checkExpr(t *testing.T, where, expr string, known map[string]bool) {
	t.Helper()
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: %q does not parse: %v", where, expr, err)
		return
	}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok && strings.HasPrefix(vs.Name, "flask_") && !known[vs.Name] {
			t.Errorf("%s: %s is not in the metrics reference (%s)", where, vs.Name, metricsReference)
		}
		return nil
	})
}

// renderedRules returns the rule groups of the PrometheusRule rendered with
// the production values, checked by Prometheus' own rule-file validation.
func renderedRules(t *testing.T) *rulefmt.RuleGroups {
	t.Helper()
	var spec any
	for _, o := range ofKind(render(t, "production").objs, "PrometheusRule") {
		spec = o["spec"]
	}
	if spec == nil {
		t.Fatal("the production values render no PrometheusRule")
	}
	raw, err := yaml.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	groups, errs := rulefmt.Parse(raw, false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatalf("rule groups are invalid: %v", errs)
	}
	return groups
}

func TestAlertRules(t *testing.T) {
	t.Parallel()
	known := documentedMetrics(t)
	groups := renderedRules(t)
	var alerts []string
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			checkExpr(t, r.Alert, r.Expr, known)
			for _, k := range []string{"summary", "description", "runbook_url"} {
				if r.Annotations[k] == "" {
					t.Errorf("%s: no %s annotation", r.Alert, k)
				}
			}
			if r.Labels["severity"] == "" {
				t.Errorf("%s: no severity label", r.Alert)
			}
			// Each runbook link points at a section of the docs.
			anchor := r.Annotations["runbook_url"][strings.LastIndex(r.Annotations["runbook_url"], "#")+1:]
			if anchor != strings.ToLower(r.Alert) {
				t.Errorf("%s: runbook anchor %q", r.Alert, anchor)
			}
		}
	}
	doc, err := os.ReadFile(metricsReference)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alerts {
		if !strings.Contains(string(doc), "\n### "+a+"\n") {
			t.Errorf("%s has no runbook section \"### %s\" in %s", a, a, metricsReference)
		}
	}
	slices.Sort(alerts)
	want := []string{"FlaskBacklogTooOld", "FlaskDeadJobsGrowing", "FlaskJobFailureRateHigh", "FlaskNoWorkers", "FlaskOutboxLagging", "FlaskQueueStatsDown"}
	if !slices.Equal(alerts, want) {
		t.Fatalf("alerts %v, want %v", alerts, want)
	}
}

// alertCase is fixture series (promqltest "load 1m" lines) and whether the
// alert must be firing at the given minute.
type alertCase struct {
	alert  string
	series string
	at     time.Duration
	fires  bool
}

// TestAlertsFireWhenTheyShould evaluates each rendered alert (production
// values: backlog 600s, failure ratio 0.1 over 10m, …) on fixture series,
// as Prometheus' rule manager would with a 1m evaluation interval: the
// alert fires at `at` when its expression has a result at every
// evaluation of the `for` window ending there.
func TestAlertsFireWhenTheyShould(t *testing.T) {
	t.Parallel()
	rules := map[string]rulefmt.Rule{}
	for _, g := range renderedRules(t).Groups {
		for _, r := range g.Rules {
			rules[r.Alert] = r
		}
	}
	cases := []alertCase{
		{"FlaskBacklogTooOld", `flask_queue_oldest_age_seconds{queue="mail",instance="a"} 0+60x60`, 30 * time.Minute, true},
		{"FlaskBacklogTooOld", `flask_queue_oldest_age_seconds{queue="mail",instance="a"} 0+60x60`, 15 * time.Minute, false}, // over 600s only for 5m
		{"FlaskBacklogTooOld", `flask_queue_oldest_age_seconds{queue="mail",instance="a"} 30x60`, 30 * time.Minute, false},
		{"FlaskJobFailureRateHigh", "flask_jobs_finished_total{queue=\"mail\",type=\"t\",state=\"failed\"} 0+2x60\n" +
			`flask_jobs_finished_total{queue="mail",type="t",state="succeeded"} 0+10x60`, 40 * time.Minute, true},
		{"FlaskJobFailureRateHigh", "flask_jobs_finished_total{queue=\"mail\",type=\"t\",state=\"failed\"} 0+1x60\n" +
			`flask_jobs_finished_total{queue="mail",type="t",state="succeeded"} 0+20x60`, 40 * time.Minute, false},
		// Every attempt fails, but a quiet queue's 10 in 10 minutes stay under
		// minAttempts (20); 30 do not.
		{"FlaskJobFailureRateHigh", `flask_jobs_finished_total{queue="mail",type="t",state="failed"} 0+1x60`, 40 * time.Minute, false},
		{"FlaskJobFailureRateHigh", `flask_jobs_finished_total{queue="mail",type="t",state="failed"} 0+3x60`, 40 * time.Minute, true},
		{"FlaskDeadJobsGrowing", `flask_queue_jobs{queue="mail",state="failed",instance="a"} 0+1x90`, 80 * time.Minute, true},
		{"FlaskDeadJobsGrowing", `flask_queue_jobs{queue="mail",state="failed",instance="a"} 500x90`, 80 * time.Minute, false},
		// The API refreshes the finished counts once per FLASK_STATS_TERMINAL_TTL:
		// a staircase (here +3 every 5 minutes) must fire the same way.
		{"FlaskDeadJobsGrowing", `flask_queue_jobs{queue="mail",state="failed",instance="a"} ` + staircase(3, 5, 90), 80 * time.Minute, true},
		{"FlaskNoWorkers", "flask_queue_jobs{queue=\"mail\",state=\"queued\",instance=\"a\"} 5x40\n" +
			`flask_queue_workers{queue="mail",instance="a"} 0x40`, 30 * time.Minute, true},
		{"FlaskNoWorkers", "flask_queue_jobs{queue=\"mail\",state=\"queued\",instance=\"a\"} 5x40\n" +
			`flask_queue_workers{queue="mail",instance="a"} 1x40`, 30 * time.Minute, false},
		{"FlaskNoWorkers", "flask_queue_jobs{queue=\"mail\",state=\"queued\",instance=\"a\"} 0x40\n" +
			`flask_queue_workers{queue="mail",instance="a"} 0x40`, 30 * time.Minute, false},
		{"FlaskOutboxLagging", `flask_outbox_oldest_age_seconds{instance="a"} 0+60x30`, 20 * time.Minute, true},
		{"FlaskOutboxLagging", `flask_outbox_oldest_age_seconds{instance="a"} 5x30`, 20 * time.Minute, false},
		{"FlaskQueueStatsDown", `flask_queue_stats_up{instance="a"} 0x30`, 20 * time.Minute, true},
		{"FlaskQueueStatsDown", `flask_queue_stats_up{instance="a"} 1x30`, 20 * time.Minute, false},
	}
	engine := promqltest.NewTestEngine(t, false, 5*time.Minute, 50000)
	covered := map[string][2]bool{}
	for i, c := range cases {
		r, ok := rules[c.alert]
		if !ok {
			t.Fatalf("case %d: no alert %s", i, c.alert)
		}
		storage := promqltest.LoadedStorage(t, "load 1m\n  "+strings.ReplaceAll(c.series, "\n", "\n  "))
		hold := time.Duration(r.For)
		firing := true
		for at := c.at - hold; at <= c.at; at += time.Minute {
			if len(instant(t, engine, storage, r.Expr, at)) == 0 {
				firing = false
			}
		}
		if firing != c.fires {
			t.Errorf("case %d: %s firing=%v at %s, want %v (series %s)", i, c.alert, firing, c.at, c.fires, c.series)
		}
		cov := covered[c.alert]
		cov[boolIndex(c.fires)] = true
		covered[c.alert] = cov
	}
	for a := range rules {
		if covered[a] != [2]bool{true, true} {
			t.Errorf("%s: needs a case where it fires and one where it stays quiet", a)
		}
	}
}

// staircase is a promqltest series of n+1 samples that rises by step every
// `every` samples, as a gauge refreshed less often than it is scraped.
func staircase(step, every, n int) string {
	parts := make([]string, 0, n+1)
	for i := 0; i <= n; i++ {
		parts = append(parts, strconv.Itoa(i/every*step))
	}
	return strings.Join(parts, " ")
}

// instant evaluates expr on storage at the given time from 0, as an
// alerting or dashboard query would.
func instant(t *testing.T, engine *promql.Engine, db storage.Queryable, expr string, at time.Duration) promql.Vector {
	t.Helper()
	q, err := engine.NewInstantQuery(t.Context(), db, nil, expr, time.Unix(0, 0).Add(at))
	if err != nil {
		t.Fatalf("%q: %v", expr, err)
	}
	defer q.Close()
	res := q.Exec(t.Context())
	if res.Err != nil {
		t.Fatalf("%q: %v", expr, res.Err)
	}
	v, err := res.Vector()
	if err != nil {
		t.Fatalf("%q: %v", expr, err)
	}
	return v
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

// dashboard is what the tests read of the Grafana dashboard's JSON.
type dashboard struct {
	Templating struct {
		List []struct {
			Name, Type string
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		Title      string `json:"title"`
		Type       string `json:"type"`
		Datasource *struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// readDashboard reads the chart's dashboard, decoded and as it is.
func readDashboard(t *testing.T) (dashboard, []byte) {
	t.Helper()
	raw, err := os.ReadFile(chartDir + "/dashboards/flask.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	return d, raw
}

// grafanaVars substitutes Grafana's variables as Grafana would.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$queue", ".*", "$type", ".*")

// TestDashboard checks the Grafana dashboard the chart ships: a datasource
// variable, queue and type variables, and every panel query parses and
// names only documented metrics.
func TestDashboard(t *testing.T) {
	t.Parallel()
	d, raw := readDashboard(t)
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	if vars["datasource"] != "datasource" || vars["queue"] != "query" || vars["type"] != "query" {
		t.Fatalf("template variables %v: want datasource (datasource), queue and type (query)", vars)
	}
	known := documentedMetrics(t)
	queries := 0
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: datasource must be the ${datasource} variable", p.Title)
		}
		for _, tg := range p.Targets {
			queries++
			checkExpr(t, fmt.Sprintf("panel %q", p.Title), grafanaVars.Replace(tg.Expr), known)
		}
	}
	if queries < 20 {
		t.Fatalf("only %d queries in the dashboard", queries)
	}
	// The chart ships the file as is.
	cm := mustFind(t, render(t, "production").objs, "ConfigMap", "flask-dashboard")
	if got := Get(cm, "data", "flask.json"); strings.TrimSpace(fmt.Sprint(got)) != strings.TrimSpace(string(raw)) {
		t.Error("the dashboard ConfigMap does not hold dashboards/flask.json as it is")
	}
	if Get(cm, "metadata", "labels", "grafana_dashboard") != "1" {
		t.Error("the dashboard ConfigMap lacks the sidecar label grafana_dashboard: \"1\"")
	}
}

// storeGauges are the gauges flask-api reads from the store at scrape
// time: every API replica reports the same numbers, so a query must take
// their max (or min) across replicas, never their sum.
// flask_queue_stats_up is left out: it is each process's own health.
var storeGauges = map[string]bool{
	"flask_queue_jobs": true, "flask_queue_oldest_age_seconds": true, "flask_queue_workers": true,
	"flask_queue_worker_slots": true, "flask_outbox_entries": true, "flask_outbox_oldest_age_seconds": true,
}

// storeSeries is promqltest "load 1m" lines of the store gauges as the API
// replicas named by instances report them, over 90 minutes: queue mail
// has work and no worker, queue report two workers.
func storeSeries(instances ...string) string {
	var b strings.Builder
	for _, in := range instances {
		for _, l := range []string{
			`flask_queue_jobs{queue="mail",state="queued"} 5+1x90`,
			`flask_queue_jobs{queue="mail",state="running"} 0x90`,
			`flask_queue_jobs{queue="mail",state="failed"} 0+1x90`,
			`flask_queue_jobs{queue="report",state="queued"} 3x90`,
			`flask_queue_jobs{queue="report",state="running"} 7x90`,
			`flask_queue_jobs{queue="report",state="failed"} 2x90`,
			`flask_queue_oldest_age_seconds{queue="mail"} 0+60x90`,
			`flask_queue_oldest_age_seconds{queue="report"} 4x90`,
			`flask_queue_workers{queue="mail"} 0x90`,
			`flask_queue_workers{queue="report"} 2x90`,
			`flask_queue_worker_slots{queue="mail"} 0x90`,
			`flask_queue_worker_slots{queue="report"} 20x90`,
			`flask_outbox_entries 3x90`,
			`flask_outbox_oldest_age_seconds 0+60x90`,
		} {
			name, rest, _ := strings.Cut(l, " ")
			if strings.HasSuffix(name, "}") {
				name = strings.TrimSuffix(name, "}") + `,instance="` + in + `"}`
			} else {
				name += `{instance="` + in + `"}`
			}
			b.WriteString("  " + name + " " + rest + "\n")
		}
	}
	return "load 1m\n" + b.String()
}

// TestStoreGaugesNotSummedOverReplicas evaluates every dashboard query and
// alert that reads only store gauges with one and with three API replicas
// reporting them: the answers must be the same, as they are with max and
// not with sum (which would show three times the backlog).
func TestStoreGaugesNotSummedOverReplicas(t *testing.T) {
	t.Parallel()
	d, _ := readDashboard(t)
	queries := map[string]string{} // where → expression
	for _, p := range d.Panels {
		for i, tg := range p.Targets {
			queries[fmt.Sprintf("panel %q query %d", p.Title, i)] = grafanaVars.Replace(tg.Expr)
		}
	}
	for _, g := range renderedRules(t).Groups {
		for _, r := range g.Rules {
			queries["alert "+r.Alert] = r.Expr
		}
	}
	one := promqltest.LoadedStorage(t, storeSeries("a"))
	three := promqltest.LoadedStorage(t, storeSeries("a", "b", "c"))
	engine := promqltest.NewTestEngine(t, false, 5*time.Minute, 50000)
	eval := func(db storage.Queryable, expr string) []string {
		v := instant(t, engine, db, expr, 80*time.Minute)
		out := make([]string, len(v))
		for i, s := range v {
			out[i] = fmt.Sprintf("%s %g", s.Metric, s.F)
		}
		slices.Sort(out)
		return out
	}
	checked := 0
	for where, expr := range queries {
		e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		store, other := false, false
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok {
				store = store || storeGauges[vs.Name]
				other = other || !storeGauges[vs.Name]
			}
			return nil
		})
		if !store || other {
			continue
		}
		checked++
		want := eval(one, expr)
		if len(want) == 0 {
			t.Errorf("%s: %s has no result on the fixture series: the check would prove nothing", where, expr)
			continue
		}
		if got := eval(three, expr); !slices.Equal(got, want) {
			t.Errorf("%s: %s\nwith 3 API replicas: %v\nwith 1: %v\naggregate the store gauges with max, not sum", where, expr, got, want)
		}
	}
	if checked < 8 {
		t.Fatalf("only %d queries read the store gauges", checked)
	}
}
