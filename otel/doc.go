// Package otel connects localtasks to OpenTelemetry; a module of its own,
// so that OpenTelemetry never enters the go.mod of localtasks.
package otel
