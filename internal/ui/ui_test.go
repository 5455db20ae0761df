package ui_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	"github.com/durascribe/durascribe/assemblyai"
	"github.com/durascribe/durascribe/emulator"
	"github.com/durascribe/durascribe/emulator/emulatortest"
	"github.com/durascribe/durascribe/internal/batch"
	"github.com/durascribe/durascribe/internal/report"
	"github.com/durascribe/durascribe/internal/ui"
	"github.com/durascribe/durascribe/transcribe"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
		goleak.IgnoreTopFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

const pgURLEnv = "DURASCRIBE_TEST_PG_URL"

// forEachStore runs fn on a fresh SQLite file and, when DURASCRIBE_TEST_PG_URL
// is set, on a fresh PostgreSQL schema.
func forEachStore(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, filepath.Join(t.TempDir(), "durascribe.db"))
	})
	base := os.Getenv(pgURLEnv)
	if base == "" {
		return
	}
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Fatalf("connect %s: %v", pgURLEnv, err)
		}
		var b [6]byte
		_, _ = rand.Read(b[:])
		schema := fmt.Sprintf("t_%x", b)
		if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
			t.Fatal(err)
		}
		_ = conn.Close(ctx)
		t.Cleanup(func() {
			if c, err := pgx.Connect(context.Background(), base); err == nil {
				_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
				_ = c.Close(context.Background())
			}
		})
		sep := "?"
		if strings.Contains(base, "?") {
			sep = "&"
		}
		fn(t, base+sep+"search_path="+schema)
	})
}

// wav returns a distinct 0.5 s, 8 kHz, 16-bit mono WAV.
func wav(seed int) []byte {
	data := make([]byte, 8000)
	x := uint32(seed*2654435761 + 1)
	for i := 0; i < len(data); i += 2 {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		binary.LittleEndian.PutUint16(data[i:], uint16(x%2000))
	}
	h := []byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+len(data)))
	binary.LittleEndian.PutUint32(h[40:], uint32(len(data)))
	return append(h, data...)
}

// runBatch transcribes n files into st on a clean emulator, so that the
// store has files, attempts and completed River jobs.
func runBatch(ctx context.Context, t *testing.T, st *batch.Store, n int) {
	t.Helper()
	const scale = 0.01
	em := emulatortest.New(t, emulator.Config{TimeScale: scale})
	dir := t.TempDir()
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("clip%d.wav", i)), wav(i), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	inputs, err := batch.ResolveInputs([]string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Enqueue(ctx, inputs); err != nil {
		t.Fatal(err)
	}
	client, err := assemblyai.New(assemblyai.Config{APIKey: assemblyai.APIKey(em.APIKey), BaseURL: em.URL})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := st.Run(ctx, batch.RunConfig{Transcribe: transcribe.Config{Client: client}, TimeScale: scale,
		UntilDone: true, JobTimeout: 20 * time.Second, RescueAfter: 25 * time.Second})
	if err != nil || sum.Done != n {
		t.Fatalf("run: %+v, %v", sum, err)
	}
}

// reportInput reads the store as the report takes it (the CLI does the same).
func reportInput(st *batch.Store) func(context.Context) (report.Input, error) {
	return func(ctx context.Context) (report.Input, error) {
		files, err := st.Files(ctx)
		if err != nil {
			return report.Input{}, err
		}
		atts, err := st.Attempts(ctx, 0)
		if err != nil {
			return report.Input{}, err
		}
		var in report.Input
		for _, f := range files {
			in.Files = append(in.Files, report.File{ID: f.ID, Source: f.Source, State: string(f.State),
				Stage: string(f.Stage), Reason: f.Reason, StartedAt: f.StartedAt, FinishedAt: f.FinishedAt})
		}
		for _, a := range atts {
			in.Attempts = append(in.Attempts, report.Attempt{FileID: a.FileID, Stage: a.Stage, Endpoint: a.Endpoint,
				Attempt: a.Attempt, Start: a.Start, Duration: a.Duration, StatusCode: a.StatusCode, Class: a.Class,
				Error: a.Error, BreakerState: a.BreakerState})
		}
		return in, nil
	}
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() //nolint:errcheck // response body, read only
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestHandler(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, dsn string) {
		const n = 3
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st, err := batch.Open(ctx, dsn, batch.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close() //nolint:errcheck // test teardown
		runBatch(ctx, t, st, n)

		h, err := ui.New(ui.Config{Store: st, ReportInput: reportInput(st)})
		if err != nil {
			t.Fatal(err)
		}
		uiCtx, stopUI := context.WithCancel(ctx)
		defer stopUI()
		if err := h.Start(uiCtx); err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		defer srv.Close()

		t.Run("riverui api", func(t *testing.T) {
			resp, body := get(t, srv.URL+"/riverui/api/jobs?state=completed")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var list struct {
				Data []struct {
					Kind  string `json:"kind"`
					Queue string `json:"queue"`
					State string `json:"state"`
				} `json:"data"`
			}
			if err := json.Unmarshal([]byte(body), &list); err != nil {
				t.Fatalf("decode %s: %v", body, err)
			}
			if len(list.Data) != n {
				t.Fatalf("%d completed jobs, want %d: %s", len(list.Data), n, body)
			}
			for _, j := range list.Data {
				if j.Kind != "transcribe_file" || j.Queue != batch.QueueName || j.State != "completed" {
					t.Errorf("job %+v", j)
				}
			}
			if resp, body := get(t, srv.URL+"/riverui/api/queues"); resp.StatusCode != http.StatusOK ||
				!strings.Contains(body, `"`+batch.QueueName+`"`) {
				t.Errorf("queues: %d %s", resp.StatusCode, body)
			}
		})
		t.Run("riverui page", func(t *testing.T) {
			resp, body := get(t, srv.URL+"/riverui/")
			if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") ||
				!strings.Contains(body, "<script") {
				t.Fatalf("status %d, type %q: %.300s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
		})
		t.Run("report", func(t *testing.T) {
			resp, body := get(t, srv.URL+"/report?refresh=5")
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Refresh") != "5" {
				t.Fatalf("status %d, refresh %q", resp.StatusCode, resp.Header.Get("Refresh"))
			}
			for _, id := range report.ChartIDs {
				if !strings.Contains(body, `id="`+id+`"`) {
					t.Errorf("chart %s missing", id)
				}
			}
			if c := strings.Count(body, "<svg"); c < len(report.ChartIDs) {
				t.Errorf("%d svg charts, want %d", c, len(report.ChartIDs))
			}
			resp, body = get(t, srv.URL+"/report.json")
			var s report.Summary
			if err := json.Unmarshal([]byte(body), &s); resp.StatusCode != http.StatusOK || err != nil {
				t.Fatalf("report.json: %d %v", resp.StatusCode, err)
			}
		})
		t.Run("metrics", func(t *testing.T) {
			resp, body := get(t, srv.URL+"/metrics")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			p := expfmt.NewTextParser(model.UTF8Validation)
			fams, err := p.TextToMetricFamilies(strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			jobs := fams["durascribe_jobs"]
			if jobs == nil {
				t.Fatalf("no durascribe_jobs in\n%s", body)
			}
			var done float64
			for _, m := range jobs.GetMetric() {
				if m.GetLabel()[0].GetValue() == "done" {
					done = m.GetGauge().GetValue()
				}
			}
			if done != n {
				t.Errorf("durascribe_jobs{state=done} = %v, want %d", done, n)
			}
			if fams["durascribe_transcripts_in_flight"] == nil {
				t.Error("no durascribe_transcripts_in_flight")
			}
		})
		t.Run("index", func(t *testing.T) {
			resp, body := get(t, srv.URL+"/")
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, "<td>done</td><td>3</td>") {
				t.Errorf("index: %d\n%s", resp.StatusCode, body)
			}
			if resp, _ := get(t, srv.URL+"/nope"); resp.StatusCode != http.StatusNotFound {
				t.Errorf("/nope: %d", resp.StatusCode)
			}
		})
	})
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	if _, err := ui.New(ui.Config{}); !errors.Is(err, ui.ErrNoStore) {
		t.Errorf("no store: %v", err)
	}
}
