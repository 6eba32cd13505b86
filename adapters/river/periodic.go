package river

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"time"

	"github.com/riverqueue/river" // upstream River; river.X is never this package

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/backendkit"
)

// periodicJobs checks cfg.Automatic and makes a River periodic job of each
// task it names: of the task's kind, on the task's schedule (its interval,
// its cron expression in its time zone, or its Schedule), inserting a run
// with the zero argument and the task's default options each time the
// schedule comes due. The runs are keyed by the task's name (or its own
// key): while one is unfinished (queued, scheduled, running or waiting for
// a retry), River skips the insert, so that runs of an automatic task never
// overlap, as a chain's do on a pool. An Every task and a RunOnStart one
// run at once as River's leader starts the job (River's RunOnStart).
func (b *Backend) periodicJobs() ([]*river.PeriodicJob, error) {
	names := b.cfg.Automatic
	if len(names) == 0 {
		return nil, nil
	}
	if b.cfg.Workers == 0 {
		return nil, fmt.Errorf("Automatic names %q but Workers is 0: River's periodic jobs are inserted by the elected leader among the clients that work jobs; "+
			"give Workers, or leave Automatic to the backends that do", names)
	}
	jobs := make([]*river.PeriodicJob, 0, len(names))
	for i, name := range names {
		switch {
		case name == "":
			return nil, fmt.Errorf("Automatic name %d is empty: give the name of an automatic task, such as Report.Name()", i)
		case slices.Index(names, name) != i:
			return nil, fmt.Errorf("Automatic lists task %q twice: list each task once", name)
		}
		def, ok := localtasks.Lookup(name)
		if !ok {
			return nil, fmt.Errorf("Automatic names task %q, which is not defined: check the name, and define the task before New (a package-level Define is)", name)
		}
		opts := def.Options()
		p := opts.Perpetual
		if !p.Automatic {
			return nil, fmt.Errorf("Automatic names task %q, which is not automatic: define it WithCron, or WithPerpetual with Automatic: true", name)
		}
		if q := cmp.Or(opts.Queue, localtasks.QueueDefault); !slices.Contains(b.cfg.Queues, q) {
			return nil, fmt.Errorf("Automatic names task %q, whose queue %q is not one of Queues %q: add the queue to Queues", name, q, b.cfg.Queues)
		}
		if !riverIDPattern.MatchString(name) {
			return nil, fmt.Errorf("Automatic names task %q, whose name River cannot take as a periodic job's ID or a job's kind (%v): rename the task", name, riverIDPattern)
		}
		sched, err := backendkit.PerpetualSchedule(p)
		if err != nil {
			return nil, fmt.Errorf("Automatic names task %q: %w", name, err)
		}
		// The schedule is River's now: each run is a job of its own, with
		// the task's name as key.
		opts.Perpetual = localtasks.Perpetual{}
		opts.RunAt, opts.Delay = time.Time{}, 0
		opts.Key = cmp.Or(opts.Key, name)
		j, err := b.makeJob(def, reflect.Zero(def.ArgsType()).Interface(), opts, nil)
		if err != nil {
			return nil, fmt.Errorf("Automatic names task %q: %w", name, err)
		}
		jobs = append(jobs, river.NewPeriodicJob(sched, func() (river.JobArgs, *river.InsertOpts) {
			o := *j.opts
			return j.args, &o
		}, &river.PeriodicJobOpts{ID: name, RunOnStart: p.RunOnStart || p.Every > 0}))
	}
	return jobs, nil
}

// riverIDPattern is River's rule for kinds and periodic job IDs
// (rivercommon.UserSpecifiedIDOrKindRE, which River does not export): a
// periodic job's ID that breaks it makes River's client panic.
var riverIDPattern = regexp.MustCompile(`\A[\w][\w\-\[\]<>\/.·:+]+\z`)

// unchained is backendkit.TaskInfo.Unchained for the runs of def, if it is
// perpetual.
func unchained(def localtasks.Definition) string {
	if p := def.Options().Perpetual; p.Every == 0 && p.Cron == "" && p.Schedule == nil {
		return ""
	}
	return "River runs perpetual tasks as periodic jobs, whose runs are independent and follow the job's schedule: " +
		"change the task's schedule, or run it on a pool for a chain that each run shapes"
}

// perpetualRefused is the error of an Enqueue of a perpetual task.
func perpetualRefused(name string) error {
	return fmt.Errorf("localtasks/river: task %q is perpetual: River runs perpetual and cron tasks as periodic jobs, which the backends whose "+
		"Config.Automatic names the task insert from River's elected leader, not as a chain started by Enqueue: "+
		"name it in Config.Automatic, or remove WithPerpetual and WithCron from the run: %w", name, errors.ErrUnsupported)
}
