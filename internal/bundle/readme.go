package bundle

import (
	"bytes"
	"fmt"
	"strings"
	"time"
)

// SupportEmail is where AssemblyAI asks persistent failures to be reported.
const SupportEmail = "support@assemblyai.com"

// utc formats t as RFC 3339 UTC to the millisecond.
func utc(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// lastError is the error to quote to support: the last failed attempt,
// else the recorded reason or last error (time unknown).
func (e *fileEntry) lastError() (msg string, at time.Time) {
	if n := len(e.Errors); n > 0 {
		return e.Errors[n-1].Message, e.Errors[n-1].Time
	}
	return firstNonEmpty(e.LastError, e.Reason), time.Time{}
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func readme(in Input, entries []fileEntry) []byte {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("durascribe support bundle\n")
	p("Created %s by durascribe %s on %s\n\n", in.Created.Format(time.RFC3339), in.Version, in.OS)
	p("WHAT TO SEND TO ASSEMBLYAI SUPPORT (%s)\n\n", SupportEmail)
	p("For each file below, send:\n")
	p("  1. the transcript id (if the file got one),\n")
	p("  2. the exact error message, copied as is,\n")
	p("  3. the UTC timestamp at which it happened,\n")
	p("  4. the audio sample named below (attach it).\n")
	p("You may attach this whole zip instead: it holds no API key, and credential\n")
	p("fields were removed from the parameters.\n")
	for i, e := range entries {
		msg, at := e.lastError()
		p("\n%d. %s\n", i+1, e.Source)
		state := e.State
		if e.Stage != "" {
			state += " at stage " + e.Stage
		}
		p("   State:          %s\n", state)
		ids := "none (no transcript was created)"
		if len(e.TranscriptIDs) > 0 {
			ids = strings.Join(e.TranscriptIDs, ", ")
		}
		p("   Transcript id:  %s\n", ids)
		p("   Error:          %s\n", oneLine(msg))
		p("   Time (UTC):     %s\n", utc(at))
		if e.Sample != "" {
			p("   Audio sample:   %s\n", e.Sample)
		} else {
			p("   Audio sample:   none\n")
		}
		p("                   %s\n", e.SampleNote)
		p("   Details:        %ssummary.txt\n", e.Dir)
	}
	p("\nCONTENTS\n\n")
	p("  README.txt                   this file\n")
	p("  system.json                  durascribe version, OS, Go version\n")
	p("  files/NNN-name/summary.txt   state, transcript ids, every error with its UTC time\n")
	p("  files/NNN-name/errors.json   the same errors as JSON\n")
	p("  files/NNN-name/attempts.json the attempts log of the file (every API call)\n")
	p("  files/NNN-name/preflight.json  the pre-flight report, when one was made\n")
	p("  files/NNN-name/params.json   the transcript parameters sent, credentials removed\n")
	p("  files/NNN-name/sample.*      the audio sample, when one could be made\n")
	return b.Bytes()
}

func summary(e *fileEntry) []byte {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("Source:          %s\n", e.Source)
	p("File id:         %d\n", e.ID)
	p("State:           %s\n", e.State)
	if e.Stage != "" {
		p("Stage:           %s\n", e.Stage)
	}
	if e.Reason != "" {
		p("Reason:          %s\n", oneLine(e.Reason))
	}
	if e.LastError != "" {
		p("Last error:      %s\n", oneLine(e.LastError))
	}
	p("Transcript ids:  %s\n", firstNonEmpty(strings.Join(e.TranscriptIDs, ", "), "none"))
	p("Attempts:        %d (%d failed)\n", len(e.Attempts), len(e.Errors))
	if e.Sample != "" {
		p("Audio sample:    %s\n", e.Sample[strings.LastIndexByte(e.Sample, '/')+1:])
	}
	p("Sample note:     %s\n", e.SampleNote)
	if len(e.Errors) > 0 {
		p("\nErrors (UTC):\n")
		for _, er := range e.Errors {
			code := ""
			if er.StatusCode > 0 {
				code = fmt.Sprintf(" HTTP %d", er.StatusCode)
			}
			p("  %s  %s %s attempt %d%s %s", utc(er.Time), er.Stage, er.Endpoint, er.Attempt, code, er.Class)
			if er.TranscriptID != "" {
				p(" transcript %s", er.TranscriptID)
			}
			p("\n    %s\n", oneLine(er.Message))
		}
	}
	return b.Bytes()
}

// oneLine keeps a message on one line without altering its text otherwise.
func oneLine(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r", `\r`), "\n", `\n`)
}
