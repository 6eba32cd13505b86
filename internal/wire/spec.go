package wire

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SpecEnv is set in the environment of a worker process: its value is the
// worker's Spec. A process started without it is not a worker.
const SpecEnv = "LOCALTASKS_WORKER"

// The descriptors a worker inherits: the parent's messages on InFD, its own
// on OutFD.
const (
	InFD  = 3
	OutFD = 4
)

// Spec is what the parent tells a worker when it starts it, in SpecEnv.
type Spec struct {
	Version    int   // the protocol the parent speaks: Version
	FrameLimit int   // the largest message either side may send
	MemLimit   int64 // the worker's memory limit, in bytes; 0 for none
	Nice       int   // how much the worker raises its niceness over what it inherited; 0 for nothing
	// Heartbeat is how often the worker sends a KindHeartbeat while a run
	// is in progress; 0 for never.
	Heartbeat time.Duration
	// Init names the worker initialiser the worker runs before its hello
	// (localtasks.DefineWorkerInit); empty for none.
	Init string
}

// String encodes s for SpecEnv.
func (s Spec) String() string {
	text := fmt.Sprintf("v=%d;frame=%d;mem=%d;nice=%d;beat=%d", s.Version, s.FrameLimit, s.MemLimit, s.Nice, int64(s.Heartbeat))
	if s.Init != "" {
		// In hex: a name may hold any byte, ';' and '=' too.
		text += ";init=" + hex.EncodeToString([]byte(s.Init))
	}
	return text
}

// ParseSpec decodes what Spec.String wrote, and checks that the parent
// speaks this binary's protocol.
func ParseSpec(text string) (Spec, error) {
	var s Spec
	for _, kv := range strings.Split(text, ";") {
		k, v, _ := strings.Cut(kv, "=")
		if k == "init" {
			name, err := hex.DecodeString(v)
			if err != nil {
				return s, fmt.Errorf("bad %s in %q", k, text)
			}
			s.Init = string(name)
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return s, fmt.Errorf("bad %s in %q", k, text)
		}
		switch k {
		case "v":
			s.Version = int(n)
		case "frame":
			s.FrameLimit = int(n)
		case "mem":
			s.MemLimit = n
		case "nice":
			s.Nice = int(n)
		case "beat":
			s.Heartbeat = time.Duration(n)
		}
	}
	if s.Version != Version {
		return s, fmt.Errorf("protocol version %d, this binary speaks %d", s.Version, Version)
	}
	return s, nil
}
