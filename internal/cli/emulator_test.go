package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestEmulatorServesAndStops(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	outR, outW := io.Pipe()
	var errOut bytes.Buffer
	s := &streams{In: strings.NewReader(""), Out: outW, ErrOut: &errOut, Getenv: func(string) string { return "" }}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, s, []string{"emulator", "--addr", "127.0.0.1:0", "--api-key", "k1", "--scenario", "flaky", "--seed", "3", "--time-scale", "0.01"})
		_ = outW.Close()
	}()
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		t.Fatalf("read base URL: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, outR) }()
	base := strings.TrimSpace(line)
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("first line %q, want the base URL", base)
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequest("GET", base+"/v2/transcript/nope", nil)
	req.Header.Set("Authorization", "wrong")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	resp, err = client.Get(base + "/emulator/stats")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Scenario string `json:"scenario"`
		Seed     int64  `json:"seed"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&st)
	_ = resp.Body.Close()
	if st.Scenario != "flaky" || st.Seed != 3 {
		t.Errorf("stats scenario %q seed %d", st.Scenario, st.Seed)
	}
	cancel()
	select {
	case code := <-done:
		if code != ExitOK {
			t.Errorf("exit %d, want 0 after a graceful stop; stderr:\n%s", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("emulator did not stop")
	}
}

func TestEmulatorUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"emulator", "--addr", "0.0.0.0:0"},
		{"emulator", "--addr", "nonsense"},
		{"emulator", "--scenario", "no-such-scenario"},
		{"emulator", "--time-scale", "-1"},
		{"emulator", "extra-arg"},
	} {
		var out, errOut bytes.Buffer
		s := &streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut, Getenv: func(string) string { return "" }}
		if code := run(t.Context(), s, args); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d; stderr %s", args, code, ExitUsage, errOut.String())
		}
	}
}
