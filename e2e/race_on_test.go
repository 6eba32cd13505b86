//go:build race

package e2e

// raceEnabled says the test runs with -race: the web app is built with it
// too, so that a data race in it fails the test by its exit status.
const raceEnabled = true
