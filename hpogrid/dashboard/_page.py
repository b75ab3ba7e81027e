"""The dashboard's one page: static HTML and a script that polls ``api/snapshot`` and redraws.

No user string is ever put into the HTML on the server except the escaped page title; the
script writes every value with ``textContent`` (never ``innerHTML``), so a parameter named
``</script><img src=x onerror=...>`` is shown as text. Figures are plotly figure dicts whose
labels :mod:`hpogrid.report` already escaped for plotly. The page never reloads itself: new
trials, states and plots arrive through the poll.
"""
from __future__ import annotations

import html

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.2em;color:#222}
h1{font-size:1.4em;margin:.1em 0} h2{font-size:1.15em;margin-top:1.5em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em} td,th{padding:2px 8px;border-bottom:1px solid #eee;
text-align:left;white-space:nowrap} th{background:#f4f4f4;position:sticky;top:0;cursor:pointer}
th[aria-sort=ascending]::after{content:" \\25B2"} th[aria-sort=descending]::after{content:" \\25BC"}
td.num{text-align:right} .scroll{max-height:30em;overflow:auto;border:1px solid #ddd}
.note{background:#fff8e1;padding:.3em .8em;margin:.3em 0} .status{color:#555;font-size:.9em}
.error{background:#fde8e8;padding:.3em .8em} pre{background:#f7f7f7;padding:.5em;max-height:18em;
overflow:auto;white-space:pre-wrap} .plot{min-height:200px} .counts span{margin-right:1em}
.bar{display:flex;gap:1em;align-items:center;flex-wrap:wrap}
"""

SCRIPT = r"""
(function(){
  'use strict';
  var cfg = JSON.parse(document.getElementById('hpogrid-config').textContent);
  var state = {fingerprint: null, cursor: null, sortCol: 0, sortAsc: true, filter: '', data: null, study: cfg.study, compare: []};
  function $(id){ return document.getElementById(id); }
  function el(tag, text, cls){ var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text); if (cls) e.className = cls; return e; }
  function fmt(v){ if (v === null || v === undefined) return '';
    if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
    return String(v); }
  function clear(node){ while (node.firstChild) node.removeChild(node.firstChild); }

  function renderTable(){
    var t = state.data.table, head = $('trials-head'), body = $('trials-body');
    clear(head); clear(body);
    t.columns.forEach(function(c, i){
      var th = el('th', c); th.setAttribute('data-col', i);
      if (i === state.sortCol) th.setAttribute('aria-sort', state.sortAsc ? 'ascending' : 'descending');
      th.addEventListener('click', function(){
        if (state.sortCol === i) state.sortAsc = !state.sortAsc; else { state.sortCol = i; state.sortAsc = true; }
        renderTable();
      });
      head.appendChild(th);
    });
    var rows = t.rows.filter(function(r){ return !state.filter || String(r[2]).split(' ')[0] === state.filter; });
    var col = state.sortCol, sign = state.sortAsc ? 1 : -1;
    rows.sort(function(a, b){
      var x = a[col], y = b[col];
      if (x === y) return 0; if (x === null) return 1; if (y === null) return -1;
      if (typeof x === 'number' && typeof y === 'number') return (x - y) * sign;
      return String(x).localeCompare(String(y)) * sign;
    });
    rows.forEach(function(r){
      var tr = el('tr'); tr.setAttribute('data-state', String(r[2]).split(' ')[0]);
      r.forEach(function(v){ tr.appendChild(el('td', fmt(v), typeof v === 'number' ? 'num' : '')); });
      body.appendChild(tr);
    });
    $('trials-shown').textContent = rows.length + ' of ' + t.total + ' trials shown' +
      (t.shown < t.total ? ' (the best ' + t.shown + ' are sent; hpogrid report --to_csv has all)' : '');
  }

  function renderPanels(box, prefix, panels, figures){
    var keep = {};
    panels.forEach(function(p){
      keep[p.key] = true;
      var id = prefix + 'plot-' + p.key, div = $(id);
      if (!div){
        var sec = el('section'); sec.id = prefix + 'section-' + p.key;
        sec.appendChild(el('h2', p.title)); div = el('div', null, 'plot'); div.id = id;
        sec.appendChild(div); box.appendChild(sec);
      } else { div.parentNode.querySelector('h2').textContent = p.title; }
      var fig = figures[p.key];
      try { Plotly.react(div, fig.data, fig.layout, {responsive: true, displaylogo: false}); }
      catch (e) { div.textContent = 'This plot could not be drawn: ' + e; }
    });
    Array.prototype.slice.call(box.children).forEach(function(sec){
      if (!keep[sec.id.replace(prefix + 'section-', '')]) box.removeChild(sec);
    });
  }

  function renderPlots(){ renderPanels($('plots'), '', state.data.panels, state.data.figures); }

  function renderComparison(){
    var c = state.data.comparison, sec = $('compare-section');
    sec.hidden = !c; if (!c) return;
    $('compare-error').hidden = !c.error; $('compare-error').textContent = c.error || '';
    var head = $('compare-head'), body = $('compare-body'), notes = $('compare-notes');
    clear(head); clear(body); clear(notes);
    if (c.error){ renderPanels($('compare-plots'), 'compare-', [], {}); return; }
    c.headers.forEach(function(h){ head.appendChild(el('th', h)); });
    c.rows.forEach(function(r, i){
      var tr = el('tr');
      r.forEach(function(v, j){
        var td = el('td', fmt(v), typeof v === 'number' ? 'num' : '');
        if (j === 0){ td.style.borderLeft = '6px solid ' + c.colours[i]; }
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    c.notes.forEach(function(n){ notes.appendChild(el('p', n, 'note')); });
    renderPanels($('compare-plots'), 'compare-', c.panels, c.figures);
  }

  function fillPickers(){
    fetch('api/studies', {cache: 'no-store'}).then(function(r){ return r.json(); }).then(function(d){
      if (!d.studies) return;
      var pick = $('study-picker'), cmp = $('compare-picker');
      clear(pick); clear(cmp);
      d.studies.forEach(function(n){
        var o = el('option', n); o.value = n; o.selected = n === state.study; pick.appendChild(o);
        if (n !== state.study){
          var c = el('option', n); c.value = n; c.selected = state.compare.indexOf(n) >= 0; cmp.appendChild(c);
        }
      });
      $('pickers').hidden = d.studies.length < 2;
    }).catch(function(){});
  }

  function renderFailed(){
    var box = $('failed'); clear(box);
    if (!state.data.failed.length){ box.appendChild(el('p', 'No failed trials.')); return; }
    state.data.failed.forEach(function(f){
      var det = el('details'); det.className = 'failed-trial';
      det.appendChild(el('summary', 'trial ' + f.number + ' (' + f.uid + '): ' + f.summary));
      det.appendChild(el('p', Object.keys(f.params).map(function(k){ return k + '=' + fmt(f.params[k]); }).join(', ')));
      det.appendChild(el('pre', f.error));
      box.appendChild(det);
    });
  }

  function renderFailures(){  // what failed where: the HTML report's two tables
    var f = state.data.failures, box = $('failures');
    $('failures-section').hidden = !f; clear(box);
    if (!f) return;
    box.appendChild(el('p', f.failed + ' failed trials, ' + f.lost_attempts + ' lost attempts.'));
    f.tables.forEach(function(t){
      var wrap = el('div'), table = el('table'), head = el('tr'), body = el('tbody');
      wrap.className = 'scroll'; table.id = t.id;
      t.columns.forEach(function(h){ head.appendChild(el('th', h)); });
      var thead = el('thead'); thead.appendChild(head); table.appendChild(thead);
      t.rows.forEach(function(r){
        var tr = el('tr');
        r.forEach(function(v){ tr.appendChild(el('td', fmt(v))); });
        body.appendChild(tr);
      });
      table.appendChild(body); wrap.appendChild(table); box.appendChild(wrap);
    });
  }

  function renderArtifacts(){
    var list = state.data.artifacts || [], box = $('artifacts');
    $('artifacts-section').hidden = !list.length; clear(box);
    list.forEach(function(a){
      var li = el('li'), link = el('a', a.name);
      link.href = 'api/artifact?study=' + encodeURIComponent(state.data.study) + '&trial=' +
        encodeURIComponent(a.uid) + '&name=' + encodeURIComponent(a.name);
      link.setAttribute('download', a.name);
      li.appendChild(el('span', 'trial ' + a.number + ' (' + a.uid + '): '));
      li.appendChild(link);
      li.appendChild(el('span', ' ' + fmt(a.size) + ' bytes, sha256 ' + String(a.sha256 || '').slice(0, 12)));
      box.appendChild(li);
    });
  }

  function renderGrid(){
    var g = state.data.grid, sec = $('grid-section');
    sec.hidden = !g; if (!g) return;
    var box = $('grid'); clear(box);
    var table = el('table'), head = el('tr');
    ['task id', 'task name', 'site', 'jobs', 'PanDA status', 'synced at', 'job', 'job status', 'job site', 'trials']
      .forEach(function(h){ head.appendChild(el('th', h)); });
    table.appendChild(head);
    g.tasks.forEach(function(t){
      var jobs = t.jobs.length ? t.jobs : [null];
      jobs.forEach(function(j, k){
        var tr = el('tr');
        [k ? '' : t.task_id, k ? '' : t.taskname, k ? '' : t.site, k ? '' : t.n_jobs, k ? '' : t.status,
         k ? '' : (t.synced_at || ''), j ? j.job_id : '', j ? j.status : '', j ? (j.site || '') : '',
         j ? Object.keys(j.trials).map(function(s){ return j.trials[s] + ' ' + s.toLowerCase(); }).join(', ') : '']
          .forEach(function(v){ tr.appendChild(el('td', fmt(v))); });
        table.appendChild(tr);
      });
    });
    box.appendChild(table);
  }

  function render(){
    var d = state.data;
    $('waiting').hidden = !d.waiting; $('content').hidden = !!d.waiting;
    if (d.waiting){ $('waiting').textContent = 'Waiting for the first trial: ' + d.waiting; renderGrid(); return; }
    renderSummary();
    var notes = $('notes'); clear(notes);
    d.notes.forEach(function(n){ notes.appendChild(el('p', n, 'note')); });
    renderTable(); renderPlots(); renderFailed(); renderFailures(); renderGrid(); renderComparison(); renderArtifacts();
  }

  function renderSummary(){
    var d = state.data;
    $('study').textContent = 'study ' + d.study + ' in ' + d.store + (d.pareto_front ?
      ' | objectives ' + d.objectives : ' | metric ' + d.metric + ' (' + d.mode + ')') +
      (d.constraints && d.constraints.length ? ' | constraints ' + d.constraints.join(', ') : '');
    var counts = $('counts'); clear(counts);
    Object.keys(d.counts).forEach(function(s){
      if (d.counts[s]) counts.appendChild(el('span', d.counts[s] + ' ' + s.toLowerCase()));
    });
    var front = d.pareto_front;
    $('best').textContent = (front ? (front.length ? 'Pareto front: ' + front.length + ' trial' +
      (front.length === 1 ? '' : 's') + ' (' + front.slice(0, 20).join(', ') + (front.length > 20 ? ', ...' : '') + ')'
      : 'no feasible completed trial with every objective yet') :
      d.best ? ('best ' + d.metric + ' = ' + fmt(d.best.value) + ' in trial ' +
      d.best.number + ': ' + Object.keys(d.best.params).map(function(k){
        return k + '=' + fmt(d.best.params[k]); }).join(', ')) : 'no completed trial yet') +
      (d.infeasible ? ' | ' + d.infeasible + ' infeasible' : '');
    $('stop-rules').textContent = d.stop_rules ? d.stop_rules.text : '';
    $('stop-rules').hidden = !d.stop_rules;
  }

  // an update: the trials written since the last poll replace their rows (by trial number)
  function merge(u){
    // (an update re-reads a few seconds back, so rows come again unchanged: only a real change
    // redraws the table, which would otherwise flicker and lose what the user points at)
    var d = state.data, t = d.table, at = {}, changed = false;
    t.rows.forEach(function(r, i){ at[r[1]] = i; });
    u.rows.forEach(function(r){
      if (r.length !== t.columns.length) return;  // a new column: the next full snapshot has it
      if (at.hasOwnProperty(r[1])){
        var old = t.rows[at[r[1]]];
        (u.unknown || [0]).forEach(function(i){ if (r[i] === null) r[i] = old[i]; });
        if (JSON.stringify(old) !== JSON.stringify(r)){ t.rows[at[r[1]]] = r; changed = true; }
      }
      else { at[r[1]] = t.rows.length; t.rows.push(r); changed = true; }
    });
    var summary = JSON.stringify([t.total, d.counts, d.best]) !== JSON.stringify([u.total, u.counts, u.best]);
    t.shown = t.rows.length; t.total = u.total; d.counts = u.counts; d.best = u.best;
    if (summary) renderSummary();
    if (changed) renderTable();
  }

  function snapshotUrl(){
    var url = 'api/snapshot?study=' + encodeURIComponent(state.study);
    if (state.compare.length) return url + '&compare=' + encodeURIComponent(state.compare.join(','));
    if (state.cursor && state.fingerprint)  // only what changed since the last answer
      return url + '&since=' + encodeURIComponent(state.cursor) + '&base=' + encodeURIComponent(state.fingerprint);
    return url + (state.fingerprint ? '' : '&quick=1');
  }

  // a poll answers for the study picked when it started; picking another starts a new round
  var round = 0, timer = null;
  function poll(){
    var mine = ++round, url = snapshotUrl();
    clearTimeout(timer);
    fetch(url, {cache: 'no-store'}).then(function(r){
      if (!r.ok) return r.json().then(function(e){ throw new Error(e.error || r.statusText); });
      return r.json();
    }).then(function(d){
      if (mine !== round) return;
      $('error').hidden = true;
      $('updated').textContent = 'checked ' + new Date().toLocaleTimeString();
      if (d.delta){ if (d.fingerprint === state.fingerprint && state.data){ merge(d); } }
      else if (d.fingerprint !== state.fingerprint){ state.fingerprint = d.fingerprint; state.data = d; render(); }
      state.cursor = d.cursor || null;
    }).catch(function(e){
      if (mine !== round) return;
      $('error').hidden = false; $('error').textContent = 'Could not read the study: ' + e.message;
    })
      .then(function(){ if (mine === round) timer = setTimeout(poll, cfg.interval_ms); });
  }

  $('study-picker').addEventListener('change', function(){
    state.study = this.value; state.compare = state.compare.filter(function(n){ return n !== state.study; });
    state.fingerprint = null; state.cursor = null; state.sortCol = 0; state.sortAsc = true; fillPickers(); poll();
  });
  $('compare-picker').addEventListener('change', function(){
    state.compare = Array.prototype.filter.call(this.options, function(o){ return o.selected; })
      .map(function(o){ return o.value; });
    state.fingerprint = null; state.cursor = null; poll();
  });
  setInterval(function(){  // new studies appear in the pickers (not while one is being used)
    var a = document.activeElement;
    if (a !== $('study-picker') && a !== $('compare-picker')) fillPickers();
  }, 30000);

  $('state-filter').addEventListener('change', function(){
    state.filter = this.value; if (state.data && !state.data.waiting) renderTable();
  });
  $('sync').addEventListener('click', function(){
    var btn = this; btn.disabled = true; $('sync-result').textContent = 'syncing with PanDA...';
    fetch('api/sync', {method: 'POST', headers: {'X-Hpogrid': 'sync'}})
      .then(function(r){ return r.json(); }).then(function(d){
      $('sync-result').textContent = d.message;
    }).catch(function(e){ $('sync-result').textContent = 'sync failed: ' + e.message; })
      .then(function(){ btn.disabled = false; });
  });
  fillPickers(); poll();
})();
"""


def page(project: str, interval_ms: int, study: str = "") -> str:
    """The dashboard page (the project name is the only server-side string put in the HTML,
    escaped; the study the page starts with travels in the JSON config, ``<`` escaped)."""
    import json

    name = html.escape(project)
    config = json.dumps({"interval_ms": interval_ms, "study": study or project}).replace("<", "\\u003c")
    states = "".join(f'<option value="{s}">{s.lower()}</option>'
                     for s in ("PENDING", "RUNNING", "COMPLETED", "FAILED", "INTERRUPTED"))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>hpogrid dashboard: {name}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style>
<script src="static/plotly.min.js"></script></head><body>
<h1>hpogrid dashboard: {name}</h1>
<div class="bar status"><span id="study"></span><span id="updated"></span></div>
<div id="pickers" class="bar" hidden><label>study <select id="study-picker"></select></label>
<label>compare with <select id="compare-picker" multiple size="3"></select></label></div>
<p id="error" class="error" hidden></p>
<p id="waiting" class="note" hidden></p>
<section id="grid-section" hidden><h2>Grid tasks and jobs (as last synced)</h2>
<div class="bar"><button id="sync" type="button">Sync with PanDA</button>
<span id="sync-result" class="status"></span></div>
<div id="grid" class="scroll"></div></section>
<div id="content" hidden>
<div class="bar"><div id="counts" class="counts"></div><div id="best"></div></div>
<div id="stop-rules" class="note" hidden></div>
<div id="notes"></div>
<section id="compare-section" hidden><h2>Studies side by side</h2><p id="compare-error" class="error" hidden></p>
<div id="compare-notes"></div>
<div class="scroll"><table id="compare-table"><thead><tr id="compare-head"></tr></thead>
<tbody id="compare-body"></tbody></table></div><div id="compare-plots"></div></section>
<h2>Trials</h2>
<div class="bar"><label>state <select id="state-filter"><option value="">all</option>{states}</select></label>
<span id="trials-shown" class="status"></span></div>
<div class="scroll"><table id="trials"><thead><tr id="trials-head"></tr></thead>
<tbody id="trials-body"></tbody></table></div>
<div id="plots"></div>
<section id="failures-section" hidden><h2>What failed where</h2><div id="failures"></div></section>
<h2>Failed trials</h2><div id="failed"></div>
<section id="artifacts-section" hidden><h2>Artifacts</h2><ul id="artifacts"></ul></section>
</div>
<script type="application/json" id="hpogrid-config">{config}</script>
<script src="static/dashboard.js"></script>
</body></html>
"""
