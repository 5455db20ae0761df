package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/durascribe/durascribe/assemblyai"
	"github.com/durascribe/durascribe/preflight"
	"github.com/durascribe/durascribe/resilience"
	"github.com/durascribe/durascribe/transcribe"
)

// minRequestTimeout is a floor under the scaled per-request timeouts of
// durascribe's client: they guard against hangs, and a loaded 2-core machine
// needs more than a scaled 0.6 s to answer an upload.
const minRequestTimeout = 5 * time.Second

// apiDialTimeout and apiIdleConnTimeout are durascribe-api's transport
// settings: the same dial and idle timeouts as assemblyai's default client.
// Round numbers that only bound a stuck connection.
const (
	apiDialTimeout     = 10 * time.Second
	apiIdleConnTimeout = 90 * time.Second
)

// newAPIContender returns durascribe-api: one transcribe.Transcriber shared
// by the pool's goroutines, configured as a user of the package would
// configure it against this API: the "default" profile, pre-flight through
// a preflight.Checker (which also gives the audio duration that times the
// first poll), the expected processing time of the API (the emulator's
// model, as `durascribe transcribe --emulator` uses it), and a breaker that
// also trips on 5 consecutive failures, like the batch's. Every duration
// is scaled by the time scale, as the batch scales its own.
func newAPIContender(o childOptions, key assemblyai.APIKey) (contenderFunc, error) {
	ts := o.TimeScale
	hc := &http.Client{
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: apiDialTimeout}).DialContext,
			MaxIdleConns:        100,
			MaxIdleConnsPerHost: 32,
			IdleConnTimeout:     apiIdleConnTimeout,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	client, err := assemblyai.New(assemblyai.Config{
		APIKey:     key,
		BaseURL:    o.BaseURL,
		HTTPClient: hc,
	}.WithTimeScale(ts, minRequestTimeout))
	if err != nil {
		return nil, err
	}
	prof, err := resilience.LookupProfile("default")
	if err != nil {
		return nil, err
	}
	checker, err := preflight.New(preflight.Config{})
	if err != nil {
		return nil, err
	}
	base, factor := o.ExpectBase, o.ExpectFactor
	if base <= 0 {
		base = transcribe.DefaultProcessingBase
	}
	if factor <= 0 {
		factor = transcribe.DefaultProcessingFactor
	}
	t, err := transcribe.New(transcribe.Config{
		Client:              client,
		Profile:             prof.Scaled(ts),
		CreateLandingMargin: time.Duration(float64(transcribe.DefaultCreateLandingMargin) * ts),
		Budget:              resilience.NewBudget(scaleBudget(resilience.BudgetConfig{}.WithDefaults(), ts)),
		Breakers: resilience.NewBreakers(scaleBreaker(resilience.BreakerConfig{
			ConsecutiveFailures: apiConsecutiveFailures,
		}.WithDefaults(), ts)),
		Preflight: func(ctx context.Context, src string) (time.Duration, error) {
			rep, err := checker.Check(ctx, src)
			if err != nil {
				return 0, err
			}
			return rep.Duration, rep.Err()
		},
		ProcessingBase:   scaled(base, ts),
		ProcessingFactor: factor * ts,
		GiveUpAfter:      scaled(time.Hour, ts),
	})
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, path string) fileOutcome {
		_, err := t.Transcribe(ctx, path, assemblyai.TranscriptParams{})
		if err == nil {
			return fileOutcome{OK: true}
		}
		return fileOutcome{TransientOnly: apiTransient(err), Error: err.Error()}
	}, nil
}

// apiTransient reports whether a durascribe error had only transient causes.
func apiTransient(err error) bool {
	var te *transcribe.TranscriptError
	if errors.As(err, &te) {
		return te.Transient()
	}
	return isTransient(err)
}

// scaleBudget scales the budget's window and, inversely, its per-second
// floor, so that the same number of retries is allowed per scaled window.
func scaleBudget(c resilience.BudgetConfig, ts float64) resilience.BudgetConfig {
	c.Window = scaled(c.Window, ts)
	if c.MinRetriesPerSecond > 0 {
		c.MinRetriesPerSecond /= ts
	}
	return c
}

// apiConsecutiveFailures trips durascribe-api's breaker after this many
// failures in a row, as the batch's default does (batch.RunConfig.Breaker).
const apiConsecutiveFailures = 5

// scaleBreaker scales the breaker's window and open delays.
func scaleBreaker(c resilience.BreakerConfig, ts float64) resilience.BreakerConfig {
	c.Window = scaled(c.Window, ts)
	c.OpenDelay = scaled(c.OpenDelay, ts)
	c.MaxOpenDelay = scaled(c.MaxOpenDelay, ts)
	return c
}
