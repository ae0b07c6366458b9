// Package web is Flask's dashboard: server-rendered pages to watch queues
// and workers, browse and search jobs, submit jobs and retry or cancel them,
// with live updates over server-sent events.
//
// Pages are html/template files rendered on the server; a small script
// (static/app.js, no library) adds the live updates, the submit form's JSON
// validation and the actions. The script and the style sheet are embedded in
// the binary and served under content-hashed names with a year-long cache.
//
// The dashboard reads the store directly but never writes it: every action
// (submit, retry, cancel) is a request from the browser to the HTTP API
// (/v1/...), so that the API's validation and its problem+json errors are
// the only ones. Dashboard.Wrap serves the dashboard's routes and passes
// every other request to the API, with cross-origin protection on every
// unsafe method.
//
// Live updates come from one hub per process: one poller reads the queue
// statistics and the jobs that open pages watch (store.GetJobs) once per
// interval and fans the changes out to every stream, so that the database
// load does not grow with the number of open tabs. See docs/dashboard.md.
package web
