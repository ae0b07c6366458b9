package api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/require"
)

// The document is checked with kin-openapi, which reads OpenAPI 3.1 and
// validates 3.1 documents' schemas as JSON Schema 2020-12.

type loadedDoc struct {
	doc    *openapi3.T
	router routers.Router
	err    error
}

var openAPIDoc = sync.OnceValue(func() loadedDoc {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPI)
	if err != nil {
		return loadedDoc{err: err}
	}
	if err := doc.Validate(loader.Context); err != nil {
		return loadedDoc{err: err}
	}
	// Route by path alone: tests call the handler without a host.
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	return loadedDoc{doc: doc, router: router, err: err}
})

func TestOpenAPIDocumentIsValid(t *testing.T) {
	t.Parallel()
	d := openAPIDoc()
	require.NoError(t, d.err)
	require.True(t, d.doc.IsOpenAPI31OrLater())
}

// TestOpenAPIDocumentsEveryRoute checks that the router and the document
// hold the same operations.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	t.Parallel()
	d := openAPIDoc()
	require.NoError(t, d.err)
	h := newHarness(t, Config{})

	var served []string
	err := chi.Walk(h.srv.router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		served = append(served, method+" "+route)
		return nil
	})
	require.NoError(t, err)

	var documented []string
	for path, item := range d.doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	sort.Strings(served)
	sort.Strings(documented)
	require.Equal(t, documented, served, "the chi routes and the OpenAPI paths differ")
}

func TestServesOpenAPIDocument(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	w := h.get("/v1/openapi.yaml")
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "application/yaml", w.Header().Get("Content-Type"))
	require.Equal(t, OpenAPI, w.Body.Bytes())
}

// checkAgainstDocument validates a response against the document's
// operation for the request: its status must be documented and its body
// must match the schema. A request that succeeded must match its schema too,
// so the document never refuses what the server accepts.
func checkAgainstDocument(t testing.TB, req request, w *httptest.ResponseRecorder) {
	t.Helper()
	d := openAPIDoc()
	require.NoError(t, d.err)

	r := httptest.NewRequest(req.method, req.path, strings.NewReader(req.body))
	if req.body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range req.header {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	route, params, err := d.router.FindRoute(r)
	if err != nil {
		// Only requests to undocumented routes or methods get here; they
		// must have been refused as such.
		require.Contains(t, []int{http.StatusNotFound, http.StatusMethodNotAllowed}, w.Code,
			"%s %s is not in the document but answered %d", req.method, req.path, w.Code)
		require.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
		return
	}
	in := &openapi3filter.RequestValidationInput{
		Request:    r,
		PathParams: params,
		Route:      route,
		Options:    &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	}
	ctx := context.Background()
	if w.Code < 300 && !slices.Contains([]string{"/metrics", "/v1/openapi.yaml"}, route.Path) {
		require.NoError(t, openapi3filter.ValidateRequest(ctx, in),
			"the server accepted a request that the document refuses")
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 w.Code,
		Header:                 w.Header(),
		Body:                   io.NopCloser(strings.NewReader(w.Body.String())),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	require.NoError(t, openapi3filter.ValidateResponse(ctx, out),
		"%s %s answered %d with a body the document does not describe: %s", req.method, req.path, w.Code, w.Body.String())
}
