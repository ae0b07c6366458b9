// Flask dashboard: live updates over server-sent events, the submit form,
// retry and cancel. No library and no inline script: the page's
// Content-Security-Policy allows scripts from this origin only. Every action
// is a request to the HTTP API (/v1/...), whose problem+json errors are shown
// next to the field they name.
(() => {
  'use strict';

  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  // ---- times: the server writes UTC; the browser shows "3 min ago" with
  // the local time as a tooltip.

  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto', style: 'short' });
  const units = [['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1]];

  function relative(date, now) {
    const secs = (date.getTime() - now) / 1000;
    for (const [unit, size] of units) {
      if (Math.abs(secs) >= size || unit === 'second') {
        return rtf.format(Math.round(secs / size), unit);
      }
    }
    return '';
  }

  function age(date, now) {
    let s = Math.max(0, Math.round((now - date.getTime()) / 1000));
    if (s < 60) return s + 's';
    const m = Math.floor(s / 60);
    s %= 60;
    if (m < 60) return m + 'm ' + s + 's';
    const h = Math.floor(m / 60);
    return h + 'h ' + (m % 60) + 'm';
  }

  function refreshTimes(root = document) {
    const now = Date.now();
    for (const t of $$('time[data-rel]', root)) {
      const d = new Date(t.dateTime);
      if (Number.isNaN(d.getTime())) continue;
      if (!t.title) t.title = d.toLocaleString();
      t.textContent = t.dataset.rel === 'age' ? age(d, now) : relative(d, now);
    }
  }

  // ---- the API

  // csrfToken is the session's CSRF token, from the cookie sign-in set.
  function csrfToken() {
    const m = document.cookie.match(/(?:^|;\s*)flask_csrf=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : '';
  }
  for (const input of document.querySelectorAll('input[data-csrf]')) input.value = csrfToken();

  async function api(method, path, body) {
    const init = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
    if (method !== 'GET' && method !== 'HEAD') init.headers['X-CSRF-Token'] = csrfToken();
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (err) {
      return { ok: false, status: 0, data: null, problem: { detail: 'The server could not be reached (' + err.message + ').' } };
    }
    let data = null;
    try {
      data = await res.json();
    } catch (_) {
      // not JSON: keep the status
    }
    const problem = res.ok ? null : (data && data.detail ? data : { detail: 'The server answered ' + res.status + '.' });
    return { ok: res.ok, status: res.status, data, problem };
  }

  // runLimited calls fn for every item, at most `limit` at a time.
  async function runLimited(items, limit, fn) {
    const results = new Array(items.length);
    let next = 0;
    async function lane() {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]);
      }
    }
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
    return results;
  }

  // ---- live updates: one EventSource per tab, reconnected with backoff.

  const live = {
    el: null,
    source: null,
    attempt: 0,
    timer: 0,
    hiddenTimer: 0,

    url() {
      const p = new URLSearchParams();
      if (document.body.dataset.liveOverview === 'true') p.set('overview', '1');
      const ids = new Set($$('[data-watch]').map((e) => e.dataset.watch));
      for (const id of Array.from(ids).slice(0, 100)) p.append('job', id);
      return p.toString() ? '/ui/events?' + p.toString() : null;
    },

    status(state, text) {
      if (!this.el) return;
      this.el.dataset.state = state;
      $('.live-text', this.el).textContent = text;
      $('.live-refresh', this.el).hidden = state === 'live' || state === 'connecting';
    },

    connect() {
      clearTimeout(this.timer);
      this.close();
      const url = this.url();
      if (!url) {
        this.status('off', 'Nothing to watch live');
        return;
      }
      this.status('connecting', this.attempt ? 'Reconnecting…' : 'Connecting…');
      const es = new EventSource(url);
      this.source = es;
      es.addEventListener('live', () => {
        this.attempt = 0;
        this.status('live', 'Live');
      });
      es.addEventListener('stale', () => this.status('stale', 'Live updates paused: the server cannot read the job store'));
      es.addEventListener('overview', (e) => {
        const box = $('#overview-live');
        if (!box) return;
        box.innerHTML = e.data;
        refreshTimes(box);
        if (this.el.dataset.state === 'stale') this.status('live', 'Live');
      });
      es.addEventListener('job', (e) => {
        applyJob(JSON.parse(e.data));
        if (this.el.dataset.state === 'stale') this.status('live', 'Live');
      });
      es.onerror = () => {
        // Take over from EventSource's own retry: back off exponentially,
        // with jitter, so that a restart is not met by every tab at once.
        this.close();
        const delay = Math.min(30000, 1000 * 2 ** this.attempt) * (0.5 + Math.random() / 2);
        this.attempt++;
        this.status('paused', 'Live updates paused; retrying in ' + Math.ceil(delay / 1000) + 's');
        this.timer = setTimeout(() => this.connect(), delay);
      };
    },

    close() {
      if (this.source) {
        this.source.close();
        this.source = null;
      }
    },

    start() {
      this.el = $('#live');
      if (!this.el) return;
      $('.live-refresh', this.el).addEventListener('click', () => location.reload());
      // A hidden tab gives its stream back after a minute and takes a new
      // one, with everything it missed, when it is shown again.
      document.addEventListener('visibilitychange', () => {
        clearTimeout(this.hiddenTimer);
        if (document.hidden) {
          this.hiddenTimer = setTimeout(() => {
            clearTimeout(this.timer);
            this.close();
            this.status('paused', 'Live updates paused while the tab is hidden');
          }, 60000);
        } else if (!this.source) {
          this.attempt = 0;
          this.connect();
        }
      });
      window.addEventListener('pagehide', () => this.close());
      this.connect();
    },
  };

  // replaceKeepingFocus swaps an element for new HTML, keeping a row's
  // selection and the keyboard focus on the equivalent control.
  function replaceKeepingFocus(old, html) {
    const tpl = document.createElement('template');
    tpl.innerHTML = html.trim();
    const el = tpl.content.firstElementChild;
    if (!el) return;
    const box = $('input[name=select]', old);
    if (box && box.checked) {
      const nb = $('input[name=select]', el);
      if (nb) nb.checked = true;
    }
    let focusSel = null;
    const active = document.activeElement;
    if (active && old.contains(active)) {
      if (active.dataset.action) focusSel = '[data-action="' + active.dataset.action + '"]';
      else if (active.name === 'select') focusSel = 'input[name=select]';
    }
    old.replaceWith(el);
    refreshTimes(el);
    if (focusSel) {
      const f = $(focusSel, el);
      if (f) f.focus();
    }
  }

  function applyJob(u) {
    for (const row of $$('[data-job-row]')) {
      if (row.dataset.jobRow === u.id) replaceKeepingFocus(row, u.row);
    }
    for (const d of $$('[data-job-detail]')) {
      if (d.dataset.jobDetail === u.id) replaceKeepingFocus(d, u.detail);
    }
  }

  // ---- retry and cancel on the job page

  function problemText(p) {
    return p && p.detail ? p.detail : 'The request failed.';
  }

  document.addEventListener('click', async (e) => {
    const btn = e.target.closest('[data-action]');
    if (!btn) return;
    const action = btn.dataset.action;
    const id = btn.dataset.id;
    const question = action === 'retry'
      ? 'Retry job ' + id.slice(-8) + '? It is queued again, keeping its history.'
      : 'Cancel job ' + id.slice(-8) + '? A running job stops at its next heartbeat.';
    if (!window.confirm(question)) return;
    btn.disabled = true;
    const msg = $('[data-action-msg]');
    const res = await api('POST', '/v1/jobs/' + encodeURIComponent(id) + '/' + action);
    btn.disabled = false;
    if (!msg) return;
    msg.classList.toggle('error', !res.ok);
    if (res.ok) {
      msg.textContent = action === 'retry'
        ? 'Retried: the job is ' + res.data.state + '.'
        : (res.data.state === 'running' ? 'Cancel requested: the job stops at its worker\'s next heartbeat.' : 'Cancelled.');
    } else {
      msg.textContent = problemText(res.problem);
    }
  });

  // ---- selection and bulk actions on the jobs page

  function selectedIds() {
    return $$('input[name=select]:checked').map((i) => i.value);
  }

  function updateBulk() {
    const bulk = $('[data-bulk]');
    if (!bulk) return;
    const boxes = $$('input[name=select]');
    const n = selectedIds().length;
    $('[data-selected-count]', bulk).textContent = n + ' selected';
    for (const b of $$('[data-bulk-action]', bulk)) b.disabled = n === 0;
    const all = $('[data-select-all]');
    if (all) {
      all.checked = n > 0 && n === boxes.length;
      all.indeterminate = n > 0 && n < boxes.length;
    }
  }

  document.addEventListener('change', (e) => {
    if (e.target.matches('[data-select-all]')) {
      for (const b of $$('input[name=select]')) b.checked = e.target.checked;
    }
    if (e.target.matches('[data-select-all], input[name=select]')) updateBulk();
  });

  document.addEventListener('click', async (e) => {
    const btn = e.target.closest('[data-bulk-action]');
    if (!btn) return;
    const action = btn.dataset.bulkAction;
    const ids = selectedIds();
    if (ids.length === 0) return;
    const noun = ids.length === 1 ? '1 job' : ids.length + ' jobs';
    if (!window.confirm((action === 'retry' ? 'Retry ' : 'Cancel ') + noun + '?')) return;
    const msg = $('[data-bulk-msg]');
    const buttons = $$('[data-bulk-action]');
    for (const b of buttons) b.disabled = true;
    msg.classList.remove('error');
    msg.textContent = (action === 'retry' ? 'Retrying ' : 'Cancelling ') + noun + '…';
    const results = await runLimited(ids, 4, (id) => api('POST', '/v1/jobs/' + encodeURIComponent(id) + '/' + action));
    const failed = [];
    results.forEach((r, i) => {
      if (!r.ok) failed.push(ids[i].slice(-8) + ': ' + problemText(r.problem));
    });
    const done = ids.length - failed.length;
    const verb = action === 'retry' ? 'retried' : 'cancelled';
    let text = done + ' ' + verb + '.';
    if (failed.length) text += ' ' + failed.length + ' not ' + verb + ': ' + failed.join('; ');
    msg.textContent = text;
    msg.classList.toggle('error', failed.length > 0);
    for (const b of $$('input[name=select]')) b.checked = false;
    updateBulk();
  });

  // ---- the submit form

  function setupSubmit(form) {
    const type = $('[name=type]', form);
    const payload = $('[name=payload]', form);

    function showError(field, text) {
      let el = $('[data-error-for="' + field + '"]', form);
      if (!el) el = $('[data-error-for=""]', form);
      el.textContent = el.dataset.errorFor === field ? text : (field ? field + ': ' : '') + text;
      el.hidden = false;
      const input = field && form.elements.namedItem(field);
      if (input && input.setAttribute) input.setAttribute('aria-invalid', 'true');
      return input || el;
    }

    function clearError(field) {
      const el = $('[data-error-for="' + field + '"]', form);
      if (el) {
        el.hidden = true;
        el.textContent = '';
      }
      const input = field && form.elements.namedItem(field);
      if (input && input.removeAttribute) input.removeAttribute('aria-invalid');
    }

    function clearErrors() {
      for (const el of $$('[data-error-for]', form)) clearError(el.dataset.errorFor);
    }

    function applyDefaults() {
      const o = type.selectedOptions[0];
      if (!o) return;
      $('[name=queue]', form).placeholder = o.dataset.queue;
      $('[name=max_attempts]', form).placeholder = o.dataset.maxAttempts;
      $('[name=timeout]', form).placeholder = o.dataset.timeout;
    }

    function checkPayload() {
      try {
        const v = JSON.parse(payload.value);
        clearError('payload');
        return { ok: true, value: v };
      } catch (err) {
        showError('payload', 'is not valid JSON: ' + err.message);
        return { ok: false };
      }
    }

    type.addEventListener('change', applyDefaults);
    payload.addEventListener('input', checkPayload);
    applyDefaults();

    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors();
      const p = checkPayload();
      if (!p.ok) {
        payload.focus();
        return;
      }
      const body = { type: type.value, payload: p.value };
      const val = (name) => form.elements.namedItem(name).value.trim();
      if (val('queue')) body.queue = val('queue');
      if (val('max_attempts')) {
        const n = val('max_attempts');
        body.max_attempts = /^-?\d+$/.test(n) ? Number(n) : n;
      }
      if (val('timeout')) body.timeout = val('timeout');
      if (val('run_at')) {
        const d = new Date(val('run_at'));
        if (Number.isNaN(d.getTime())) {
          showError('run_at', 'is not a date and time').focus();
          return;
        }
        body.run_at = d.toISOString();
      }
      if (val('idempotency_key')) body.idempotency_key = val('idempotency_key');

      const submit = $('button[type=submit]', form);
      submit.disabled = true;
      const res = await api('POST', '/v1/jobs', body);
      submit.disabled = false;
      if (res.ok && res.data && res.data.id) {
        location.assign('/jobs/' + encodeURIComponent(res.data.id));
        return;
      }
      const errs = (res.problem && res.problem.errors) || [];
      let first = null;
      for (const fe of errs) {
        const target = showError(fe.field || '', fe.detail);
        first = first || target;
      }
      if (errs.length === 0) first = showError('', problemText(res.problem));
      if (first && first.focus) first.focus();
    });
  }

  // ---- start

  function start() {
    refreshTimes();
    setInterval(refreshTimes, 5000);
    const form = $('[data-submit-form]');
    if (form) setupSubmit(form);
    updateBulk();
    if (document.body.dataset.live === 'true') live.start();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
