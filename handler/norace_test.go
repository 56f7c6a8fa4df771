//go:build !race

package handler_test

// raceEnabled says the tests run under the race detector, which makes the
// largest sweeps several times slower.
const raceEnabled = false
