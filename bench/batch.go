package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// buildDurascribe builds the durascribe binary into dir.
func buildDurascribe(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "durascribe")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/durascribe/durascribe/cmd/durascribe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build durascribe: %w: %s", err, out)
	}
	return bin, nil
}

// batchCommand runs `durascribe transcribe` on the corpus against baseURL,
// telling it the expected processing time m in API time (the command scales
// it by --time-scale, like every other duration), with completion webhooks
// to a loopback port when webhook is set.
func batchCommand(ctx context.Context, o runOptions, m expectModel, baseURL, corpus, work string, webhook bool) *exec.Cmd {
	args := []string{"transcribe",
		"--db", filepath.Join(work, "durascribe.db"),
		"--out", filepath.Join(work, "out"),
		"--base-url", baseURL,
		"--time-scale", strconv.FormatFloat(o.TimeScale, 'g', -1, 64),
		"--concurrency", strconv.Itoa(o.Concurrency),
		"--upload-concurrency", strconv.Itoa(o.Concurrency),
		"--expect-processing-base", m.Base.String(),
		"--expect-processing-factor", strconv.FormatFloat(m.Factor, 'g', -1, 64)}
	if webhook {
		args = append(args, "--webhook-listen", "127.0.0.1:0")
	}
	args = append(append(args, o.BatchFlags...), corpus)
	return exec.CommandContext(ctx, o.Durascribe, args...)
}

// batchStatus is the part of `durascribe status --json` the bench reads.
type batchStatus struct {
	Counts []struct {
		State string `json:"state"`
		N     int    `json:"n"`
	} `json:"counts"`
	Failures []struct {
		Source string `json:"source"`
		Reason string `json:"reason"`
	} `json:"failures"`
}

// batchOutcomes reads what durascribe-batch did to each file from its job
// store, through `durascribe status --json`. A failed file counts as
// transient-only when the pipeline gave up after its retry period
// ("gave up after ..."); every other failure is one durascribe judged
// permanent. Files still pending or working count as unfinished.
func batchOutcomes(ctx context.Context, bin, work string) ([]fileOutcome, error) {
	cmd := exec.CommandContext(ctx, bin, "status", "--json", "--db", filepath.Join(work, "durascribe.db"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("durascribe status: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var st batchStatus
	if err := json.Unmarshal(out, &st); err != nil {
		return nil, fmt.Errorf("decode durascribe status: %w", err)
	}
	var res []fileOutcome
	for _, c := range st.Counts {
		switch c.State {
		case "done":
			for range c.N {
				res = append(res, fileOutcome{OK: true})
			}
		case "failed":
		default:
			for range c.N {
				res = append(res, fileOutcome{Unfinished: true, Error: "still " + c.State})
			}
		}
	}
	for _, f := range st.Failures {
		res = append(res, fileOutcome{Name: filepath.Base(f.Source), Error: f.Reason,
			TransientOnly: strings.HasPrefix(f.Reason, "gave up after")})
	}
	return res, nil
}
