package cli

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/localtasks/localtasks"
	"github.com/localtasks/localtasks/dashboard"
)

// crossSite sends requests as a browser does from another site.
type crossSite struct{ next http.RoundTripper }

func (c crossSite) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	return c.next.RoundTrip(req)
}

// TestCrossOrigin checks the command's words for the dashboard's
// cross-origin refusal, which the command itself never provokes: it sends
// no Origin or Sec-Fetch-Site header, but a proxy in between might.
func TestCrossOrigin(t *testing.T) {
	t.Parallel()
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 1})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, pool.Close(context.Background())) })
	h, err := dashboard.New(dashboard.Config{Backends: []localtasks.Backend{pool}, Actions: true})
	require.NoError(t, err)
	srv := httptest.NewServer(http.StripPrefix("/tasks", h))
	t.Cleanup(srv.Close)

	c, err := newClient(srv.URL + "/tasks")
	require.NoError(t, err)
	defer c.close()
	c.http.Transport = crossSite{c.transport}
	err = c.post(context.Background(), "api/strikes", strike{Task: "cli_test.x"}, &strikesAnswer{}, http.StatusOK)
	var ae *apiError
	require.True(t, errors.As(err, &ae), "%v", err)
	require.Equal(t, http.StatusForbidden, ae.Status)
	require.Equal(t, codeCrossOrigin, ae.Code)
	require.Regexp(t, `^the dashboard refused the request as cross-origin \(.+\): send it to the dashboard directly, not through a proxy that adds Origin or Sec-Fetch-Site headers$`, err.Error())
}
