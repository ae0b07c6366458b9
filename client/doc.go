// Package client is a small Go client of Flask's HTTP API v1, used by
// flaskctl and by tests.
//
//	c, err := client.New("http://127.0.0.1:8080", client.WithAPIKey(key))
//	res, err := c.Submit(ctx, client.SubmitRequest{Type: "email.send", Payload: payload})
//
// A problem response (RFC 9457) becomes a *ProblemError, which names the
// status, the fields at fault and, for a state conflict, the job's state.
// errors.Is(err, job.ErrNotFound) holds for a 404.
package client
