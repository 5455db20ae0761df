package resilience

import (
	"container/heap"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// A port of Brooker's 2015 backoff simulator (aws-samples/aws-arch-backoff-
// simulator, src/backoff_simulator.py) to virtual time: N clients each update
// one OCC row exactly once. A client reads the version, then writes it back
// conditionally; a write succeeds only if no write happened since the read.
// After a failed write a client waits net.delay() + backoff(attempt) and
// reads again. Every message takes |N(10 ms, 2 ms)|. The server counts write
// attempts ("calls"); completion is the time of the last event. Nothing sleeps.
//
// Brooker's expo(n) = min(cap, base·2^n) with n = 1 for the first retry, so
// his "base 5 ms" first retry has ceiling 10 ms. Our Backoff counts retries
// from 0, so Backoff{Base: 10ms} reproduces his schedule exactly; the
// "full-jitter-5ms" row is our Backoff with Base 5ms literally.

var occTable = flag.Bool("occ.table", false, "print the full Brooker table (10…190 clients)")

type occResult struct {
	calls  int
	timeMs float64
}

// occBackoff returns a per-client backoff: ms to wait after failed attempt n
// (1-based, as in Brooker's simulator).
type occBackoff func(rnd *rand.Rand) func(n int) float64

func ourBackoff(b Backoff, jitter bool) occBackoff {
	return func(rnd *rand.Rand) func(n int) float64 {
		r := rnd.Float64
		if !jitter {
			r = func() float64 { return 1 } // U(0, c) at its top: the ceiling itself
		}
		return func(n int) float64 {
			return float64(b.Delay(n-1, r)) / float64(time.Millisecond)
		}
	}
}

var (
	brookerBase = 5.0
	brookerCap  = 2000.0
	occAlgos    = []struct {
		name string
		f    occBackoff
	}{
		{"none", func(*rand.Rand) func(int) float64 { return func(int) float64 { return 0 } }},
		{"exponential", ourBackoff(Backoff{Base: 10 * time.Millisecond, Cap: 2 * time.Second}, false)},
		{"equal-jitter", func(rnd *rand.Rand) func(int) float64 {
			return func(n int) float64 {
				v := math.Min(brookerCap, brookerBase*math.Pow(2, float64(n)))
				return v/2 + rnd.Float64()*v/2
			}
		}},
		{"full-jitter", ourBackoff(Backoff{Base: 10 * time.Millisecond, Cap: 2 * time.Second}, true)},
		{"full-jitter-5ms", ourBackoff(Backoff{Base: 5 * time.Millisecond, Cap: 2 * time.Second}, true)},
		{"decorrelated", func(rnd *rand.Rand) func(int) float64 {
			sleep := brookerBase
			return func(int) float64 {
				sleep = math.Min(brookerCap, brookerBase+rnd.Float64()*(sleep*3-brookerBase))
				return sleep
			}
		}},
	}
)

type occKind uint8

const (
	occRead     occKind = iota // read request reaches the server
	occReadRsp                 // read response reaches the client
	occWrite                   // write request reaches the server
	occWriteRsp                // write response reaches the client
)

type occEvent struct {
	t       float64 // ms
	seq     uint64
	kind    occKind
	client  int
	payload int // version read, or 1 for a successful write
}

type occQueue []occEvent

func (q occQueue) Len() int { return len(q) }
func (q occQueue) Less(i, j int) bool {
	if q[i].t != q[j].t {
		return q[i].t < q[j].t
	}
	return q[i].seq < q[j].seq
}
func (q occQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *occQueue) Push(x any)   { *q = append(*q, x.(occEvent)) }
func (q *occQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// runOCC runs one simulation of clients contending clients.
func runOCC(clients int, algo occBackoff, rnd *rand.Rand) occResult {
	delay := func() float64 { return math.Abs(10 + 2*rnd.NormFloat64()) }
	var q occQueue
	var seq uint64
	push := func(t float64, kind occKind, client, payload int) {
		seq++
		heap.Push(&q, occEvent{t: t, seq: seq, kind: kind, client: client, payload: payload})
	}
	backoffs := make([]func(int) float64, clients)
	attempts := make([]int, clients)
	for c := range clients {
		backoffs[c] = algo(rnd)
		push(delay(), occRead, c, 0)
	}
	version, calls, now := 0, 0, 0.0
	for q.Len() > 0 {
		e := heap.Pop(&q).(occEvent)
		now = e.t
		switch e.kind {
		case occRead:
			push(now+delay(), occReadRsp, e.client, version)
		case occReadRsp:
			push(now+delay(), occWrite, e.client, e.payload)
		case occWrite:
			calls++
			ok := 0
			if e.payload == version {
				version++
				ok = 1
			}
			push(now+delay(), occWriteRsp, e.client, ok)
		case occWriteRsp:
			if e.payload == 0 {
				attempts[e.client]++
				push(now+delay()+backoffs[e.client](attempts[e.client]), occRead, e.client, 0)
			}
		}
	}
	return occResult{calls: calls, timeMs: now}
}

// meanOCC averages runs simulations, seeded deterministically.
func meanOCC(clients, runs int, algo occBackoff, seed uint64) (calls, timeMs float64) {
	rnd := rand.New(rand.NewPCG(seed, uint64(clients)))
	for range runs {
		r := runOCC(clients, algo, rnd)
		calls += float64(r.calls)
		timeMs += r.timeMs
	}
	return calls / float64(runs), timeMs / float64(runs)
}

func occAlgo(t testing.TB, name string) occBackoff {
	for _, a := range occAlgos {
		if a.name == name {
			return a.f
		}
	}
	t.Fatalf("no algorithm %q", name)
	return nil
}

// TestBrookerOCC checks the §6 goal at 100 clients and that the simulator
// reproduces our re-run of Brooker's code (reference §3.4: full jitter
// 796 calls / 4 880 ms, no-jitter exponential 1 853 / 62 954 ms).
func TestBrookerOCC(t *testing.T) {
	t.Parallel()
	const clients, runs = 100, 100
	// Completion time is a maximum over clients and noisy (σ ≈ 70 ms for a
	// mean of 100 runs), so full jitter is averaged over 5 seeds × 100 runs.
	var fullCalls, fullMs float64
	for seed := range uint64(5) {
		c, ms := meanOCC(clients, runs, occAlgo(t, "full-jitter"), seed+1)
		fullCalls, fullMs = fullCalls+c/5, fullMs+ms/5
	}
	expoCalls, expoMs := meanOCC(clients, runs, occAlgo(t, "exponential"), 1)
	t.Logf("full jitter: %.0f calls, %.0f ms; exponential: %.0f calls, %.0f ms", fullCalls, fullMs, expoCalls, expoMs)

	if fullCalls > 800 || fullMs > 5000 {
		t.Errorf("full jitter = %.0f calls / %.0f ms, want ≤ 800 / ≤ 5000", fullCalls, fullMs)
	}
	within := func(name string, got, want, tol float64) {
		if math.Abs(got-want) > tol*want {
			t.Errorf("%s = %.0f, want %.0f ± %.0f%% (reference re-run)", name, got, want, tol*100)
		}
	}
	within("full-jitter calls", fullCalls, 796, 0.05)
	within("full-jitter ms", fullMs, 4880, 0.05)
	within("exponential calls", expoCalls, 1853, 0.05)
	within("exponential ms", expoMs, 62954, 0.05)
	if expoMs < 10*fullMs {
		t.Errorf("exponential takes %.1f× full jitter's time, want ≥ 10×", expoMs/fullMs)
	}
}

// TestBrookerOCCTable prints the whole table of reference §3.4 with
// -occ.table (about a minute on one core).
func TestBrookerOCCTable(t *testing.T) {
	if !*occTable {
		t.Skip("run with -occ.table")
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n| clients |")
	for _, a := range occAlgos {
		fmt.Fprintf(&sb, " %s |", a.name)
	}
	for _, n := range []int{10, 20, 50, 100, 150, 190} {
		fmt.Fprintf(&sb, "\n| %d |", n)
		for _, a := range occAlgos {
			c, ms := meanOCC(n, 100, a.f, 1)
			fmt.Fprintf(&sb, " %.0f / %.0f |", c, ms)
		}
	}
	t.Log(sb.String())
}

// BenchmarkBrookerOCC runs one 100-client simulation per op and reports the
// mean write calls and virtual completion seconds per algorithm. Use
// -benchtime 100x for Brooker's 100-run averages:
//
//	go test -run '^$' -bench BrookerOCC -benchtime 100x ./resilience
func BenchmarkBrookerOCC(b *testing.B) {
	for _, a := range occAlgos {
		b.Run(a.name, func(b *testing.B) {
			rnd := rand.New(rand.NewPCG(1, 100))
			var calls, ms float64
			n := 0
			for b.Loop() {
				r := runOCC(100, a.f, rnd)
				calls += float64(r.calls)
				ms += r.timeMs
				n++
			}
			b.ReportMetric(calls/float64(n), "calls")
			b.ReportMetric(ms/float64(n)/1000, "virtual_seconds")
		})
	}
}
