package cli

import (
	"flag"
	"fmt"
	"slices"
	"strings"
)

// tagFlags adds the flags that filter runs by their tags and metadata to
// fs: --tag, one tag; --meta key=value, once for each pair.
func tagFlags(fs *flag.FlagSet) (tag *string, meta *metaFlag) {
	tag = fs.String("tag", "", "the runs' `tag`; list only runs with it")
	meta = new(metaFlag)
	fs.Var(meta, "meta", "a metadata `key=value`; list only runs whose metadata holds it (repeat it for more pairs)")
	return tag, meta
}

// metaFlag is the --meta flag: the key=value pairs given, in order.
type metaFlag []string

func (m *metaFlag) String() string { return strings.Join(*m, ",") }

// Set takes one key=value pair; the dashboard checks the key and value.
func (m *metaFlag) Set(pair string) error {
	if k, _, ok := strings.Cut(pair, "="); !ok || k == "" {
		return fmt.Errorf("%q is not key=value: give a metadata pair, such as tenant=acme", pair)
	}
	*m = append(*m, pair)
	return nil
}

// printTagsAndMetadata prints t's tags on one row, and its metadata, a row
// a pair in the order of their keys, with row.
func printTagsAndMetadata(row func(name, value string), t *task) {
	if len(t.Tags) > 0 {
		tags := make([]string, len(t.Tags))
		for i, tag := range t.Tags {
			tags[i] = cell(tag, 0)
		}
		row("Tags", strings.Join(tags, ", "))
	} else {
		row("Tags", "-")
	}
	if len(t.Metadata) == 0 {
		row("Metadata", "-")
		return
	}
	keys := make([]string, 0, len(t.Metadata))
	for k := range t.Metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		name := ""
		if i == 0 {
			name = "Metadata"
		}
		row(name, cell(k, 0)+"="+cell(t.Metadata[k], 0))
	}
}
