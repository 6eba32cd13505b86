package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// The layout of a message, the payload of one frame: its Kind (one byte),
// its Seq (an unsigned varint), then the fields of its kind, in the order
// below. An integer is a varint (unsigned where it cannot be negative); a
// string or []byte is its length as an unsigned varint, then its bytes; a
// bool is a bit of a flags byte. Nothing else is sent: no field names, no
// types, nothing a previous frame said.
//
//	to worker, KindRun:      ID, Task, Attempt, Args, Timeout, flags (1: Perpetual, 2: Eager,
//	                         4: Carrier, 8: Await), then Carrier if set
//	to worker, KindCancel:   Timeout, flags (1: TimedOut, 2: Closing)
//	to worker, KindRecall:   nothing
//	to worker, KindCarrier:  Carrier
//	from worker, KindHello:  PID, Version, flags (1: Err, 2: Propagates), then
//	                         Err's Type, Message, Stack if set (the worker
//	                         initialiser failed); a hello of another
//	                         Version is read no further than its Version
//	from worker, KindStarted, KindRecalled, KindHeartbeat: nothing
//	from worker, KindDone:   Took, Value, flags (1: Err, 2: Next), then if Err is set its Type,
//	                         Message, Stack, flags (1: Permanent, 2: Snooze), SnoozeAt and
//	                         SnoozeFor if Snooze, the count of Matches, then each Key, Value;
//	                         then if Next is set its flags (1: Stop, 2: SetArgs), At, Args
//	from worker, KindExtend: Extend
//	from worker, KindProgress: Done, Total, Line
//	from worker, KindMetadata: Meta's Key, Value
//	from worker, KindLog:    Stream, Level, Line, the count of Attrs, then each Key, Value
//
// A Carrier is the count of its pairs, then each key and value; an empty
// one is a count of 0, and a run without one sends no byte of it.
//
// A decoder checks each length against what is left of the frame, and the
// frame must end with the message: a corrupt or hostile peer gets an error,
// never a panic or an allocation larger than its frame.

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendBytes(b, p []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(p))), p...)
}

func flag(on bool, bit byte) byte {
	if on {
		return bit
	}
	return 0
}

func appendToWorker(b []byte, m *ToWorker) []byte {
	b = append(b, byte(m.Kind))
	b = binary.AppendUvarint(b, m.Seq)
	switch m.Kind {
	case KindRun:
		b = appendString(b, m.ID)
		b = appendString(b, m.Task)
		b = binary.AppendVarint(b, int64(m.Attempt))
		b = appendBytes(b, m.Args)
		b = binary.AppendVarint(b, int64(m.Timeout))
		b = append(b, flag(m.Perpetual, 1)|flag(m.Eager, 2)|flag(len(m.Carrier) > 0, 4)|flag(m.Await, 8))
		if len(m.Carrier) > 0 {
			b = appendCarrier(b, m.Carrier)
		}
	case KindCarrier:
		b = appendCarrier(b, m.Carrier)
	case KindCancel:
		b = binary.AppendVarint(b, int64(m.Timeout))
		b = append(b, flag(m.TimedOut, 1)|flag(m.Closing, 2))
	}
	return b
}

func decodeToWorker(d *decoder, m *ToWorker) {
	m.Kind = Kind(d.byte())
	m.Seq = d.uvarint()
	switch m.Kind {
	case KindRun:
		m.ID = d.string()
		m.Task = d.name()
		m.Attempt = int(d.varint())
		m.Args = d.bytes()
		m.Timeout = time.Duration(d.varint())
		f := d.byte()
		m.Perpetual, m.Eager, m.Await = f&1 != 0, f&2 != 0, f&8 != 0
		if f&4 != 0 {
			m.Carrier = d.carrier()
		}
	case KindCarrier:
		m.Carrier = d.carrier()
	case KindCancel:
		m.Timeout = time.Duration(d.varint())
		f := d.byte()
		m.TimedOut, m.Closing = f&1 != 0, f&2 != 0
	case KindRecall:
	default:
		d.fail(fmt.Errorf("unknown kind %d for a message to a worker", m.Kind))
	}
}

func appendFromWorker(b []byte, m *FromWorker) []byte {
	b = append(b, byte(m.Kind))
	b = binary.AppendUvarint(b, m.Seq)
	switch m.Kind {
	case KindHello:
		b = binary.AppendVarint(b, int64(m.PID))
		b = binary.AppendVarint(b, int64(m.Version))
		b = append(b, flag(m.Err != nil, 1)|flag(m.Propagates, 2))
		if e := m.Err; e != nil {
			b = appendString(b, e.Type)
			b = appendString(b, e.Message)
			b = appendString(b, e.Stack)
		}
	case KindDone:
		b = binary.AppendVarint(b, m.Took)
		b = appendBytes(b, m.Value)
		b = append(b, flag(m.Err != nil, 1)|flag(m.Next != nil, 2))
		if e := m.Err; e != nil {
			b = appendString(b, e.Type)
			b = appendString(b, e.Message)
			b = appendString(b, e.Stack)
			b = append(b, flag(e.Permanent, 1)|flag(e.Snooze, 2))
			if e.Snooze {
				b = binary.AppendVarint(b, e.SnoozeAt)
				b = binary.AppendVarint(b, int64(e.SnoozeFor))
			}
			b = binary.AppendUvarint(b, uint64(len(e.Matches)))
			for _, m := range e.Matches {
				b = appendString(b, m.Key)
				b = appendBytes(b, m.Value)
			}
		}
		if n := m.Next; n != nil {
			b = append(b, flag(n.Stop, 1)|flag(n.SetArgs, 2))
			b = binary.AppendVarint(b, n.At)
			b = appendBytes(b, n.Args)
		}
	case KindProgress:
		b = binary.AppendVarint(b, m.Done)
		b = binary.AppendVarint(b, m.Total)
		b = appendString(b, m.Line)
	case KindMetadata:
		b = appendString(b, m.Meta.Key)
		b = appendString(b, m.Meta.Value)
	case KindExtend:
		b = binary.AppendVarint(b, int64(m.Extend))
	case KindLog:
		b = appendString(b, m.Stream)
		b = binary.AppendVarint(b, int64(m.Level))
		b = appendString(b, m.Line)
		b = binary.AppendUvarint(b, uint64(len(m.Attrs)))
		for _, a := range m.Attrs {
			b = appendString(b, a.Key)
			b = appendString(b, a.Value)
		}
	}
	return b
}

func decodeFromWorker(d *decoder, m *FromWorker) {
	m.Kind = Kind(d.byte())
	m.Seq = d.uvarint()
	switch m.Kind {
	case KindHello:
		m.PID = int(d.varint())
		m.Version = int(d.varint())
		if d.err == nil && m.Version != Version {
			// Another version's hello may go on in another layout: it
			// decodes to its version, which is what the parent refuses.
			d.b = nil
			return
		}
		f := d.byte()
		m.Propagates = f&2 != 0
		if f&1 != 0 {
			m.Err = &Error{Type: d.name(), Message: d.string(), Stack: d.string()}
		}
	case KindStarted, KindRecalled, KindHeartbeat:
	case KindDone:
		m.Took = d.varint()
		m.Value = d.bytes()
		f := d.byte()
		if f&1 != 0 {
			m.Err = d.error()
		}
		if f&2 != 0 {
			nf := d.byte()
			m.Next = &Next{Stop: nf&1 != 0, SetArgs: nf&2 != 0, At: d.varint(), Args: d.bytes()}
		}
	case KindProgress:
		m.Done = d.varint()
		m.Total = d.varint()
		m.Line = d.string()
	case KindMetadata:
		m.Meta = Attr{Key: d.name(), Value: d.string()}
	case KindExtend:
		m.Extend = time.Duration(d.varint())
	case KindLog:
		m.Stream = d.name()
		m.Level = int(d.varint())
		m.Line = d.string()
		// Each attribute takes two bytes at least: a count above half of
		// what is left is a lie, and must not size an allocation.
		n := d.uvarint()
		if n > uint64(len(d.b)/2) {
			d.fail(errors.New("more attributes than the frame holds"))
			return
		}
		if n > 0 {
			m.Attrs = make([]Attr, n)
			for i := range m.Attrs {
				m.Attrs[i] = Attr{Key: d.string(), Value: d.string()}
			}
		}
	default:
		d.fail(fmt.Errorf("unknown kind %d for a message from a worker", m.Kind))
	}
}

func appendCarrier(b []byte, c map[string]string) []byte {
	b = binary.AppendUvarint(b, uint64(len(c)))
	for k, v := range c {
		b = appendString(b, k)
		b = appendString(b, v)
	}
	return b
}

// carrier decodes a Carrier; nil for an empty one.
func (d *decoder) carrier() map[string]string {
	// Each pair takes two bytes at least: see KindLog's attributes.
	n := d.uvarint()
	if n > uint64(len(d.b)/2) {
		d.fail(errors.New("more carrier pairs than the frame holds"))
		return nil
	}
	if n == 0 {
		return nil
	}
	c := make(map[string]string, n)
	for range n {
		k := d.name() // a few header names: traceparent, tracestate, baggage
		c[k] = d.string()
	}
	return c
}

// error decodes a done message's Error.
func (d *decoder) error() *Error {
	e := &Error{Type: d.name(), Message: d.string(), Stack: d.string()}
	f := d.byte()
	e.Permanent, e.Snooze = f&1 != 0, f&2 != 0
	if e.Snooze {
		e.SnoozeAt, e.SnoozeFor = d.varint(), time.Duration(d.varint())
	}
	// Each match takes two bytes at least: see KindLog's attributes.
	n := d.uvarint()
	if n > uint64(len(d.b)/2) {
		d.fail(errors.New("more error matches than the frame holds"))
		return e
	}
	if n > 0 {
		e.Matches = make([]Match, n)
		for i := range e.Matches {
			e.Matches[i] = Match{Key: d.name(), Value: d.bytes()}
		}
	}
	return e
}

// decoder reads a message's fields from its frame. After the first error
// every read returns a zero value, and err keeps that error.
type decoder struct {
	b     []byte
	err   error
	names map[string]string
}

var errShort = errors.New("a field runs past the end of its frame")

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail(errShort)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// raw returns the next length-prefixed field, in the frame's memory.
func (d *decoder) raw() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail(errShort)
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

// bytes returns a copy of the next []byte field; nil for an empty one.
func (d *decoder) bytes() []byte {
	p := d.raw()
	if len(p) == 0 {
		return nil
	}
	return append([]byte(nil), p...)
}

func (d *decoder) string() string { return string(d.raw()) }

// maxNames bounds the strings a Reader interns.
const maxNames = 256

// name is string for a field with few distinct values (task names, log
// streams, error types): each is allocated once a stream.
func (d *decoder) name() string {
	p := d.raw()
	if s, ok := d.names[string(p)]; ok {
		return s
	}
	s := string(p)
	if len(d.names) < maxNames {
		d.names[s] = s
	}
	return s
}

// finish returns the error of the decoding of a message of kind, if any.
func (d *decoder) finish(kind Kind) error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d bytes after the message", len(d.b))
	}
	if d.err != nil {
		return fmt.Errorf("wire: decoding a message of kind %d: %w", kind, d.err)
	}
	return nil
}
