package dashboard_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/dashboard"
)

// FuzzDecodeStrike checks the decoder of the strike routes' body: it never
// panics, refuses with 400 what it refuses, and what it accepts names a task
// or a field (a strike on every task with it) and decodes again, the same,
// from its own encoding.
func FuzzDecodeStrike(f *testing.F) {
	for _, seed := range []string{
		`{"task": "dashboard_test.echo"}`,
		`{"backend": "io", "task": "dashboard_test.echo", "field": "N", "op": ">=", "value": 2.0}`,
		`{"task": "t", "field": "At", "op": "between", "value": "2030-01-01T00:00:00Z", "upper": "2031-01-01T00:00:00Z"}`,
		`{"task": "t", "field": "Shop", "op": "==", "value": {"a": [1, true, null]}}`,
		`{"task": "t", "reason": "x"}`,
		`{"field": "Customer", "op": "==", "value": 7}`,
		`{"field": "0"}`,
		`{"task": "t"} {}`,
		`{"task": 1}`,
		`{"TASK": "t"}`,
		``,
		`[`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		st, err := dashboard.DecodeStrike(body)
		if err != nil {
			require.Equal(t, http.StatusBadRequest, dashboard.StatusOf(err))
			return
		}
		require.True(t, st.Task != "" || st.Field != "", "a strike names a task or a field: %+v", st)
		again, err := json.Marshal(st)
		require.NoError(t, err)
		st2, err := dashboard.DecodeStrike(again)
		require.NoError(t, err, "%s", again)
		require.Equal(t, st, st2)
	})
}

// FuzzDecodePause checks the decoder of the pause routes' body: it never
// panics, refuses with 400 what it refuses, and what it accepts names a
// queue or a task, not both, and decodes again, the same, from its own
// encoding.
func FuzzDecodePause(f *testing.F) {
	for _, seed := range []string{
		`{"queue": "bulk"}`,
		`{"backend": "io", "task": "dashboard_test.echo"}`,
		`{"queue": "bulk", "task": "dashboard_test.echo"}`,
		`{"backend": "io"}`,
		`{"queue": ""}`,
		`{"queue": "bulk", "reason": "x"}`,
		`{"queue": "bulk"} {}`,
		`{"queue": 1}`,
		`{"QUEUE": "bulk"}`,
		`{"task": "\u0000"}`,
		``,
		`[`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := dashboard.DecodePause(body)
		if err != nil {
			require.Equal(t, http.StatusBadRequest, dashboard.StatusOf(err))
			return
		}
		require.True(t, (p.Queue == "") != (p.Task == ""), "%+v names a queue or a task, not both", p)
		again, err := json.Marshal(p)
		require.NoError(t, err)
		p2, err := dashboard.DecodePause(again)
		require.NoError(t, err, "%s", again)
		require.Equal(t, p, p2)
	})
}

// FuzzParseStatuses checks the parser of the snapshot's status filter: it
// never panics, refuses with 400 what it refuses, and what it accepts is a
// list of distinct statuses that parses again, the same, from their names.
func FuzzParseStatuses(f *testing.F) {
	for _, seed := range []string{"", "running", "RUNNING,failed", " Ready , , scheduled ,", "successful,SUCCESSFUL", "bogus", "UNKNOWN", "Status(9)", ",,,"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sts, err := dashboard.ParseStatuses(s)
		if err != nil {
			require.Equal(t, http.StatusBadRequest, dashboard.StatusOf(err))
			return
		}
		names := make([]string, len(sts))
		seen := map[localtasks.Status]bool{}
		for i, st := range sts {
			require.False(t, seen[st], "%v twice", st)
			seen[st] = true
			var back localtasks.Status
			require.NoError(t, back.UnmarshalText([]byte(st.String())), "%v is not a status", st)
			names[i] = strings.ToLower(st.String())
		}
		again, err := dashboard.ParseStatuses(strings.Join(names, ","))
		require.NoError(t, err)
		require.Equal(t, sts, again)
	})
}
