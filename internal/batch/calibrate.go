package batch

import (
	"context"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/durascribe/durascribe/assemblyai"
	"github.com/durascribe/durascribe/resilience"
)

// The processing-time estimate (transcribe.Config.ProcessingBase and
// ProcessingFactor) times every first poll, but it is a guess: AssemblyAI's
// speed varies by model, by load, and by the account's concurrency (queued
// transcripts wait). A poll before the transcript is done costs a request;
// one after it holds the slot. The batch therefore measures: every
// DefaultCalibrateEvery files done, one list request (the
// DefaultCalibrateLimit newest completed transcripts, with the API's own
// created and completed times) gives the true processing time of the files
// this run just finished, and the median ratio of true to estimated over the
// last DefaultCalibrateWindow files scales the estimate of every later file.
// One request per 25 files, about 0.04 per file. The numbers, with their
// reasons, are in tuning.go.

// calibrationSetting names the last measured scale in the store's settings:
// the next run (or batch) on the store starts from it rather than from the
// bare estimate.
const calibrationSetting = "processing_scale"

// calibration is the run's measured ratio of true to estimated processing
// time. Safe for concurrent use.
type calibration struct {
	mu      sync.Mutex
	pending map[string]pendingSample // transcript id -> its estimate
	order   []string                 // pending ids, oldest first
	ratios  []float64                // the last DefaultCalibrateWindow samples
	since   int                      // files done since the last list
	busy    bool                     // a list is in flight
	scale   float64                  // 0 until DefaultCalibrateMin samples
}

type pendingSample struct{ expected time.Duration }

func newCalibration() *calibration {
	return &calibration{pending: map[string]pendingSample{}}
}

// start sets the scale measured by an earlier run, until this run has its
// own samples.
func (c *calibration) start(scale float64) {
	if scale >= 1.0/DefaultCalibrateBound && scale <= DefaultCalibrateBound {
		c.mu.Lock()
		c.scale = scale
		c.mu.Unlock()
	}
}

// factor is the scale for the estimate: 1 until enough samples.
func (c *calibration) factor() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.scale == 0 {
		return 1
	}
	return c.scale
}

// done records a finished transcript and its (unscaled) estimate, and
// reports whether a list should be sent now; the caller then calls listed.
func (c *calibration) done(id string, expected time.Duration) bool {
	if id == "" || expected <= 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.pending[id]; !ok {
		c.pending[id] = pendingSample{expected: expected}
		c.order = append(c.order, id)
		if len(c.order) > DefaultCalibratePending {
			delete(c.pending, c.order[0])
			c.order = c.order[1:]
		}
	}
	c.since++
	if c.busy || c.since < DefaultCalibrateEvery {
		return false
	}
	c.busy, c.since = true, 0
	return true
}

// listed takes the items of a list response (nil when it failed), updates
// the scale and reports whether it was measured (enough samples).
func (c *calibration) listed(items []assemblyai.TranscriptListItem) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.busy = false
	for _, it := range items {
		p, ok := c.pending[it.ID]
		if !ok || it.Completed == nil || it.Status != assemblyai.StatusCompleted {
			continue
		}
		delete(c.pending, it.ID)
		took := it.Completed.Sub(it.Created.Time)
		if took <= 0 {
			continue
		}
		c.ratios = append(c.ratios, float64(took)/float64(p.expected))
		if len(c.ratios) > DefaultCalibrateWindow {
			c.ratios = c.ratios[len(c.ratios)-DefaultCalibrateWindow:]
		}
	}
	c.order = slices.DeleteFunc(c.order, func(id string) bool { _, ok := c.pending[id]; return !ok })
	if len(c.ratios) < DefaultCalibrateMin {
		return false
	}
	sorted := slices.Sorted(slices.Values(c.ratios))
	m := sorted[len(sorted)/2]
	c.scale = math.Min(math.Max(m, 1.0/DefaultCalibrateBound), DefaultCalibrateBound)
	return true
}

// calibrated returns the run's transcribe estimate scaled by the
// calibration.
func (r *Runner) calibrated() (base time.Duration, factor float64) {
	m := r.calib.factor()
	return time.Duration(float64(r.tcfg.ProcessingBase) * m), r.tcfg.ProcessingFactor * m
}

// calibrate notes a finished file and, every DefaultCalibrateEvery files, sends
// the list request in the background (not while the breaker is open).
// With webhooks the estimate only times the fallback polls: no list is
// spent on it.
func (r *Runner) calibrate(transcriptID string, audio time.Duration) {
	if audio <= 0 || r.hooks != nil {
		return
	}
	expected := r.tcfg.ExpectedProcessing(audio)
	if !r.calib.done(transcriptID, expected) {
		return
	}
	r.breakerMu.Lock()
	if r.breakerState != resilience.BreakerClosed || r.wakeCtx.Err() != nil {
		r.breakerMu.Unlock()
		r.calib.listed(nil)
		return
	}
	r.wakes.Add(1)
	r.breakerMu.Unlock()
	go func() {
		defer r.wakes.Done()
		ctx, cancel := context.WithTimeout(r.wakeCtx, DefaultCalibrateListTimeout)
		defer cancel()
		var items []assemblyai.TranscriptListItem
		if r.tcfg.Limiter == nil || r.tcfg.Limiter.Wait(ctx) == nil {
			list, err := r.tcfg.Client.ListTranscripts(ctx, assemblyai.ListParams{Status: assemblyai.StatusCompleted, Limit: DefaultCalibrateLimit})
			if err == nil {
				items = list.Transcripts
			} else if ctx.Err() == nil {
				r.logger.Debug("calibration list", slog.Any("error", err))
			}
		}
		if r.calib.listed(items) {
			scale := r.calib.factor()
			r.logger.Debug("processing-time calibration", slog.Float64("scale", scale))
			if err := r.store.putSetting(ctx, calibrationSetting, strconv.FormatFloat(scale, 'g', 6, 64)); err != nil && ctx.Err() == nil {
				r.logger.Debug("save processing-time calibration", slog.Any("error", err))
			}
		}
	}()
}
