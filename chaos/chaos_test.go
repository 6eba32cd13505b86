package main

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/localtasks/localtasks"
)

func TestMain(m *testing.M) {
	localtasks.Init()
	if spec, ok := os.LookupEnv(programEnv); ok { // the kill-restart phase's program: no tests
		os.Unsetenv(programEnv)
		os.Exit(program(spec, os.Stdout))
	}
	goleak.VerifyTestMain(m)
}

// TestChaosShort is the chaos in short: fewer tasks, faults drawn more
// often. LOCALTASKS_CHAOS_SEED replays a run.
func TestChaosShort(t *testing.T) {
	seed := chaosSeed(t)
	cfg := Config{Tasks: 3000, Producers: 4, Interval: 20 * time.Millisecond, Seed: seed, Workers: 2,
		Ledger: t.TempDir(), Faults: 20 * time.Second, Work: time.Millisecond, EachToxic: true}
	if d, ok := t.Deadline(); ok {
		// A pool that still progresses is waited for, on a busy machine,
		// until half the time left before the deadline is gone, for
		// TestChaosKillRestart has the other half; less the checks after
		// the settle: both pools serve a run within 30 s each, close
		// within 30 s each, and the tasks' children are gone within
		// childGrace.
		cfg.GiveUp = time.Now().Add(time.Until(d)/2 - (4*30*time.Second + childGrace))
	}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.Print(&out)
	t.Log("\n" + out.String())
	if len(rep.Problems) > 0 {
		t.Fatalf("the chaos found %d problems; replay with LOCALTASKS_CHAOS_SEED=%d", len(rep.Problems), seed)
	}
	if rep.Kills == 0 || rep.ToxicFaults == 0 || rep.Cancels == 0 || rep.Children == 0 {
		t.Fatalf("too few faults to mean anything: %+v", rep)
	}
}

// chaosSeed is a new seed, or LOCALTASKS_CHAOS_SEED's, to replay a run.
func chaosSeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("LOCALTASKS_CHAOS_SEED"); s != "" {
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
	}
	return seed
}

// TestChaosKillRestart is the kill-restart phase in short: the whole
// program killed with its workers and started again on its journals, four
// times. LOCALTASKS_CHAOS_SEED replays a run.
func TestChaosKillRestart(t *testing.T) {
	if err := killSupported(); err != nil {
		t.Skip(err)
	}
	seed := chaosSeed(t)
	cfg := RestartConfig{Tasks: 1000, Kills: 4, Producers: 4, Workers: 2, Work: 2 * time.Millisecond, Seed: seed,
		Dir: t.TempDir(), Stuck: 30 * time.Second}
	rep, err := RunRestarts(context.Background(), cfg)
	require.NoError(t, err)
	var out bytes.Buffer
	rep.Print(&out)
	t.Log("\n" + out.String())
	require.Empty(t, rep.Problems, "replay with LOCALTASKS_CHAOS_SEED=%d", seed)
	require.Equal(t, cfg.Kills, rep.Kills)
	require.Equal(t, rep.Acked, rep.Succeeded, "every acknowledged run SUCCESSFUL")
	require.Positive(t, rep.HeldQueued+rep.HeldRunning, "no kill left runs to take back: the fault means nothing")
	require.Positive(t, rep.WorkersKilled, "no worker process was killed with the program")
}
