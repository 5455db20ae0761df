package report

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"
)

// Hand-written SVG keeps the HTML report self-contained and the binary free
// of a plotting dependency. Colours come from CSS classes s0..s7 in the page.

const (
	chartW, chartH          = 760, 260
	padL, padR, padT, padB  = 56, 16, 44, 40
	plotW, plotH            = chartW - padL - padR, chartH - padT - padB
	maxXLabels              = 12
	paletteSize             = 8
	legendItemW, legendBoxW = 120, 10
)

// series is one named row of values, aligned with a chart's labels.
type series struct {
	Name   string
	Values []float64
}

// barChart is a stacked or grouped bar chart over categorical labels.
type barChart struct {
	ID, Title, YUnit string
	Labels           []string
	Series           []series
	Stacked          bool
}

// svgBuilder writes SVG text; all text content goes through esc.
type svgBuilder struct{ strings.Builder }

func (b *svgBuilder) f(format string, args ...any) { _, _ = fmt.Fprintf(b, format, args...) } // a strings.Builder never fails

func esc(s string) string { return html.EscapeString(s) }

func (b *svgBuilder) open(id, title string) { b.openH(id, title, chartH) }

func (b *svgBuilder) openH(id, title string, height int) {
	b.f(`<svg class="chart" id="%s" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="%s">`,
		esc(id), chartW, height, esc(title))
	b.f(`<text class="title" x="%d" y="16">%s</text>`, padL, esc(title))
}

func (b *svgBuilder) close() template.HTML {
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // every interpolated string is escaped by esc
}

func (b *svgBuilder) empty(id, title string) template.HTML {
	b.open(id, title)
	b.f(`<text class="empty" x="%d" y="%d">no data</text>`, chartW/2, chartH/2)
	return b.close()
}

// legend draws the series names in a row under the title.
func (b *svgBuilder) legend(names []string) {
	for i, n := range names {
		lx := padL + i*legendItemW
		b.f(`<rect class="s%d" x="%d" y="23" width="%d" height="%d"/><text class="legend" x="%d" y="32">%s</text>`,
			i%paletteSize, lx, legendBoxW, legendBoxW, lx+legendBoxW+4, esc(n))
	}
}

// yAxis draws gridlines and tick labels for [0, top] and returns the scale.
// A chart of counts has unit "" and gets integer ticks.
func (b *svgBuilder) yAxis(maxV float64, unit string) func(float64) float64 {
	top, step := niceScale(maxV, unit == "")
	for i := range int(math.Round(top/step)) + 1 {
		v := math.Round(step*float64(i)*1e6) / 1e6
		y := padT + plotH - v/top*plotH
		b.f(`<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`, padL, y, padL+plotW, y)
		b.f(`<text class="tick" x="%d" y="%.1f" text-anchor="end">%s%s</text>`, padL-6, y+4, fmtTick(v), esc(unit))
	}
	b.f(`<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, padL, padT+plotH, padL+plotW, padT+plotH)
	return func(v float64) float64 { return v / top * plotH }
}

// xLabels draws at most maxXLabels of labels under slots of width slot.
func (b *svgBuilder) xLabels(labels []string, slot float64) {
	every := (len(labels) + maxXLabels - 1) / maxXLabels
	for i, l := range labels {
		if every > 1 && i%every != 0 {
			continue
		}
		x := padL + slot*(float64(i)+0.5)
		b.f(`<text class="xlabel" x="%.1f" y="%d" text-anchor="%s">%s</text>`, x, padT+plotH+16, anchorAt(x, l), esc(l))
	}
}

func (c barChart) svg() template.HTML {
	var b svgBuilder
	maxV := 0.0
	for i := range c.Labels {
		sum := 0.0
		for _, s := range c.Series {
			sum += s.Values[i]
			maxV = max(maxV, s.Values[i])
		}
		if c.Stacked {
			maxV = max(maxV, sum)
		}
	}
	if len(c.Labels) == 0 || len(c.Series) == 0 {
		return b.empty(c.ID, c.Title)
	}
	b.open(c.ID, c.Title)
	names := make([]string, len(c.Series))
	for i, s := range c.Series {
		names[i] = s.Name
	}
	b.legend(names)
	scale := b.yAxis(maxV, c.YUnit)
	slot := float64(plotW) / float64(len(c.Labels))
	barW := slot * 0.8
	if !c.Stacked {
		barW /= float64(len(c.Series))
	}
	for i, label := range c.Labels {
		x0 := padL + slot*float64(i) + slot*0.1
		base := float64(padT + plotH)
		for si, s := range c.Series {
			v := s.Values[i]
			if v == 0 {
				continue
			}
			h := scale(v)
			x := x0
			if c.Stacked {
				base -= h
			} else {
				x += barW * float64(si)
				base = float64(padT+plotH) - h
			}
			b.f(`<rect class="bar s%d" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s %s: %s%s</title></rect>`,
				si%paletteSize, x, base, max(barW-1, 1), h, esc(label), esc(s.Name), fmtTick(v), esc(c.YUnit))
			if !c.Stacked {
				base = float64(padT + plotH)
			}
		}
	}
	b.xLabels(c.Labels, slot)
	return b.close()
}

// lineChart is a multi-series line chart over categorical labels.
type lineChart struct {
	ID, Title string
	Labels    []string
	Series    []series
}

func (c lineChart) svg() template.HTML {
	var b svgBuilder
	if len(c.Labels) == 0 || len(c.Series) == 0 {
		return b.empty(c.ID, c.Title)
	}
	maxV := 0.0
	for _, s := range c.Series {
		for _, v := range s.Values {
			maxV = max(maxV, v)
		}
	}
	b.open(c.ID, c.Title)
	names := make([]string, len(c.Series))
	for i, s := range c.Series {
		names[i] = s.Name
	}
	b.legend(names)
	scale := b.yAxis(maxV, "")
	slot := float64(plotW) / float64(len(c.Labels))
	for si, s := range c.Series {
		pts := make([]string, len(s.Values))
		for i, v := range s.Values {
			pts[i] = fmt.Sprintf("%.1f,%.1f", padL+slot*(float64(i)+0.5), float64(padT+plotH)-scale(v))
		}
		b.f(`<polyline class="line l%d" points="%s"><title>%s</title></polyline>`, si%paletteSize,
			strings.Join(pts, " "), esc(s.Name))
	}
	b.xLabels(c.Labels, slot)
	return b.close()
}

// breakerChart draws breaker intervals as bands on the report's time axis,
// one row per host.
func breakerChart(id, title string, s Summary) template.HTML {
	var b svgBuilder
	span := s.End.Sub(s.Start)
	if span <= 0 {
		return b.empty(id, title)
	}
	var hosts []string
	row := map[string]int{}
	for _, iv := range s.Breaker {
		if _, ok := row[iv.Host]; !ok {
			row[iv.Host] = len(hosts)
			hosts = append(hosts, iv.Host)
		}
	}
	if len(hosts) == 0 {
		hosts = []string{"api"}
	}
	const rowH = 36
	plotH := rowH * len(hosts)
	b.openH(id, title, padT+plotH+padB)
	xOf := func(t time.Time) float64 { return padL + float64(t.Sub(s.Start))/float64(span)*plotW }
	for i, h := range hosts {
		y := padT + rowH*i
		b.f(`<rect class="lane" x="%d" y="%d" width="%d" height="%d"/>`, padL, y+2, plotW, rowH-4)
		b.f(`<text class="host" x="%d" y="%d">%s</text>`, padL+4, y+rowH/2+4, esc(h))
	}
	for _, iv := range s.Breaker {
		x0, x1 := xOf(iv.Start), xOf(iv.End)
		y := padT + rowH*row[iv.Host]
		b.f(`<rect class="open" x="%.1f" y="%d" width="%.1f" height="%d"><title>%s not closed %s .. %s (%s)</title></rect>`,
			x0, y+2, max(x1-x0, 2), rowH-4, esc(iv.Host), fmtTime(iv.Start), fmtTime(iv.End), fmtSecs(iv.DurationSeconds))
	}
	axisY := padT + plotH
	b.f(`<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, padL, axisY, padL+plotW, axisY)
	for i := 0; i <= 4; i++ {
		t := s.Start.Add(span * time.Duration(i) / 4)
		b.f(`<text class="xlabel" x="%.1f" y="%d" text-anchor="%s">%s</text>`, xOf(t), axisY+16, anchor(i, 5),
			esc(t.UTC().Format("15:04:05")))
	}
	return b.close()
}

// anchorAt keeps a label centred at x inside the chart, assuming about 6.5
// pixels per character.
func anchorAt(x float64, label string) string {
	half := 3.25 * float64(len(label))
	switch {
	case x-half < 2:
		return "start"
	case x+half > chartW-2:
		return "end"
	}
	return "middle"
}

// anchor keeps the first and last axis labels inside the chart.
func anchor(i, n int) string {
	switch {
	case i == 0 && n > 1:
		return "start"
	case i == n-1 && n > 1:
		return "end"
	}
	return "middle"
}

// niceScale returns an axis top >= maxV and a step giving about 4 ticks;
// with ints, steps are whole numbers.
func niceScale(maxV float64, ints bool) (top, step float64) {
	if maxV <= 0 {
		if ints {
			return 1, 1
		}
		return 1, 0.25
	}
	raw := maxV / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	steps := []float64{1, 2, 2.5, 5, 10}
	if ints {
		mag, steps = math.Max(mag, 1), []float64{1, 2, 5, 10}
	}
	for _, m := range steps {
		if step = m * mag; step >= raw {
			break
		}
	}
	return math.Ceil(maxV/step) * step, step
}

func fmtTick(v float64) string {
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
