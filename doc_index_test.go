package localtasks_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The package doc's index of common tasks names runnable examples: each
// exists, in an example_*_test.go file, with an // Output: line, so that
// go test runs it and checks what it prints.
func TestDocIndexNamesRunnableExamples(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	_, index, ok := strings.Cut(string(doc), "// # Common tasks\n")
	require.True(t, ok, "doc.go has no Common tasks section")
	index, _, _ = strings.Cut(index, "// # ")
	names := regexp.MustCompile(`\bExample\w*`).FindAllString(index, -1)
	require.GreaterOrEqual(t, len(names), 7, "the index names an example for each common task")

	files, err := filepath.Glob("example_*_test.go")
	require.NoError(t, err)
	bodies := map[string]string{} // example name -> its body
	for _, f := range files {
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, part := range strings.Split(string(src), "\nfunc ")[1:] {
			name, _, _ := strings.Cut(part, "(")
			bodies[name] = part
		}
	}
	for _, name := range names {
		body, ok := bodies[name]
		require.True(t, ok, "doc.go names %s, which no example_*_test.go defines", name)
		require.Contains(t, body, "// Output:", "%s has no // Output: line: go test would compile it but not run it", name)
	}
}
