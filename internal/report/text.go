package report

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteJSON writes s as indented JSON. The field names are documented on
// Summary and its parts and are stable.
func WriteJSON(w io.Writer, s Summary) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return fmt.Errorf("write json report: %w", err)
	}
	return nil
}

// errWriter remembers the first write error so renderers can write freely
// and check once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// WriteText writes s as a plain-text report for a terminal.
func WriteText(w io.Writer, s Summary) error {
	ew := &errWriter{w: w}
	ew.printf("durascribe report  %s .. %s (%s)\n\n", fmtTime(s.Start), fmtTime(s.End), s.End.Sub(s.Start).Round(time.Second))

	ew.printf("Files: %d", s.Files.Total)
	for _, c := range s.Files.ByState {
		ew.printf("  %s %d", c.Name, c.Count)
	}
	ew.printf("\nAttempts: %d (%d failed)\n\n", s.Attempts, s.FailedAttempts)

	tw := tabwriter.NewWriter(ew.w, 0, 0, 2, ' ', 0)
	tabs := &errWriter{w: tw}
	tabs.printf("STAGE\tCALLS\tATTEMPTS\tRETRIED\tRETRY RATE\tOK\tFAILED\tSUCCEEDED AT ATTEMPT\n")
	for _, st := range s.Stages {
		parts := make([]string, 0, len(st.SucceededAt))
		for _, ac := range st.SucceededAt {
			parts = append(parts, fmt.Sprintf("#%d:%d", ac.Attempt, ac.Count))
		}
		tabs.printf("%s\t%d\t%d\t%d\t%.1f%%\t%d\t%d\t%s\n", st.Stage, st.Calls, st.Attempts, st.RetriedCalls,
			st.RetryRate*100, st.SucceededCalls, st.FailedCalls, strings.Join(parts, " "))
	}
	flush(ew, tabs, tw)

	ew.printf("\n")
	tabs = &errWriter{w: tw}
	tabs.printf("ENDPOINT\tN\tP50\tP90\tP99\tMAX\n")
	for _, l := range s.Latency {
		tabs.printf("%s\t%d\t%s\t%s\t%s\t%s\n", l.Endpoint, l.Count, fmtSecs(l.P50Seconds), fmtSecs(l.P90Seconds),
			fmtSecs(l.P99Seconds), fmtSecs(l.MaxSeconds))
	}
	flush(ew, tabs, tw)

	classes, codes := map[string]int{}, map[string]int{}
	for _, b := range s.Timeline {
		for k, v := range b.ErrorsByClass {
			classes[k] += v
		}
		for k, v := range b.ErrorsByStatus {
			codes[k] += v
		}
	}
	ew.printf("\nErrors by class:%s\n", inline(classes))
	ew.printf("Errors by status:%s\n", inline(codes))

	ew.printf("\nBreaker open intervals: %d\n", len(s.Breaker))
	for _, b := range s.Breaker {
		ongoing := ""
		if b.Ongoing {
			ongoing = " (still open)"
		}
		ew.printf("  %s  %s .. %s  %s  opened %dx%s\n", b.Host, fmtTime(b.Start), fmtTime(b.End),
			fmtSecs(b.DurationSeconds), b.Opens, ongoing)
	}

	wst := s.Waste
	ew.printf("\nWasted work (estimate): %d failed uploads, %d re-uploads (~%d bytes sent again), %d resubmits, "+
		"%d extra transcripts, %s in failed attempts, %s backing off\n",
		wst.FailedUploads, wst.ReUploads, wst.ReUploadedBytes, wst.Resubmits, wst.ExtraTranscripts,
		fmtSecs(wst.FailedAttemptSeconds), fmtSecs(wst.BackoffSeconds))

	if len(s.Files.Reasons) > 0 {
		ew.printf("\nReasons:\n")
		for _, r := range s.Files.Reasons {
			ew.printf("  %4d  %s\n", r.Count, r.Name)
		}
	}
	if len(s.Files.NotDone) > 0 {
		ew.printf("\nNot done:\n")
		for _, f := range s.Files.NotDone {
			ew.printf("  #%d %s  %s", f.ID, f.Source, f.State)
			if f.Stage != "" {
				ew.printf(" at %s", f.Stage)
			}
			if f.TranscriptID != "" {
				ew.printf("  transcript %s", f.TranscriptID)
			}
			if msg := firstNonEmpty(f.Reason, f.LastError); msg != "" {
				ew.printf(": %s", msg)
			}
			ew.printf("\n")
		}
	}
	if ew.err != nil {
		return fmt.Errorf("write text report: %w", ew.err)
	}
	return nil
}

func flush(ew, tabs *errWriter, tw *tabwriter.Writer) {
	if ew.err == nil {
		ew.err = tabs.err
	}
	if err := tw.Flush(); ew.err == nil {
		ew.err = err
	}
}

func inline(m map[string]int) string {
	if len(m) == 0 {
		return " none"
	}
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(&b, " %s=%d", k, m[k])
	}
	return b.String()
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// subMinute is the display precision of durations from a second to a
// minute: hundredths of a second ("1.25s").
const subMinute = 10 * time.Millisecond

// fmtSecs prints seconds as a short duration ("1.25s", "3m4s").
func fmtSecs(f float64) string {
	d := time.Duration(f * float64(time.Second))
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(subMinute).String()
	}
	return d.Round(time.Second).String()
}
