// Package preflight checks audio files before they are uploaded to AssemblyAI:
// exists, readable, size and format limits, an audio stream that decodes to the
// end, duration and silence. It never uploads; its only network use is an
// optional HEAD (or ranged GET) for URL sources.
//
// # Engines
//
// When ffmpeg is on PATH (or named in [Config]) the default engine,
// [EngineAuto], decodes WAV, MP3, FLAC, Ogg Vorbis and Ogg Opus in pure Go and
// hands every other format to ffmpeg, and also every file in which Go finds a
// problem, so that ffmpeg has the last word on any rejection or warning.
// [EngineFFmpeg] sends every file to ffmpeg: one decoding pass with the
// volumedetect filter, whose own output describes the stream (codec, rate,
// channels, duration), so one process per file and no ffprobe. [Checker.CheckAll]
// shares one ffmpeg process between many files. Without ffmpeg the pure-Go
// engine sniffs the content, decodes the formats above, and reads container
// metadata of MP4/M4A/MOV and WebM/MKV. Formats the Go engine cannot decode
// get a not_verified warning, never a silent pass.
//
// # Large files
//
// Slow pure-Go decoders (MP3, FLAC, Opus, Vorbis) decode sample windows spread
// over a long file plus its end, so that a truncated tail is still caught. A
// file whose windows are all silent is decoded in full before it is called
// silent, so a long silent intro does not reject a good recording.
//
// # Verdicts
//
// Every problem is a [Reason] with a stable [Code], a severity and a sentence
// saying what to do. A [Report] is rejected when any reason is, and
// [Report.Err] turns a rejection into a *[RejectError] for callers that must
// fail the file before uploading it.
package preflight
