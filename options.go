package localtasks

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/localtasks/localtasks/internal/pqueue"
)

// Priority bounds and the default queue, as in Django's task framework.
const (
	// MinPriority is the lowest priority a task can have.
	MinPriority = pqueue.Min
	// MaxPriority is the highest priority a task can have. Higher runs first.
	MaxPriority = pqueue.Max
	// QueueDefault is the queue a task goes to unless WithQueue says otherwise.
	QueueDefault = "default"
)

// Options are the settings of a task's run. Define sets a task's defaults;
// Task.Using overrides them for the calls made through the copy it returns.
// The zero value means: priority 0, the default queue, run now, no timeout,
// one attempt.
type Options struct {
	// Priority orders ready tasks: higher first, first in first out within
	// one priority. From MinPriority to MaxPriority; defaults to 0.
	Priority int
	// Queue names the queue the task goes to. It must be one of the
	// backend's Queues. Defaults to QueueDefault.
	Queue string
	// RunAt is the earliest time the task may start. The zero time means
	// as soon as a worker is free.
	RunAt time.Time
	// Delay is how long after the enqueue the task may start. It is an
	// alternative to RunAt: WithDelay clears RunAt, and WithRunAt clears Delay.
	Delay time.Duration
	// Timeout bounds each attempt: the task's ctx is cancelled once it has
	// run that long, and the attempt fails with an error matching
	// ErrTimeout. Zero means no timeout.
	Timeout time.Duration
	// Retry says how often and when a failed attempt is tried again.
	// The zero value makes one attempt.
	Retry RetryPolicy

	// Key makes the run unique within its task while it is unfinished; see
	// WithKey. At most MaxKeyLength bytes of printable text.
	Key string
	// Replace, with Key, swaps a queued or scheduled run of that key for
	// this one; see Task.Replace.
	Replace bool
	// Concurrency, RateLimits, Debounces and Cooldowns limit the task's
	// runs; see their types, and WithConcurrencyLimit and the like, which
	// add to them. A run must pass every one. nil is no limit.
	Concurrency []ConcurrencyLimit
	RateLimits  []RateLimit
	Debounces   []Debounce
	Cooldowns   []Cooldown
	// Perpetual makes the task reschedule itself; see Perpetual.
	Perpetual Perpetual
	// Deadline is the latest time the run may start: a run that has not
	// started by then ends CANCELLED, with the reason "deadline passed",
	// wherever it waits (scheduled, queued, held by a pause or a limit).
	// It bounds the first attempt's start only: a run that started is not
	// stopped by it (see Timeout), and its retries are not bound by it.
	// The zero time is no deadline. See WithDeadline.
	Deadline time.Time
	// StartWithin is Deadline relative to the time the run may start (its
	// run-after time, or its enqueue): WithStartWithin clears Deadline,
	// and WithDeadline clears StartWithin.
	StartWithin time.Duration
	// WaitForRoom makes Enqueue wait, until its ctx ends, for room in a
	// backend whose queue is full (Config.MaxQueued) instead of failing
	// with ErrQueueFull; see WithWaitForRoom.
	WaitForRoom bool
	// Tags label the run, and Metadata attaches key-value pairs to it;
	// see WithTags and WithMetadata. Both are nil for none. A backend
	// copies them at Enqueue.
	Tags     []string
	Metadata map[string]string
	// DiscardResult drops the run's result as soon as it finishes, from
	// the result store and the journal; see WithDiscardResult.
	DiscardResult bool

	invalid string // what an Option found wrong, reported by validate
}

// Option changes one setting of Options; pass them to Define and Task.Using.
type Option func(*Options)

// WithPriority sets the priority, from MinPriority to MaxPriority.
func WithPriority(p int) Option { return func(o *Options) { o.Priority = p } }

// WithQueue sets the queue the task goes to.
func WithQueue(name string) Option { return func(o *Options) { o.Queue = name } }

// WithRunAt sets the earliest time the task may start, and clears any delay.
// Enqueue refuses a time more than 100 years before or after the enqueue
// with ErrInvalidTask: a run's times are kept as nanoseconds.
func WithRunAt(t time.Time) Option {
	return func(o *Options) { o.RunAt, o.Delay = t, 0 }
}

// WithDelay makes the task start no sooner than d after it is enqueued, and
// clears any run-after time. As for WithRunAt, at most 100 years.
func WithDelay(d time.Duration) Option {
	return func(o *Options) { o.Delay, o.RunAt = d, time.Time{} }
}

// WithDeadline makes the run end CANCELLED, with the reason "deadline
// passed", if it has not started by t: for work that is worth nothing
// late, such as a reminder for a meeting. t must be after the time the run
// may start. Perpetual tasks take no deadline. See Options.Deadline.
func WithDeadline(t time.Time) Option {
	return func(o *Options) { o.Deadline, o.StartWithin = t, 0 }
}

// WithStartWithin is WithDeadline relative to the time the run may start:
// it ends CANCELLED if it has not started within d of its run-after time,
// or of its enqueue if it has none.
func WithStartWithin(d time.Duration) Option {
	return func(o *Options) { o.StartWithin, o.Deadline = d, time.Time{} }
}

// WithTimeout bounds each attempt to d; zero removes the bound.
func WithTimeout(d time.Duration) Option { return func(o *Options) { o.Timeout = d } }

// WithRetry sets the retry policy.
func WithRetry(p RetryPolicy) Option { return func(o *Options) { o.Retry = p } }

// RetryPolicy says how often a failed task is attempted again, and how long
// it waits before each new attempt. A task is not retried once it has been
// cancelled, nor while its backend is closing.
//
// The wait before attempt n+1 is Delay * Multiplier^(n-1), capped at
// MaxDelay, then shortened by a random fraction of up to Jitter of itself.
type RetryPolicy struct {
	// MaxAttempts is the total number of attempts, the first included.
	// Zero and one both mean no retry; RetryForever means no limit.
	MaxAttempts int
	// Delay is the wait before the second attempt. Zero retries at once.
	Delay time.Duration
	// MaxDelay caps the wait when Multiplier grows it. Zero means no cap.
	MaxDelay time.Duration
	// Multiplier grows the wait after each failure: 0 or 1 keeps it fixed,
	// 2 doubles it.
	Multiplier float64
	// Jitter, from 0 to 1, is the largest fraction of each wait taken off
	// at random, so that tasks that failed together do not retry together.
	Jitter float64

	// Decide, if set, has the last word on each failed attempt that
	// MaxAttempts would retry: it is given the attempt's number (from 1,
	// snoozes not counted) and its error, and returns whether to retry and
	// the wait before the retry; wait is the wait the fields above give,
	// for Decide to return as it is or to change. An error wrapped with
	// Permanent is never retried, and never reaches Decide.
	//
	// Decide runs in the parent process, also for a process pool's runs,
	// whose errors match errors.Is and errors.As as RegisterErrors and
	// RegisterErrorType arrange. It must be quick, and safe to call from
	// several goroutines; if it panics, the run fails with the panic. A
	// function cannot be journaled: give Decide on the task's Define, not
	// only on an enqueue, for it to survive a restart (a run journaled
	// without one takes its definition's).
	Decide func(attempt int, err error, wait time.Duration) (retry bool, delay time.Duration) `json:"-"`
}

// RetryForever is the MaxAttempts of a RetryPolicy with no limit: the run
// is retried until an attempt succeeds, returns a Permanent error, or
// Decide says no. Pair it with a MaxDelay, so that the waits stop growing,
// and with a Decide or a Permanent error for what will never succeed. The
// run keeps the TaskErrors of its last 32 attempts only.
const RetryForever = -1

// retries reports whether r allows a second attempt.
func (r *RetryPolicy) retries() bool { return r.MaxAttempts > 1 || r.MaxAttempts == RetryForever }

// FixedRetry makes up to attempts attempts, waiting delay between them.
func FixedRetry(attempts int, delay time.Duration) RetryPolicy {
	return RetryPolicy{MaxAttempts: attempts, Delay: delay}
}

// ExponentialRetry makes up to attempts attempts, waiting min before the
// second and doubling the wait after each failure up to max, with a jitter
// of 0.2.
func ExponentialRetry(attempts int, min, max time.Duration) RetryPolicy {
	return RetryPolicy{MaxAttempts: attempts, Delay: min, MaxDelay: max, Multiplier: 2, Jitter: 0.2}
}

// validate checks what can be checked without a backend. The caller wraps
// the error with the task's name.
func (o *Options) validate() error {
	switch {
	case o.Priority < MinPriority || o.Priority > MaxPriority:
		return fmt.Errorf("priority %d is out of range: use %d (lowest) to %d (highest)", o.Priority, MinPriority, MaxPriority)
	case o.Delay < 0:
		return fmt.Errorf("delay %v is negative: use a delay of zero or more, or WithRunAt", o.Delay)
	case o.Timeout < 0:
		return fmt.Errorf("timeout %v is negative: use zero for no timeout", o.Timeout)
	case o.StartWithin < 0:
		return fmt.Errorf("start-within %v is negative: give the time the run may wait to start, or use zero for no deadline", o.StartWithin)
	case o.hasDeadline() && o.Perpetual.enabled():
		return fmt.Errorf("a perpetual task takes no deadline: a deadline is for one run; leave WithDeadline and WithStartWithin out")
	}
	r := o.Retry
	switch {
	case r.MaxAttempts < 0 && r.MaxAttempts != RetryForever:
		return fmt.Errorf("retry MaxAttempts %d is negative: use 0 or 1 for a single attempt, RetryForever for no limit", r.MaxAttempts)
	case r.Delay < 0 || r.MaxDelay < 0:
		return fmt.Errorf("retry delays must not be negative (Delay %v, MaxDelay %v)", r.Delay, r.MaxDelay)
	case r.Multiplier < 0:
		return fmt.Errorf("retry Multiplier %v is negative: use 0 or 1 for a fixed delay, 2 to double it", r.Multiplier)
	case r.Jitter < 0 || r.Jitter > 1:
		return fmt.Errorf("retry Jitter %v is out of range: use a fraction from 0 to 1", r.Jitter)
	}
	if o.Key != "" {
		if err := checkKey(o.Key); err != nil {
			return err
		}
	}
	if o.Replace && o.Key == "" {
		return fmt.Errorf("replace needs a key: call Replace with the key of the run to replace")
	}
	if err := o.validateLimits(); err != nil {
		return err
	}
	if o.Tags != nil || o.Metadata != nil {
		if err := o.checkTagsAndMetadata(); err != nil {
			return err
		}
	}
	return o.Perpetual.validate()
}

// hasDeadline reports whether o bounds the run's start.
func (o *Options) hasDeadline() bool { return !o.Deadline.IsZero() || o.StartWithin > 0 }

// MaxKeyLength bounds a task key, in bytes.
const MaxKeyLength = 256

// WithWaitForRoom makes Enqueue wait for room when the backend's queue is
// full (Config.MaxQueued), until the caller's ctx ends, instead of failing
// at once with ErrQueueFull: backpressure for a producer that may slow
// down. Waiters are let in as runs leave the queue, in no set order. It
// has no effect on a backend without a bound.
func WithWaitForRoom() Option { return func(o *Options) { o.WaitForRoom = true } }

// WithDiscardResult makes the backend keep no result of the run once it
// has finished, as Celery's ignore_result does, for tasks whose callers never
// read one: a flood of them then evicts no other result and writes no
// result to the journal. Until it finishes, the run is there as any other
// (GetResult, Cancel); as it finishes, a Wait already waiting returns its
// result and subscribers get its EventFinished with the final TaskResult;
// after that GetResult and Wait fail with ErrResultNotFound. On an
// ImmediateBackend the run finishes before Enqueue returns, so only the
// events see its result. A perpetual task's successors inherit it.
func WithDiscardResult() Option { return func(o *Options) { o.DiscardResult = true } }

// WithKey gives the run a key: while a run of the task with that key is
// queued, scheduled or running, Enqueue with the key enqueues nothing and
// returns that run's receipt, with the disposition AlreadyEnqueued. Keys
// are per task; a key is free again once its run finishes. "" is no key.
func WithKey(key string) Option { return func(o *Options) { o.Key = key } }

// checkKey reports what is wrong with a task key.
func checkKey(key string) error {
	switch {
	case len(key) > MaxKeyLength:
		return fmt.Errorf("key of %d bytes is longer than MaxKeyLength (%d): use a shorter key, such as a hash of what it names", len(key), MaxKeyLength)
	case !utf8.ValidString(key):
		return fmt.Errorf("key %q is not valid UTF-8: use printable text", key)
	case strings.IndexFunc(key, unicode.IsControl) >= 0:
		return fmt.Errorf("key %q holds a control character: use printable text", key)
	}
	return nil
}

// The bounds of a run's tags and metadata (WithTags, WithMetadata,
// SetMetadata): they are kept with the run for as long as its result, and
// listed, sent to dashboards and written to a journal with it.
const (
	// MaxTags bounds the tags of a run.
	MaxTags = 32
	// MaxTagLength bounds a tag, in bytes.
	MaxTagLength = 64
	// MaxMetadata bounds the key-value pairs of a run's metadata.
	MaxMetadata = 32
	// MaxMetadataKeyLength bounds a metadata key, in bytes.
	MaxMetadataKeyLength = 64
	// MaxMetadataValueLength bounds a metadata value, in bytes.
	MaxMetadataValueLength = 1024
)

// WithTags labels the run with tags, for people and tools to find it by
// (SnapshotOptions.Tag, the dashboard's and the CLI's tag filters); they
// are on its TaskResult and its events. A tag is 1 to MaxTagLength bytes
// of printable UTF-8 without spaces or commas; at most MaxTags of them. A
// tag given twice is kept once. The tags replace those set before, as a
// River insert's do: to add to a task's default tags, pass them again, as
// in t.Using(WithTags(append(t.Options().Tags, "urgent")...)). WithTags()
// removes them. The tags are copied: changing the slice later changes
// nothing.
func WithTags(tags ...string) Option {
	var kept []string
	for _, t := range tags {
		if !slices.Contains(kept, t) {
			kept = append(kept, t)
		}
	}
	return func(o *Options) { o.Tags = kept }
}

// WithMetadata attaches key-value pairs to the run, such as the request or
// the user it serves; they are on its TaskResult and its events, and the
// task may add to them (SetMetadata). A key is 1 to MaxMetadataKeyLength
// bytes of printable UTF-8 without "="; a value, at most
// MaxMetadataValueLength bytes of UTF-8 without control characters; at
// most MaxMetadata pairs. The map replaces the one set before (as WithTags
// does; nil removes it), and is copied: changing it later changes nothing.
func WithMetadata(m map[string]string) Option {
	c := maps.Clone(m)
	if len(c) == 0 {
		c = nil
	}
	return func(o *Options) { o.Metadata = c }
}

// checkTagsAndMetadata reports what is wrong with o's tags or metadata.
func (o *Options) checkTagsAndMetadata() error {
	if len(o.Tags) > MaxTags {
		return fmt.Errorf("%d tags are more than MaxTags (%d): keep the tags a filter needs, and put the rest in metadata", len(o.Tags), MaxTags)
	}
	for _, t := range o.Tags {
		if err := checkTag(t); err != nil {
			return err
		}
	}
	if len(o.Metadata) > MaxMetadata {
		return fmt.Errorf("%d metadata pairs are more than MaxMetadata (%d): keep fewer, or join related values in one", len(o.Metadata), MaxMetadata)
	}
	for k, v := range o.Metadata {
		if err := checkMetadata(k, v); err != nil {
			return err
		}
	}
	return nil
}

// checkTag reports what is wrong with a tag.
func checkTag(t string) error {
	switch {
	case t == "":
		return fmt.Errorf("a tag is empty: give tags of 1 to %d bytes", MaxTagLength)
	case len(t) > MaxTagLength:
		return fmt.Errorf("tag %q of %d bytes is longer than MaxTagLength (%d): use a shorter tag", t, len(t), MaxTagLength)
	case !utf8.ValidString(t):
		return fmt.Errorf("tag %q is not valid UTF-8: use printable text", t)
	case strings.IndexFunc(t, func(r rune) bool { return !unicode.IsPrint(r) || r == ' ' || r == ',' }) >= 0:
		return fmt.Errorf("tag %q holds a space, a comma or a character that does not print: use printable text without spaces or commas, such as \"billing\" or \"user-42\"", t)
	}
	return nil
}

// checkMetadata reports what is wrong with a metadata pair.
func checkMetadata(k, v string) error {
	switch {
	case k == "":
		return fmt.Errorf("a metadata key is empty: give keys of 1 to %d bytes", MaxMetadataKeyLength)
	case len(k) > MaxMetadataKeyLength:
		return fmt.Errorf("metadata key %q of %d bytes is longer than MaxMetadataKeyLength (%d): use a shorter key", k, len(k), MaxMetadataKeyLength)
	case !utf8.ValidString(k) || strings.IndexFunc(k, func(r rune) bool { return !unicode.IsPrint(r) || r == '=' }) >= 0:
		return fmt.Errorf("metadata key %q is not printable UTF-8 without \"=\": use a key such as \"request_id\"", k)
	case len(v) > MaxMetadataValueLength:
		return fmt.Errorf("the value of metadata key %q is %d bytes, more than MaxMetadataValueLength (%d): keep a reference (an ID, a path) instead", k, len(v), MaxMetadataValueLength)
	case !utf8.ValidString(v) || strings.IndexFunc(v, unicode.IsControl) >= 0:
		return fmt.Errorf("the value of metadata key %q is not UTF-8 text without control characters: use printable text", k)
	}
	return nil
}
