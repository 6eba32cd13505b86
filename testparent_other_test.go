//go:build !linux

package localtasks_test

const testParentEnv = "LOCALTASKS_TEST_PARENT"

func runTestParent() { panic("the parent-death test runs on Linux only") }
