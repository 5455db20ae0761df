package report

import (
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"strconv"
	"time"
)

// The chart element ids of the HTML report, for tests and for anyone who
// post-processes the page.
const (
	ChartSucceededAt  = "chart-succeeded-at"
	ChartStageRetries = "chart-stage-retries"
	ChartErrorClasses = "chart-error-classes"
	ChartErrorStatus  = "chart-error-status"
	ChartAttempts     = "chart-attempts"
	ChartThroughput   = "chart-throughput"
	ChartLatency      = "chart-latency"
	ChartBreaker      = "chart-breaker"
)

// ChartIDs lists every chart of the HTML report, in page order.
var ChartIDs = []string{ChartSucceededAt, ChartStageRetries, ChartErrorClasses, ChartErrorStatus, ChartAttempts,
	ChartThroughput, ChartLatency, ChartBreaker}

// WriteHTML writes s as one self-contained HTML page: inline CSS, charts as
// inline SVG rendered here, a two-line inline script and a Content Security
// Policy that forbids every external fetch, so it works offline.
func WriteHTML(w io.Writer, s Summary) error {
	data := struct {
		S      Summary
		Charts map[string]template.HTML
		Span   string
	}{S: s, Charts: charts(s), Span: s.End.Sub(s.Start).Round(time.Second).String()}
	if err := pageTmpl.Execute(w, data); err != nil {
		return fmt.Errorf("write html report: %w", err)
	}
	return nil
}

func charts(s Summary) map[string]template.HTML {
	out := map[string]template.HTML{}

	// Attempt at which calls succeeded, stacked by stage.
	maxAt := 0
	for _, st := range s.Stages {
		for _, ac := range st.SucceededAt {
			maxAt = max(maxAt, ac.Attempt)
		}
	}
	var labels []string
	for i := 1; i <= maxAt; i++ {
		labels = append(labels, "#"+strconv.Itoa(i))
	}
	var ser []series
	for _, st := range s.Stages {
		v := make([]float64, maxAt)
		for _, ac := range st.SucceededAt {
			v[ac.Attempt-1] = float64(ac.Count)
		}
		ser = append(ser, series{Name: st.Stage, Values: v})
	}
	out[ChartSucceededAt] = barChart{ID: ChartSucceededAt, Title: "Attempt at which calls succeeded (calls)",
		Labels: labels, Series: ser, Stacked: true}.svg()

	// Calls per stage: retried and failed.
	labels, ser = nil, []series{{Name: "calls"}, {Name: "retried"}, {Name: "failed"}}
	for _, st := range s.Stages {
		labels = append(labels, st.Stage)
		ser[0].Values = append(ser[0].Values, float64(st.Calls))
		ser[1].Values = append(ser[1].Values, float64(st.RetriedCalls))
		ser[2].Values = append(ser[2].Values, float64(st.FailedCalls))
	}
	out[ChartStageRetries] = barChart{ID: ChartStageRetries, Title: "Calls per stage: retried and failed",
		Labels: labels, Series: ser}.svg()

	// Timeline charts.
	labels = timeLabels(s)
	pick := func(get func(Bucket) map[string]int) []series {
		names := map[string]bool{}
		for _, b := range s.Timeline {
			for k := range get(b) {
				names[k] = true
			}
		}
		var ser []series
		for _, n := range slices.Sorted(maps.Keys(names)) {
			v := make([]float64, len(s.Timeline))
			for i, b := range s.Timeline {
				v[i] = float64(get(b)[n])
			}
			ser = append(ser, series{Name: n, Values: v})
		}
		return ser
	}
	out[ChartErrorClasses] = barChart{ID: ChartErrorClasses, Title: "Failed attempts by error class over time",
		Labels: labels, Series: pick(func(b Bucket) map[string]int { return b.ErrorsByClass }), Stacked: true}.svg()
	out[ChartErrorStatus] = barChart{ID: ChartErrorStatus, Title: "Failed attempts by status code over time",
		Labels: labels, Series: pick(func(b Bucket) map[string]int { return b.ErrorsByStatus }), Stacked: true}.svg()
	col := func(get func(Bucket) int) []float64 {
		v := make([]float64, len(s.Timeline))
		for i, b := range s.Timeline {
			v[i] = float64(get(b))
		}
		return v
	}
	out[ChartAttempts] = lineChart{ID: ChartAttempts, Title: "Attempts over time", Labels: labels, Series: []series{
		{Name: "attempts", Values: col(func(b Bucket) int { return b.Attempts })},
		{Name: "ok", Values: col(func(b Bucket) int { return b.OK })},
	}}.svg()
	out[ChartThroughput] = barChart{ID: ChartThroughput, Title: "Throughput: files finished over time",
		Labels: labels, Stacked: true, Series: []series{
			{Name: "done", Values: col(func(b Bucket) int { return b.FilesDone })},
			{Name: "failed", Values: col(func(b Bucket) int { return b.FilesFailed })},
		}}.svg()

	// Latency percentiles per endpoint.
	labels, ser = nil, []series{{Name: "p50"}, {Name: "p90"}, {Name: "p99"}}
	for _, l := range s.Latency {
		labels = append(labels, l.Endpoint)
		ser[0].Values = append(ser[0].Values, l.P50Seconds)
		ser[1].Values = append(ser[1].Values, l.P90Seconds)
		ser[2].Values = append(ser[2].Values, l.P99Seconds)
	}
	out[ChartLatency] = barChart{ID: ChartLatency, Title: "Latency percentiles per endpoint", YUnit: "s",
		Labels: labels, Series: ser}.svg()

	out[ChartBreaker] = breakerChart(ChartBreaker, "Circuit breaker not closed", s)
	return out
}

func timeLabels(s Summary) []string {
	w := time.Duration(s.BucketSeconds * float64(time.Second))
	layout := "15:04"
	switch {
	case w < time.Minute:
		layout = "15:04:05"
	case w >= 24*time.Hour || s.End.Sub(s.Start) > 24*time.Hour:
		layout = "01-02 15:04"
	}
	out := make([]string, len(s.Timeline))
	for i, b := range s.Timeline {
		out[i] = b.Start.UTC().Format(layout)
	}
	return out
}

var pageTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"time": fmtTime,
	"secs": fmtSecs,
	"pct":  func(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" },
}).Parse(pageHTML))

const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>durascribe report {{time .S.Start}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:820px;color:#222;padding:0 1em}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:2px 10px;text-align:left;border-bottom:1px solid #eee}
td.n,th.n{text-align:right}code{font-size:12px}
svg.chart{width:100%;height:auto;display:block;margin:1em 0;background:#fff}
svg .title{font-weight:600;font-size:13px}svg text{font-size:11px;fill:#333}
svg .grid{stroke:#eee}svg .axis{stroke:#999}svg .empty{fill:#999;text-anchor:middle}
svg .lane{fill:#f4f4f4}svg .host{fill:#555}svg .open{fill:#d62728;opacity:.8}
svg .line{fill:none;stroke-width:2}
.s0{fill:#1f77b4}.s1{fill:#ff7f0e}.s2{fill:#2ca02c}.s3{fill:#d62728}.s4{fill:#9467bd}.s5{fill:#8c564b}.s6{fill:#e377c2}.s7{fill:#7f7f7f}
.l0{stroke:#1f77b4}.l1{stroke:#ff7f0e}.l2{stroke:#2ca02c}.l3{stroke:#d62728}.l4{stroke:#9467bd}.l5{stroke:#8c564b}.l6{stroke:#e377c2}.l7{stroke:#7f7f7f}
</style>
</head>
<body>
<h1>durascribe report</h1>
<p>{{time .S.Start}} .. {{time .S.End}} ({{.Span}}) &middot; {{.S.Files.Total}} files{{range .S.Files.ByState}} &middot; {{.Name}} {{.Count}}{{end}} &middot; {{.S.Attempts}} attempts ({{.S.FailedAttempts}} failed)</p>

<h2>Retries per stage</h2>
<table id="stages"><tr><th>stage</th><th class="n">calls</th><th class="n">attempts</th><th class="n">retried</th><th class="n">retry rate</th><th class="n">ok</th><th class="n">failed</th></tr>
{{range .S.Stages}}<tr><td>{{.Stage}}</td><td class="n">{{.Calls}}</td><td class="n">{{.Attempts}}</td><td class="n">{{.RetriedCalls}}</td><td class="n">{{pct .RetryRate}}</td><td class="n">{{.SucceededCalls}}</td><td class="n">{{.FailedCalls}}</td></tr>
{{end}}</table>
{{index .Charts "chart-succeeded-at"}}
{{index .Charts "chart-stage-retries"}}

<h2>Errors over time</h2>
{{index .Charts "chart-error-classes"}}
{{index .Charts "chart-error-status"}}

<h2>Throughput</h2>
{{index .Charts "chart-attempts"}}
{{index .Charts "chart-throughput"}}

<h2>Latency</h2>
<table id="latency"><tr><th>endpoint</th><th class="n">n</th><th class="n">p50</th><th class="n">p90</th><th class="n">p99</th><th class="n">max</th></tr>
{{range .S.Latency}}<tr><td><code>{{.Endpoint}}</code></td><td class="n">{{.Count}}</td><td class="n">{{secs .P50Seconds}}</td><td class="n">{{secs .P90Seconds}}</td><td class="n">{{secs .P99Seconds}}</td><td class="n">{{secs .MaxSeconds}}</td></tr>
{{end}}</table>
{{index .Charts "chart-latency"}}

<h2>Circuit breaker</h2>
{{index .Charts "chart-breaker"}}
{{if .S.Breaker}}<table id="breaker"><tr><th>host</th><th>from</th><th>to</th><th class="n">duration</th><th class="n">opens</th></tr>
{{range .S.Breaker}}<tr><td>{{.Host}}</td><td>{{time .Start}}</td><td>{{time .End}}{{if .Ongoing}} (still open){{end}}</td><td class="n">{{secs .DurationSeconds}}</td><td class="n">{{.Opens}}</td></tr>
{{end}}</table>{{else}}<p>The breaker never opened.</p>{{end}}

<h2>Wasted work (estimate)</h2>
{{with .S.Waste}}<table id="waste">
<tr><td>failed uploads</td><td class="n">{{.FailedUploads}}</td></tr>
<tr><td>re-uploads</td><td class="n">{{.ReUploads}}</td></tr>
<tr><td>re-uploaded bytes</td><td class="n">{{.ReUploadedBytes}}</td></tr>
<tr><td>create resubmits</td><td class="n">{{.Resubmits}}</td></tr>
<tr><td>extra transcripts (paid twice)</td><td class="n">{{.ExtraTranscripts}}</td></tr>
<tr><td>time in failed attempts</td><td class="n">{{secs .FailedAttemptSeconds}}</td></tr>
<tr><td>time backing off</td><td class="n">{{secs .BackoffSeconds}}</td></tr>
</table>{{end}}

<h2>Files</h2>
{{if .S.Files.Reasons}}<table id="reasons"><tr><th class="n">files</th><th>reason</th></tr>
{{range .S.Files.Reasons}}<tr><td class="n">{{.Count}}</td><td>{{.Name}}</td></tr>
{{end}}</table>{{end}}
{{if .S.Files.NotDone}}<table id="not-done"><tr><th>id</th><th>source</th><th>state</th><th>stage</th><th>transcript</th><th>reason</th></tr>
{{range .S.Files.NotDone}}<tr><td>{{.ID}}</td><td>{{.Source}}</td><td>{{.State}}</td><td>{{.Stage}}</td><td><code>{{.TranscriptID}}</code></td><td>{{if .Reason}}{{.Reason}}{{else}}{{.LastError}}{{end}}</td></tr>
{{end}}</table>{{else}}<p>Every file is done.</p>{{end}}
<script>document.documentElement.setAttribute("data-charts", String(document.querySelectorAll("svg.chart").length));</script>
</body>
</html>
`
