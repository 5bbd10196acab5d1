package main

// The charts are drawn with gonum.org/v1/plot: it is pure Go (no cgo, no
// browser, no external program), writes SVG and PNG from the same code,
// gives the same bytes for the same data, and is maintained by the Gonum
// project with a stable API.

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/dynlimit/dynlimit/internal/simtest"
)

const (
	chartWidth  = 8 * vg.Inch
	chartHeight = 3.5 * vg.Inch
)

var (
	colorLimit     = color.RGBA{A: 255}
	colorRate      = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	colorSucceeded = color.RGBA{R: 44, G: 160, B: 44, A: 255}
	colorThrottled = color.RGBA{R: 214, G: 39, B: 40, A: 255}
)

// writePlot draws one chart per strategy into path, stacked, in the format
// its extension asks for.
func writePlot(path string, sc simtest.Scenario, notes string, sts []simtest.Strategy, rs []*simtest.Result) error {
	format, err := plotFormat(path)
	if err != nil {
		return err
	}
	plots := make([]*plot.Plot, len(rs))
	for i, r := range rs {
		if plots[i], err = chart(sc, sts[i], r); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	switch format {
	case "svg":
		c := vgsvg.New(chartWidth, chartHeight*vg.Length(len(plots)))
		stack(plots, draw.New(c))
		_, err = c.WriteTo(&buf)
	case "png":
		c := vgimg.NewWith(vgimg.UseWH(chartWidth, chartHeight*vg.Length(len(plots))), vgimg.UseDPI(96))
		stack(plots, draw.New(c))
		_, err = vgimg.PngCanvas{Canvas: c}.WriteTo(&buf)
	case "html":
		err = writeHTML(&buf, sc, notes, rs, plots)
	}
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// stack draws the plots one under the other with their axes aligned, so
// that the same instant is at the same x in every chart.
func stack(plots []*plot.Plot, dc draw.Canvas) {
	rows := make([][]*plot.Plot, len(plots))
	for i, p := range plots {
		rows[i] = []*plot.Plot{p}
	}
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadY: vg.Points(12),
		PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8)}
	canvases := plot.Align(rows, tiles, dc)
	for i, p := range plots {
		p.Draw(canvases[i][0])
	}
}

// chart draws one run: the hidden limit, the clients' mean rate (and their
// total rate when there are several), the successes per second, and the
// throttles per second as points, scaled down when they would dwarf the
// rest.
func chart(sc simtest.Scenario, st simtest.Strategy, r *simtest.Result) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s, %s: goodput %.1f%%, throttled %.2f%%",
		sc.Name, st.Name, 100*r.Goodput, 100*r.ThrottledShare)
	p.Y.Label.Text = "requests per second"
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())

	// Minutes read better than hundreds of seconds on a long run.
	unit, unitName := 1.0, "s"
	if sc.Duration.D().Minutes() >= 3 {
		unit, unitName = 60, "min"
	}
	p.X.Label.Text = "simulated time (" + unitName + ")"
	p.X.Min, p.X.Max, p.Y.Min = 0, sc.Duration.D().Seconds()/unit, 0
	p.X.Tick.Marker, p.Y.Tick.Marker = niceTicks{}, niceTicks{}

	// The trace is sampled at the end of each second; the lines start at 0
	// from what is known then: the limit of the first second, the policy's
	// initial rate.
	n := len(r.Trace)
	limit, rate, total, succ := make(plotter.XYs, 0, n+1), make(plotter.XYs, 0, n+1), make(plotter.XYs, 0, n+1), make(plotter.XYs, 0, n)
	count := float64(sc.Clients.Count)
	// A pacer's rate (which the engine plays instead of a policy) is drawn
	// as a limiter's, but from the first sample: it has no initial rate.
	paced := st.Policy != nil || st.Pacer != nil
	if n > 0 {
		limit = append(limit, plotter.XY{Y: r.Trace[0].Limit})
	}
	if st.Policy != nil && st.Pacer == nil {
		r0 := st.Policy.Initial().Rate
		rate = append(rate, plotter.XY{Y: r0})
		total = append(total, plotter.XY{Y: r0 * count})
	}
	var thr plotter.XYs
	var top, maxThr float64
	for _, s := range r.Trace {
		x := s.T.Seconds() / unit
		limit = append(limit, plotter.XY{X: x, Y: s.Limit})
		rate = append(rate, plotter.XY{X: x, Y: s.Rate})
		total = append(total, plotter.XY{X: x, Y: s.Rate * count})
		succ = append(succ, plotter.XY{X: x, Y: float64(s.Succeeded)})
		top = math.Max(top, math.Max(s.Limit, float64(s.Succeeded)))
		if paced {
			top = math.Max(top, s.Rate*count)
		}
		if s.Throttled > 0 {
			thr = append(thr, plotter.XY{X: x, Y: float64(s.Throttled)})
			maxThr = math.Max(maxThr, float64(s.Throttled))
		}
	}
	if top == 0 {
		top = 1
	}

	type series struct {
		xys    plotter.XYs
		label  string
		color  color.Color
		width  vg.Length
		dashes []vg.Length
	}
	lines := []series{{limit, "hidden limit", colorLimit, 1.5, []vg.Length{vg.Points(4), vg.Points(3)}}}
	if paced {
		what := "limiter rate"
		if st.Pacer != nil {
			what = "pacer rate"
		}
		label := what
		if count > 1 {
			label = fmt.Sprintf("%s, mean of %d clients", what, sc.Clients.Count)
		}
		lines = append(lines, series{rate, label, colorRate, 1.5, nil})
		if count > 1 {
			lines = append(lines, series{total, what + ", sum of the clients", colorRate, 1, []vg.Length{vg.Points(2), vg.Points(2)}})
		}
	}
	lines = append(lines, series{succ, "succeeded/s", colorSucceeded, 0.75, nil})
	for _, s := range lines {
		if len(s.xys) == 0 {
			continue
		}
		l, err := plotter.NewLine(s.xys)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width, l.Dashes = s.color, vg.Points(float64(s.width)), s.dashes
		if s.label == "hidden limit" {
			// A sample covers the second before it: the limit is a step.
			l.StepStyle = plotter.PreStep
		}
		p.Add(l)
		p.Legend.Add(s.label, l)
	}
	if !paced {
		p.Legend.Add("(no limiter: nothing paces the requests)")
	}

	if len(thr) > 0 {
		scale := throttleScale(maxThr, top)
		label := "throttled/s"
		if scale > 1 {
			for i := range thr {
				thr[i].Y /= scale
			}
			label = fmt.Sprintf("throttled/s ÷ %g", scale)
		}
		pts, err := plotter.NewScatter(thr)
		if err != nil {
			return nil, err
		}
		pts.Color = colorThrottled
		pts.Shape = draw.CircleGlyph{}
		pts.Radius = vg.Points(1.5)
		p.Add(pts)
		p.Legend.Add(label, pts)
	} else {
		p.Legend.Add("no throttles")
	}
	// Headroom for the legend, so that it does not hide the lines.
	p.Y.Max = 1.6 * top
	return p, nil
}

// throttleScale returns the smallest of 1, 2, 5, 10, 20, 50... that brings
// the throttles per second within the top of the rates, so that a storm of
// them does not flatten the lines that matter.
func throttleScale(maxThr, top float64) float64 {
	for scale := 1.0; ; scale *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if maxThr/(scale*m) <= top {
				return scale * m
			}
		}
	}
}

// niceTicks puts five to ten ticks at round values (1, 2 or 5 times a
// power of ten) and labels them without trailing zeros; plot's default
// gives "25.00" and, on short spans, as few as two ticks.
type niceTicks struct{}

func (niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(hi-lo, 0) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 4, 64)}}
	}
	raw := (hi - lo) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	decimals := max(0, -int(math.Floor(math.Log10(step))))
	var ticks []plot.Tick
	for k := math.Ceil(lo / step); k*step <= hi*(1+1e-9); k++ {
		v := k * step
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', decimals, 64)})
		// An unlabelled minor tick halfway to the next.
		if m := v + step/2; m <= hi {
			ticks = append(ticks, plot.Tick{Value: m})
		}
	}
	return ticks
}

var page = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>dynlimit sim: {{.Scenario}}</title>
<style>
body { font-family: sans-serif; margin: 2em; }
pre { font-size: 0.85em; }
svg { max-width: 100%; height: auto; }
</style>
</head>
<body>
<h1>{{.Scenario}}</h1>
<pre>{{.Summary}}</pre>
{{range .Charts}}<h2>{{.Strategy}}</h2>
{{.SVG}}
{{end}}</body>
</html>
`))

// writeHTML writes a page with the summary and each chart as inline SVG,
// one file that opens in any browser.
func writeHTML(w io.Writer, sc simtest.Scenario, notes string, rs []*simtest.Result, plots []*plot.Plot) error {
	type chartData struct {
		Strategy string
		SVG      template.HTML
	}
	var summary strings.Builder
	if err := writeSummary(&summary, sc, notes, rs); err != nil {
		return err
	}
	data := struct {
		Scenario, Summary string
		Charts            []chartData
	}{Scenario: sc.Name, Summary: summary.String()}
	for i, p := range plots {
		c := vgsvg.New(chartWidth, chartHeight)
		p.Draw(draw.New(c))
		var svg bytes.Buffer
		if _, err := c.WriteTo(&svg); err != nil {
			return err
		}
		// Inline SVG must not carry the XML declaration.
		s := svg.String()
		if i := strings.Index(s, "<svg"); i >= 0 {
			s = s[i:]
		}
		// vgsvg escapes every text it draws, names from files included,
		// so the markup can go in as it is.
		data.Charts = append(data.Charts, chartData{rs[i].Strategy, template.HTML(s)})
	}
	return page.Execute(w, data)
}
