package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Contender names, as they appear in the table and the JSON document.
const (
	contenderNaive = "naive-sdk"
	contenderSeed  = "seed-recipe"
	contenderAPI   = "durascribe-api"
	contenderBatch = "durascribe-batch"
	// contenderWebhook is durascribe-batch with completion webhooks to a
	// loopback listener (`--webhook-listen`): what a user whose machine
	// AssemblyAI can reach gets.
	contenderWebhook = "durascribe-batch-webhook"
	minRequestsFile  = 3 // upload + create + one get
)

// allContenders lists every contender in table order.
var allContenders = []string{contenderNaive, contenderSeed, contenderAPI, contenderBatch, contenderWebhook}

// runsBatch reports whether contender runs the durascribe binary.
func runsBatch(contender string) bool {
	return contender == contenderBatch || contender == contenderWebhook
}

// Doc is the machine-readable result of one scenario (issue 7, item 6).
// Field names are a contract with scripts that compare runs over time.
type Doc struct {
	Scenario     string  `json:"scenario"`
	Files        int     `json:"files"`
	Concurrency  int     `json:"concurrency"`
	TimeScale    float64 `json:"time_scale"`
	IdealSeconds float64 `json:"ideal_seconds"`
	Rows         []Row   `json:"rows"`

	// inOrder is the makespan of a perfect client that starts the files in
	// input order (inOrderSeconds); Markdown only.
	inOrder float64
}

// Row is one contender's result in one scenario.
type Row struct {
	Contender            string  `json:"contender"`
	Completed            int     `json:"completed"`
	Failed               int     `json:"failed"`
	FailedTransientOnly  int     `json:"failed_transient_only"`
	MakespanSeconds      float64 `json:"makespan_seconds"`
	Requests             int     `json:"requests"`
	RequestsPerFile      float64 `json:"requests_per_file"`
	RequestsDuringOutage int     `json:"requests_during_outage"`
	DuplicateTranscripts int     `json:"duplicate_transcripts"`
	Reuploads            int     `json:"reuploads"`
	PeakRSSBytes         int64   `json:"peak_rss_bytes"`

	// note explains an anomaly (a timeout, a crash) or adds outage
	// figures; Markdown only.
	note string
	// recoveredScaled is, in outage scenarios, the scaled seconds from the
	// end of the outage to full throughput; -1 if never.
	recoveredScaled float64
}

// writeJSON writes docs as one JSON document, or an array of them when there
// are several (--scenario all).
func writeJSON(w io.Writer, docs []Doc) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	var v any = docs
	if len(docs) == 1 {
		v = docs[0]
	}
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	return nil
}

// writeMarkdown writes one table per scenario.
func writeMarkdown(w io.Writer, docs []Doc) error {
	var b strings.Builder
	for i, d := range docs {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "### Scenario `%s`: %d files, concurrency %d, time scale %g, ideal %.2f s",
			d.Scenario, d.Files, d.Concurrency, d.TimeScale, d.IdealSeconds)
		if d.inOrder > 0 && d.IdealSeconds > 0 {
			fmt.Fprintf(&b, " (in input order %.2f s = %.2f× ideal)", d.inOrder, d.inOrder/d.IdealSeconds)
		}
		b.WriteString("\n\n")
		b.WriteString("| contender | completed | failed (transient only) | makespan s (× ideal) | requests/file (× min 3) | requests in outage | duplicate transcripts | re-uploads | peak RSS MiB |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		var notes []string
		for _, r := range d.Rows {
			ratio := "–"
			if d.IdealSeconds > 0 {
				ratio = fmt.Sprintf("%.2f", r.MakespanSeconds/d.IdealSeconds)
			}
			fmt.Fprintf(&b, "| %s | %d | %d (%d) | %.2f (%s) | %.2f (%.2f) | %d | %d | %d | %.1f |\n",
				r.Contender, r.Completed, r.Failed, r.FailedTransientOnly,
				r.MakespanSeconds, ratio, r.RequestsPerFile, r.RequestsPerFile/minRequestsFile,
				r.RequestsDuringOutage, r.DuplicateTranscripts, r.Reuploads,
				float64(r.PeakRSSBytes)/(1<<20))
			if r.note != "" {
				notes = append(notes, fmt.Sprintf("- %s: %s", r.Contender, r.note))
			}
		}
		if len(notes) > 0 {
			b.WriteString("\n" + strings.Join(notes, "\n") + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
