package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

//go:embed static
var staticFS embed.FS

//go:embed templates
var templateFS embed.FS

// asset is one embedded static file.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// assets serves the embedded static files under content-hashed names
// (app.js becomes app.3f2a9c01b7de.js): a name is never reused for other
// content, so browsers may keep a file for a year without asking again.
type assets struct {
	// byHashed maps a hashed name to its file.
	byHashed map[string]asset
	// hashed maps a file's name to its hashed name.
	hashed map[string]string
}

func loadAssets() (*assets, error) {
	a := &assets{byHashed: map[string]asset{}, hashed: map[string]string{}}
	err := fs.WalkDir(staticFS, "static", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		body, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:6])
		name := path.Base(p)
		ext := path.Ext(name)
		hashedName := strings.TrimSuffix(name, ext) + "." + hash + ext
		ct := mime.TypeByExtension(ext)
		if ct == "" {
			ct = "application/octet-stream"
		}
		a.hashed[name] = hashedName
		a.byHashed[hashedName] = asset{body: body, contentType: ct, etag: strconv.Quote(hash)}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load static assets: %w", err)
	}
	return a, nil
}

// url returns the path of a static file by its plain name. It panics on an
// unknown name: templates name their assets, so a test catches a typo.
func (a *assets) url(name string) string {
	h, ok := a.hashed[name]
	if !ok {
		panic(fmt.Sprintf("web: no static asset %q", name))
	}
	return "/ui/assets/" + h
}

func (a *assets) serve(w http.ResponseWriter, r *http.Request) {
	f, ok := a.byHashed[r.PathValue("name")]
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if !ok {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("no such asset: assets are named by their content, so an old page may ask for one that is gone; reload it\n"))
		return
	}
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", f.etag)
	if match := r.Header.Get("If-None-Match"); match == f.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(f.body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(f.body)
}
