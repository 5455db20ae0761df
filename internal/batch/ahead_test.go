package batch_test

import (
	"testing"
	"time"
)

// TestUploadsRunAheadOfSlots checks that files upload ahead of free
// transcript slots, up to --concurrency of them, whatever
// --upload-concurrency: an upload slot is freed when the upload ends, not
// held while its file waits for a transcript slot. Held, it would cap the
// files uploaded ahead at --upload-concurrency, and every transcript slot
// that frees would wait for an upload.
func TestUploadsRunAheadOfSlots(t *testing.T) {
	t.Parallel()
	const (
		scale = 0.5 // a transcript takes ~1.2 s: time for every upload
		n     = 8
		conc  = 3
	)
	dir := t.TempDir()
	writeWAVs(t, dir, n)
	files := runDir(t, dir, 9, scale, conc, 1)
	var uploads []time.Time
	firstDone := time.Time{}
	for _, f := range files {
		for _, a := range f.attempts {
			end := a.Start.Add(a.Duration)
			switch {
			case a.Stage == "upload" && a.StatusCode == 200:
				uploads = append(uploads, end)
			case a.Stage == "wait" && a.StatusCode == 200 && (firstDone.IsZero() || end.Before(firstDone)):
				// the last poll of a file is the one that found it done; the
				// earliest of all polls is at most that early
				firstDone = end
			}
		}
	}
	ahead := 0
	for _, u := range uploads {
		if u.Before(firstDone) {
			ahead++
		}
	}
	// conc files in flight plus conc uploaded ahead; one upload at a time
	// held through the wait would allow conc + 1.
	if want := 2 * conc; ahead < want {
		t.Errorf("%d files uploaded before the first poll, want %d (%d in flight + %d ahead)", ahead, want, conc, conc)
	}
}

// TestUploadsAheadAreBounded checks the other side: at most --concurrency
// files are uploaded and waiting for a transcript slot at any time, also in
// the first pass of River over the queue, when every job runs within a
// fraction of a second and uploads take milliseconds (an upload_url that
// waits long enough expires).
func TestUploadsAheadAreBounded(t *testing.T) {
	t.Parallel()
	const (
		scale = 0.2
		n     = 40
		conc  = 4
	)
	dir := t.TempDir()
	writeWAVs(t, dir, n)
	files := runDir(t, dir, 10, scale, conc, conc)
	type span struct{ uploaded, created time.Time }
	var spans []span
	for _, f := range files {
		var s span
		for _, a := range f.attempts {
			switch {
			case a.Stage == "upload" && a.StatusCode == 200:
				s.uploaded = a.Start // the upload_url is saved after this
			case a.Stage == "create" && a.StatusCode == 200:
				s.created = a.Start
			}
		}
		spans = append(spans, s)
	}
	most := 0
	for _, at := range spans {
		ahead := 0
		for _, s := range spans {
			if !s.uploaded.After(at.uploaded) && s.created.After(at.uploaded) {
				ahead++
			}
		}
		most = max(most, ahead)
	}
	// Files uploading or uploaded and not yet created, at the start of each
	// upload: the limit, plus the upload that starts.
	if most > conc+1 {
		t.Errorf("up to %d files uploaded ahead of their create, want at most %d", most, conc+1)
	}
}
