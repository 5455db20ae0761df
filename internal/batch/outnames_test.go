package batch_test

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/durascribe/durascribe/emulator"
	"github.com/durascribe/durascribe/emulator/emulatortest"
	"github.com/durascribe/durascribe/internal/batch"
)

// touchFiles writes a small WAV at each slash-separated name below dir.
func touchFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	for i, n := range names {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, wav(i), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// outNames maps each input's source, relative to dir, to its output name.
func outNames(t *testing.T, dir string, ins []batch.Input) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, in := range ins {
		rel, err := filepath.Rel(dir, in.Source)
		if err != nil {
			t.Fatal(err)
		}
		m[filepath.ToSlash(rel)] = in.OutName
	}
	return m
}

// Output names are the input's name with its extension replaced; only
// inputs that would collide (after sanitising, ignoring case) keep their
// extension, whatever else is listed and in whichever order; a collision
// that remains is refused before anything is queued.
func TestResolveInputsOutputNames(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		files []string
		args  []string // relative to the folder; "." when empty
		want  map[string]string
		clash bool
	}{
		{
			name:  "alone",
			files: []string{"tone.wav"},
			want:  map[string]string{"tone.wav": "tone"},
		},
		{
			name:  "neighbours do not rename",
			files: []string{"tone.wav", "speech.wav", "speech.mp3", "sub/tone.flac"},
			want: map[string]string{
				"tone.wav": "tone", "speech.wav": "speech.wav", "speech.mp3": "speech.mp3",
				"sub/tone.flac": "sub/tone",
			},
		},
		{
			name:  "case-insensitive",
			files: []string{"Song.wav", "song.mp3"},
			want:  map[string]string{"Song.wav": "Song.wav", "song.mp3": "song.mp3"},
		},
		{
			name:  "same name in two arguments",
			files: []string{"A/x.wav", "B/x.wav"},
			args:  []string{"A/x.wav", "B/x.wav"},
			clash: true,
		},
		{
			name:  "same name in two folders",
			files: []string{"A/x.wav", "B/x.wav"},
			args:  []string{"A", "B"},
			clash: true,
		},
		{
			name:  "same name in one tree",
			files: []string{"A/x.wav", "B/x.wav"},
			want:  map[string]string{"A/x.wav": "A/x", "B/x.wav": "B/x"},
		},
		{
			name:  "control character stripped",
			files: []string{"a\tb.wav", "ab.wav"},
			clash: true,
		},
		{
			name:  "extension kept until unique",
			files: []string{"a.wav", "a.mp3", "a.wav.mp3"},
			want:  map[string]string{"a.wav": "a.wav", "a.mp3": "a.mp3", "a.wav.mp3": "a.wav.mp3"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			touchFiles(t, dir, tc.files...)
			args := tc.args
			if len(args) == 0 {
				args = []string{"."}
			}
			for i, a := range args {
				args[i] = filepath.Join(dir, a)
			}
			reversed := slices.Clone(args)
			slices.Reverse(reversed)
			for _, order := range [][]string{args, reversed} {
				ins, err := batch.ResolveInputs(order, nil)
				if tc.clash {
					if !errors.Is(err, batch.ErrOutputCollision) {
						t.Fatalf("ResolveInputs(%q) = %v, want ErrOutputCollision", order, err)
					}
					for _, f := range tc.files {
						if q := strings.Trim(strconv.Quote(filepath.FromSlash(f)), `"`); !strings.Contains(err.Error(), q) {
							t.Errorf("error %q does not name %s", err, q)
						}
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				got := outNames(t, dir, ins)
				for src, want := range tc.want {
					if got[src] != want {
						t.Errorf("args %q: %s → %q, want %q", order, src, got[src], want)
					}
				}
			}
		})
	}
}

// An output name owned by a source in the store is not handed to another
// source queued later, by another command (its outputs would replace the
// first one's): the new source keeps its extension, and is refused if that
// is taken too.
func TestEnqueueNeverReusesOutputNameOfAnotherSource(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, dsn string) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		dir := t.TempDir()
		touchFiles(t, dir, "A/x.wav", "B/X.wav", "B/y.wav", "C/x.wav")
		st := enqueueDir(t, ctx, dsn, filepath.Join(dir, "A"))
		enqueue := func(arg string) error {
			ins, err := batch.ResolveInputs([]string{filepath.Join(dir, arg)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = st.Enqueue(ctx, ins)
			return err
		}
		if err := enqueue("B"); err != nil {
			t.Fatal(err)
		}
		err := enqueue("C")
		if !errors.Is(err, batch.ErrOutputCollision) || !strings.Contains(err.Error(), filepath.Join("C", "x.wav")) {
			t.Fatalf("Enqueue = %v, want ErrOutputCollision naming C/x.wav", err)
		}
		files, err := st.Files(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, f := range files {
			rel, _ := filepath.Rel(dir, f.Source)
			got[filepath.ToSlash(rel)] = f.OutName
		}
		want := map[string]string{"A/x.wav": "x", "B/X.wav": "X.wav", "B/y.wav": "y"}
		if !maps.Equal(got, want) {
			t.Errorf("records %v, want %v", got, want)
		}
		// The same source again is no collision.
		if err := enqueue("A/x.wav"); err != nil {
			t.Errorf("re-queue of the same source: %v", err)
		}
	})
}

// A store queued before names were checked may hold two sources with one
// output name: neither the worker nor export --force lets the second replace
// the first one's outputs.
func TestOutputsOfAnotherSourceAreNeverReplaced(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir, out := t.TempDir(), t.TempDir()
	touchFiles(t, dir, "A/x.wav", "B/y.wav")
	db := filepath.Join(t.TempDir(), "old.db")
	st := enqueueDir(t, ctx, db, dir)
	// What an older version recorded for A/x.wav and B/x.wav named as two
	// arguments: both "x".
	raw, err := sql.Open("sqlite", "file:"+db+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, `UPDATE durascribe_file SET out_name = 'x'`); err != nil {
		t.Fatal(err)
	}
	_ = raw.Close()

	em := emulatortest.New(t, emulator.Config{Seed: 1, TimeScale: 0.01})
	cfg := runConfig(t, em.URL, em.APIKey, 0.01, out)
	cfg.Output.Force = true
	cfg.Concurrency = 1
	if sum, err := st.Run(ctx, cfg); err != nil || sum.Done != 2 {
		t.Fatalf("run: %v, %+v", err, sum)
	}
	files, err := st.Files(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var first *batch.File
	for _, f := range files {
		if first == nil || f.ID < first.ID {
			first = f
		}
	}
	wantTxt := func(when string) {
		t.Helper()
		got, err := os.ReadFile(filepath.Join(out, "x.json"))
		if err != nil {
			t.Fatal(err)
		}
		if first.TranscriptID == "" || !strings.Contains(string(got), `"id":"`+first.TranscriptID+`"`) {
			t.Errorf("%s: x.json is not the transcript %s of %s (the first owner): %.80s",
				when, first.TranscriptID, first.Source, got)
		}
	}
	wantTxt("after the run")

	res, err := st.Export(ctx, batch.OutputConfig{Dir: out, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 1 {
		t.Errorf("export --force: errors %v, want one for the second source", res.Errors)
	}
	for src, err := range res.Errors {
		if src == first.Source || !errors.Is(err, batch.ErrOutputCollision) {
			t.Errorf("export --force: %s: %v", src, err)
		}
	}
	wantTxt("after export --force")
}
