package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))
}

func scaleSim(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"scale-sim"}, args...), &out, &errOut, func(string) string { return "" })
	return out.String(), err
}

const chartValues = "../../deploy/helm/flask/values.yaml"

func TestScaleSimGolden(t *testing.T) {
	t.Parallel()
	common := []string{"--values", chartValues, "--load", "constant:5+burst:300@10m", "--job-duration", "exp:20s",
		"--duration", "30m", "--seed", "7", "--compare", "testdata/scalesim-tuned.yaml"}
	out, err := scaleSim(t, append(common, "--timeline", "5m")...)
	require.NoError(t, err)
	golden(t, "scalesim-table.golden", []byte(out))

	svg := filepath.Join(t.TempDir(), "run.svg")
	out, err = scaleSim(t, append(common, "--format", "csv", "--svg", svg)...)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 1+1800, "a header and a row per second")
	require.Equal(t, "second,desired_a,ready_a,pods_a,backlog_a,running_a,arrivals_a,completions_a,metric_a,"+
		"desired_b,ready_b,pods_b,backlog_b,running_b,arrivals_b,completions_b,metric_b", lines[0])
	golden(t, "scalesim-head.csv.golden", []byte(strings.Join(lines[:40], "\n")+"\n"))

	// The SVG is well-formed XML with both runs' three lines and labelled axes.
	data, err := os.ReadFile(svg)
	require.NoError(t, err)
	dec := xml.NewDecoder(bytes.NewReader(data))
	polylines, texts := 0, []string{}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		switch el := tok.(type) {
		case xml.StartElement:
			if el.Name.Local == "polyline" {
				polylines++
			}
		case xml.CharData:
			texts = append(texts, string(el))
		}
	}
	require.Equal(t, 6, polylines, "desired, ready and backlog per run")
	all := strings.Join(texts, "|")
	for _, label := range []string{"replicas (pods)", "backlog (jobs waiting)", "time (min)", "A: target 20, min 1, max 10, concurrency 20", "B: target 40"} {
		require.Contains(t, all, label)
	}
}

func TestScaleSimBadInput(t *testing.T) {
	t.Parallel()
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("worker:\n  defaults:\n    autoscaling:\n      cooldown: 60\n"), 0o644))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--nope"}, "flag provided but not defined: -nope"},
		{[]string{"--target", "x"}, "--target x: want a number"},
		{[]string{"--min", "5", "--max", "2"}, "min 5 is above max 2"},
		{[]string{"--trigger", "kafka"}, `trigger "kafka"`},
		{[]string{"--load", "poisson:5"}, "unknown kind"},
		{[]string{"--job-duration", "2s"}, "job duration"},
		{[]string{"--duration", "0s"}, "--duration"},
		{[]string{"--format", "png"}, "--format"},
		{[]string{"--scale-up", "4pods"}, "--scale-up 4pods"},
		{[]string{"--values", bad}, "unknown key worker.defaults.autoscaling.cooldown"},
		{[]string{"--values", "nope.yaml"}, "nope.yaml"},
		{[]string{"--group", "mail"}, "worker.groups.mail: no such group"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		// A bare number of seconds has the same bound as a duration: it
		// used to pass unbounded and wrap last-active + cooldown around.
		{[]string{"--min", "0", "--cooldown", "9223372036854775807"}, "--cooldown 9223372036854775807: want whole seconds, at most 7 days"},
		{[]string{"--startup", "604801"}, "--startup 604801"},
	} {
		_, err := scaleSim(t, c.args...)
		require.Error(t, err, c.args)
		require.True(t, errors.As(err, new(usageError)), "%v: exit 2", c.args)
		require.ErrorContains(t, err, c.want, c.args)
		require.NotContains(t, err.Error(), "\n", "one line")
	}
}

func TestScaleSimFlagsOverride(t *testing.T) {
	t.Parallel()
	out, err := scaleSim(t, "--duration", "2m", "--timeline", "0", "--trigger", "metrics-api", "--target", "7",
		"--min", "0", "--max", "3", "--polling", "30s", "--cooldown", "10m", "--concurrency", "4", "--startup", "20s",
		"--scale-up", "window=30,2/60s,select=Min", "--scale-down-window", "1m")
	require.NoError(t, err)
	for _, want := range []string{"metrics-api", "target backlog per replica     7", "0 / 3", "30 / 600",
		"window 30s, 2/60s", "window 60s, 50%/60s", "concurrency per pod            4", "20 / 30"} {
		require.Contains(t, out, want)
	}
}

func TestScaleSimBehaviorNull(t *testing.T) {
	t.Parallel()
	null := filepath.Join(t.TempDir(), "null.yaml")
	require.NoError(t, os.WriteFile(null, []byte("worker:\n  defaults:\n    autoscaling:\n      behavior: null\n"), 0o644))
	out, err := scaleSim(t, "--values", null, "--duration", "1m", "--timeline", "0")
	require.NoError(t, err)
	require.Contains(t, out, "no behavior: up to max(2x, 4) per sync")
	require.Contains(t, out, "no behavior: window 300s, no rate limit")
	// A behavior flag gives the HPA a behavior again, with Kubernetes'
	// defaults for what the flag leaves out.
	out, err = scaleSim(t, "--values", null, "--duration", "1m", "--timeline", "0", "--scale-down", "50%/60s")
	require.NoError(t, err)
	require.Contains(t, out, "window 0s, 100%/15s 4/15s max")
	require.Contains(t, out, "window 300s, 50%/60s")
	out, err = scaleSim(t, "--duration", "1m", "--timeline", "0", "--scale-down", "tolerance=0.05")
	require.NoError(t, err)
	require.Contains(t, out, "window 300s, 50%/60s, tolerance 0.05")
	_, err = scaleSim(t, "--scale-up", "tolerance=x")
	require.ErrorContains(t, err, "tolerance=x: want a number")
}
