package emulator_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/durascribe/durascribe/emulator"
)

func TestWebhook(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name              string
		answers           []int
		attempts, stored  int
		deliveries, fails int
	}{
		{name: "retried until 2xx", answers: []int{500, 0, 200}, attempts: 3, stored: 200, deliveries: 1},
		{name: "4xx stops", answers: []int{404}, attempts: 1, stored: 404, fails: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var (
				mu     sync.Mutex
				bodies [][]byte
				auth   []string
			)
			hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				n := len(bodies)
				bodies = append(bodies, b)
				auth = append(auth, r.Header.Get("X-Secret"))
				mu.Unlock()
				code := tc.answers[min(n, len(tc.answers)-1)]
				if code == 0 { // no answer in time
					time.Sleep(150 * time.Millisecond)
					code = 200
				}
				w.WriteHeader(code)
			}))
			defer hook.Close()
			a := newAPI(t, emulator.Config{TimeScale: 0.01})
			tr := a.create(map[string]any{
				"audio_url": a.upload(makeWAV(1)), "webhook_url": hook.URL + "/hook?customer=1",
				"webhook_auth_header_name": "X-Secret", "webhook_auth_header_value": "s3cret",
			})
			deadline := time.Now().Add(5 * time.Second)
			var st emulator.Stats
			for time.Now().Before(deadline) {
				st = a.srv.Emulator.Stats()
				if st.WebhookDeliveries+st.WebhookFailures > 0 {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			if st.WebhookAttempts != tc.attempts || st.WebhookDeliveries != tc.deliveries || st.WebhookFailures != tc.fails {
				t.Errorf("stats attempts %d deliveries %d failures %d", st.WebhookAttempts, st.WebhookDeliveries, st.WebhookFailures)
			}
			got := a.get(tr.ID)
			if got.WebhookStatus == nil || *got.WebhookStatus != tc.stored {
				t.Errorf("webhook_status_code %v, want %d", got.WebhookStatus, tc.stored)
			}
			mu.Lock()
			defer mu.Unlock()
			validate(t, "TranscriptReadyNotification", bodies[0])
			if auth[0] != "s3cret" {
				t.Errorf("auth header %q", auth[0])
			}
		})
	}
}

func TestWebhookNotLoopback(t *testing.T) {
	t.Parallel()
	a := newAPI(t, emulator.Config{TimeScale: 0.001})
	a.create(map[string]any{"audio_url": a.upload(makeWAV(1)), "webhook_url": "https://hooks.example.com/x"})
	waitDone(t, a.srv.Emulator)
	if st := a.srv.Emulator.Stats(); st.WebhookAttempts != 0 || st.WebhookFailures != 1 {
		t.Errorf("attempts %d failures %d: want the delivery refused", st.WebhookAttempts, st.WebhookFailures)
	}
}
