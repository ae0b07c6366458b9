package scalesim

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Run names in reports.
var runNames = []string{"A", "B"}

// WriteTable writes the rules and summaries of one or two runs side by
// side, then a timeline every step seconds (0: none).
func WriteTable(w io.Writer, title string, runs []*Result, step int) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, title)
	fmt.Fprintln(w)
	head := "\t"
	if len(runs) > 1 {
		for i := range runs {
			head += runNames[i] + "\t"
		}
		fmt.Fprintln(tw, head)
	}
	row := func(name string, f func(*Result) string) {
		line := name + "\t"
		for _, r := range runs {
			line += f(r) + "\t"
		}
		fmt.Fprintln(tw, line)
	}
	section := func(name string) { fmt.Fprintln(tw, name+strings.Repeat("\t", len(runs)+1)) }
	section("rules")
	row("trigger", func(r *Result) string { return string(r.Rules.Trigger) })
	row("target backlog per replica", func(r *Result) string { return num(r.Rules.Target) })
	row("activation backlog", func(r *Result) string { return num(r.Rules.Activation) })
	row("min / max replicas", func(r *Result) string {
		s := fmt.Sprintf("%d / %d", r.Rules.Min, r.Rules.Max)
		if r.Rules.Idle >= 0 {
			s += fmt.Sprintf(" (idle %d)", r.Rules.Idle)
		}
		return s
	})
	row("polling / cooldown (s)", func(r *Result) string {
		return fmt.Sprintf("%d / %d", r.Rules.PollingInterval, r.Rules.CooldownPeriod)
	})
	row("scale-up", func(r *Result) string {
		if r.Rules.Behavior.Unset {
			return "no behavior: up to max(2x, 4) per sync"
		}
		return rulesText(r.Rules.Behavior.ScaleUp)
	})
	row("scale-down", func(r *Result) string {
		if r.Rules.Behavior.Unset {
			return "no behavior: window 300s, no rate limit"
		}
		return rulesText(r.Rules.Behavior.ScaleDown)
	})
	row("concurrency per pod", func(r *Result) string { return strconv.Itoa(r.Rules.Concurrency) })
	row("start-up / drain grace (s)", func(r *Result) string {
		return fmt.Sprintf("%d / %d", r.Rules.Startup, r.Rules.DrainGrace)
	})
	section("")
	section("results")
	row("jobs arrived", func(r *Result) string { return strconv.Itoa(r.Summary.Arrived) })
	row("jobs completed", func(r *Result) string { return strconv.Itoa(r.Summary.Completed) })
	row("jobs left (queued or running)", func(r *Result) string { return strconv.Itoa(r.Summary.Left) })
	row("jobs interrupted by scale-in", func(r *Result) string { return strconv.Itoa(r.Summary.Interrupted) })
	row("queue wait p50 / p95 (s)", func(r *Result) string {
		return fmt.Sprintf("%s / %s", secs(r.Summary.WaitP50), secs(r.Summary.WaitP95))
	})
	row("queue wait p99 / max (s)", func(r *Result) string {
		return fmt.Sprintf("%s / %s", secs(r.Summary.WaitP99), secs(r.Summary.WaitMax))
	})
	row("max backlog", func(r *Result) string { return strconv.Itoa(r.Summary.MaxBacklog) })
	row("max replicas", func(r *Result) string { return strconv.Itoa(r.Summary.MaxReplicas) })
	row("scale events up / down", func(r *Result) string {
		return fmt.Sprintf("%d / %d", r.Summary.ScaleUps, r.Summary.ScaleDowns)
	})
	row("pod-minutes", func(r *Result) string { return fmt.Sprintf("%.1f", r.Summary.PodMinutes) })
	if len(runs[0].Summary.BurstDrain) > 0 {
		row("burst drain max (s)", func(r *Result) string { return drainText(r.Summary.BurstDrain) })
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if step <= 0 {
		return nil
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "timeline every %ds: replicas desired/ready, backlog and running at the end of the second, arrivals during it\n", step)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head = "time\t"
	for i := range runs {
		prefix := ""
		if len(runs) > 1 {
			prefix = runNames[i] + " "
		}
		head += prefix + "replicas\t" + prefix + "backlog\t" + prefix + "running\t"
	}
	fmt.Fprintln(tw, head+"arrivals\t")
	for t := 0; t < len(runs[0].Seconds); t += step {
		line := clock(t) + "\t"
		for _, r := range runs {
			s := r.Seconds[t]
			line += fmt.Sprintf("%d/%d\t%d\t%d\t", s.Desired, s.Ready, s.Backlog, s.Running)
		}
		fmt.Fprintln(tw, line+strconv.Itoa(runs[0].Seconds[t].Arrivals)+"\t")
	}
	return tw.Flush()
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func secs(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

func drainText(d []int) string {
	worst, undrained := 0, 0
	for _, v := range d {
		if v < 0 {
			undrained++
			continue
		}
		worst = max(worst, v)
	}
	if undrained == len(d) {
		return fmt.Sprintf("none of %d drained", len(d))
	}
	s := strconv.Itoa(worst)
	if undrained > 0 {
		s += fmt.Sprintf(" (%d of %d not drained)", undrained, len(d))
	}
	return s
}

func rulesText(r ScalingRules) string {
	if r.Select == SelectDisabled {
		return "disabled"
	}
	var ps []string
	for _, p := range r.Policies {
		unit := ""
		if p.Type == PolicyPercent {
			unit = "%"
		}
		ps = append(ps, fmt.Sprintf("%d%s/%ds", p.Value, unit, p.PeriodSeconds))
	}
	s := fmt.Sprintf("window %ds, %s", r.StabilizationWindowSeconds, strings.Join(ps, " "))
	if len(r.Policies) > 1 {
		s += " " + strings.ToLower(string(r.Select))
	}
	if r.Tolerance != nil {
		s += ", tolerance " + num(*r.Tolerance)
	}
	return s
}

// clock formats seconds as h:mm:ss.
func clock(t int) string {
	return fmt.Sprintf("%d:%02d:%02d", t/3600, t/60%60, t%60)
}

// csvColumns are the per-second columns.
var csvColumns = []string{"desired", "ready", "pods", "backlog", "running", "arrivals", "completions", "metric"}

// WriteCSV writes one row per second; with two runs every column appears
// once per run, suffixed _a and _b.
func WriteCSV(w io.Writer, runs []*Result) error {
	var b strings.Builder
	b.WriteString("second")
	for i := range runs {
		for _, c := range csvColumns {
			b.WriteByte(',')
			b.WriteString(c)
			if len(runs) > 1 {
				b.WriteString("_" + strings.ToLower(runNames[i]))
			}
		}
	}
	b.WriteByte('\n')
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	buf := make([]byte, 0, 256)
	for t := range runs[0].Seconds {
		buf = strconv.AppendInt(buf[:0], int64(t), 10)
		for _, r := range runs {
			s := r.Seconds[t]
			for _, v := range []int{s.Desired, s.Ready, s.Pods, s.Backlog, s.Running, s.Arrivals, s.Completions} {
				buf = append(buf, ',')
				buf = strconv.AppendInt(buf, int64(v), 10)
			}
			buf = append(buf, ',')
			buf = strconv.AppendFloat(buf, s.Metric, 'f', -1, 64)
		}
		buf = append(buf, '\n')
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}
