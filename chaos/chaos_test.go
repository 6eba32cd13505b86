package main

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/localtasks/localtasks"
)

func TestMain(m *testing.M) {
	localtasks.Init()
	goleak.VerifyTestMain(m)
}

// TestChaosShort is the chaos in short: fewer tasks, faults drawn more
// often. LOCALTASKS_CHAOS_SEED replays a run.
func TestChaosShort(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("LOCALTASKS_CHAOS_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{Tasks: 3000, Producers: 4, Interval: 20 * time.Millisecond, Seed: seed, Workers: 2,
		Ledger: t.TempDir(), Stuck: 20 * time.Second, Work: time.Millisecond, EachToxic: true}
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
