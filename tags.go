package localtasks

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/localtasks/localtasks/internal/taskctx"
)

// Tags and metadata: what a run carries for people and tools to find and
// read it by. They live on the record's recordExtra, which a run without
// them never needs: Enqueue of such a run does no work for them.

// SetMetadata adds or replaces the metadata pair key=value on the run of
// ctx: it shows in GetResult at once, in an EventMetadata, and stays on the
// run's result after it finishes (and in its journal, if it has one). On a
// process pool it travels from the worker to the parent. It is for what a
// task learns as it goes (the rows it found, the file it wrote), next to
// what WithMetadata gave at enqueue. The pair follows WithMetadata's rules,
// and a run holds MaxMetadata pairs at most: a pair that breaks them is
// dropped, and logged with the task's Logger. A perpetual run's successor
// starts again from its chain's WithMetadata. Outside a task, or once the
// attempt is over, it does nothing.
func SetMetadata(ctx context.Context, key, value string) {
	if c := taskctx.From(ctx); c != nil {
		if err := checkMetadata(key, value); err != nil {
			c.Logger().Warn("localtasks: SetMetadata dropped a pair: "+err.Error(), "key", key)
			return
		}
		c.SetMetadata(key, value)
	}
}

// setTagsAndMetadata copies opts' tags and metadata onto x: an Options
// may share them with its caller.
func setTagsAndMetadata(x *recordExtra, opts *Options) {
	if len(opts.Tags) > 0 {
		x.tags = slices.Clone(opts.Tags)
	}
	if len(opts.Metadata) > 0 {
		x.meta = maps.Clone(opts.Metadata)
	}
}

// setMetadata sets key=value on rec, if its attempt run still runs, and
// reports what went wrong, if anything. The record's map is copied on
// write: the journal's rows (and a perpetual chain's options) share it
// outside the lock.
func (s *state) setMetadata(rec *record, run attempt, key, value string) error {
	if err := checkMetadata(key, value); err != nil { // again: it may come from a worker process
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec.status != StatusRunning || rec.run != run {
		return nil
	}
	x := rec.extra()
	if old, ok := x.meta[key]; ok && old == value {
		return nil
	} else if !ok && len(x.meta) >= MaxMetadata {
		return errMetadataFull
	}
	m := make(map[string]string, len(x.meta)+1)
	maps.Copy(m, x.meta)
	m[key] = value
	x.meta = m
	if s.jr != nil {
		s.mark(rec)
	}
	s.emit(EventMetadata, rec)
	return nil
}

var errMetadataFull = errors.New("the run holds MaxMetadata pairs already: replace one of its keys, or join values in one")

// metadataReport is state.meta: SetMetadata's report, from an
// attempt's ctx in this process.
func (s *state) metadataReport(c *taskctx.Ctx, key, value string) {
	if err := s.setMetadata(c.Ref.(*record), c, key, value); err != nil {
		c.Logger().Warn("localtasks: SetMetadata dropped a pair: "+err.Error(), "key", key)
	}
}

// hasMetadata reports whether m holds every pair of want.
func hasMetadata(m, want map[string]string) bool {
	for k, v := range want {
		if got, ok := m[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// tagFilter checks the Tag and Metadata of a listing's options, and keeps
// a copy of them in q.
func (q *query) tagFilter(opts SnapshotOptions) error {
	if opts.Tag != "" {
		if err := checkTag(opts.Tag); err != nil {
			return fmt.Errorf("Tag: %v", err)
		}
		q.tag = opts.Tag
	}
	if len(opts.Metadata) > MaxMetadata {
		return fmt.Errorf("Metadata holds %d pairs, more than a run holds (MaxMetadata, %d): give fewer", len(opts.Metadata), MaxMetadata)
	}
	for k, v := range opts.Metadata {
		if err := checkMetadata(k, v); err != nil {
			return fmt.Errorf("Metadata: %v", err)
		}
	}
	if len(opts.Metadata) > 0 {
		q.meta = maps.Clone(opts.Metadata)
	}
	return nil
}

// tagged reports whether rec has q's tag and metadata. Must hold s.mu.
func (q *query) tagged(rec *record) bool {
	x := rec.x
	if x == nil {
		return false
	}
	return (q.tag == "" || slices.Contains(x.tags, q.tag)) && hasMetadata(x.meta, q.meta)
}
