package dashboard

import "github.com/localtasks/localtasks/dashboard/dashapi"

// The JSON the API answers with is defined in package dashapi, which its
// clients import without the task runtime; these are the same types under
// this package's name. docs/api.md shows each shape.
type (
	Task            = dashapi.Task
	TaskError       = dashapi.TaskError
	Progress        = dashapi.Progress
	LogRecord       = dashapi.LogRecord
	LogAttr         = dashapi.LogAttr
	Worker          = dashapi.Worker
	Counters        = dashapi.Counters
	StatusCounts    = dashapi.StatusCounts
	Strike          = dashapi.Strike
	Strikes         = dashapi.Strikes
	Queue           = dashapi.Queue
	Pause           = dashapi.Pause
	Pauses          = dashapi.Pauses
	Point           = dashapi.Point
	Snapshot        = dashapi.Snapshot
	BackendSnapshot = dashapi.BackendSnapshot
	TaskEvent       = dashapi.TaskEvent
	Dropped         = dashapi.Dropped
	Stats           = dashapi.Stats
	BackendStats    = dashapi.BackendStats
	Error           = dashapi.Error
	Health          = dashapi.Health
	BackendHealth   = dashapi.BackendHealth
)

// The values of Health.Status; see dashapi.
const (
	HealthOK        = dashapi.HealthOK
	HealthUnhealthy = dashapi.HealthUnhealthy
)

// ArgsSummaryMax is the most characters (runes) of Task.ArgsSummary.
const ArgsSummaryMax = dashapi.ArgsSummaryMax

// The codes of the API's errors, in Error.Code; see dashapi.
const (
	CodeBadRequest           = dashapi.CodeBadRequest
	CodeActionsDisabled      = dashapi.CodeActionsDisabled
	CodeCrossOrigin          = dashapi.CodeCrossOrigin
	CodeHostNotAllowed       = dashapi.CodeHostNotAllowed
	CodeNotFound             = dashapi.CodeNotFound
	CodeAmbiguousID          = dashapi.CodeAmbiguousID
	CodeMethodNotAllowed     = dashapi.CodeMethodNotAllowed
	CodeConflict             = dashapi.CodeConflict
	CodeUnsupportedMediaType = dashapi.CodeUnsupportedMediaType
	CodeUnavailable          = dashapi.CodeUnavailable
	CodeInternal             = dashapi.CodeInternal
)
