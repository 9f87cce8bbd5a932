/* SPDX-License-Identifier: Apache-2.0 */
/* The script of nxpatch's HTML report (embedded by src/report/html.c; no
 * external resources). The images are the lines of the JSON block
 * #nxp-rows, one object per image (docs/json.md "HTML report"). Everything
 * from the images is put into the page with textContent, never as markup.
 * State (filters, page) lives in the URL's query, so a view can be shared:
 * ?class=refused&finding=refused-wx&level=error&q=text&group=N&page=2&size=100 */
(function () {
  'use strict';
  var D = document;
  var $ = function (id) { return D.getElementById(id); };
  var LEVELS = ['error', 'warning', 'note'];
  var VERDICT_ORDER = { refused: 0, signature: 1, pending: 2, posture: 3 };

  /* -------------------------------------------------------------- data */
  var rows = [], bad = 0;
  var raw = $('nxp-rows').textContent.split('\n');
  for (var i = 0; i < raw.length; i++) {
    if (!raw[i]) continue;
    try {
      var r = JSON.parse(raw[i]);
      r.findings = r.findings || [];
      r.idx = rows.length;
      rows.push(r);
    } catch (e) { bad++; }
  }

  function worst(r) {
    for (var l = 0; l < LEVELS.length; l++)
      for (var k = 0; k < r.findings.length; k++)
        if (r.findings[k].level === LEVELS[l]) return LEVELS[l];
    return 'none';
  }

  /* Identical reasons grouped: a group is one finding id with one message. */
  var groups = [], byKey = Object.create(null);
  var classes = Object.create(null), ids = Object.create(null), levels = Object.create(null);
  rows.forEach(function (r) {
    r.worst = worst(r);
    classes[r['class']] = (classes[r['class']] || 0) + 1;
    levels[r.worst] = (levels[r.worst] || 0) + 1;
    r.groups = [];
    var seenId = Object.create(null);
    r.findings.forEach(function (f) {
      if (!seenId[f.id]) { ids[f.id] = (ids[f.id] || 0) + 1; seenId[f.id] = 1; }
      var key = f.id + '\u0000' + f.message;
      var g = byKey[key];
      if (!g) {
        g = byKey[key] = { id: f.id, level: f.level, verdict: f.verdict, message: f.message,
                           n: 0, last: -1 };
        groups.push(g);
      }
      if (g.last !== r.idx) { g.n++; g.last = r.idx; r.groups.push(g); }
    });
  });
  groups.sort(function (a, b) {
    return (VERDICT_ORDER[a.verdict] - VERDICT_ORDER[b.verdict]) ||
           (LEVELS.indexOf(a.level) - LEVELS.indexOf(b.level)) || (b.n - a.n) ||
           (a.message < b.message ? -1 : a.message > b.message ? 1 : 0);
  });
  groups.forEach(function (g, k) { g.no = k; });

  /* ------------------------------------------------------------- state */
  var q = new URLSearchParams(location.search);
  var st = {
    cls: q.get('class') || '', finding: q.get('finding') || '', level: q.get('level') || '',
    text: q.get('q') || '', group: q.has('group') ? parseInt(q.get('group'), 10) : -1,
    page: Math.max(1, parseInt(q.get('page') || '1', 10) || 1),
    size: [25, 100, 500].indexOf(parseInt(q.get('size'), 10)) >= 0 ? parseInt(q.get('size'), 10) : 100
  };
  if (!(st.group >= 0 && st.group < groups.length)) st.group = -1;

  function saveState() {
    var p = new URLSearchParams();
    if (st.cls) p.set('class', st.cls);
    if (st.finding) p.set('finding', st.finding);
    if (st.level) p.set('level', st.level);
    if (st.text) p.set('q', st.text);
    if (st.group >= 0) p.set('group', String(st.group));
    if (st.page > 1) p.set('page', String(st.page));
    if (st.size !== 100) p.set('size', String(st.size));
    var s = p.toString();
    try { history.replaceState(null, '', s ? '?' + s : location.pathname); } catch (e) { /* file: */ }
  }

  /* ----------------------------------------------------------- helpers */
  function el(tag, cls, text) {
    var e = D.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function hex(n) { return typeof n === 'number' ? '0x' + n.toString(16) : ''; }
  function haystack(r) {
    if (r.hay === undefined) {
      var parts = [r.path, r['class'], r.status || '', r.text || '', r.stderr || ''];
      r.findings.forEach(function (f) { parts.push(f.id, f.message, f.section || ''); });
      r.hay = parts.join('\n').toLowerCase();
    }
    return r.hay;
  }
  function option(sel, value, label) {
    var o = el('option', null, label);
    o.value = value;
    sel.appendChild(o);
  }
  function fillSelect(sel, counts, cur) {
    option(sel, '', 'all');
    Object.keys(counts).sort().forEach(function (k) {
      option(sel, k, k + ' (' + counts[k] + ')');
    });
    if (cur && !(cur in counts)) option(sel, cur, cur + ' (0)');
    sel.value = cur;
  }

  /* ----------------------------------------------------------- filters */
  var fClass = $('f-class'), fFinding = $('f-finding'), fLevel = $('f-level'), fText = $('f-text');
  var fSize = $('f-size');
  fillSelect(fClass, classes, st.cls);
  fillSelect(fFinding, ids, st.finding);
  fillSelect(fLevel, levels, st.level);
  fText.value = st.text;
  fSize.value = String(st.size);

  function matches(r) {
    if (st.cls && r['class'] !== st.cls) return false;
    if (st.level && r.worst !== st.level) return false;
    if (st.finding && !r.findings.some(function (f) { return f.id === st.finding; })) return false;
    if (st.group >= 0 && r.groups.indexOf(groups[st.group]) < 0) return false;
    if (st.text && haystack(r).indexOf(st.text.toLowerCase()) < 0) return false;
    return true;
  }

  /* ------------------------------------------------------------ groups */
  var GROUPS_SHOWN = 10, allGroups = false;
  function renderGroups() {
    var box = $('groups'), list = el('ol', 'groups');
    box.textContent = '';
    if (!groups.length) {
      box.appendChild(el('p', 'none', 'No findings.'));
      return;
    }
    var n = allGroups ? groups.length : Math.min(GROUPS_SHOWN, groups.length);
    for (var k = 0; k < n; k++) {
      var g = groups[k], li = el('li', 'group v-' + g.verdict + ' lv-' + g.level);
      li.dataset.group = String(g.no);
      if (st.group === g.no) li.classList.add('on');
      var b = el('button', 'count', g.n + (g.n === 1 ? ' image' : ' images'));
      b.type = 'button';
      b.title = 'show only these images';
      b.dataset.group = String(g.no);
      li.appendChild(b);
      li.appendChild(el('span', 'verdict', g.verdict === 'posture' ? g.level : g.verdict));
      li.appendChild(el('code', 'fid', g.id));
      li.appendChild(el('span', 'msg', g.message));
      list.appendChild(li);
    }
    box.appendChild(list);
    if (groups.length > GROUPS_SHOWN) {
      var more = el('button', 'more', allGroups ? 'show the first ' + GROUPS_SHOWN
                                              : 'show all ' + groups.length + ' reasons');
      more.type = 'button';
      more.id = 'groups-more';
      box.appendChild(more);
    }
  }
  $('groups').addEventListener('click', function (ev) {
    var t = ev.target;
    if (t.id === 'groups-more') { allGroups = !allGroups; renderGroups(); return; }
    if (t.dataset && t.dataset.group !== undefined) {
      var g = parseInt(t.dataset.group, 10);
      st.group = st.group === g ? -1 : g;
      st.page = 1;
      update();
    }
  });

  /* -------------------------------------------------------------- rows */
  var EVIDENCE_SHOWN = 8;
  function renderRow(r) {
    var box = el('article', 'img c-' + r['class']);
    box.dataset['class'] = r['class'];
    box.dataset.level = r.worst;
    box.dataset.index = String(r.idx);
    var head = el('div', 'head');
    head.appendChild(el('span', 'badge c-' + r['class'], r['class']));
    head.appendChild(el('span', 'path', r.path));
    var facts = [];
    if (r.machine) facts.push(r.machine);
    if (r.kind) facts.push(r.kind);
    if (r.flags && r.flags.length) facts.push(r.flags.join(' '));
    if (r.signed === true) facts.push('signed');
    if (typeof r.changes === 'number' && r.changes) facts.push(r.changes + ' change' + (r.changes === 1 ? '' : 's'));
    if (facts.length) head.appendChild(el('span', 'facts', facts.join(' \u00b7 ')));
    box.appendChild(head);
    if (r.error) box.appendChild(el('p', 'error', r.error));
    if (r.findings.length) {
      var ul = el('ul', 'findings');
      r.findings.forEach(function (f) {
        var li = el('li', 'finding v-' + f.verdict + ' lv-' + f.level);
        li.dataset.id = f.id;
        li.appendChild(el('span', 'verdict', f.verdict === 'posture' ? f.level : f.verdict));
        li.appendChild(el('code', 'fid', f.id));
        li.appendChild(el('span', 'msg', f.message));
        var where = [];
        if (f.section) where.push('section ' + f.section);
        if (typeof f.rva === 'number') where.push('rva ' + hex(f.rva));
        if (f.policy_rule) where.push('rule ' + f.policy_rule);
        if (where.length) li.appendChild(el('span', 'where', where.join(', ')));
        ul.appendChild(li);
      });
      box.appendChild(ul);
    } else if (!r.error) {
      box.appendChild(el('p', 'clean', 'no findings'));
    }
    if (r.evidence && r.evidence.length) {
      var ev = el('div', 'evidence');
      ev.appendChild(el('span', 'label', 'evidence (' + (r.evidence_total || r.evidence.length) + ')'));
      var evl = el('ul', 'ev');
      r.evidence.slice(0, EVIDENCE_SHOWN).forEach(function (e) {
        evl.appendChild(el('li', null, e.kind + ' at ' + hex(e.rva) + (e.section ? ' in ' + e.section : '')));
      });
      var left = (r.evidence_total || r.evidence.length) - Math.min(EVIDENCE_SHOWN, r.evidence.length);
      if (left > 0) evl.appendChild(el('li', 'more', 'and ' + left + ' more'));
      ev.appendChild(evl);
      box.appendChild(ev);
    }
    if (r.stderr) box.appendChild(el('pre', 'stderr', r.stderr));
    if (r.text) {
      var d = el('details', 'text');
      d.appendChild(el('summary', null, 'report text'));
      d.appendChild(el('pre', null, r.text));
      box.appendChild(d);
    }
    return box;
  }

  /* ------------------------------------------------------------ update */
  function update() {
    var shown = [];
    for (var k = 0; k < rows.length; k++) if (matches(rows[k])) shown.push(rows[k]);
    var pages = Math.max(1, Math.ceil(shown.length / st.size));
    if (st.page > pages) st.page = pages;
    var from = (st.page - 1) * st.size, to = Math.min(shown.length, from + st.size);
    var list = $('rows'), frag = D.createDocumentFragment();
    for (var j = from; j < to; j++) frag.appendChild(renderRow(shown[j]));
    list.textContent = '';
    list.appendChild(frag);
    var filtered = shown.length !== rows.length;
    $('shown').textContent = shown.length ? (from + 1) + '\u2013' + to + ' of ' + shown.length +
      ' image' + (shown.length === 1 ? '' : 's') + (filtered ? ' (' + rows.length + ' in the report)' : '')
      : 'no images match' + (filtered ? ' (' + rows.length + ' in the report)' : '');
    D.body.dataset.shown = String(shown.length);
    D.body.dataset.page = String(st.page);
    D.body.dataset.pages = String(pages);
    $('page').textContent = 'page ' + st.page + ' of ' + pages;
    $('prev').disabled = st.page <= 1;
    $('next').disabled = st.page >= pages;
    $('f-group').hidden = st.group < 0;
    if (st.group >= 0) $('f-group-msg').textContent = groups[st.group].id + ': ' + groups[st.group].message;
    renderGroups();
    saveState();
  }

  function on(elm, evn, fn) { elm.addEventListener(evn, fn); }
  on(fClass, 'change', function () { st.cls = fClass.value; st.page = 1; update(); });
  on(fFinding, 'change', function () { st.finding = fFinding.value; st.page = 1; update(); });
  on(fLevel, 'change', function () { st.level = fLevel.value; st.page = 1; update(); });
  on(fSize, 'change', function () { st.size = parseInt(fSize.value, 10) || 100; st.page = 1; update(); });
  var typing = 0;
  on(fText, 'input', function () {
    clearTimeout(typing);
    typing = setTimeout(function () { st.text = fText.value; st.page = 1; update(); }, 120);
  });
  on($('f-group-clear'), 'click', function () { st.group = -1; st.page = 1; update(); });
  on($('f-reset'), 'click', function () {
    st.cls = st.finding = st.level = st.text = ''; st.group = -1; st.page = 1;
    fClass.value = fFinding.value = fLevel.value = fText.value = '';
    update();
  });
  on($('prev'), 'click', function () { if (st.page > 1) { st.page--; update(); } });
  on($('next'), 'click', function () { st.page++; update(); });

  if (bad) $('bad').textContent = bad + ' image record' + (bad === 1 ? ' is' : 's are') + ' unreadable';
  $('app').hidden = false;
  update();
  D.body.dataset.rows = String(rows.length);
  D.body.dataset.groups = String(groups.length);
  D.body.dataset.ready = '1';
})();
