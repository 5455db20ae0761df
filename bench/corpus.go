package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"
)

// Corpus parameters: 8 kHz mono 16-bit PCM keeps uploads small (16 KB per
// second of audio) while the emulator still reads the exact duration from
// the WAV header.
const (
	sampleRate  = 8000
	minAudioSec = 5
	maxAudioSec = 60
)

// corpusFile is one generated input.
type corpusFile struct {
	Path     string
	Duration time.Duration
}

// audioDurations returns n deterministic durations in whole seconds in
// [minAudioSec, maxAudioSec], drawn from seed.
func audioDurations(n int, seed int64) []time.Duration {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6265_6e63_68)) //nolint:gosec // deterministic corpus, not security
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(minAudioSec+rng.IntN(maxAudioSec-minAudioSec+1)) * time.Second
	}
	return out
}

// writeCorpus writes n WAV files into dir, named file-0001.wav..., with
// durations from audioDurations and a quiet tone whose pitch differs per
// file, so that no two files have the same bytes (the emulator counts
// re-uploads by content hash).
func writeCorpus(dir string, n int, seed int64) ([]corpusFile, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create corpus dir: %w", err)
	}
	files := make([]corpusFile, 0, n)
	for i, d := range audioDurations(n, seed) {
		path := filepath.Join(dir, fmt.Sprintf("file-%04d.wav", i+1))
		if err := os.WriteFile(path, wavBytes(d, 200+float64(i%400)), 0o644); err != nil {
			return nil, fmt.Errorf("write corpus file: %w", err)
		}
		files = append(files, corpusFile{Path: path, Duration: d})
	}
	return files, nil
}

// wavBytes returns a canonical 44-byte-header PCM WAV of duration d holding
// a sine of freq Hz at low amplitude.
func wavBytes(d time.Duration, freq float64) []byte {
	samples := int(d.Seconds() * sampleRate)
	dataLen := samples * 2
	b := make([]byte, 44+dataLen)
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+dataLen))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)           // fmt chunk size
	binary.LittleEndian.PutUint16(b[20:], 1)            // PCM
	binary.LittleEndian.PutUint16(b[22:], 1)            // mono
	binary.LittleEndian.PutUint32(b[24:], sampleRate)   // sample rate
	binary.LittleEndian.PutUint32(b[28:], sampleRate*2) // byte rate
	binary.LittleEndian.PutUint16(b[32:], 2)            // block align
	binary.LittleEndian.PutUint16(b[34:], 16)           // bits per sample
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(dataLen))
	for i := range samples {
		v := int16(2000 * math.Sin(2*math.Pi*freq*float64(i)/sampleRate))
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(v))
	}
	return b
}
