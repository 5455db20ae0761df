// Package assemblyai is a typed client of the AssemblyAI v2 async REST API
// (upload, transcripts, list, exports) and the one classifier of its errors.
// It makes single attempts and never retries or sleeps: package transcribe
// combines it with package resilience for that.
//
// # Errors and classification
//
// Every method returns one of four kinds of error, each usable with errors.As:
// *APIError (a non-2xx response, with status, verbatim message and parsed
// Retry-After), *TransportError (no response; Sent tells whether the request
// was fully written), *ResponseError (a 2xx whose body could not be read or
// decoded), or a wrapped sentinel such as ErrEmptyID for a bad argument,
// detected before any request.
//
// Classify maps any of them to a Class: Retryable, Throttled, Ambiguous,
// Permanent or Canceled. Ambiguous only happens on POST /v2/transcript, which
// has no idempotency key: the transcript may have been created, so the caller
// reconciles through ListTranscripts instead of sending the POST again.
// ClassifyTranscriptError does the same for the error message of a transcript
// that ended with status "error", and IsAccountError picks out the failures
// (401, negative balance) that should stop a whole batch.
//
// # Uploads
//
// Upload streams from an io.ReaderAt through a fresh io.SectionReader per
// attempt, with an explicit Content-Length, so a 2.2 GB file is never held in
// memory and a retry never races a previous attempt's reader. It has a stall
// timeout (Config.UploadStallTimeout) instead of a total one.
//
// # Secrets
//
// The API key is an APIKey, which prints, logs and marshals as "[redacted]".
// It is sent only in the Authorization header, never to a host other than the
// base URL, and is scrubbed from error messages that echo it.
package assemblyai
