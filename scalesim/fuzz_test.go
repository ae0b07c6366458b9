package scalesim

import (
	"io"
	"strings"
	"testing"
)

// FuzzParseLoad feeds load specs and CSV files to the parser and a short
// generation: any input is either refused with an error or yields sorted
// arrivals within the run, never a panic. The seed corpus is below and
// under testdata/fuzz/FuzzParseLoad.
func FuzzParseLoad(f *testing.F) {
	for _, seed := range []struct{ spec, csv string }{
		{"constant:50", ""},
		{"steps:0s=5,10m=50,20m=5", ""},
		{"burst:500@10m", ""},
		{"constant:5+burst:100@1m", ""},
		{"csv:f", "second,count\n# c\n0,3\n5,2\n"},
		{"csv:f", "# c\nsecond,count\n1,9223372036854775807\n"},
		{"constant:1e3", ""},
		{"steps:1h=0,2h=NaN", ""},
		{"burst:1@0s", ""},
		{"csv:f+constant:-0", "3,\n,4\n"},
	} {
		f.Add(seed.spec, seed.csv)
	}
	f.Fuzz(func(t *testing.T, spec, csv string) {
		open := func(string) (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(csv)), nil }
		l, err := ParseLoad(spec, open)
		if err != nil {
			if strings.Contains(err.Error(), "\n") && !strings.Contains(spec, "\n") {
				t.Fatalf("error on two lines: %q", err)
			}
			return
		}
		d, _ := ParseDurations("fixed:1s")
		// A short run keeps each case fast.
		w, err := Generate(l, d, 5, 1)
		if err != nil {
			return
		}
		w = materialize(w)
		for i, a := range w.Arrival {
			if a < 0 || a >= 5000 || (i > 0 && a < w.Arrival[i-1]) {
				t.Fatalf("arrival %d at %d ms in a 5 s run, or out of order", i, a)
			}
		}
	})
}

// FuzzParseDurations: any spec is refused or draws lengths of 1 ms to 24 h.
func FuzzParseDurations(f *testing.F) {
	for _, seed := range []string{"fixed:2s", "uniform:1s-5s", "exp:3s", "lognormal:200ms,1s",
		"lognormal:1ns,24h", "uniform:1ns-24h", "fixed:-1s", "exp:9223372036854775807ns", "fixed:1e400s"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		d, err := ParseDurations(spec)
		if err != nil {
			return
		}
		l, _ := ParseLoad("constant:200", nil)
		w, err := Generate(l, d, 5, 1)
		if err != nil {
			t.Fatalf("generate: %v", err)
		}
		for _, n := range materialize(w).Length {
			if n < 1 || n > maxJobDuration.Milliseconds() {
				t.Fatalf("%q drew a job of %d ms", spec, n)
			}
		}
	})
}
