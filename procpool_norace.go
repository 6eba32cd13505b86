//go:build !race

package localtasks

// raceBuild: the program was built with -race, and so are its workers.
const raceBuild = false
