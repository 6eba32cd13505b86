//go:build !race

package main

// raceEnabled says the test runs with -race; see race_on_test.go.
const raceEnabled = false
