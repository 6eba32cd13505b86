package dashboard

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/localtasks/localtasks"
)

// query is what GET api/snapshot asks for: the runs to list, and of which
// backends.
type query struct {
	opts     localtasks.SnapshotOptions
	backends []string // labels; none: every backend
}

// parseQuery reads the query of GET api/snapshot: status, the statuses to
// list, comma-separated, in any case; task, queue and key, exact values to
// list; limit, the most runs to list a backend (default
// localtasks.SnapshotLimitDefault, at most localtasks.SnapshotLimitMax);
// backend, the labels of the backends to show (default every one); tag,
// a tag the runs carry; meta, key=value, a metadata pair they hold (given
// more than once, every pair); cursor,
// a backend's next_cursor, to list its next page: with it, backend must
// name one backend, unless there is only one.
func parseQuery(rawQuery string) (query, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return query{}, badRequest("malformed query %q: %v: encode it as application/x-www-form-urlencoded", rawQuery, err)
	}
	statuses, err := parseStatuses(strings.Join(q["status"], ","))
	if err != nil {
		return query{}, err
	}
	out := query{opts: localtasks.SnapshotOptions{Statuses: statuses, Task: q.Get("task"), Queue: q.Get("queue"), Key: q.Get("key"),
		Cursor: q.Get("cursor")}}
	if err := parseTagFilter(q, &out.opts); err != nil {
		return query{}, err
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > localtasks.SnapshotLimitMax {
			return query{}, badRequest("limit %q is not a number from 1 to %d: give how many runs to list a backend", l, localtasks.SnapshotLimitMax)
		}
		out.opts.Limit = n
	}
	for _, b := range q["backend"] {
		for label := range strings.SplitSeq(b, ",") {
			if label = strings.TrimSpace(label); label != "" && !slices.Contains(out.backends, label) {
				out.backends = append(out.backends, label)
			}
		}
	}
	return out, nil
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

// parseTagFilter reads the tag and meta parameters of a query into opts:
// tag, one tag the runs must carry; meta, key=value, given once for each
// metadata pair the runs must hold. The backends check the values
// themselves (localtasks.ErrInvalidSnapshotOptions); this checks the form.
func parseTagFilter(q url.Values, opts *localtasks.SnapshotOptions) error {
	if len(q["tag"]) > 1 {
		return badRequest("tag is given %d times: give one tag, and narrow further with meta=key=value", len(q["tag"]))
	}
	opts.Tag = q.Get("tag")
	for _, pair := range q["meta"] {
		k, v, ok := strings.Cut(pair, "=")
		if !ok || k == "" {
			return badRequest("meta %q is not key=value: give a metadata pair, such as meta=tenant=acme", pair)
		}
		if opts.Metadata == nil {
			opts.Metadata = make(map[string]string)
		}
		if old, dup := opts.Metadata[k]; dup && old != v {
			return badRequest("meta gives the key %q twice, with %q and %q: a run holds one value a key", k, old, v)
		}
		opts.Metadata[k] = v
	}
	return nil
}
