package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// The codes of the API's errors, in Error.Code.
const (
	// CodeBadRequest (400): malformed JSON, an unknown field, a bad
	// strike, a bad query, an unknown backend.
	CodeBadRequest = "bad_request"
	// CodeActionsDisabled (403): an action while Config.Actions is off.
	CodeActionsDisabled = "actions_disabled"
	// CodeCrossOrigin (403): a POST from another site.
	CodeCrossOrigin = "cross_origin"
	// CodeNotFound (404): an unknown or evicted ID, an unknown path.
	CodeNotFound = "not_found"
	// CodeMethodNotAllowed (405): a method the route does not take.
	CodeMethodNotAllowed = "method_not_allowed"
	// CodeConflict (409): cancel of a finished run, retry of an
	// unfinished one, or of one its backend can no longer take.
	CodeConflict = "conflict"
	// CodeUnsupportedMediaType (415): a POST that is not application/json.
	CodeUnsupportedMediaType = "unsupported_media_type"
	// CodeInternal (500): a backend failed in a way none of the others
	// describe; the message says how.
	CodeInternal = "internal"
)

// Error is the body of every error the API answers with.
type Error struct {
	// Message says what went wrong, and what to do.
	Message string `json:"error"`
	// Code is one of the Code constants.
	Code string `json:"code"`
}

// Error returns the message and the code.
func (e *Error) Error() string { return fmt.Sprintf("%s (%s)", e.Message, e.Code) }

// failure is an error with the status and code to answer it with.
type failure struct {
	status int
	code   string
	msg    string
}

func (f *failure) Error() string { return f.msg }

func fail(status int, code, format string, args ...any) *failure {
	return &failure{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *failure {
	return fail(http.StatusBadRequest, CodeBadRequest, format, args...)
}

func notFound(format string, args ...any) *failure {
	return fail(http.StatusNotFound, CodeNotFound, format, args...)
}

func conflict(format string, args ...any) *failure {
	return fail(http.StatusConflict, CodeConflict, format, args...)
}

func errCrossOrigin() *failure {
	return fail(http.StatusForbidden, CodeCrossOrigin,
		"cross-origin request refused: actions must come from the dashboard's own page, or from a client that is not a browser")
}

// writeError answers with err: a failure's status and code, or a 500.
func writeError(w http.ResponseWriter, err error) {
	var f *failure
	if !errors.As(err, &f) {
		f = &failure{status: http.StatusInternalServerError, code: CodeInternal, msg: err.Error()}
	}
	writeJSON(w, f.status, &Error{Message: f.msg, Code: f.code})
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Every type the API answers with marshals: only a bug gets here.
		status = http.StatusInternalServerError
		b, _ = json.Marshal(&Error{Message: "dashboard: encoding the response: " + err.Error(), Code: CodeInternal})
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
