// Package emulator is a local AssemblyAI v2 async API with declarative, seeded
// fault injection, for tests, benchmarks and demos. It implements the wire
// contract on its own (it does not import durascribe's client) so that tests
// run against it catch drift; it is not a transcription engine.
//
// # Serving
//
// [New] returns a [*Server], an [http.Handler] that serves the /v2 routes at
// the root (the official Go SDK discards base-path prefixes), GET
// /emulator/stats (ground truth as JSON, see [Stats]) and GET /metrics
// (Prometheus, on the server's own registry). Package emulatortest starts one
// on a loopback port for a test, like httptest.
//
// # Routes and names
//
// Requests, statistics and fault plans name routes as follows:
//
//	upload       POST   /v2/upload
//	create       POST   /v2/transcript
//	list         GET    /v2/transcript
//	get          GET    /v2/transcript/{id}
//	delete       DELETE /v2/transcript/{id}
//	sentences    GET    /v2/transcript/{id}/sentences
//	paragraphs   GET    /v2/transcript/{id}/paragraphs
//	subtitles    GET    /v2/transcript/{id}/srt and /vtt
//	word_search  GET    /v2/transcript/{id}/word-search
//	redacted     GET    /v2/transcript/{id}/redacted-audio
//
// # Uploads and audio
//
// Uploads are streamed to Config.DataDir while their SHA-256 is computed; only
// the first 64 KiB are kept in memory to sniff the type with mimetype and to
// read the duration: exact for WAV (header) and FLAC (STREAMINFO), estimated
// from the first frame's bitrate for MP3, and estimated at 128 kbit/s for other
// audio and video types. Non-audio ends the transcript with the real
// "Transcoding failed ..." message and audio under 160 ms with "Audio duration
// is too short.". Upload URLs look like http://<host>/cdn/upload/<uuid>; the
// emulator recognises its own uploads by that path whatever the host. Other
// audio_url values are fetched only over loopback; anything else ends with the
// real "Download error ..." message.
//
// # Processing
//
// A transcript is queued, then processing, then completed or error, on the
// (scaled) clock: processing takes ProcessingBase + ProcessingFactor x audio
// duration, +/- ProcessingJitter. At most Concurrency transcripts process at
// once; the rest wait FIFO with throttled: true. State is advanced lazily on
// every request and by one background goroutine (for webhooks), so an
// injected Clock is honoured exactly.
//
// Text comes from a sidecar (Config.Sidecars, Config.SidecarDir) when the
// uploaded bytes match one, and is otherwise a deterministic synthetic text
// that starts with "[simulated]", with words, confidences and timings spread
// over the real duration (and speakers when speaker_labels is set).
//
// # Faults
//
// A [Scenario] declares per-route faults (status codes with JSON, HTML or
// empty bodies, 429 with Retry-After, latency, resets, truncated bodies,
// malformed JSON, and "act, then drop"), transcript outcomes (transient and
// permanent error messages), outage windows and limits. Draws are keyed on
// (seed, route, request number), so the same seed and the same per-route
// request order give the same faults whatever the interleaving. Named
// scenarios: clean, flaky, outage, throttled, hostile; see [LookupScenario].
//
// # Time scale
//
// Config.TimeScale multiplies every duration: processing, start delays,
// outage windows, latency, webhook retry spacing and Retry-After values.
// Retry-After is integer seconds on the wire, so a scaled value is rounded up
// to at least 1 s; the exact scaled delay is also sent in the non-standard
// header X-Emulator-Retry-After-Ms.
package emulator
