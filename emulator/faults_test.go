package emulator_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/durascribe/durascribe/emulator"
	"github.com/durascribe/durascribe/emulator/emulatortest"
)

func plainClient(t *testing.T) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

func send(c *http.Client, method, url string, body []byte) (*http.Response, []byte, error) {
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.Header.Set("Authorization", "k")
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close() //nolint:errcheck // response body, read only
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func onRoute(route string, faults ...emulator.Fault) emulator.Scenario {
	return emulator.Scenario{Name: "test", Routes: map[string][]emulator.Fault{route: faults}}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	wav := makeWAV(1)
	for _, tc := range []struct {
		name   string
		route  string
		fault  emulator.Fault
		check  func(t *testing.T, resp *http.Response, body []byte, err error)
		acted  bool // the transcript exists although the client saw a failure
		status int  // recorded in stats
	}{
		{name: "503 html", route: "create", fault: emulator.Fault{Kind: "status", P: 1, Status: 503, Body: "html"}, status: 503,
			check: func(t *testing.T, resp *http.Response, body []byte, err error) {
				if err != nil || resp.StatusCode != 503 || resp.Header.Get("Content-Type") != "text/html" || !bytes.Contains(body, []byte("<html>")) {
					t.Errorf("got %v %v %q", err, resp, body)
				}
			}},
		{name: "500 json", route: "create", fault: emulator.Fault{Kind: "status", P: 1, Status: 500}, status: 500,
			check: func(t *testing.T, resp *http.Response, body []byte, err error) {
				if err != nil || resp.StatusCode != 500 || string(body) != `{"error":"Internal Server Error"}` {
					t.Errorf("got %v %v %q", err, resp, body)
				}
			}},
		{name: "429", route: "*", fault: emulator.Fault{Kind: "rate_limit", P: 1, RetryAfter: emulator.Duration(30 * time.Second)}, status: 429,
			check: func(t *testing.T, resp *http.Response, _ []byte, err error) {
				// 30 s at time scale 0.01 is 300 ms: rounded up to 1 s.
				if err != nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" || resp.Header.Get("X-Emulator-Retry-After-Ms") != "300" {
					t.Errorf("got %v %v", err, resp)
				}
			}},
		{name: "reset", route: "create", fault: emulator.Fault{Kind: "reset", P: 1}, status: 0,
			check: func(t *testing.T, _ *http.Response, _ []byte, err error) {
				if err == nil {
					t.Error("want a transport error")
				}
			}},
		{name: "act then reset", route: "create", fault: emulator.Fault{Kind: "act_then_reset", P: 1}, acted: true, status: 0,
			check: func(t *testing.T, _ *http.Response, _ []byte, err error) {
				if err == nil {
					t.Error("want a transport error")
				}
			}},
		{name: "act then 500", route: "create", fault: emulator.Fault{Kind: "act_then_status", P: 1, Status: 500}, acted: true, status: 500,
			check: func(t *testing.T, resp *http.Response, _ []byte, err error) {
				if err != nil || resp.StatusCode != 500 {
					t.Errorf("got %v %v", err, resp)
				}
			}},
		{name: "act then stall", route: "create", fault: emulator.Fault{Kind: "act_then_stall", P: 1, Delay: emulator.Duration(10 * time.Second)}, acted: true, status: 0,
			check: func(t *testing.T, _ *http.Response, _ []byte, err error) {
				if err == nil {
					t.Error("want a transport error after the stall")
				}
			}},
		{name: "truncate", route: "create", fault: emulator.Fault{Kind: "truncate", P: 1}, acted: true, status: 200,
			check: func(t *testing.T, resp *http.Response, _ []byte, err error) {
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("got %v %v, want unexpected EOF", err, resp)
				}
			}},
		{name: "malformed json", route: "create", fault: emulator.Fault{Kind: "malformed_json", P: 1}, acted: true, status: 200,
			check: func(t *testing.T, resp *http.Response, body []byte, err error) {
				if err != nil || resp.StatusCode != 200 || json.Valid(body) {
					t.Errorf("got %v %v %q, want invalid JSON", err, resp, body)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := emulatortest.New(t, emulator.Config{TimeScale: 0.01, Scenario: onRoute(tc.route, tc.fault)})
			c := plainClient(t)
			uploadURL := "http://127.0.0.1/cdn/upload/none"
			if tc.route != "*" {
				resp, body, err := send(c, "POST", srv.URL+"/v2/upload", wav)
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("upload: %v %v", err, resp)
				}
				var up struct {
					UploadURL string `json:"upload_url"`
				}
				_ = json.Unmarshal(body, &up)
				uploadURL = up.UploadURL
			}
			resp, body, err := send(c, "POST", srv.URL+"/v2/transcript", []byte(`{"audio_url":"`+uploadURL+`"}`))
			tc.check(t, resp, body, err)
			st := srv.Emulator.Stats()
			// A reset reaches the client before the handler has returned.
			for end := time.Now().Add(time.Second); st.Requests["create"] == nil && time.Now().Before(end); {
				time.Sleep(time.Millisecond)
				st = srv.Emulator.Stats()
			}
			if created := st.TranscriptsCreated == 1; created != tc.acted {
				t.Errorf("transcript created: %v, want %v", created, tc.acted)
			}
			if st.Requests["create"][tc.status] != 1 {
				t.Errorf("requests %v, want create/%d", st.Requests, tc.status)
			}
			if len(st.Faults) == 0 {
				t.Errorf("no fault counted")
			}
		})
	}
}

func TestFaultsDeterministic(t *testing.T) {
	t.Parallel()
	sc := onRoute("get", emulator.Fault{Kind: "status", P: 0.3, Status: 502, Body: "empty"},
		emulator.Fault{Kind: "status", P: 0.2, Status: 504})
	run := func(seed int64) string {
		srv := emulatortest.New(t, emulator.Config{Seed: seed, Scenario: sc})
		c := plainClient(t)
		var b strings.Builder
		for range 40 {
			resp, _, err := send(c, "GET", srv.URL+"/v2/transcript/x", nil)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%d ", resp.StatusCode)
		}
		return b.String()
	}
	a, b, c := run(7), run(7), run(8)
	if a != b {
		t.Errorf("same seed, different faults:\n%s\n%s", a, b)
	}
	if a == c {
		t.Errorf("different seeds, same faults: %s", a)
	}
	if !strings.Contains(a, "502") || !strings.Contains(a, "504") || !strings.Contains(a, "400") {
		t.Errorf("want a mix of 502, 504 and 400: %s", a)
	}
}

func TestOutageAndRateLimit(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	srv := emulatortest.New(t, emulator.Config{
		Clock: clock.Now, RateLimit: 3, RateWindow: time.Minute,
		Scenario: emulator.Scenario{Outages: []emulator.Outage{{Start: emulator.Duration(10 * time.Second), End: emulator.Duration(20 * time.Second)}}},
	})
	c := plainClient(t)
	status := func() int {
		resp, _, err := send(c, "GET", srv.URL+"/v2/transcript", nil)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}
	if s := status(); s != 200 {
		t.Fatalf("before outage: %d", s)
	}
	clock.Advance(15 * time.Second)
	if s := status(); s != 503 {
		t.Fatalf("during outage: %d", s)
	}
	clock.Advance(10 * time.Second)
	status()
	status()
	resp, _, err := send(c, "GET", srv.URL+"/v2/transcript", nil)
	if err != nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "35" {
		t.Fatalf("over the rate limit: %v %v", err, resp)
	}
	st := srv.Emulator.Stats()
	if st.RequestsDuringOutage != 1 || st.Faults["rate_limit"] != 1 {
		t.Errorf("stats: outage %d faults %v", st.RequestsDuringOutage, st.Faults)
	}
}

func TestLookupScenario(t *testing.T) {
	t.Parallel()
	for _, name := range emulator.ScenarioNames() {
		sc, err := emulator.LookupScenario(name)
		if err != nil || sc.Name != name {
			t.Errorf("%s: %v", name, err)
		}
		em, err := emulator.New(emulator.Config{Scenario: sc})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := em.Close(); err != nil {
			t.Errorf("%s: close: %v", name, err)
		}
	}
	dir := t.TempDir()
	yml := filepath.Join(dir, "mine.yaml")
	_ = os.WriteFile(yml, []byte("routes:\n  get:\n    - {kind: status, p: 0.5, status: 503, body: html}\n    - {kind: latency, p: 1, min: 10ms, max: 0.5}\noutages:\n  - {start: 1m, end: 90}\nconcurrency: 5\n"), 0o600)
	sc, err := emulator.LookupScenario(yml)
	if err != nil || sc.Name != "mine" || sc.Routes["get"][1].Max.D() != 500*time.Millisecond || sc.Outages[0].End.D() != 90*time.Second {
		t.Errorf("yaml: %+v %v", sc, err)
	}
	js := filepath.Join(dir, "x.json")
	_ = os.WriteFile(js, []byte(`{"name":"j","routes":{"create":[{"kind":"act_then_reset","p":0.1}]}}`), 0o600)
	if sc, err := emulator.LookupScenario(js); err != nil || sc.Routes["create"][0].Kind != "act_then_reset" {
		t.Errorf("json: %+v %v", sc, err)
	}
	for _, bad := range []string{
		`{"routes":{"nope":[]}}`,
		`{"routes":{"get":[{"kind":"explode","p":1}]}}`,
		`{"routes":{"get":[{"kind":"status","p":0.7,"status":500},{"kind":"reset","p":0.7}]}}`,
		`{"unknown_field":1}`,
	} {
		_ = os.WriteFile(js, []byte(bad), 0o600)
		if _, err := emulator.LookupScenario(js); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
	if _, err := emulator.LookupScenario("no-such-scenario"); !errors.Is(err, emulator.ErrUnknownScenario) {
		t.Errorf("unknown: %v", err)
	}
}
