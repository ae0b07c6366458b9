package scalesim

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// SVG layout, in pixels.
const (
	svgWidth   = 960
	svgLeft    = 72
	svgRight   = 24
	svgTop     = 72
	svgPanel   = 210
	svgGap     = 64
	svgBottom  = 48
	svgMaxCols = 900 // at most this many points per line
)

// runColors are the colours of run A and run B (colour-blind safe).
var runColors = []string{"#0072b2", "#d55e00"}

// WriteSVG draws replicas (ready solid, desired dashed) and backlog over
// time for one or two runs overlaid, as a self-contained SVG.
func WriteSVG(w io.Writer, title string, runs []*Result) error {
	n := len(runs[0].Seconds)
	height := svgTop + 2*svgPanel + svgGap + svgBottom
	plotW := float64(svgWidth - svgLeft - svgRight)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		svgWidth, height, svgWidth, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", svgLeft, html.EscapeString(title))
	// legend, one line per run
	for i, r := range runs {
		name := "rules"
		if len(runs) > 1 {
			name = runNames[i]
		}
		label := fmt.Sprintf("%s: target %s, min %d, max %d, concurrency %d, drain %ds: p95 wait %ss, %.0f pod-minutes", name,
			num(r.Rules.Target), r.Rules.Min, r.Rules.Max, r.Rules.Concurrency, r.Rules.DrainGrace,
			secs(r.Summary.WaitP95), r.Summary.PodMinutes)
		y := 38 + 15*i
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2.5"/>`+"\n", svgLeft, y, svgLeft+22, y, runColors[i])
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", svgLeft+28, y+4, html.EscapeString(label))
	}

	xOf := func(t float64) float64 { return svgLeft + plotW*t/float64(max(n-1, 1)) }
	timeUnit, timeDiv := "min", 60.0
	if n > 3*3600 {
		timeUnit, timeDiv = "h", 3600
	}
	panel := func(top int, label string, maxV float64, lines func(yOf func(float64) float64)) {
		maxV = math.Max(maxV, 1)
		step := niceStep(maxV, 5)
		top2 := math.Ceil(maxV/step) * step
		yOf := func(v float64) float64 { return float64(top+svgPanel) - float64(svgPanel)*v/top2 }
		// grid and y labels
		for v := 0.0; v <= top2+step/2; v += step {
			y := yOf(v)
			fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e0e0e0"/>`+"\n", svgLeft, y, svgWidth-svgRight, y)
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", svgLeft-6, y+4, num(v))
		}
		// x ticks
		span := float64(n-1) / timeDiv
		xs := niceStep(math.Max(span, 1e-9), 8)
		for v := 0.0; v <= span+xs/1000; v += xs {
			x := xOf(v * timeDiv)
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#555"/>`+"\n", x, top+svgPanel, x, top+svgPanel+5)
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x, top+svgPanel+18, num(math.Round(v*100)/100))
		}
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%d" fill="none" stroke="#555"/>`+"\n", svgLeft, top, plotW, svgPanel)
		fmt.Fprintf(&b, `<text x="18" y="%d" transform="rotate(-90 18 %d)" text-anchor="middle">%s</text>`+"\n",
			top+svgPanel/2, top+svgPanel/2, html.EscapeString(label))
		fmt.Fprintf(&b, `<text x="%.0f" y="%d" text-anchor="middle">time (%s)</text>`+"\n", svgLeft+plotW/2, top+svgPanel+34, timeUnit)
		lines(yOf)
	}

	maxRep, maxBack := 0.0, 0.0
	for _, r := range runs {
		for _, s := range r.Seconds {
			maxRep = math.Max(maxRep, float64(max(s.Desired, s.Pods)))
			maxBack = math.Max(maxBack, float64(s.Backlog))
		}
	}
	panel(svgTop, "replicas (pods)", maxRep, func(yOf func(float64) float64) {
		for i, r := range runs {
			polyline(&b, r.Seconds, func(s Second) int { return s.Desired }, xOf, yOf, runColors[i], "4 3", 1.2)
			polyline(&b, r.Seconds, func(s Second) int { return s.Ready }, xOf, yOf, runColors[i], "", 2.2)
		}
	})
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555" text-anchor="end">solid: ready pods, dashed: desired replicas</text>`+"\n", svgWidth-svgRight, 42)
	panel(svgTop+svgPanel+svgGap, "backlog (jobs waiting)", maxBack, func(yOf func(float64) float64) {
		for i, r := range runs {
			polyline(&b, r.Seconds, func(s Second) int { return s.Backlog }, xOf, yOf, runColors[i], "", 1.8)
		}
	})
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// polyline draws one series, taking the largest value of each column so
// that short peaks stay visible.
func polyline(b *strings.Builder, secs []Second, v func(Second) int, xOf, yOf func(float64) float64, color, dash string, width float64) {
	n := len(secs)
	bucket := max(1, int(math.Ceil(float64(n)/svgMaxCols)))
	fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="%.1f"`, color, width)
	if dash != "" {
		fmt.Fprintf(b, ` stroke-dasharray="%s"`, dash)
	}
	b.WriteString(` points="`)
	for start := 0; start < n; start += bucket {
		top := 0
		for t := start; t < min(n, start+bucket); t++ {
			top = max(top, v(secs[t]))
		}
		fmt.Fprintf(b, "%.1f,%.1f ", xOf(float64(start)), yOf(float64(top)))
	}
	b.WriteString("\"/>\n")
}

// niceStep is a 1, 2 or 5 × 10^k step giving about n ticks up to maxV.
func niceStep(maxV float64, n int) float64 {
	raw := maxV / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}
