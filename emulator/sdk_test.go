package emulator_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	aai "github.com/AssemblyAI/assemblyai-go-sdk"

	"github.com/durascribe/durascribe/emulator"
	"github.com/durascribe/durascribe/emulator/emulatortest"
)

// fastConfig finishes transcripts within milliseconds.
func fastConfig() emulator.Config {
	return emulator.Config{APIKeys: []string{"test-key"}, TimeScale: 0.001}
}

func sdkClient(t *testing.T, srv *emulatortest.Server, key string) *aai.Client {
	return aai.NewClientWithOptions(aai.WithAPIKey(key), aai.WithBaseURL(srv.URL),
		aai.WithHTTPClient(validatingClient(t)))
}

// waitDone polls the emulator until every transcript has finished.
func waitDone(t *testing.T, em *emulator.Server) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		st := em.Stats()
		if st.Transcripts["queued"]+st.Transcripts["processing"] == 0 {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("transcripts did not finish")
}

// TestSDK runs the official Go SDK, unchanged, against the emulator, and
// validates every response against the spec.
func TestSDK(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := emulatortest.New(t, fastConfig())
	c := sdkClient(t, srv, srv.APIKey)
	wav := makeWAV(3.2)

	t.Run("transcribe from reader and url", func(t *testing.T) {
		t.Parallel()
		tr, err := c.Transcripts.TranscribeFromReader(ctx, bytes.NewReader(wav), &aai.TranscriptOptionalParams{
			SpeakerLabels: aai.Bool(true),
		})
		if err != nil {
			t.Fatalf("TranscribeFromReader: %v", err)
		}
		if tr.Status != aai.TranscriptStatusCompleted || !strings.HasPrefix(aai.ToString(tr.Text), "[simulated]") {
			t.Fatalf("got status %q text %q", tr.Status, aai.ToString(tr.Text))
		}
		if tr.AudioDuration == nil || *tr.AudioDuration != 4 {
			t.Errorf("audio_duration = %v, want 4 (3.2 s rounded up)", tr.AudioDuration)
		}
		if len(tr.Words) == 0 || len(tr.Utterances) == 0 || tr.Words[0].Speaker == nil {
			t.Errorf("want words with speakers and utterances, got %d words %d utterances", len(tr.Words), len(tr.Utterances))
		}
		// The same upload URL again: a duplicate the stats must see.
		url, err := c.Upload(ctx, bytes.NewReader(wav))
		if err != nil {
			t.Fatalf("Upload: %v", err)
		}
		tr2, err := c.Transcripts.TranscribeFromURL(ctx, url, nil)
		if err != nil || tr2.Status != aai.TranscriptStatusCompleted {
			t.Fatalf("TranscribeFromURL: %v %q", err, tr2.Status)
		}
		if aai.ToString(tr2.Text) != aai.ToString(tr.Text) {
			t.Errorf("same audio, different text")
		}
	})

	t.Run("submit get wait derived delete", func(t *testing.T) {
		t.Parallel()
		url, err := c.Upload(ctx, bytes.NewReader(makeWAV(12)))
		if err != nil {
			t.Fatalf("Upload: %v", err)
		}
		tr, err := c.Transcripts.SubmitFromURL(ctx, url, nil)
		if err != nil {
			t.Fatalf("SubmitFromURL: %v", err)
		}
		if tr.Status != aai.TranscriptStatusQueued {
			t.Errorf("initial status %q, want queued", tr.Status)
		}
		id := aai.ToString(tr.ID)
		waitDone(t, srv.Emulator)
		tr, err = c.Transcripts.Wait(ctx, id)
		if err != nil || tr.Status != aai.TranscriptStatusCompleted {
			t.Fatalf("Wait: %v %q", err, tr.Status)
		}
		if _, err := c.Transcripts.Get(ctx, id); err != nil {
			t.Fatalf("Get: %v", err)
		}
		sents, err := c.Transcripts.GetSentences(ctx, id)
		if err != nil || len(sents.Sentences) == 0 {
			t.Fatalf("GetSentences: %v (%d)", err, len(sents.Sentences))
		}
		paras, err := c.Transcripts.GetParagraphs(ctx, id)
		if err != nil || len(paras.Paragraphs) == 0 {
			t.Fatalf("GetParagraphs: %v", err)
		}
		srt, err := c.Transcripts.GetSubtitles(ctx, id, "srt", &aai.TranscriptGetSubtitlesOptions{CharsPerCaption: 0})
		if err != nil || !strings.HasPrefix(string(srt), "1\n00:00:00,000 --> ") {
			t.Fatalf("srt: %v %q", err, srt)
		}
		vtt, err := c.Transcripts.GetSubtitles(ctx, id, "vtt", &aai.TranscriptGetSubtitlesOptions{CharsPerCaption: 20})
		if err != nil || !strings.HasPrefix(string(vtt), "WEBVTT\n\n00:00.000 --> ") {
			t.Fatalf("vtt: %v %q", err, vtt)
		}
		first := strings.Trim(strings.ToLower(aai.ToString(tr.Words[1].Text)), ".")
		ws, err := c.Transcripts.WordSearch(ctx, id, []string{first, "nonexistentword"})
		if err != nil || len(ws.Matches) != 2 || *ws.TotalCount < 1 || ws.Matches[1].Count == nil || *ws.Matches[1].Count != 0 {
			t.Fatalf("WordSearch(%q): %v %+v", first, err, ws)
		}
		del, err := c.Transcripts.Delete(ctx, id)
		if err != nil || aai.ToString(del.Text) != "Deleted by user." || aai.ToString(del.AudioURL) != "http://deleted_by_user" {
			t.Fatalf("Delete: %v %q", err, aai.ToString(del.Text))
		}
		again, err := c.Transcripts.Get(ctx, id)
		if err != nil || aai.ToString(again.Text) != "Deleted by user." {
			t.Fatalf("Get after delete: %v %q", err, aai.ToString(again.Text))
		}
	})

	t.Run("errors surface as APIError with status", func(t *testing.T) {
		t.Parallel()
		check := func(name string, err error, status int, msg string) {
			t.Helper()
			var apiErr aai.APIError
			if !errors.As(err, &apiErr) || apiErr.Status != status || (msg != "" && apiErr.Message != msg) {
				t.Errorf("%s: got %v (%#v), want status %d %q", name, err, apiErr, status, msg)
			}
		}
		_, err := c.Transcripts.Get(ctx, "00000000-0000-4000-8000-000000000000")
		check("get unknown", err, 400, "Transcript lookup error, transcript id not found")
		_, err = c.Transcripts.SubmitFromURL(ctx, "", nil)
		check("submit empty url", err, 400, "Transcript creation error, audio_url not found")
		_, err = c.Transcripts.SubmitFromURL(ctx, "/local/file.mp3", nil)
		check("submit local path", err, 400, "Transcript creation error, audio_url should start with http")
		_, err = c.Transcripts.SubmitFromURL(ctx, "https://example.com/a.mp3", &aai.TranscriptOptionalParams{SpeechModel: "best"})
		check("speech_model", err, 400, `speech_model is deprecated. Use "speech_models" instead. See documentation: https://www.assemblyai.com/docs/pre-recorded-audio/select-the-speech-model`)
		_, err = c.Upload(ctx, bytes.NewReader(nil))
		check("empty upload", err, 422, "")
		bad := sdkClient(t, srv, "wrong-key")
		_, err = bad.Transcripts.Get(ctx, "x")
		check("bad key", err, 401, "Authentication error, API token missing/invalid")
	})

	t.Run("download and transcoding errors", func(t *testing.T) {
		t.Parallel()
		tr, err := c.Transcripts.SubmitFromURL(ctx, "https://example.invalid/audio.mp3", nil)
		if err != nil {
			t.Fatal(err)
		}
		url, err := c.Upload(ctx, strings.NewReader("this is not audio, just some text\n"))
		if err != nil {
			t.Fatal(err)
		}
		tr2, err := c.Transcripts.SubmitFromURL(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		short, err := c.Upload(ctx, bytes.NewReader(makeWAV(0.1)))
		if err != nil {
			t.Fatal(err)
		}
		tr3, err := c.Transcripts.SubmitFromURL(ctx, short, nil)
		if err != nil {
			t.Fatal(err)
		}
		waitDone(t, srv.Emulator)
		for _, c := range []struct {
			id, want string
		}{
			{aai.ToString(tr.ID), "Download error, unable to download https://example.invalid/audio.mp3. Please make sure the file exists and is accessible from the internet."},
			{aai.ToString(tr2.ID), "Transcoding failed. File does not appear to contain audio. File type is text/plain (ASCII text)."},
			{aai.ToString(tr3.ID), "Audio duration is too short."},
		} {
			got, err := sdkClient(t, srv, srv.APIKey).Transcripts.Get(ctx, c.id)
			if err != nil || got.Status != aai.TranscriptStatusError || aai.ToString(got.Error) != c.want {
				t.Errorf("got %v %q %q, want error %q", err, got.Status, aai.ToString(got.Error), c.want)
			}
		}
	})
}

// TestSDKLoopbackURL transcribes from an audio_url served over loopback.
func TestSDKLoopbackURL(t *testing.T) {
	t.Parallel()
	wav := makeWAV(2)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "audio/wav")
		_, _ = w.Write(wav)
	}))
	defer origin.Close()
	srv := emulatortest.New(t, fastConfig())
	c := sdkClient(t, srv, srv.APIKey)
	tr, err := c.Transcripts.SubmitFromURL(context.Background(), origin.URL+"/a.wav", nil)
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, srv.Emulator)
	got, err := c.Transcripts.Get(context.Background(), aai.ToString(tr.ID))
	if err != nil || got.Status != aai.TranscriptStatusCompleted || got.AudioDuration == nil || *got.AudioDuration != 2 {
		t.Fatalf("got %v %q %v", err, got.Status, got.AudioDuration)
	}
}

// TestSDKList pages through the list with the SDK, both ways.
func TestSDKList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := emulatortest.New(t, fastConfig())
	c := sdkClient(t, srv, srv.APIKey)
	url, err := c.Upload(ctx, bytes.NewReader(makeWAV(1)))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 7 {
		tr, err := c.Transcripts.SubmitFromURL(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, aai.ToString(tr.ID))
	}
	list, err := c.Transcripts.List(ctx, aai.ListTranscriptParams{Limit: aai.Int64(3)})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	got := listIDs(list)
	if want := []string{ids[6], ids[5], ids[4]}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("first page %v, want %v", got, want)
	}
	if !strings.HasPrefix(aai.ToString(list.PageDetails.PrevURL), srv.URL+"/v2/transcript?") {
		t.Errorf("prev_url %q is not absolute on our host", aai.ToString(list.PageDetails.PrevURL))
	}
	older, err := c.Transcripts.List(ctx, aai.ListTranscriptParams{Limit: aai.Int64(3), BeforeID: aai.String(ids[4])})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := listIDs(older), []string{ids[3], ids[2], ids[1]}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("older page %v, want %v", got, want)
	}
	newer, err := c.Transcripts.List(ctx, aai.ListTranscriptParams{Limit: aai.Int64(2), AfterID: aai.String(ids[1])})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := listIDs(newer), []string{ids[3], ids[2]}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("newer page %v, want %v", got, want)
	}
	_, err = c.Transcripts.List(ctx, aai.ListTranscriptParams{BeforeID: aai.String(ids[1]), AfterID: aai.String(ids[4])})
	var apiErr aai.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 400 {
		t.Errorf("after newer than before: %v", err)
	}
	waitDone(t, srv.Emulator)
	st := srv.Emulator.Stats()
	if st.TranscriptsCreated != 7 || st.DuplicateTranscripts != 6 {
		t.Errorf("stats created %d duplicates %d, want 7 and 6", st.TranscriptsCreated, st.DuplicateTranscripts)
	}
}

func listIDs(l aai.TranscriptList) []string {
	var out []string
	for _, it := range l.Transcripts {
		out = append(out, aai.ToString(it.ID))
	}
	return out
}
