package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store"
)

func ids(jobs []job.Job) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	return out
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

func (h *harness) testList(t *testing.T) {
	t.Run("NewestFirstAndFilters", func(t *testing.T) {
		e := h.setup(t)
		var all, mail, reports, cancelled, mailReport []string
		for i := range 12 {
			p := params("default")
			if i%2 == 0 {
				p.Queue = "mail"
			}
			if i%3 == 0 {
				p.Type = "report.build"
			}
			j := e.insert(p)
			if i%4 == 0 {
				_, err := e.s.CancelJob(e.ctx, j.ID)
				require.NoError(t, err)
				cancelled = append(cancelled, j.ID)
			}
			all = append(all, j.ID)
			if p.Queue == "mail" {
				mail = append(mail, j.ID)
			}
			if p.Type == "report.build" {
				reports = append(reports, j.ID)
				if p.Queue == "mail" {
					mailReport = append(mailReport, j.ID)
				}
			}
		}
		for name, c := range map[string]struct {
			p    store.ListParams
			want []string
		}{
			"all":        {store.ListParams{}, all},
			"queue":      {store.ListParams{Queue: "mail"}, mail},
			"type":       {store.ListParams{Type: "report.build"}, reports},
			"state":      {store.ListParams{State: job.StateCancelled}, cancelled},
			"queue+type": {store.ListParams{Queue: "mail", Type: "report.build"}, mailReport},
			"none":       {store.ListParams{Queue: "nothing-here"}, nil},
		} {
			got, err := e.s.ListJobs(e.ctx, c.p)
			require.NoError(t, err, name)
			require.Equal(t, reversed(c.want), ids(got), "%s: newest first", name)
		}
	})

	t.Run("CursorPages", func(t *testing.T) {
		e := h.setup(t)
		batch := make([]store.InsertParams, 25)
		for i := range batch {
			batch[i] = params("default")
		}
		res, _, err := e.s.InsertJobs(e.ctx, batch)
		require.NoError(t, err)
		var want []string
		for _, r := range res {
			want = append(want, r.Job.ID)
		}
		want = reversed(want)

		var got []string
		cursor := ""
		for pages := 0; ; pages++ {
			require.Less(t, pages, 10, "paging does not end")
			page, err := e.s.ListJobs(e.ctx, store.ListParams{Limit: 7, Cursor: cursor})
			require.NoError(t, err)
			require.LessOrEqual(t, len(page), 7, "limit respected")
			if len(page) == 0 {
				break
			}
			got = append(got, ids(page)...)
			cursor = page[len(page)-1].ID
		}
		require.Equal(t, want, got, "every job exactly once, newest first")

		page, err := e.s.ListJobs(e.ctx, store.ListParams{Limit: 7, Cursor: upper(want[6])})
		require.NoError(t, err)
		require.Equal(t, want[7:14], ids(page), "cursor case does not matter")
	})

	t.Run("BadCursor", func(t *testing.T) {
		e := h.setup(t)
		_, err := e.s.ListJobs(e.ctx, store.ListParams{Cursor: "not-a-job"})
		require.Error(t, err)
	})
}
