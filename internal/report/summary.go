package report

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Summary is the computed retry-pattern report. Its JSON form (WriteJSON) is
// stable for scripts: field names are snake_case, durations are float seconds
// in fields ending "_seconds", times are RFC 3339 UTC.
type Summary struct {
	// Start and End bound the report's time axis.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Files counts files by final state and lists those not done.
	Files FileSummary `json:"files"`
	// Attempts is the total number of API attempts; FailedAttempts of them
	// did not succeed.
	Attempts       int `json:"attempts"`
	FailedAttempts int `json:"failed_attempts"`
	// Stages says, per stage, how often retries were needed and at which
	// attempt calls finally succeeded.
	Stages []StageStats `json:"stages"`
	// Latency has duration percentiles per endpoint.
	Latency []EndpointLatency `json:"latency"`
	// BucketSeconds is the width of each Timeline bucket.
	BucketSeconds float64 `json:"bucket_seconds"`
	// Timeline has error classes, status codes and throughput over time.
	Timeline []Bucket `json:"timeline"`
	// Breaker lists the intervals during which a circuit breaker was not
	// closed (open, or half-open while probing).
	Breaker []BreakerInterval `json:"breaker"`
	// Waste estimates work done more than once.
	Waste Waste `json:"waste"`
}

// FileSummary is files by final state with reasons.
type FileSummary struct {
	Total   int          `json:"total"`
	ByState []Count      `json:"by_state"`
	Reasons []Count      `json:"reasons"`
	NotDone []FileResult `json:"not_done"`
}

// Count is a labelled count.
type Count struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// FileResult is a file that did not end done, with why.
type FileResult struct {
	ID           int64  `json:"id"`
	Source       string `json:"source"`
	State        string `json:"state"`
	Stage        string `json:"stage,omitempty"`
	Reason       string `json:"reason,omitempty"`
	LastError    string `json:"last_error,omitempty"`
	TranscriptID string `json:"transcript_id,omitempty"`
}

// StageStats are the retry figures of one stage. A call is a run of
// attempts of one file at one stage and endpoint, numbered from 1.
type StageStats struct {
	Stage    string `json:"stage"`
	Calls    int    `json:"calls"`
	Attempts int    `json:"attempts"`
	// Retries is Attempts minus Calls: attempts beyond the first.
	Retries int `json:"retries"`
	// RetriedCalls needed more than one attempt.
	RetriedCalls int `json:"retried_calls"`
	// RetryRate is RetriedCalls / Calls.
	RetryRate      float64 `json:"retry_rate"`
	SucceededCalls int     `json:"succeeded_calls"`
	FailedCalls    int     `json:"failed_calls"`
	// SucceededAt is the distribution of the attempt number at which
	// calls finally succeeded, by ascending attempt.
	SucceededAt []AttemptCount `json:"succeeded_at"`
	// MaxAttempt is the highest attempt number seen.
	MaxAttempt int `json:"max_attempt"`
}

// AttemptCount is how many calls succeeded at attempt Attempt.
type AttemptCount struct {
	Attempt int `json:"attempt"`
	Count   int `json:"count"`
}

// EndpointLatency has attempt duration percentiles of one endpoint.
type EndpointLatency struct {
	Endpoint    string  `json:"endpoint"`
	Count       int     `json:"count"`
	P50Seconds  float64 `json:"p50_seconds"`
	P90Seconds  float64 `json:"p90_seconds"`
	P99Seconds  float64 `json:"p99_seconds"`
	MaxSeconds  float64 `json:"max_seconds"`
	MeanSeconds float64 `json:"mean_seconds"`
}

// Bucket is one slice of the time axis.
type Bucket struct {
	Start    time.Time `json:"start"`
	Attempts int       `json:"attempts"`
	OK       int       `json:"ok"`
	// ErrorsByClass and ErrorsByStatus count failed attempts; a failure
	// without an HTTP response has status "none".
	ErrorsByClass  map[string]int `json:"errors_by_class"`
	ErrorsByStatus map[string]int `json:"errors_by_status"`
	// FilesDone and FilesFailed count files that finished in the bucket.
	FilesDone   int `json:"files_done"`
	FilesFailed int `json:"files_failed"`
}

// BreakerInterval is a time during which a breaker was not closed.
type BreakerInterval struct {
	Host            string    `json:"host"`
	Start           time.Time `json:"start"`
	End             time.Time `json:"end"`
	DurationSeconds float64   `json:"duration_seconds"`
	// Opens is how many times the breaker opened within the interval.
	Opens int `json:"opens"`
	// Ongoing means the breaker was still not closed at the end.
	Ongoing bool `json:"ongoing"`
}

// Waste estimates work that was done more than once.
type Waste struct {
	// FailedAttemptSeconds is time spent in attempts that failed.
	FailedAttemptSeconds float64 `json:"failed_attempt_seconds"`
	// BackoffSeconds is the total delay chosen before retries.
	BackoffSeconds float64 `json:"backoff_seconds"`
	// FailedUploads are upload attempts that failed (their bytes were
	// sent, at least in part, for nothing).
	FailedUploads int `json:"failed_uploads"`
	// ReUploads are successful uploads beyond the first of a file.
	ReUploads int `json:"re_uploads"`
	// ReUploadedBytes estimates bytes sent again: (FailedUploads +
	// ReUploads) times the file size, for files whose size is known.
	ReUploadedBytes int64 `json:"re_uploaded_bytes"`
	// Resubmits are create-transcript attempts beyond the first of a file.
	Resubmits int `json:"resubmits"`
	// ExtraTranscripts are successful creates beyond the first of a file:
	// transcripts paid for twice. durascribe aims to keep this at 0.
	ExtraTranscripts int `json:"extra_transcripts"`
}

// Summarize computes the report of in.
func Summarize(in Input) Summary {
	atts := slices.Clone(in.Attempts)
	slices.SortStableFunc(atts, func(a, b Attempt) int { return a.Start.Compare(b.Start) })
	s := Summary{Start: in.Start.UTC(), End: in.End.UTC(), Attempts: len(atts)}
	s.deriveRange(in, atts)
	for _, a := range atts {
		if !a.OK() {
			s.FailedAttempts++
		}
	}
	s.Files = summarizeFiles(in.Files)
	s.Stages = summarizeStages(atts)
	s.Latency = summarizeLatency(atts)
	s.timeline(in.Files, atts)
	if len(in.BreakerEvents) > 0 {
		s.Breaker = breakerFromEvents(in.BreakerEvents, s.End)
	} else {
		s.Breaker = breakerFromAttempts(atts, s.End)
	}
	s.Waste = summarizeWaste(in.Files, atts)
	return s
}

func (s *Summary) deriveRange(in Input, atts []Attempt) {
	var lo, hi time.Time
	see := func(t time.Time) {
		if t.IsZero() {
			return
		}
		if lo.IsZero() || t.Before(lo) {
			lo = t
		}
		if hi.IsZero() || t.After(hi) {
			hi = t
		}
	}
	for _, a := range atts {
		see(a.Start)
		see(a.Start.Add(a.Duration))
	}
	for _, f := range in.Files {
		see(f.StartedAt)
		see(f.FinishedAt)
	}
	for _, e := range in.BreakerEvents {
		see(e.Time)
	}
	if s.Start.IsZero() {
		s.Start = lo.UTC()
	}
	if s.End.IsZero() {
		s.End = hi.UTC()
	}
	if s.End.Before(s.Start) {
		s.End = s.Start
	}
}

func summarizeFiles(files []File) FileSummary {
	fs := FileSummary{Total: len(files), NotDone: []FileResult{}}
	states, reasons := map[string]int{}, map[string]int{}
	for _, f := range files {
		states[f.State]++
		if f.State == "done" {
			continue
		}
		if f.Reason != "" {
			reasons[f.Reason]++
		}
		fs.NotDone = append(fs.NotDone, FileResult{ID: f.ID, Source: f.Source, State: f.State, Stage: f.Stage,
			Reason: f.Reason, LastError: f.LastError, TranscriptID: f.TranscriptID})
	}
	fs.ByState, fs.Reasons = sortedCounts(states), sortedCounts(reasons)
	slices.SortStableFunc(fs.NotDone, func(a, b FileResult) int {
		return cmp.Or(cmp.Compare(a.State, b.State), cmp.Compare(a.ID, b.ID))
	})
	return fs
}

// sortedCounts orders by descending count, then name.
func sortedCounts(m map[string]int) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{Name: k, Count: v})
	}
	slices.SortFunc(out, func(a, b Count) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Name, b.Name)) })
	return out
}

// stageOrder puts the known stages in pipeline order, others after by name.
func stageOrder(a, b string) int {
	rank := func(s string) int {
		switch s {
		case "preflight":
			return 0
		case "upload":
			return 1
		case "create":
			return 2
		case "wait":
			return 3
		case "fetch", "output":
			return 4
		}
		return 5
	}
	return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(a, b))
}

type callKey struct {
	file            int64
	stage, endpoint string
}

// call is one run of attempts numbered from 1.
type call struct {
	stage    string
	attempts int
	// lastNumber is the attempt number of the last attempt; lastOK
	// whether it succeeded.
	lastNumber int
	lastOK     bool
}

// calls splits time-ordered attempts into calls: a new call starts when the
// attempt number does not grow for the same file, stage and endpoint, or
// after a success.
func calls(atts []Attempt) []call {
	open := make(map[callKey]int, len(atts)/2)
	out := make([]call, 0, len(atts))
	for _, a := range atts {
		k := callKey{a.FileID, a.Stage, a.Endpoint}
		i, ok := open[k]
		if !ok || a.Attempt <= out[i].lastNumber || out[i].lastOK {
			out = append(out, call{stage: a.Stage})
			i = len(out) - 1
			open[k] = i
		}
		out[i].attempts++
		out[i].lastNumber, out[i].lastOK = a.Attempt, a.OK()
	}
	return out
}

func summarizeStages(atts []Attempt) []StageStats {
	by := map[string]*StageStats{}
	succ := map[string]map[int]int{}
	get := func(stage string) *StageStats {
		st, ok := by[stage]
		if !ok {
			st = &StageStats{Stage: stage}
			by[stage] = st
			succ[stage] = map[int]int{}
		}
		return st
	}
	for _, a := range atts {
		st := get(a.Stage)
		st.Attempts++
		st.MaxAttempt = max(st.MaxAttempt, a.Attempt)
	}
	for _, c := range calls(atts) {
		st := get(c.stage)
		st.Calls++
		if c.lastNumber > 1 || c.attempts > 1 {
			st.RetriedCalls++
		}
		if c.lastOK {
			st.SucceededCalls++
			succ[c.stage][max(c.lastNumber, c.attempts)]++
		} else {
			st.FailedCalls++
		}
	}
	out := make([]StageStats, 0, len(by))
	for _, name := range slices.SortedFunc(maps.Keys(by), stageOrder) {
		st := by[name]
		st.Retries = st.Attempts - st.Calls
		if st.Calls > 0 {
			st.RetryRate = round(float64(st.RetriedCalls) / float64(st.Calls))
		}
		st.SucceededAt = []AttemptCount{}
		for _, n := range slices.Sorted(maps.Keys(succ[name])) {
			st.SucceededAt = append(st.SucceededAt, AttemptCount{Attempt: n, Count: succ[name][n]})
		}
		out = append(out, *st)
	}
	return out
}

func summarizeLatency(atts []Attempt) []EndpointLatency {
	by := map[string][]time.Duration{}
	for _, a := range atts {
		by[a.Endpoint] = append(by[a.Endpoint], a.Duration)
	}
	out := make([]EndpointLatency, 0, len(by))
	for _, ep := range slices.Sorted(maps.Keys(by)) {
		ds := by[ep]
		slices.Sort(ds)
		var sum time.Duration
		for _, d := range ds {
			sum += d
		}
		out = append(out, EndpointLatency{
			Endpoint: ep, Count: len(ds),
			P50Seconds: secs(percentile(ds, 50)), P90Seconds: secs(percentile(ds, 90)),
			P99Seconds: secs(percentile(ds, 99)), MaxSeconds: secs(ds[len(ds)-1]),
			MeanSeconds: secs(sum / time.Duration(len(ds))),
		})
	}
	return out
}

// percentile is the nearest-rank percentile of sorted, non-empty ds.
func percentile(ds []time.Duration, p int) time.Duration {
	rank := (p*len(ds) + 99) / 100 // ceil(p/100 * n)
	return ds[max(rank, 1)-1]
}

// bucketWidths are the candidate timeline bucket widths.
var bucketWidths = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// maxBuckets bounds the timeline length.
const maxBuckets = 60

func bucketWidth(span time.Duration) time.Duration {
	for _, w := range bucketWidths {
		if span/w < maxBuckets {
			return w
		}
	}
	w := bucketWidths[len(bucketWidths)-1]
	for span/w >= maxBuckets {
		w *= 2
	}
	return w
}

func (s *Summary) timeline(files []File, atts []Attempt) {
	s.Timeline = []Bucket{}
	if s.Start.IsZero() {
		return
	}
	w := bucketWidth(s.End.Sub(s.Start))
	s.BucketSeconds = w.Seconds()
	origin := s.Start.Truncate(w)
	n := int(s.End.Sub(origin)/w) + 1
	s.Timeline = make([]Bucket, n)
	for i := range s.Timeline {
		s.Timeline[i] = Bucket{Start: origin.Add(time.Duration(i) * w),
			ErrorsByClass: map[string]int{}, ErrorsByStatus: map[string]int{}}
	}
	at := func(t time.Time) *Bucket {
		i := int(t.Sub(origin) / w)
		if t.Before(origin) || i >= n {
			return nil
		}
		return &s.Timeline[i]
	}
	for _, a := range atts {
		b := at(a.Start)
		if b == nil {
			continue
		}
		b.Attempts++
		if a.OK() {
			b.OK++
			continue
		}
		b.ErrorsByClass[cmp.Or(a.Class, "unknown")]++
		code := "none"
		if a.StatusCode > 0 {
			code = strconv.Itoa(a.StatusCode)
		}
		b.ErrorsByStatus[code]++
	}
	for _, f := range files {
		if f.FinishedAt.IsZero() {
			continue
		}
		if b := at(f.FinishedAt); b != nil {
			switch f.State {
			case "done":
				b.FilesDone++
			case "failed":
				b.FilesFailed++
			}
		}
	}
}

func breakerFromEvents(evs []BreakerEvent, end time.Time) []BreakerInterval {
	evs = slices.Clone(evs)
	slices.SortStableFunc(evs, func(a, b BreakerEvent) int { return a.Time.Compare(b.Time) })
	open := map[string]*BreakerInterval{}
	var out []BreakerInterval
	for _, e := range evs {
		iv := open[e.Host]
		switch {
		case e.To == "closed" && iv != nil:
			iv.End = e.Time.UTC()
			out = append(out, *iv)
			delete(open, e.Host)
		case e.To != "closed" && iv == nil:
			iv = &BreakerInterval{Host: e.Host, Start: e.Time.UTC()}
			open[e.Host] = iv
		}
		if e.To == "open" {
			open[e.Host].Opens++
		}
	}
	for _, h := range slices.Sorted(maps.Keys(open)) {
		iv := open[h]
		iv.End, iv.Ongoing = end, true
		out = append(out, *iv)
	}
	return finishIntervals(out)
}

// breakerFromAttempts derives intervals from the breaker state recorded
// with each attempt: from the first attempt that saw it not closed to the
// next that saw it closed.
func breakerFromAttempts(atts []Attempt, end time.Time) []BreakerInterval {
	var out []BreakerInterval
	var iv *BreakerInterval
	prev := "closed"
	for _, a := range atts {
		st := a.BreakerState
		if st == "" {
			continue
		}
		switch {
		case st == "closed" && iv != nil:
			iv.End = a.Start.UTC()
			out = append(out, *iv)
			iv = nil
		case st != "closed" && iv == nil:
			iv = &BreakerInterval{Host: "api", Start: a.Start.UTC()}
		}
		if st == "open" && prev != "open" {
			iv.Opens++
		}
		prev = st
	}
	if iv != nil {
		iv.End, iv.Ongoing = end, true
		out = append(out, *iv)
	}
	return finishIntervals(out)
}

func finishIntervals(out []BreakerInterval) []BreakerInterval {
	if out == nil {
		return []BreakerInterval{}
	}
	for i := range out {
		out[i].DurationSeconds = secs(out[i].End.Sub(out[i].Start))
	}
	slices.SortStableFunc(out, func(a, b BreakerInterval) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Host, b.Host))
	})
	return out
}

func summarizeWaste(files []File, atts []Attempt) Waste {
	var w Waste
	size := map[int64]int64{}
	for _, f := range files {
		size[f.ID] = f.Bytes
	}
	uploads, creates, createAttempts := map[int64]int{}, map[int64]int{}, map[int64]int{}
	var failedAtt, backoff time.Duration
	for _, a := range atts {
		backoff += a.Delay
		if !a.OK() {
			failedAtt += a.Duration
		}
		switch a.Stage {
		case "upload":
			if a.OK() {
				uploads[a.FileID]++
			} else if a.Class != "canceled" {
				w.FailedUploads++
				w.ReUploadedBytes += size[a.FileID]
			}
		case "create":
			if strings.HasPrefix(a.Endpoint, "GET ") {
				continue // reconciliation list calls are not submits
			}
			createAttempts[a.FileID]++
			if a.OK() {
				creates[a.FileID]++
			}
		}
	}
	for id, n := range uploads {
		if n > 1 {
			w.ReUploads += n - 1
			w.ReUploadedBytes += int64(n-1) * size[id]
		}
	}
	for _, n := range createAttempts {
		w.Resubmits += n - 1
	}
	for _, n := range creates {
		w.ExtraTranscripts += n - 1
	}
	w.FailedAttemptSeconds, w.BackoffSeconds = secs(failedAtt), secs(backoff)
	return w
}

func secs(d time.Duration) float64 { return round(d.Seconds()) }

// round keeps six decimals (microseconds), so JSON output is stable and
// readable.
func round(f float64) float64 {
	if f < 0 {
		return -round(-f)
	}
	return float64(int64(f*1e6+0.5)) / 1e6
}
