package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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

// batchCommand runs `durascribe transcribe` on the corpus against baseURL.
func batchCommand(ctx context.Context, o runOptions, baseURL, corpus, work string) *exec.Cmd {
	return exec.CommandContext(ctx, o.Durascribe, "transcribe",
		"--db", filepath.Join(work, "durascribe.db"),
		"--out", filepath.Join(work, "out"),
		"--base-url", baseURL,
		"--time-scale", strconv.FormatFloat(o.TimeScale, 'g', -1, 64),
		"--concurrency", strconv.Itoa(o.Concurrency),
		corpus)
}

// batchOutcomes reads what durascribe-batch did to each file.
func batchOutcomes(ctx context.Context, work, corpus string) ([]fileOutcome, error) {
	return nil, errNoBatch
}
