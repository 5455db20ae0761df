// Command durascribe transcribes audio through the AssemblyAI async API and
// survives whatever the API and the network do in between.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/durascribe/durascribe/internal/cli"
)

func main() {
	// The first SIGINT/SIGTERM cancels ctx: a graceful stop with state saved.
	// Then the handler is removed, so a second one kills the process at once
	// (a hard stop, safe because every step's progress is already durable).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
