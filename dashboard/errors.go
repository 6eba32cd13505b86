package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

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
