package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// series is a Prometheus scrape: each series ("name{labels}") and each
// metric name (summed over its labels) with its value.
type series map[string]float64

// scrape reads a /metrics page in the text format.
func scrape(ctx context.Context, url string) (series, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	out := series{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		key := line[:i]
		out[key] += v
		if name, _, ok := strings.Cut(key, "{"); ok {
			out[name] += v
		}
	}
	return out, sc.Err()
}

// matching lists the series of metric name with their values, as
// "labels=value", sorted.
func (s series) matching(name string) []string {
	var out []string
	for k, v := range s {
		if rest, ok := strings.CutPrefix(k, name+"{"); ok {
			out = append(out, strings.TrimSuffix(rest, "}")+"="+strconv.FormatFloat(v, 'f', -1, 64))
		}
	}
	sort.Strings(out)
	return out
}
