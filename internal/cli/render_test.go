package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestProgressViewTerminal(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	v := &progressView{w: &b, terminal: true}
	v.show(&task{Status: "RUNNING"})
	v.show(&task{Status: "RUNNING"}) // unchanged: not drawn again
	v.show(&task{Status: "RUNNING", Progress: &progress{Done: 3, Total: 10, Message: "page\t3"}})
	v.show(&task{Status: "RUNNING", Progress: &progress{Done: 4, Total: 10}})
	code := v.finish(&task{ID: "id1", Task: "t", Status: "SUCCESSFUL", Value: json.RawMessage(`42`),
		Progress: &progress{Done: 10, Total: 10}})
	require.Equal(t, ExitOK, code)

	bar3 := "[" + strings.Repeat("#", 9) + strings.Repeat(".", 21) + "]  30%  3/10"
	bar4 := "[" + strings.Repeat("#", 12) + strings.Repeat(".", 18) + "]  40%  4/10"
	bar10 := "[" + strings.Repeat("#", 30) + "] 100%  10/10"
	want := "\rRUNNING" +
		"\rRUNNING  " + bar3 + "  page 3" + // the tab became a space
		"\rRUNNING  " + bar4 + strings.Repeat(" ", len("  page 3")) + // spaces over the old end
		"\rSUCCESSFUL  " + bar10 + "\n" +
		"Run id1 of t ended SUCCESSFUL.\nValue: 42\n"
	require.Equal(t, want, b.String())
}

func TestProgressViewLines(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	v := &progressView{w: &b}
	v.show(&task{Status: "READY"})
	v.show(&task{Status: "RUNNING", Attempts: 2, Progress: &progress{Done: 5, Message: "rows"}})
	code := v.finish(&task{ID: "id2", Task: "t", Status: "CANCELLED", Attempts: 2, CancelReason: "by hand"})
	v.end()
	require.Equal(t, ExitRunFailed, code)
	require.Equal(t, "READY\nRUNNING (attempt 2)  5 done  rows\nCANCELLED\nRun id2 of t ended CANCELLED.\nReason: by hand\n", b.String())
}

func TestProgressViewCutsLongLines(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	v := &progressView{w: &b, terminal: true}
	v.show(&task{Status: "RUNNING", Progress: &progress{Done: 1, Total: 2, Message: strings.Repeat("x", 200)}})
	require.Len(t, []rune(strings.TrimPrefix(b.String(), "\r")), lineMax)
}

func TestJSONValue(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`42`:       `42`,
		`-2.5`:     `-2.5`,
		`true`:     `true`,
		`"quoted"`: `"quoted"`,
		`acme`:     `"acme"`,
		`007`:      `"007"`, // not JSON: a string
		``:         `""`,
		`a "b"`:    `"a \"b\""`,
	} {
		require.Equal(t, want, string(jsonValue(in)), "value %q", in)
	}
}

func TestStrikeText(t *testing.T) {
	t.Parallel()
	require.Equal(t, "t", strikeText(strike{Task: "t"}))
	require.Equal(t, `t where Shop == "acme"`, strikeText(strike{Task: "t", Field: "Shop", Op: "==", Value: json.RawMessage(`"acme"`)}))
	require.Equal(t, `t where N between 1 and 5`, strikeText(strike{Task: "t", Field: "N", Op: "between", Value: json.RawMessage(`1`), Upper: json.RawMessage(`5`)}))
}

func TestAPIErrorMessages(t *testing.T) {
	t.Parallel()
	require.Equal(t, "actions are disabled on this dashboard: the application must set dashboard.Config{Actions: true}",
		(&apiError{Status: http.StatusForbidden, Code: codeActionsDisabled, Message: "theirs"}).Error())
	require.Equal(t, "no run", (&apiError{Status: http.StatusNotFound, Code: "not_found", Message: "no run"}).Error())
	require.Contains(t, (&apiError{Status: http.StatusForbidden, Code: codeCrossOrigin, Message: "refused"}).Error(),
		"refused the request as cross-origin (refused): send it to the dashboard directly")
}

func TestParseInterspersed(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	u := fs.String("url", "", "")
	j := fs.Bool("json", false, "")
	pos, err := parseInterspersed(fs, []string{"a", "--url", "U", "b", "-json", "--", "--url", "c"})
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "--url", "c"}, pos)
	require.Equal(t, "U", *u)
	require.True(t, *j)
}

func TestCheckBaseURL(t *testing.T) {
	t.Parallel()
	got, err := checkBaseURL("http://127.0.0.1:8080/tasks/")
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:8080/tasks", got)
	for _, bad := range []string{"", "127.0.0.1:8080", "ftp://h/x", "http:///x", "http://h/x?a=1", "http://h/x#f"} {
		_, err := checkBaseURL(bad)
		require.Error(t, err, "url %q", bad)
	}
}

func TestFormatBytes(t *testing.T) {
	t.Parallel()
	require.Equal(t, "-", formatBytes(0))
	require.Equal(t, "512 B", formatBytes(512))
	require.Equal(t, "1.5 KiB", formatBytes(1536))
	require.Equal(t, "12.0 MiB", formatBytes(12<<20))
}
