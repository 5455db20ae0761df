package emulator_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/durascribe/durascribe/emulator"
)

// The emulator counts what a real account would be billed twice: here the
// same audio is uploaded twice and transcribed twice.
func Example() {
	em, err := emulator.New(emulator.Config{APIKeys: []string{"test-key"}, TimeScale: 0.001})
	if err != nil {
		panic(err)
	}
	defer em.Close() //nolint:errcheck // Close always returns nil
	srv := httptest.NewServer(em)
	defer srv.Close()

	post := func(path string, body []byte, v any) {
		req, _ := http.NewRequest("POST", srv.URL+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "test-key")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close() //nolint:errcheck // response body, read only
		_ = json.NewDecoder(resp.Body).Decode(v)
	}
	wav := makeWAV(2)
	for range 2 {
		var up struct {
			UploadURL string `json:"upload_url"`
		}
		post("/v2/upload", wav, &up)
		var tr struct{ Status string }
		post("/v2/transcript", []byte(`{"audio_url":"`+up.UploadURL+`"}`), &tr)
		fmt.Println("status:", tr.Status, "upload URL on our host:", strings.HasPrefix(up.UploadURL, srv.URL))
	}
	st := em.Stats()
	fmt.Println("re-uploads:", st.ReUploads, "duplicate transcripts:", st.DuplicateTranscripts)
	// Output:
	// status: queued upload URL on our host: true
	// status: queued upload URL on our host: true
	// re-uploads: 1 duplicate transcripts: 1
}

func ExampleLookupScenario() {
	sc, err := emulator.LookupScenario("outage")
	if err != nil {
		panic(err)
	}
	fmt.Println(sc.Name, sc.Outages[0].Start.D(), sc.Outages[0].End.D())
	// Output: outage 10s 55s
}
