package emulator

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"
)

func wavHeader(rate, channels int, dataBytes uint32) []byte {
	var b bytes.Buffer
	w := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	w(36 + dataBytes)
	b.WriteString("WAVEfmt ")
	w(uint32(16))
	w(uint16(1))
	w(uint16(channels))
	w(uint32(rate))
	w(uint32(rate * channels * 2))
	w(uint16(channels * 2))
	w(uint16(16))
	b.WriteString("data")
	w(dataBytes)
	return b.Bytes()
}

func TestInspect(t *testing.T) {
	t.Parallel()
	flac := append([]byte("fLaC\x00\x00\x00\x22"), make([]byte, 34)...)
	// 44100 Hz, 2 channels, 16 bits, 441000 samples (10 s).
	copy(flac[8+10:], []byte{0x0A, 0xC4, 0x42, 0xF0, 0x00, 0x06, 0xBA, 0xA8})
	mp3 := append([]byte("ID3\x04\x00\x00\x00\x00\x00\x0a"), make([]byte, 10)...)
	mp3 = append(mp3, 0xFF, 0xFB, 0x90, 0x64) // MPEG-1 L3 128 kbps stereo
	mp3 = append(mp3, make([]byte, 400)...)
	for _, tc := range []struct {
		name     string
		head     []byte
		size     int64
		duration time.Duration
		channels int
		problem  string
	}{
		{"wav", wavHeader(16000, 1, 32000*3), 44 + 32000*3, 3 * time.Second, 1, ""},
		{"wav stereo streamed length", wavHeader(8000, 2, 0xFFFFFFFF), 44 + 32000, time.Second, 2, ""},
		{"wav too short", wavHeader(16000, 1, 3200), 44 + 3200, 100 * time.Millisecond, 1, "Audio duration is too short."},
		{"flac", flac, 1 << 20, 10 * time.Second, 2, ""},
		{"mp3", mp3, 20 + 160000, 10 * time.Second, 2, ""},
		{"text", []byte("hello world\n"), 12, 0, 1, "Transcoding failed. File does not appear to contain audio. File type is text/plain (ASCII text)."},
		{"json", []byte(`{"a": 1}`), 8, 0, 1, "Transcoding failed. File does not appear to contain audio. File type is application/json (JSON data)."},
		{"binary", []byte{0, 1, 2, 3, 0xfe, 0xff, 0, 0, 9}, 9, 0, 1, "Transcoding failed. File does not appear to contain audio. File type is application/octet-stream (data)."},
	} {
		m := inspect(tc.head, tc.size)
		if m.duration != tc.duration || m.channels != tc.channels || m.problem != tc.problem {
			t.Errorf("%s: got %v %d %q, want %v %d %q", tc.name, m.duration, m.channels, m.problem, tc.duration, tc.channels, tc.problem)
		}
	}
}
