package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ErrUnknownScenario is returned by LookupScenario for a name that is neither
// a named scenario nor a readable file.
var ErrUnknownScenario = errors.New("unknown scenario")

// Scenario is a declarative, seeded fault plan. The zero value injects
// nothing. Scenario files (YAML or JSON) use the json field names, and
// durations as strings ("1.5s") or numbers of seconds.
type Scenario struct {
	// Name labels the scenario in logs and stats.
	Name string `json:"name,omitempty"`
	// Routes maps a route name (see the package doc) or "*" (every /v2
	// route) to the faults drawn for each of its requests.
	Routes map[string][]Fault `json:"routes,omitempty"`
	// Outcomes are probabilities that a transcript whose audio is fine ends
	// with an error anyway.
	Outcomes []Outcome `json:"outcomes,omitempty"`
	// Outages are windows, relative to the server's start and scaled, in
	// which every /v2 request gets 503.
	Outages []Outage `json:"outages,omitempty"`
	// OutageBody is the 503 body during outages: "html" (a load balancer's
	// page, the default), "json", "empty" or "text".
	OutageBody string `json:"outage_body,omitempty"`
	// Concurrency overrides Config.Concurrency when non-zero.
	Concurrency int `json:"concurrency,omitempty"`
	// RateLimit and RateWindow override the Config fields when non-zero.
	RateLimit  int      `json:"rate_limit,omitempty"`
	RateWindow Duration `json:"rate_window,omitempty"`
}

// Fault kinds.
const (
	KindStatus        = "status"          // respond Status with Body instead of acting
	KindRateLimit     = "rate_limit"      // 429 with Retry-After instead of acting
	KindLatency       = "latency"         // delay uniformly in [Min, Max] first (combines with others)
	KindReset         = "reset"           // reset the connection instead of acting
	KindActThenStatus = "act_then_status" // act, then answer Status with Body
	KindActThenReset  = "act_then_reset"  // act, then reset the connection
	KindActThenStall  = "act_then_stall"  // act, then hold the response for Delay and reset
	KindTruncate      = "truncate"        // act, then cut the body off half-way
	KindMalformedJSON = "malformed_json"  // act, then answer 200 with broken JSON
)

const (
	defaultStallDelay = 2 * time.Minute
	defaultRetryAfter = time.Second
	defaultOutageBody = "html"
	scenarioWildcard  = "*"
)

var faultKinds = []string{KindStatus, KindRateLimit, KindLatency, KindReset, KindActThenStatus,
	KindActThenReset, KindActThenStall, KindTruncate, KindMalformedJSON}

var routeNames = []string{scenarioWildcard, "upload", "create", "list", "get", "delete",
	"sentences", "paragraphs", "subtitles", "word_search", "redacted"}

// Fault is one kind of failure with its probability per request.
type Fault struct {
	// Kind is one of the Kind constants.
	Kind string `json:"kind"`
	// P is the probability per request, in [0, 1].
	P float64 `json:"p"`
	// Status is the HTTP status of status faults (e.g. 422, 500, 503).
	Status int `json:"status,omitempty"`
	// Body is "json" (default), "html", "empty" or "text".
	Body string `json:"body,omitempty"`
	// Message overrides the JSON error message.
	Message string `json:"message,omitempty"`
	// RetryAfter is the (scaled) Retry-After of rate_limit. Defaults to 1s.
	RetryAfter Duration `json:"retry_after,omitempty"`
	// Min and Max bound the (scaled) latency.
	Min Duration `json:"min,omitempty"`
	Max Duration `json:"max,omitempty"`
	// Delay is how long act_then_stall holds the response (scaled).
	// Defaults to 2m.
	Delay Duration `json:"delay,omitempty"`
}

// Outcome is the probability that a transcript ends with Message. Message is
// verbatim, or one of the shortcuts "server_error" (the current transient
// message), "legacy_server_error" and "download_error".
type Outcome struct {
	Message string  `json:"message"`
	P       float64 `json:"p"`
}

// Outage is a window [Start, End) after the server's start.
type Outage struct {
	Start Duration `json:"start"`
	End   Duration `json:"end"`
}

// Duration is a time.Duration that reads "1.5s" or a number of seconds.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("parse duration: %w", err)
	}
	switch x := v.(type) {
	case float64:
		*d = Duration(x * float64(time.Second))
	case string:
		p, err := time.ParseDuration(x)
		if err != nil {
			return fmt.Errorf("parse duration: %w", err)
		}
		*d = Duration(p)
	default:
		return fmt.Errorf("parse duration: want a string or a number, got %s", b)
	}
	return nil
}

// Validate reports whether the scenario is consistent.
func (sc Scenario) Validate() error {
	for name, faults := range sc.Routes {
		if !slices.Contains(routeNames, name) {
			return fmt.Errorf("scenario %q: unknown route %q (want one of %s)", sc.Name, name, strings.Join(routeNames, ", "))
		}
		sum := 0.0
		for _, f := range faults {
			if !slices.Contains(faultKinds, f.Kind) {
				return fmt.Errorf("scenario %q: route %s: unknown fault kind %q", sc.Name, name, f.Kind)
			}
			if f.P < 0 || f.P > 1 {
				return fmt.Errorf("scenario %q: route %s: probability %v outside [0, 1]", sc.Name, name, f.P)
			}
			if (f.Kind == KindStatus || f.Kind == KindActThenStatus) && (f.Status < 400 || f.Status > 599) {
				return fmt.Errorf("scenario %q: route %s: %s needs a status 400-599, got %d", sc.Name, name, f.Kind, f.Status)
			}
			if f.Max < f.Min {
				return fmt.Errorf("scenario %q: route %s: latency max below min", sc.Name, name)
			}
			if f.Kind != KindLatency {
				sum += f.P
			}
		}
		if sum > 1+1e-9 {
			return fmt.Errorf("scenario %q: route %s: fault probabilities add up to %v > 1", sc.Name, name, sum)
		}
	}
	sum := 0.0
	for _, o := range sc.Outcomes {
		if o.P < 0 || o.P > 1 || o.Message == "" {
			return fmt.Errorf("scenario %q: outcome needs a message and a probability in [0, 1]", sc.Name)
		}
		sum += o.P
	}
	if sum > 1+1e-9 {
		return fmt.Errorf("scenario %q: outcome probabilities add up to %v > 1", sc.Name, sum)
	}
	for _, o := range sc.Outages {
		if o.Start < 0 || o.End <= o.Start {
			return fmt.Errorf("scenario %q: outage needs 0 <= start < end", sc.Name)
		}
	}
	switch sc.OutageBody {
	case "", "html", "json", "empty", "text":
	default:
		return fmt.Errorf("scenario %q: unknown outage body %q", sc.Name, sc.OutageBody)
	}
	if sc.RateWindow < 0 {
		return fmt.Errorf("scenario %q: negative rate window", sc.Name)
	}
	return nil
}

// ScenarioNames lists the named scenarios shipped with the emulator.
func ScenarioNames() []string { return []string{"clean", "flaky", "outage", "throttled", "hostile"} }

// LookupScenario returns a named scenario (see ScenarioNames) or reads a
// scenario file: JSON if it ends in .json, YAML otherwise.
func LookupScenario(name string) (Scenario, error) {
	if sc, ok := namedScenario(name); ok {
		return sc, nil
	}
	b, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return Scenario{}, fmt.Errorf("%w: %q is not one of %s, nor a file", ErrUnknownScenario, name, strings.Join(ScenarioNames(), ", "))
	}
	if err != nil {
		return Scenario{}, fmt.Errorf("read scenario: %w", err)
	}
	if filepath.Ext(name) != ".json" {
		var v any
		if err := yaml.Unmarshal(b, &v); err != nil {
			return Scenario{}, fmt.Errorf("parse scenario %s: %w", name, err)
		}
		if b, err = json.Marshal(v); err != nil {
			return Scenario{}, fmt.Errorf("parse scenario %s: %w", name, err)
		}
	}
	var sc Scenario
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sc); err != nil {
		return Scenario{}, fmt.Errorf("parse scenario %s: %w", name, err)
	}
	if sc.Name == "" {
		sc.Name = strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
	}
	if err := sc.Validate(); err != nil {
		return Scenario{}, err
	}
	return sc, nil
}

func secs(f float64) Duration { return Duration(f * float64(time.Second)) }

func namedScenario(name string) (Scenario, bool) {
	switch name {
	case "", "clean":
		return Scenario{Name: "clean"}, true
	case "flaky":
		return Scenario{
			Name: "flaky",
			Routes: map[string][]Fault{
				"*": {
					{Kind: KindStatus, P: 0.02, Status: 500},
					{Kind: KindStatus, P: 0.02, Status: 502, Body: "html"},
					{Kind: KindStatus, P: 0.02, Status: 503, Body: "empty"},
					{Kind: KindStatus, P: 0.01, Status: 504, Body: "html"},
					{Kind: KindReset, P: 0.01},
					{Kind: KindLatency, P: 0.2, Min: secs(0.05), Max: secs(0.5)},
				},
				"upload": {{Kind: KindStatus, P: 0.05, Status: 422, Message: "Upload failed, please try again"}},
				"create": {{Kind: KindActThenReset, P: 0.02}},
				"get":    {{Kind: KindTruncate, P: 0.01}},
			},
			Outcomes: []Outcome{{Message: "server_error", P: 0.03}, {Message: "legacy_server_error", P: 0.01}},
		}, true
	case "outage":
		return Scenario{Name: "outage", Outages: []Outage{{Start: secs(10), End: secs(55)}}}, true
	case "throttled":
		return Scenario{
			Name: "throttled", Concurrency: 5, RateLimit: 600, RateWindow: secs(60),
			Routes: map[string][]Fault{"*": {{Kind: KindRateLimit, P: 0.05, RetryAfter: secs(2)}}},
		}, true
	case "hostile":
		return Scenario{
			Name: "hostile", Concurrency: 5, RateLimit: 1200, RateWindow: secs(60),
			Routes: map[string][]Fault{
				"*": {
					{Kind: KindStatus, P: 0.03, Status: 500},
					{Kind: KindStatus, P: 0.03, Status: 502, Body: "html"},
					{Kind: KindStatus, P: 0.03, Status: 503, Body: "empty"},
					{Kind: KindStatus, P: 0.02, Status: 504, Body: "text"},
					{Kind: KindRateLimit, P: 0.04, RetryAfter: secs(3)},
					{Kind: KindReset, P: 0.02},
					{Kind: KindLatency, P: 0.3, Min: secs(0.1), Max: secs(1.5)},
				},
				"upload": {{Kind: KindStatus, P: 0.08, Status: 422, Message: "Upload failed, please try again"}},
				"create": {
					{Kind: KindActThenReset, P: 0.05},
					{Kind: KindActThenStall, P: 0.02, Delay: secs(120)},
					{Kind: KindActThenStatus, P: 0.03, Status: 500},
				},
				"get": {
					{Kind: KindTruncate, P: 0.03},
					{Kind: KindMalformedJSON, P: 0.03},
				},
				"list": {{Kind: KindTruncate, P: 0.03}},
			},
			Outcomes: []Outcome{
				{Message: "server_error", P: 0.05},
				{Message: "legacy_server_error", P: 0.02},
				{Message: "language_detection cannot be performed on files with no spoken audio.", P: 0.01},
			},
			Outages: []Outage{{Start: secs(30), End: secs(50)}},
		}, true
	}
	return Scenario{}, false
}
