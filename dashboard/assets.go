package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"
)

//go:embed assets/app.js assets/style.css
var assetFS embed.FS

//go:embed assets/index.html
var pageSource string

// asset is an embedded file, ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// assets are the files under assets/{name}, by name, read once.
var assets = loadAssets()

func loadAssets() map[string]asset {
	types := map[string]string{
		".js":  "text/javascript; charset=utf-8",
		".css": "text/css; charset=utf-8",
	}
	entries, err := assetFS.ReadDir("assets")
	if err != nil {
		panic(err) // embedded at build time: cannot fail
	}
	out := make(map[string]asset, len(entries))
	for _, e := range entries {
		body, err := assetFS.ReadFile("assets/" + e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(body)
		out[e.Name()] = asset{body: body, contentType: types[path.Ext(e.Name())], etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	return out
}

// serveAsset answers GET assets/{name}. The ETag lets a browser revalidate
// instead of downloading again.
func serveAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	a, ok := assets[name]
	if !ok {
		writeError(w, notFound("no asset %q: the page's assets are %s", name, strings.Join(assetNames(), ", ")))
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", a.contentType)
	hd.Set("ETag", a.etag)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
}

func assetNames() []string { return slices.Sorted(maps.Keys(assets)) }

var pageTemplate = template.Must(template.New("index.html").Parse(pageSource))

// renderPage renders the page once, for New.
func renderPage(title string, actions bool) ([]byte, error) {
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, struct {
		Title   string
		Actions bool
	}{title, actions}); err != nil {
		return nil, fmt.Errorf("dashboard: rendering the page: %w", err)
	}
	return buf.Bytes(), nil
}

// pagePolicy lets the page load its own scripts and styles and talk to its
// own API, and nothing else.
const pagePolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"

// servePage answers GET / with the page.
func (h *Handler) servePage(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("Content-Security-Policy", pagePolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	w.Write(h.page)
}
