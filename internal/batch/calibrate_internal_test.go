package batch

import (
	"fmt"
	"testing"
	"time"

	"github.com/durascribe/durascribe/assemblyai"
)

func TestCalibrationMedianAndBounds(t *testing.T) {
	c := newCalibration()
	created := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	item := func(id string, took time.Duration, status assemblyai.TranscriptStatus) assemblyai.TranscriptListItem {
		done := assemblyai.Time{Time: created.Add(took)}
		return assemblyai.TranscriptListItem{ID: id, Status: status, Created: assemblyai.Time{Time: created}, Completed: &done}
	}
	var items []assemblyai.TranscriptListItem
	asked := 0
	for i := range 30 {
		id := fmt.Sprint("t", i)
		if c.done(id, 10*time.Second) {
			asked++
		}
		// True times 15-24 s: ratios 1.5-2.4, median 2.0 (of the 20 below).
		if i < 20 {
			items = append(items, item(id, time.Duration(15+i%10)*time.Second, assemblyai.StatusCompleted))
		}
	}
	if asked != 1 {
		t.Fatalf("a list was asked for %d times in 30 files, want once (every %d, none while one is in flight)", asked, DefaultCalibrateEvery)
	}
	if got := c.factor(); got != 1 {
		t.Fatalf("factor %v before any list, want 1", got)
	}
	// Items of other accounts' transcripts, and errored ones, do not count.
	items = append(items, item("other", time.Hour, assemblyai.StatusCompleted), item("t25", time.Hour, assemblyai.StatusError))
	c.listed(items)
	if got := c.factor(); got != 2 {
		t.Errorf("factor %v, want the median ratio 2", got)
	}
	// A list that failed changes nothing and lets the next one go.
	c.listed(nil)
	if got := c.factor(); got != 2 {
		t.Errorf("factor %v after a failed list, want 2", got)
	}
	// Absurd measurements are bounded.
	var slow []assemblyai.TranscriptListItem
	for i := range DefaultCalibrateWindow {
		id := fmt.Sprint("s", i)
		c.done(id, time.Second)
		slow = append(slow, item(id, time.Minute, assemblyai.StatusCompleted))
	}
	c.listed(slow)
	if got := c.factor(); got != DefaultCalibrateBound {
		t.Errorf("factor %v with ratios of 60, want the bound %d", got, DefaultCalibrateBound)
	}
}
