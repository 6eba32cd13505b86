package child

import (
	"context"
	"log/slog"

	"github.com/localtasks/localtasks/internal/wire"
)

// forwardHandler sends a task's log records to the parent.
type forwardHandler struct {
	w     *worker
	seq   uint64
	attrs []wire.Attr
	group string
}

func (h *forwardHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *forwardHandler) Handle(_ context.Context, r slog.Record) error {
	attrs := append([]wire.Attr(nil), h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		attrs = appendAttr(attrs, h.group, a)
		return true
	})
	h.w.send(wire.FromWorker{Kind: wire.KindLog, Seq: h.seq, Stream: "log", Level: int(r.Level), Line: r.Message, Attrs: attrs})
	return nil
}

func (h *forwardHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append([]wire.Attr(nil), h.attrs...)
	for _, a := range as {
		c.attrs = appendAttr(c.attrs, h.group, a)
	}
	return &c
}

func (h *forwardHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.group = h.group + name + "."
	return &c
}

func appendAttr(dst []wire.Attr, prefix string, a slog.Attr) []wire.Attr {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		for _, g := range v.Group() {
			dst = appendAttr(dst, prefix+a.Key+".", g)
		}
		return dst
	}
	return append(dst, wire.Attr{Key: prefix + a.Key, Value: v.String()})
}
