//go:build race

package testkit

// RaceEnabled says the program runs with the race detector.
const RaceEnabled = true
