package dashboard

import (
	"net/url"
	"slices"
	"strings"

	"github.com/localtasks/localtasks"
)

// filter selects the runs a snapshot lists. Its zero value keeps them all.
type filter struct {
	statuses []localtasks.Status // none: any status
	task     string              // "": any task
}

func (f filter) keep(res localtasks.TaskResult) bool {
	return (len(f.statuses) == 0 || slices.Contains(f.statuses, res.Status)) &&
		(f.task == "" || res.Task == f.task)
}

// parseFilter reads the query of GET api/snapshot: status, the statuses to
// keep, comma-separated, in any case; task, a task name to keep.
func parseFilter(rawQuery string) (filter, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return filter{}, badRequest("malformed query %q: %v: encode it as application/x-www-form-urlencoded", rawQuery, err)
	}
	statuses, err := parseStatuses(strings.Join(q["status"], ","))
	if err != nil {
		return filter{}, err
	}
	return filter{statuses: statuses, task: q.Get("task")}, nil
}

// parseStatuses parses comma-separated status names, in any case, ignoring
// blanks around and between them, each status once, in the order given.
func parseStatuses(s string) ([]localtasks.Status, error) {
	var out []localtasks.Status
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		var st localtasks.Status
		if err := st.UnmarshalText([]byte(name)); err != nil {
			return nil, badRequest("status filter: %v", err)
		}
		if !slices.Contains(out, st) {
			out = append(out, st)
		}
	}
	return out, nil
}
