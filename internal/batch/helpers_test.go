package batch_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/durascribe/durascribe/assemblyai"
	"github.com/durascribe/durascribe/emulator"
	"github.com/durascribe/durascribe/emulator/emulatortest"
	"github.com/durascribe/durascribe/internal/batch"
	"github.com/durascribe/durascribe/transcribe"
)

// pgURLEnv names the PostgreSQL server the conformance suite also runs on.
const pgURLEnv = "DURASCRIBE_TEST_PG_URL"

// forEachStore runs fn against a fresh SQLite file and, when
// DURASCRIBE_TEST_PG_URL is set, against a fresh PostgreSQL schema: the same
// test for both stores.
func forEachStore(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, filepath.Join(t.TempDir(), "durascribe.db"))
	})
	if os.Getenv(pgURLEnv) == "" {
		return
	}
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		fn(t, pgSchemaDSN(t))
	})
}

// pgSchemaDSN creates a schema of its own for one test (dropped at the end)
// and returns a DSN whose search_path points at it.
func pgSchemaDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(pgURLEnv)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect %s: %v", pgURLEnv, err)
	}
	defer conn.Close(ctx) //nolint:errcheck // test teardown
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := fmt.Sprintf("t_%x", b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			_ = c.Close(context.Background())
		}
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

// writeWAVs writes n small, distinct WAV files (0.5 s, 8 kHz, 16-bit mono)
// under dir, some in a subdirectory, and returns their paths.
func writeWAVs(t testing.TB, dir string, n int) []string {
	t.Helper()
	var paths []string
	for i := range n {
		sub := dir
		if i%3 == 0 {
			sub = filepath.Join(dir, "sub")
		}
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(sub, fmt.Sprintf("clip%04d.wav", i))
		if err := os.WriteFile(p, wav(i), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

func wav(seed int) []byte { return wavSamples(seed, 4000) }

// wavSamples is a noisy 8 kHz mono WAV of samples samples.
func wavSamples(seed, samples int) []byte {
	const rate = 8000
	data := make([]byte, samples*2)
	x := uint32(seed*2654435761 + 1)
	for i := range samples {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		binary.LittleEndian.PutUint16(data[i*2:], uint16(x%2000))
	}
	h := make([]byte, 44)
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+len(data)))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1)
	binary.LittleEndian.PutUint16(h[22:], 1)
	binary.LittleEndian.PutUint32(h[24:], rate)
	binary.LittleEndian.PutUint32(h[28:], rate*2)
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(len(data)))
	return append(h, data...)
}

// runConfig is a RunConfig against an emulator at url, time-scaled.
func runConfig(t testing.TB, url, key string, scale float64, out string) batch.RunConfig {
	// Request timeouts scale as the CLI's do (never under 2 s): they bound
	// how long an interrupted create may still land.
	timeout := max(time.Duration(float64(30*time.Second)*scale), 2*time.Second)
	client, err := assemblyai.New(assemblyai.Config{APIKey: assemblyai.APIKey(key), BaseURL: url, RequestTimeout: timeout})
	if err != nil {
		panic(err)
	}
	return batch.RunConfig{
		Transcribe: transcribe.Config{Client: client},
		Output:     batch.OutputConfig{Dir: out, Formats: []string{"txt", "json", "srt", "vtt"}},
		TimeScale:  scale,
		UntilDone:  true,
		JobTimeout: 20e9, RescueAfter: 25e9,
	}
}

// fileAttempts is one file of a finished run with its attempts log.
type fileAttempts struct {
	file     *batch.File
	attempts []batch.Attempt
}

// runDir queues the audio files of dir in a new SQLite store and runs them
// against a fresh emulator (seed, time scale) with conc transcript slots and
// uploads upload slots, the request-rate cap lifted. The test fails unless
// every file is done. It returns the files with their attempts logs.
func runDir(t *testing.T, dir string, seed int64, scale float64, conc, uploads int) []fileAttempts {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st := enqueueDir(t, ctx, filepath.Join(t.TempDir(), "run.db"), dir)
	em := emulatortest.New(t, emulator.Config{Seed: seed, TimeScale: scale})
	cfg := runConfig(t, em.URL, em.APIKey, scale, "")
	cfg.Concurrency, cfg.UploadConcurrency = conc, uploads
	cfg.RequestsPerSecond = 5000
	if sum, err := st.Run(ctx, cfg); err != nil || sum.Done != sum.Total() {
		t.Fatalf("run: %v, %+v", err, sum)
	}
	files, err := st.Files(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]fileAttempts, 0, len(files))
	for _, f := range files {
		atts, err := st.Attempts(ctx, f.ID)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fileAttempts{f, atts})
	}
	return out
}

// queuedStore opens the store dsn (closed when the test ends) and queues n
// new WAV files in it.
func queuedStore(t *testing.T, ctx context.Context, dsn string, n int) *batch.Store {
	t.Helper()
	dir := t.TempDir()
	writeWAVs(t, dir, n)
	return enqueueDir(t, ctx, dsn, dir)
}

// enqueueDir opens the store dsn (closed when the test ends) and queues the
// audio files of dir in it.
func enqueueDir(t *testing.T, ctx context.Context, dsn, dir string) *batch.Store {
	t.Helper()
	st, err := batch.Open(ctx, dsn, batch.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	inputs, err := batch.ResolveInputs([]string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Enqueue(ctx, inputs); err != nil {
		t.Fatal(err)
	}
	return st
}
