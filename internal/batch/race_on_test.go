//go:build race

package batch_test

// raceEnabled shrinks the big end-to-end tests under -race, which is 10-20x
// slower on 2 cores; the full sizes run without it.
const raceEnabled = true
