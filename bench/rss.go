package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// rssEvery is the period of the peak-RSS sampler.
const rssEvery = 10 * time.Millisecond

// watchPeakRSS returns the child's peak RSS in bytes (VmHWM in
// /proc/PID/status), read every rssEvery until ctx is done; 0 if it could
// never be read.
//
// The child's rusage (ru_maxrss from wait4) is not usable: Go starts
// children with clone(CLONE_VM|CLONE_VFORK), so until its exec the child
// shares the parent's address space, and Linux records that space's
// high-water mark into the child's maxrss at exec. The child would then
// report at least the bench's own peak, emulator included. VmHWM belongs to
// the child's own address space after exec and is monotonic, so the last
// value read before exit is its peak to within rssEvery.
func watchPeakRSS(ctx context.Context, pid int) int64 {
	var peak int64
	t := time.NewTicker(rssEvery)
	defer t.Stop()
	for {
		if v, err := vmHWM(pid); err == nil && v > peak {
			peak = v
		}
		select {
		case <-ctx.Done():
			return peak
		case <-t.C:
		}
	}
}

// vmHWM reads the VmHWM line of /proc/PID/status, in bytes.
func vmHWM(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close() //nolint:errcheck // opened read-only
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmHWM: %w", err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}
