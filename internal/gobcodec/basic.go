package gobcodec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The basic types (bool, the integer and floating-point types, string and
// []byte, as such and not as named types of theirs, which may have their
// own gob methods) skip gob: its reflection costs microseconds a value,
// the value itself a few bytes. Which encoding a value gets is decided by
// the type its task declares, never by the value: both ends of the pipe
// decode it as the same T, an argument or result type of one definition.
//
//	bool                       one byte, 0 or 1
//	int, int8 ... int64        a varint (zigzag, as encoding/binary)
//	uint, uint8 ... uintptr    an unsigned varint
//	float32, float64           the IEEE 754 bits, 4 or 8 bytes, little-endian
//	string, []byte             the bytes themselves; an empty []byte decodes as nil, as in gob
//
// encodeBasic and decodeBasic report false for any other type.

var errBasic = errors.New("gobcodec: malformed value")

// encodeBasic encodes v, of type T, if T is a basic type.
func encodeBasic[T any](v any) ([]byte, bool) {
	switch any((*T)(nil)).(type) {
	case *bool:
		if b, _ := v.(bool); b {
			return []byte{1}, true
		}
		return []byte{0}, true
	case *int:
		x, _ := v.(int)
		return binary.AppendVarint(nil, int64(x)), true
	case *int8:
		x, _ := v.(int8)
		return binary.AppendVarint(nil, int64(x)), true
	case *int16:
		x, _ := v.(int16)
		return binary.AppendVarint(nil, int64(x)), true
	case *int32:
		x, _ := v.(int32)
		return binary.AppendVarint(nil, int64(x)), true
	case *int64:
		x, _ := v.(int64)
		return binary.AppendVarint(nil, x), true
	case *uint:
		x, _ := v.(uint)
		return binary.AppendUvarint(nil, uint64(x)), true
	case *uint8:
		x, _ := v.(uint8)
		return binary.AppendUvarint(nil, uint64(x)), true
	case *uint16:
		x, _ := v.(uint16)
		return binary.AppendUvarint(nil, uint64(x)), true
	case *uint32:
		x, _ := v.(uint32)
		return binary.AppendUvarint(nil, uint64(x)), true
	case *uint64:
		x, _ := v.(uint64)
		return binary.AppendUvarint(nil, x), true
	case *uintptr:
		x, _ := v.(uintptr)
		return binary.AppendUvarint(nil, uint64(x)), true
	case *float32:
		x, _ := v.(float32)
		return binary.LittleEndian.AppendUint32(nil, math.Float32bits(x)), true
	case *float64:
		x, _ := v.(float64)
		return binary.LittleEndian.AppendUint64(nil, math.Float64bits(x)), true
	case *string:
		x, _ := v.(string)
		return []byte(x), true
	case *[]byte:
		x, _ := v.([]byte)
		if len(x) == 0 {
			return nil, true
		}
		return append([]byte(nil), x...), true // a copy: the caller may reuse its slice once Enqueue returns
	}
	return nil, false
}

// decodeBasic decodes what encodeBasic[T] wrote, if T is a basic type.
func decodeBasic[T any](b []byte) (v any, ok bool, err error) {
	switch any((*T)(nil)).(type) {
	case *bool:
		if len(b) != 1 || b[0] > 1 {
			return nil, true, errBasic
		}
		return b[0] == 1, true, nil
	case *int:
		x, err := varint(b, math.MinInt, math.MaxInt)
		return int(x), true, err
	case *int8:
		x, err := varint(b, math.MinInt8, math.MaxInt8)
		return int8(x), true, err
	case *int16:
		x, err := varint(b, math.MinInt16, math.MaxInt16)
		return int16(x), true, err
	case *int32:
		x, err := varint(b, math.MinInt32, math.MaxInt32)
		return int32(x), true, err
	case *int64:
		x, err := varint(b, math.MinInt64, math.MaxInt64)
		return x, true, err
	case *uint:
		x, err := uvarint(b, math.MaxUint)
		return uint(x), true, err
	case *uint8:
		x, err := uvarint(b, math.MaxUint8)
		return uint8(x), true, err
	case *uint16:
		x, err := uvarint(b, math.MaxUint16)
		return uint16(x), true, err
	case *uint32:
		x, err := uvarint(b, math.MaxUint32)
		return uint32(x), true, err
	case *uint64:
		x, err := uvarint(b, math.MaxUint64)
		return x, true, err
	case *uintptr:
		x, err := uvarint(b, uint64(^uintptr(0)))
		return uintptr(x), true, err
	case *float32:
		if len(b) != 4 {
			return nil, true, errBasic
		}
		return math.Float32frombits(binary.LittleEndian.Uint32(b)), true, nil
	case *float64:
		if len(b) != 8 {
			return nil, true, errBasic
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(b)), true, nil
	case *string:
		return string(b), true, nil
	case *[]byte:
		if len(b) == 0 {
			return []byte(nil), true, nil
		}
		return append([]byte(nil), b...), true, nil
	}
	return nil, false, nil
}

func varint(b []byte, lo, hi int64) (int64, error) {
	x, n := binary.Varint(b)
	if n <= 0 || n != len(b) || x < lo || x > hi {
		return 0, fmt.Errorf("%w: %d bytes are no varint in [%d, %d]", errBasic, len(b), lo, hi)
	}
	return x, nil
}

func uvarint(b []byte, hi uint64) (uint64, error) {
	x, n := binary.Uvarint(b)
	if n <= 0 || n != len(b) || x > hi {
		return 0, fmt.Errorf("%w: %d bytes are no unsigned varint up to %d", errBasic, len(b), hi)
	}
	return x, nil
}
