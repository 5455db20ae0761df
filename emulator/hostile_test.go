package emulator_test

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/durascribe/durascribe/emulator"
	"github.com/durascribe/durascribe/emulator/emulatortest"
)

// TestHostileConcurrent hammers the hostile scenario from several clients
// and checks that the emulator stays consistent: every request is counted
// exactly once, whatever fault it met.
func TestHostileConcurrent(t *testing.T) {
	t.Parallel()
	sc, err := emulator.LookupScenario("hostile")
	if err != nil {
		t.Fatal(err)
	}
	srv := emulatortest.New(t, emulator.Config{Scenario: sc, Seed: 1, TimeScale: 0.001})
	wav := makeWAV(1)
	var sent atomic.Int64
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := plainClient(t)
			c.Timeout = 2 * time.Second
			for range 25 {
				sent.Add(1)
				resp, body, err := send(c, "POST", srv.URL+"/v2/upload", wav)
				if err != nil || resp.StatusCode != 200 {
					continue
				}
				var up struct {
					UploadURL string `json:"upload_url"`
				}
				if json.Unmarshal(body, &up) != nil {
					continue
				}
				sent.Add(1)
				resp, body, err = send(c, "POST", srv.URL+"/v2/transcript", []byte(`{"audio_url":"`+up.UploadURL+`"}`))
				var tr struct{ ID string }
				if err != nil || resp.StatusCode != 200 || json.Unmarshal(body, &tr) != nil {
					continue
				}
				sent.Add(2)
				_, _, _ = send(c, "GET", srv.URL+"/v2/transcript/"+tr.ID, nil)
				_, _, _ = send(c, "GET", srv.URL+"/v2/transcript?limit=5", nil)
			}
		}()
	}
	wg.Wait()
	var counted int64
	var st emulator.Stats
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		counted = 0
		st = srv.Emulator.Stats()
		for _, m := range st.Requests {
			for _, n := range m {
				counted += int64(n)
			}
		}
		if counted >= sent.Load() {
			break
		}
	}
	// net/http retries a GET by itself when a reused connection is reset
	// before any response, so the emulator may see a few more requests.
	resets := int64(st.Faults["reset"] + st.Faults["act_then_reset"])
	if counted < sent.Load() || counted > sent.Load()+resets {
		t.Errorf("stats count %d requests, clients sent %d (%d resets)", counted, sent.Load(), resets)
	}
	if len(st.Faults) < 5 {
		t.Errorf("hostile injected only %v", st.Faults)
	}
	t.Logf("faults %v; requests %v", st.Faults, st.Requests)
}
