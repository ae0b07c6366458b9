package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/flaskhq/flask/scalesim"
)

const scaleSimUsage = `Usage: flaskctl scale-sim [flags]

Simulates KEDA and the HPA scaling one worker group under a load, second by
second, and reports replicas, backlog, queue waits and pod-minutes.
docs/scaling-simulator.md explains the model and every flag.

Rules (chart values, then flags):
  --values FILE        chart values file; repeat to layer them like helm -f
  --group NAME         worker group (default: "default", else the first by name)
  --queue NAME         queue of the group (default: its first)
  --compare FILE       second rule set: the same values plus FILE, same jobs
  --trigger KIND       nats, sqs or metrics-api     --target N   backlog per replica
  --activation N       --min N  --max N  --idle N   --polling 15s  --cooldown 5m
  --initial-cooldown D --scale-up SPEC  --scale-down SPEC  --scale-down-window D
                       SPEC: comma list of window=D, select=Max|Min|Disabled,
                       tolerance=X, N%/D (Percent policy), N/D (Pods policy)
  --scale-on-in-flight=BOOL (sqs)  --concurrency N  --startup 10s
  --drain-grace D      --hpa-sync 15s  --tolerance 0.1  --metric-lag 0s
Load:
  --load SPEC          constant:50 | steps:0s=5,10m=50 | burst:500@10m | csv:FILE,
                       joined with + (constant:5+burst:500@10m)
  --job-duration SPEC  fixed:2s | uniform:1s-5s | exp:3s | lognormal:MEDIAN,P95
  --duration 1h        --seed 1
Output:
  --format table|csv   --timeline 5m (table; 0: none)   --svg FILE
`

// usageError is bad input: flaskctl prints it on one line and exits 2.
type usageError struct{ error }

func badInput(format string, args ...any) error {
	return usageError{fmt.Errorf("scale-sim: "+format, args...)}
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// runScaleSim runs "flaskctl scale-sim".
func runScaleSim(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scale-sim", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var valueFiles stringList
	fs.Var(&valueFiles, "values", "")
	group := fs.String("group", "", "")
	queue := fs.String("queue", "", "")
	compare := fs.String("compare", "", "")
	loadSpec := fs.String("load", "constant:10", "")
	jobSpec := fs.String("job-duration", "fixed:1s", "")
	duration := fs.String("duration", "1h", "")
	seed := fs.Uint64("seed", 1, "")
	format := fs.String("format", "table", "")
	timeline := fs.String("timeline", "5m", "")
	svgFile := fs.String("svg", "", "")

	// Overrides, applied in flag order to every run.
	var overrides []func(*scalesim.Rules) error
	override := func(name string, apply func(string, *scalesim.Rules) error) {
		fs.Func(name, "", func(v string) error {
			overrides = append(overrides, func(r *scalesim.Rules) error {
				if err := apply(v, r); err != nil {
					return fmt.Errorf("--%s %s: %w", name, v, err)
				}
				return nil
			})
			return nil
		})
	}
	intFlag := func(name string, dst func(*scalesim.Rules) *int) {
		override(name, func(v string, r *scalesim.Rules) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return errors.New("want a whole number")
			}
			*dst(r) = n
			return nil
		})
	}
	floatFlag := func(name string, dst func(*scalesim.Rules) *float64) {
		override(name, func(v string, r *scalesim.Rules) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return errors.New("want a number")
			}
			*dst(r) = f
			return nil
		})
	}
	secondsFlag := func(name string, dst func(*scalesim.Rules) *int) {
		override(name, func(v string, r *scalesim.Rules) error {
			s, err := parseWholeSeconds(v)
			*dst(r) = s
			return err
		})
	}
	override("trigger", func(v string, r *scalesim.Rules) error {
		t, err := scalesim.ParseTrigger(v)
		r.Trigger = t
		return err
	})
	floatFlag("target", func(r *scalesim.Rules) *float64 { return &r.Target })
	floatFlag("activation", func(r *scalesim.Rules) *float64 { return &r.Activation })
	floatFlag("tolerance", func(r *scalesim.Rules) *float64 { return &r.Tolerance })
	intFlag("min", func(r *scalesim.Rules) *int { return &r.Min })
	intFlag("max", func(r *scalesim.Rules) *int { return &r.Max })
	intFlag("idle", func(r *scalesim.Rules) *int { return &r.Idle })
	intFlag("concurrency", func(r *scalesim.Rules) *int { return &r.Concurrency })
	secondsFlag("polling", func(r *scalesim.Rules) *int { return &r.PollingInterval })
	secondsFlag("cooldown", func(r *scalesim.Rules) *int { return &r.CooldownPeriod })
	secondsFlag("initial-cooldown", func(r *scalesim.Rules) *int { return &r.InitialCooldownPeriod })
	secondsFlag("startup", func(r *scalesim.Rules) *int { return &r.Startup })
	secondsFlag("drain-grace", func(r *scalesim.Rules) *int { return &r.DrainGrace })
	secondsFlag("hpa-sync", func(r *scalesim.Rules) *int { return &r.HPASyncPeriod })
	secondsFlag("metric-lag", func(r *scalesim.Rules) *int { return &r.MetricLag })
	// A behavior flag gives the HPA a behavior even over behavior: null.
	secondsFlag("scale-down-window", func(r *scalesim.Rules) *int {
		r.Behavior.Unset = false
		return &r.Behavior.ScaleDown.StabilizationWindowSeconds
	})
	secondsFlag("scale-up-window", func(r *scalesim.Rules) *int {
		r.Behavior.Unset = false
		return &r.Behavior.ScaleUp.StabilizationWindowSeconds
	})
	override("scale-up", func(v string, r *scalesim.Rules) error {
		r.Behavior.Unset = false
		return parseScalingRules(v, &r.Behavior.ScaleUp)
	})
	override("scale-down", func(v string, r *scalesim.Rules) error {
		r.Behavior.Unset = false
		return parseScalingRules(v, &r.Behavior.ScaleDown)
	})
	override("scale-on-in-flight", func(v string, r *scalesim.Rules) error {
		b, err := strconv.ParseBool(v)
		r.ScaleOnInFlight = b
		if err != nil {
			return errors.New("want true or false")
		}
		return nil
	})

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, scaleSimUsage)
			return nil
		}
		return badInput("%v (flaskctl scale-sim -h lists the flags)", err)
	}
	if fs.NArg() > 0 {
		return badInput("unexpected argument %q", fs.Arg(0))
	}
	if *format != "table" && *format != "csv" {
		return badInput("--format %q: use table or csv", *format)
	}
	dur, err := parseWholeSeconds(*duration)
	if err != nil || dur < 1 {
		return badInput("--duration %q: want a Go duration of whole seconds, 1s to %dh", *duration, scalesim.MaxDuration/3600)
	}
	step, err := parseWholeSeconds(*timeline)
	if err != nil {
		return badInput("--timeline %q: %v", *timeline, err)
	}

	base := scalesim.ChartDefaults()
	for _, f := range valueFiles {
		v, err := readValues(f)
		if err != nil {
			return err
		}
		base = base.Merge(v)
	}
	sets := []scalesim.Values{base}
	if *compare != "" {
		v, err := readValues(*compare)
		if err != nil {
			return err
		}
		sets = append(sets, base.Merge(v))
	}
	var rules []scalesim.Rules
	var groupName, queueName string
	for _, set := range sets {
		r, g, q, err := set.Rules(*group, *queue, scalesim.DefaultRules())
		if err != nil {
			return badInput("%v", err)
		}
		for _, o := range overrides {
			if err := o(&r); err != nil {
				return badInput("%v", err)
			}
		}
		if err := r.Validate(); err != nil {
			return badInput("%v", err)
		}
		rules = append(rules, r)
		groupName, queueName = g, q
	}

	load, err := scalesim.ParseLoad(*loadSpec, openInput)
	if err != nil {
		return badInput("--%v", err)
	}
	jobs, err := scalesim.ParseDurations(*jobSpec)
	if err != nil {
		return badInput("--%v", err)
	}
	work, err := scalesim.Generate(load, jobs, dur, *seed)
	if err != nil {
		return badInput("%v", err)
	}
	var runs []*scalesim.Result
	for _, r := range rules {
		res, err := scalesim.Run(r, work)
		if err != nil {
			return badInput("%v", err)
		}
		runs = append(runs, res)
	}

	title := fmt.Sprintf("scale-sim: group %s, queue %s, load %s, jobs %s, %s, seed %d",
		groupName, queueName, load.Spec, jobs.Spec, time.Duration(dur)*time.Second, *seed)
	if *svgFile != "" {
		if err := writeFile(*svgFile, func(w io.Writer) error { return scalesim.WriteSVG(w, title, runs) }); err != nil {
			return err
		}
	}
	out := bufio.NewWriter(stdout)
	if *format == "csv" {
		err = scalesim.WriteCSV(out, runs)
	} else {
		err = scalesim.WriteTable(out, title, runs, step)
	}
	if err != nil {
		return err
	}
	return out.Flush()
}

// parseWholeSeconds reads a Go duration of whole seconds ("90s", "5m"); a
// bare number is seconds.
func parseWholeSeconds(v string) (int, error) {
	if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= scalesim.MaxDuration {
		return n, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d%time.Second != 0 || d > time.Duration(scalesim.MaxDuration)*time.Second {
		return 0, errors.New("want whole seconds, at most 7 days (90, 90s, 5m)")
	}
	return int(d / time.Second), nil
}

// parseScalingRules reads window=D, select=Max|Min|Disabled, tolerance=X,
// N%/D and N/D items; any policy given replaces the policies.
func parseScalingRules(v string, r *scalesim.ScalingRules) error {
	var policies []scalesim.Policy
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		switch {
		case strings.HasPrefix(item, "window="):
			s, err := parseWholeSeconds(strings.TrimPrefix(item, "window="))
			if err != nil {
				return fmt.Errorf("%s: %w", item, err)
			}
			r.StabilizationWindowSeconds = s
		case strings.HasPrefix(item, "select="):
			r.Select = scalesim.SelectPolicy(strings.TrimPrefix(item, "select="))
		case strings.HasPrefix(item, "tolerance="):
			tol, err := strconv.ParseFloat(strings.TrimPrefix(item, "tolerance="), 64)
			if err != nil || math.IsNaN(tol) || math.IsInf(tol, 0) {
				return fmt.Errorf("%s: want a number such as 0.05", item)
			}
			r.Tolerance = &tol
		default:
			amount, period, ok := strings.Cut(item, "/")
			if !ok {
				return fmt.Errorf("%q: want window=D, select=Max|Min|Disabled, tolerance=X, N%%/D or N/D", item)
			}
			p := scalesim.Policy{Type: scalesim.PolicyPods}
			if strings.HasSuffix(amount, "%") {
				p.Type = scalesim.PolicyPercent
				amount = strings.TrimSuffix(amount, "%")
			}
			n, err := strconv.Atoi(amount)
			if err != nil {
				return fmt.Errorf("%q: want a whole number of pods or percent", item)
			}
			s, err := parseWholeSeconds(period)
			if err != nil {
				return fmt.Errorf("%q: %w", item, err)
			}
			p.Value, p.PeriodSeconds = n, s
			policies = append(policies, p)
		}
	}
	if policies != nil {
		r.Policies = policies
	}
	return nil
}

// readValues reads and checks one values file.
func readValues(name string) (scalesim.Values, error) {
	f, err := os.Open(name)
	if err != nil {
		return scalesim.Values{}, badInput("values: %v", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 4<<20+1))
	if err != nil {
		return scalesim.Values{}, badInput("values: %v", err)
	}
	v, err := scalesim.ParseValues(name, data)
	if err != nil {
		return scalesim.Values{}, badInput("values %v", err)
	}
	return v, nil
}

func openInput(name string) (io.ReadCloser, error) { return os.Open(name) }

func writeFile(name string, write func(io.Writer) error) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if err := write(w); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
