// Package transcribe turns one audio file or URL into an AssemblyAI transcript,
// stage by stage (upload → create → wait), with the retry policy of package
// resilience applied per stage and every step recorded in a Checkpoint.
//
// It is the layer where the typed client (package assemblyai) meets the policy
// layer (package resilience); it needs no database. The durable batch pipeline
// drives the same stages one Step at a time and stores the Checkpoints.
//
// # Stages and the promises they keep
//
// Upload retries 5xx, 429, 422 and dropped connections, replaying the file
// from its first byte on every attempt; a saved upload_url is reused (until it
// is older than Config.UploadMaxAge) so a file is not uploaded twice.
//
// Create saves an intent before POST /v2/transcript. A failure whose outcome is
// unknown (a connection dropped after the request was sent, a 5xx) is never
// blindly retried: the list endpoint is searched for a transcript of our
// upload_url created after the intent, and that transcript is adopted. Only
// when none exists is the POST sent again.
//
// Wait polls with a schedule that starts near the expected completion time and
// grows with jitter; a failed GET retries the GET only. A transcript that ends
// in status "error" with a transient message is resubmitted with the same
// upload_url (bounded by Config.MaxResubmits); a permanent message ends the
// file with a *StageError carrying the message verbatim.
package transcribe
