/* Viatique staff dashboard: the copy list, paginated, loaded from the list_copies handler. */
function ViatiqueStaffDashboard(runtime, element, args) {
  'use strict';
  var common = window.ViatiqueCommon;
  args = common.startupArgs(element, args);
  var root = common.rootElement(element);
  var _ = common.makeGettext(args.i18n);
  var fmt = common.format;
  var el = common.el;
  var pageSize = 50;
  var offset = 0;
  var showNames = args.role === 'instructor' || !args.anonymous;
  var tbody = root.querySelector('[data-region="copies"] tbody');
  var status = root.querySelector('[data-region="copies-status"]');
  var previous = root.querySelector('[data-action="previous-page"]');
  var next = root.querySelector('[data-action="next-page"]');
  var pageLabel = root.querySelector('[data-region="page-label"]');

  var STATES = {
    ready: _('Ready'), in_progress: _('Being graded'), submitted: _('Submitted'),
    graded: _('Graded'), render_failed: _('PDF failed'), reopened: _('Reopened'),
    unidentified: _('Unidentified'), identified: _('Identified')
  };

  function render(data) {
    tbody.textContent = '';
    data.copies.forEach(function (copy) {
      var cells = [el('th', {scope: 'row', text: copy.code})];
      if (showNames) {
        cells.push(el('td', {text: copy.name || copy.username || '—'}));
      }
      cells.push(el('td', {text: STATES[copy.identity] || copy.identity}));
      cells.push(el('td', {'data-state': copy.state, text: STATES[copy.state] || copy.state}));
      cells.push(el('td', {text: copy.grader || '—'}));
      cells.push(el('td', {text: copy.total === null ? '—' : copy.total}));
      // graders open their own copies and those nobody was given (opening another's is refused, and
      // refusals count towards the lockout)
      var mayOpen = args.role === 'instructor' || !copy.grader || copy.grader === args.username;
      cells.push(el('td', {}, !mayOpen ? [] : [el('button', {
        type: 'button', 'class': 'viatique-button', 'data-action': 'open-copy',
        'aria-label': fmt(_('Open copy {code}'), {code: copy.code}), text: _('Open'),
        onclick: function () {
          // the grading workspace (viatique_grading.js) listens for this
          root.dispatchEvent(new CustomEvent('viatique:open-copy', {detail: {copyId: copy.id, code: copy.code}}));
        }
      })]));
      tbody.appendChild(el('tr', {'data-copy-id': copy.id}, cells));
    });
    if (!data.count) {
      status.textContent = _('No copies yet. Copies appear here once scans are processed.');
    } else {
      status.textContent = fmt(_('{count} copies'), {count: data.count});
    }
    var last = Math.min(data.offset + data.copies.length, data.count);
    pageLabel.textContent = data.count ? fmt(_('{first}–{last} of {count}'), {
      first: data.offset + 1, last: last, count: data.count
    }) : '';
    previous.disabled = data.offset <= 0;
    next.disabled = last >= data.count;
  }

  function load() {
    status.textContent = _('Loading copies…');
    common.callHandler(runtime.handlerUrl(element, 'list_copies'), {offset: offset, limit: pageSize}, 'GET')
      .then(function (result) {
        if (!result.ok) {
          status.textContent = result.body.message || _('The copies could not be loaded.');
          return;
        }
        render(result.body);
      })
      .catch(function () { status.textContent = _('The copies could not be loaded. Check your connection.'); });
  }

  /* Scans processed or pages fixed (viatique_scans.js): new counters, and the list again. */
  function copiesChanged(event) {
    var progress = (event.detail && event.detail.progress) || {};
    Object.keys(progress).forEach(function (key) {
      var counter = root.querySelector('dd[data-count="' + key + '"]');
      if (counter && typeof progress[key] === 'number') { counter.textContent = progress[key]; }
    });
    load();
  }

  previous.addEventListener('click', function () { offset = Math.max(0, offset - pageSize); load(); });
  next.addEventListener('click', function () { offset += pageSize; load(); });
  root.addEventListener('viatique:copies-changed', copiesChanged);
  load();
  // the dashboard's other sections, each a module of its own loaded with this one
  [window.ViatiqueScans, window.ViatiqueIdentify, window.ViatiqueDispatch, window.ViatiqueGrading,
   window.ViatiqueResults, window.ViatiqueReports, window.ViatiqueLockouts].forEach(function (section) {
    if (typeof section === 'function') { section(runtime, element, args); }
  });
}
