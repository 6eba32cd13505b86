//go:build race

package main

// raceEnabled says the test runs with -race: the binary is built with it
// too, so that a data race in any of its processes fails the test by its
// exit status.
const raceEnabled = true
