package river

import (
	"reflect"
	"testing"

	"github.com/riverqueue/river/rivertype"
)

// TestMetadataKeys checks that readMetadata reads the keys the adapter and
// River write: struct tags cannot name the constants.
func TestMetadataKeys(t *testing.T) {
	typ := reflect.TypeFor[metadata]()
	for field, key := range map[string]string{"M": metaKey, "Output": rivertype.MetadataKeyOutput, "CancelReason": cancelReasonKey, "Log": logKey} {
		f, _ := typ.FieldByName(field)
		if got := f.Tag.Get("json"); got != key {
			t.Errorf("metadata.%s reads key %q, but the key is %q", field, got, key)
		}
	}
}
