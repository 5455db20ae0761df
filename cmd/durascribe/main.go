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
	// The first SIGINT/SIGTERM cancels ctx (graceful stop); cli.Main installs
	// its own handler for the second one (hard stop).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
