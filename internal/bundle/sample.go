package bundle

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/durascribe/durascribe/preflight"
)

// ffmpegTimeout bounds one ffmpeg run; cutting 30 s never takes long.
const ffmpegTimeout = 2 * time.Minute

// sample returns the audio sample entry for source: its base name, bytes and
// a note saying how it was made or why there is none.
func sample(ctx context.Context, in Input, source string) (name string, data []byte, note string) {
	if preflight.IsURL(source) {
		return "", nil, "No sample: the audio is a URL that durascribe did not download. " +
			"Give support the URL if they can reach it, or attach a sample yourself."
	}
	fi, err := os.Stat(source)
	if err != nil || !fi.Mode().IsRegular() {
		return "", nil, "No sample: the audio file could not be read here."
	}
	ext := safeExt(source)
	var why string
	if !in.NoFFmpeg {
		if bin, err := exec.LookPath(in.FFmpeg); err == nil {
			name, data, err := cut(ctx, bin, source, ext, in.SampleSeconds)
			if err == nil {
				return name, data, fmt.Sprintf("The sample is the first %d s of the audio, cut with ffmpeg.", in.SampleSeconds)
			}
			why = "ffmpeg could not cut it (" + err.Error() + ")"
		} else {
			why = "ffmpeg is not installed"
		}
	} else {
		why = "ffmpeg was disabled"
	}
	if fi.Size() <= in.MaxRawSample {
		data, err := os.ReadFile(source)
		if err == nil {
			return "audio" + ext, data, fmt.Sprintf("The sample is the whole file (%d bytes): %s.", fi.Size(), why)
		}
	}
	return "", nil, fmt.Sprintf("No sample: %s and the file (%d bytes) is larger than %d bytes. "+
		"Attach the first %d s of the audio yourself.", why, fi.Size(), in.MaxRawSample, in.SampleSeconds)
}

// safeExt is the lower-case extension of source if it is short and plain.
func safeExt(source string) string {
	ext := strings.ToLower(filepath.Ext(source))
	if len(ext) < 2 || len(ext) > 6 {
		return ""
	}
	for _, r := range ext[1:] {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return ""
		}
	}
	return ext
}

// cut runs ffmpeg to take the first seconds of the first audio stream:
// stream copy into the same container when possible (exact bytes the API
// saw), else re-encoded to FLAC.
func cut(ctx context.Context, bin, source, ext string, seconds int) (name string, data []byte, err error) {
	dir, err := os.MkdirTemp("", "durascribe-sample-")
	if err != nil {
		return "", nil, fmt.Errorf("make temp dir: %w", err)
	}
	defer os.RemoveAll(dir) //nolint:errcheck // best-effort removal of a temp dir
	run := func(out string, codec ...string) error {
		ctx, cancel := context.WithTimeout(ctx, ffmpegTimeout)
		defer cancel()
		args := []string{"-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", source,
			"-t", strconv.Itoa(seconds), "-map", "0:a:0"}
		args = append(append(args, codec...), out)
		cmd := exec.CommandContext(ctx, bin, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			msg := strings.TrimSpace(stderr.String())
			if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
				msg = msg[i+1:]
			}
			return fmt.Errorf("run ffmpeg: %w: %s", err, msg)
		}
		return nil
	}
	if ext != "" {
		out := filepath.Join(dir, "sample"+ext)
		if err = run(out, "-c", "copy"); err == nil {
			if data, err = os.ReadFile(out); err == nil && len(data) > 0 {
				return "sample" + ext, data, nil
			}
		}
	}
	out := filepath.Join(dir, "sample.flac")
	if err = run(out, "-c:a", "flac"); err != nil {
		return "", nil, err
	}
	data, err = os.ReadFile(out)
	if err != nil {
		return "", nil, fmt.Errorf("read sample: %w", err)
	}
	return "sample.flac", data, nil
}
