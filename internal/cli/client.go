package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// requestTimeout bounds each request but the event stream's.
const requestTimeout = 30 * time.Second

// maxBody bounds the response body the command reads (a snapshot lists a
// page of runs a backend, 100 unless --limit says otherwise, with their
// arguments and values).
const maxBody = 64 << 20

// client talks to one dashboard.
type client struct {
	base      string // the dashboard's base URL, without a trailing slash
	http      *http.Client
	transport *http.Transport
}

func newClient(rawURL string) (*client, error) {
	base, err := checkBaseURL(rawURL)
	if err != nil {
		return nil, err
	}
	// A transport of its own, so that close leaves no idle connection (and
	// no goroutine) behind.
	t := http.DefaultTransport.(*http.Transport).Clone()
	return &client{
		base:      base,
		transport: t,
		http: &http.Client{
			Transport: t,
			// Never follow a redirect: a POST would turn into a GET, and a
			// redirect means --url is not quite the dashboard's address.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

func (c *client) close() { c.transport.CloseIdleConnections() }

// url returns the URL of an API path, such as "api/snapshot".
func (c *client) url(path string) string { return c.base + "/" + path }

// resultPath returns the API path of the run with that ID, plus suffix.
func resultPath(id, suffix string) string { return "api/results/" + url.PathEscape(id) + suffix }

// get GETs path and decodes its JSON into out.
func (c *client) get(ctx context.Context, path string, out any) error {
	return c.do(ctx, http.MethodGet, path, nil, out, http.StatusOK)
}

// post POSTs in as JSON to path and decodes the answer, which must have
// status want, into out.
func (c *client) post(ctx context.Context, path string, in, out any, want int) error {
	return c.do(ctx, http.MethodPost, path, in, out, want)
}

func (c *client) do(ctx context.Context, method, path string, in, out any, want int) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path), body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.send(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return c.transportError(req, err)
	}
	if resp.StatusCode != want {
		return responseError(req, resp, b)
	}
	if !isJSON(resp) {
		return unexpected(req, resp, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("the dashboard's answer to %s %s cannot be read (%v): are this command and the program built from the same localtasks version?", method, req.URL, err)
	}
	return nil
}

// send sends req and turns a failure to reach the dashboard into an error
// that says what to check.
func (c *client) send(req *http.Request) (*http.Response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(req, err)
	}
	return resp, nil
}

func (c *client) transportError(req *http.Request, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the URL is said below
	}
	switch ctxErr := req.Context().Err(); {
	case errors.Is(ctxErr, context.DeadlineExceeded):
		return fmt.Errorf("the dashboard at %s did not answer %s %s within %v: is the program stuck, or is --url / %s pointing at something else?", c.base, req.Method, req.URL.Path, requestTimeout, URLEnv)
	case ctxErr != nil:
		return ctxErr // interrupted: Run says so
	}
	return fmt.Errorf("cannot reach the dashboard at %s (%v): is the program running, and is --url / %s right?", c.base, err, URLEnv)
}

func isJSON(resp *http.Response) bool {
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// apiError is an error the dashboard answered with: {"error": ..., "code":
// ...}.
type apiError struct {
	Status  int    `json:"-"`
	Message string `json:"error"`
	Code    string `json:"code"`
}

// The error codes of docs/api.md that the command words its own way.
const (
	codeActionsDisabled = "actions_disabled"
	codeCrossOrigin     = "cross_origin"
)

func (e *apiError) Error() string {
	switch e.Code {
	case codeActionsDisabled:
		return "actions are disabled on this dashboard: the application must set dashboard.Config{Actions: true}"
	case codeCrossOrigin:
		return "the dashboard refused the request as cross-origin (" + e.Message + "): send it to the dashboard directly, not through a proxy that adds Origin or Sec-Fetch-Site headers"
	}
	return e.Message
}

// responseError is the error for an answer with a status other than the
// one expected: the dashboard's own error if it sent one, else a
// description of what came back instead.
func responseError(req *http.Request, resp *http.Response, body []byte) error {
	if isJSON(resp) {
		e := &apiError{Status: resp.StatusCode}
		if json.Unmarshal(body, e) == nil && e.Message != "" {
			return e
		}
	}
	return unexpected(req, resp, body)
}

// unexpected describes an answer that is not the dashboard's JSON: most
// likely --url points at another server, or at the right server under the
// wrong path.
func unexpected(req *http.Request, resp *http.Response, body []byte) error {
	what := resp.Status
	if loc := resp.Header.Get("Location"); loc != "" {
		return fmt.Errorf("the server at %s answered %s %s with a redirect (%s) to %s: give the address it redirects to as --url", req.URL, req.Method, req.URL.Path, what, loc)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		what += ", " + ct
	}
	if s := snippet(body); s != "" {
		what += ": " + s
	}
	return fmt.Errorf("the server at %s answered %s with something other than the dashboard's JSON (%s): is --url the dashboard's base URL, the path the program mounts it under, such as %s?", req.URL, req.Method, what, URLDefault)
}

// snippet returns the start of body, quoted, for an error message.
func snippet(body []byte) string {
	const max = 120
	s := strings.TrimSpace(string(body))
	if len(s) > max {
		s = s[:max]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	if s == "" {
		return ""
	}
	return fmt.Sprintf("%q", s)
}
