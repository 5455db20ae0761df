package emulator

import (
	"bytes"
	"encoding/binary"
	"strings"
	"time"

	"github.com/gabriel-vasile/mimetype"
)

// headSize is how much of an upload is kept in memory for inspection.
const headSize = 64 << 10

// minDuration is the shortest audio the API transcribes.
const minDuration = 160 * time.Millisecond

// media is what the emulator knows about a piece of audio.
type media struct {
	sha      string // hex SHA-256 of the bytes
	size     int64
	mime     string
	desc     string
	duration time.Duration
	channels int
	problem  string // the transcript error this audio causes; "" if fine
}

// inspect sniffs head (the first bytes of a file of size bytes) and works out
// the type and duration: exact for WAV and FLAC, from the first frame's
// bitrate for MP3, and at an assumed 128 kbit/s for other audio and video.
func inspect(head []byte, size int64) *media {
	m := &media{size: size, channels: 1}
	mt := mimetype.Detect(head)
	m.mime, _, _ = strings.Cut(mt.String(), ";")
	m.desc = describe(m.mime, mt.Extension())
	if !isAudioMIME(m.mime) {
		m.problem = "Transcoding failed. File does not appear to contain audio. File type is " + m.mime + " (" + m.desc + ")."
		return m
	}
	var ok bool
	switch {
	case bytes.HasPrefix(head, []byte("RIFF")) && len(head) >= 12 && string(head[8:12]) == "WAVE":
		ok = wavDuration(head, size, m)
	case bytes.HasPrefix(head, []byte("fLaC")):
		ok = flacDuration(head, m)
	case m.mime == "audio/mpeg":
		ok = mp3Duration(head, size, m)
	}
	if !ok {
		m.duration = time.Duration(float64(size) * 8 / 128000 * float64(time.Second))
	}
	if m.duration < minDuration {
		m.problem = msgTooShort
	}
	return m
}

func isAudioMIME(mime string) bool {
	return strings.HasPrefix(mime, "audio/") || strings.HasPrefix(mime, "video/") ||
		mime == "application/ogg"
}

// describe imitates the file(1) description the API puts in brackets.
func describe(mime, ext string) string {
	switch mime {
	case "text/plain":
		return "ASCII text"
	case "application/json":
		return "JSON data"
	case "text/html":
		return "HTML document, ASCII text"
	case "application/octet-stream":
		return "data"
	case "application/pdf":
		return "PDF document"
	case "application/zip":
		return "Zip archive data"
	case "image/png":
		return "PNG image data"
	case "image/jpeg":
		return "JPEG image data"
	}
	if ext != "" {
		return strings.ToUpper(strings.TrimPrefix(ext, ".")) + " data"
	}
	return "data"
}

// wavDuration reads the fmt and data chunks of a RIFF/WAVE header.
func wavDuration(head []byte, size int64, m *media) bool {
	var byteRate uint32
	for off := 12; off+8 <= len(head); {
		id := string(head[off : off+4])
		n := int64(binary.LittleEndian.Uint32(head[off+4 : off+8]))
		body := off + 8
		switch id {
		case "fmt ":
			if body+16 > len(head) {
				return false
			}
			m.channels = int(binary.LittleEndian.Uint16(head[body+2:]))
			byteRate = binary.LittleEndian.Uint32(head[body+8:])
		case "data":
			if byteRate == 0 {
				return false
			}
			if rest := size - int64(body); n > rest || n == 0xFFFFFFFF {
				n = rest
			}
			m.duration = time.Duration(float64(n) / float64(byteRate) * float64(time.Second))
			return true
		}
		off = body + int(n) + int(n&1)
		if off < 0 {
			return false
		}
	}
	return false
}

// flacDuration reads STREAMINFO, the first metadata block.
func flacDuration(head []byte, m *media) bool {
	if len(head) < 8+34 || head[4]&0x7f != 0 {
		return false
	}
	si := head[8:]
	rate := uint64(si[10])<<12 | uint64(si[11])<<4 | uint64(si[12])>>4
	m.channels = int(si[12]>>1&0x7) + 1
	total := uint64(si[13]&0x0f)<<32 | uint64(binary.BigEndian.Uint32(si[14:18]))
	if rate == 0 || total == 0 {
		return false
	}
	m.duration = time.Duration(float64(total) / float64(rate) * float64(time.Second))
	return true
}

var mp3Bitrates = [2][16]int{
	{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0}, // MPEG-1 layer III
	{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0},     // MPEG-2/2.5 layer III
}

// mp3Duration skips an ID3v2 tag and estimates from the first frame's
// bitrate (exact for constant-bitrate files).
func mp3Duration(head []byte, size int64, m *media) bool {
	start := 0
	if len(head) >= 10 && string(head[:3]) == "ID3" {
		start = 10 + int(head[6]&0x7f)<<21 | int(head[7]&0x7f)<<14 | int(head[8]&0x7f)<<7 | int(head[9]&0x7f)
	}
	for i := start; i+4 <= len(head); i++ {
		if head[i] != 0xFF || head[i+1]&0xE0 != 0xE0 {
			continue
		}
		version := head[i+1] >> 3 & 0x3 // 3 = MPEG-1
		layer := head[i+1] >> 1 & 0x3   // 1 = layer III
		if version == 1 || layer != 1 {
			continue
		}
		table := 1
		if version == 3 {
			table = 0
		}
		kbps := mp3Bitrates[table][head[i+2]>>4]
		if kbps == 0 {
			continue
		}
		m.channels = 2
		if head[i+3]>>6 == 3 {
			m.channels = 1
		}
		m.duration = time.Duration(float64(size-int64(i)) * 8 / float64(kbps*1000) * float64(time.Second))
		return true
	}
	return false
}
