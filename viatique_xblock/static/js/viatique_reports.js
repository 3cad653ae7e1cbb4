/* Viatique staff dashboard section: statistics (all staff), exports and the audit log (instructors).
 *
 * Statistics: the figures of the graded copies (total and per question: count, mean, median,
 * standard deviation) with a histogram drawn in SVG (role="img", its <title> and <desc> give every
 * bin's count in words, so screen readers get the same numbers), and the per-grader counts and means.
 * Exports: the grades CSV (comma or semicolon) as a plain download link, and a ZIP of the graded
 * PDFs built by the server, with its progress and then a download link.
 * Exam archive: exported by a task (progress, then a download link); when the exam is empty, an archive
 * chosen by the instructor is uploaded as the raw body and imported by a task, then the page reloads.
 * Audit log: filters (copy, actor, action, dates), pages of events, and the same filters as a CSV.
 *
 * Called by viatique_staff.js with the block's runtime, element and arguments; everything lives
 * under the block's root element. The server refuses exports and the audit log to graders anyway.
 */
function ViatiqueReports(runtime, element, args) {
  'use strict';
  var common = window.ViatiqueCommon;
  args = common.startupArgs(element, args);
  var section = common.claimSection(element, 'reports');
  if (!section) { return; }
  var root = section.root;
  var region = section.region;
  var _ = common.makeGettext(args.i18n);
  var fmt = common.format;
  var el = common.el;
  var isInstructor = args.role === 'instructor';
  var idPrefix = section.idPrefix;
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var POLL_MS = 1500;
  var AUDIT_PAGE = 25;
  var svgCount = 0;

  function url(name, suffix, query) {
    var base = runtime.handlerUrl(element, name, suffix);
    var parts = Object.keys(query || {}).filter(function (key) { return query[key] !== '' && query[key] !== null; })
      .map(function (key) { return encodeURIComponent(key) + '=' + encodeURIComponent(query[key]); });
    if (!parts.length) { return base; }
    return base + (base.indexOf('?') === -1 ? '?' : '&') + parts.join('&');
  }

  var calls = common.sectionCalls(runtime, element, _);
  var call = calls.call;
  var failure = calls.failure;

  function say(box, text, isError) {
    box.textContent = '';
    if (text) {
      box.appendChild(el('p', {'class': isError ? 'viatique-message viatique-error' : 'viatique-message', text: text}));
    }
  }

  function number(value) { return value === null || value === undefined ? '—' : String(value); }

  function heading(level, id, text) { return el('h' + level, {id: id, text: text}); }

  // ---------------------------------------------------------------- statistics

  var statsTitle = idPrefix + '-statistics';
  var statsStatus = el('div', {'class': 'viatique-messages', role: 'status', 'aria-live': 'polite',
    'data-region': 'statistics-status'});
  var statsBody = el('div', {'data-region': 'statistics'});
  var refresh = el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'refresh-statistics',
    text: _('Refresh the statistics'), onclick: loadStatistics});

  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  /* A bar chart of one histogram; its title and description say every figure in words. */
  function histogramSvg(name, bins) {
    var width = 320;
    var height = 140;
    var bottom = 22;
    var top = 14;
    var most = Math.max.apply(null, [1].concat(bins.map(function (bin) { return bin.count; })));
    var step = width / Math.max(1, bins.length);
    var id = idPrefix + '-histogram-' + (++svgCount);
    // a bin is one possible value (low === high: "2.5") or a range of round edges ("from 0 to 5")
    function binText(bin) { return bin.low === bin.high ? String(bin.low) : bin.low + '–' + bin.high; }
    var words = bins.map(function (bin) {
      return bin.low === bin.high ? fmt(_('{value}: {count}'), {value: bin.low, count: bin.count})
        : fmt(_('from {low} to {high}: {count}'), {low: bin.low, high: bin.high, count: bin.count});
    }).join('; ');
    var chart = svg('svg', {viewBox: '0 0 ' + width + ' ' + height, width: width, height: height, role: 'img',
      'aria-labelledby': id + '-title', 'aria-describedby': id + '-desc', 'class': 'viatique-histogram', focusable: 'false'});
    chart.appendChild(svg('title', {id: id + '-title'}, fmt(_('Histogram of {name}'), {name: name})));
    chart.appendChild(svg('desc', {id: id + '-desc'}, fmt(_('Copies per range of points: {ranges}.'), {ranges: words})));
    bins.forEach(function (bin, index) {
      var barHeight = (height - bottom - top) * bin.count / most;
      var x = index * step + 2;
      var y = height - bottom - barHeight;
      chart.appendChild(svg('rect', {x: x, y: y, width: Math.max(1, step - 4), height: barHeight,
        'class': 'viatique-bar', 'data-count': bin.count}));
      if (bin.count) {
        chart.appendChild(svg('text', {x: x + (step - 4) / 2, y: y - 3, 'text-anchor': 'middle',
          'class': 'viatique-bar-count', 'aria-hidden': 'true'}, String(bin.count)));
      }
      // every bar says what it counts, under its middle; labels that would overlap are thinned out
      var every = Math.max(1, Math.ceil(bins.length * 34 / width));
      if (index % every === 0 || index === bins.length - 1) {
        chart.appendChild(svg('text', {x: x + (step - 4) / 2, y: height - 6, 'text-anchor': 'middle',
          'class': 'viatique-axis', 'aria-hidden': 'true'}, binText(bin)));
      }
    });
    chart.appendChild(svg('line', {x1: 0, x2: width, y1: height - bottom, y2: height - bottom, 'class': 'viatique-axis-line'}));
    return chart;
  }

  function figures(item) {
    return el('dl', {'class': 'viatique-figures'}, [
      el('div', {}, [el('dt', {text: _('Graded copies')}), el('dd', {'data-figure': 'count', text: number(item.count)})]),
      el('div', {}, [el('dt', {text: _('Mean')}), el('dd', {'data-figure': 'mean', text: number(item.mean)})]),
      el('div', {}, [el('dt', {text: _('Median')}), el('dd', {'data-figure': 'median', text: number(item.median)})]),
      el('div', {}, [el('dt', {text: _('Standard deviation')}), el('dd', {'data-figure': 'stdev', text: number(item.stdev)})]),
      el('div', {}, [el('dt', {text: _('Maximum')}), el('dd', {'data-figure': 'max', text: number(item.max)})])
    ]);
  }

  function figureBlock(id, title, item, dataAttrs) {
    var headingId = idPrefix + '-' + id;
    var box = el('div', Object.assign({'class': 'viatique-stat', role: 'group', 'aria-labelledby': headingId},
      dataAttrs || {}), [
      heading(5, headingId, title), figures(item)
    ]);
    if (item.histogram && item.histogram.length) { box.appendChild(histogramSvg(title, item.histogram)); }
    return box;
  }

  function gradersTable(graders) {
    var rows = graders.map(function (grader) {
      return el('tr', {'data-grader': grader.label}, [
        el('th', {scope: 'row', text: grader.is_self ? fmt(_('{name} (you)'), {name: grader.label}) : grader.label}),
        el('td', {text: String(grader.count)}), el('td', {text: number(grader.mean)})
      ]);
    });
    if (!rows.length) { return el('p', {'class': 'viatique-hint', text: _('No copy has been graded yet.')}); }
    return el('table', {'class': 'viatique-table', 'data-region': 'grader-statistics'}, [
      el('caption', {text: _('Graded copies and mean total per grader')}),
      el('thead', {}, [el('tr', {}, [el('th', {scope: 'col', text: _('Grader')}),
        el('th', {scope: 'col', text: _('Graded copies')}), el('th', {scope: 'col', text: _('Mean total')})])]),
      el('tbody', {}, rows)
    ]);
  }

  function renderStatistics(body) {
    var progress = body.progress || {};
    statsBody.textContent = '';
    statsBody.appendChild(el('p', {'data-region': 'statistics-progress', text: fmt(
      _('{graded} of {total} copies graded, {identified} identified, {assigned} assigned; results {released}.'), {
        graded: progress.graded, total: progress.total, identified: progress.identified, assigned: progress.assigned,
        released: progress.released ? _('released') : _('not released')})}));
    statsBody.appendChild(figureBlock('total', _('Total'), body.total, {'data-question': 'total'}));
    body.questions.forEach(function (question) {
      statsBody.appendChild(figureBlock('q-' + question.id, fmt(_('{label} ({id})'), question), question,
        {'data-question': question.id}));
    });
    statsBody.appendChild(heading(5, idPrefix + '-graders', _('Graders')));
    statsBody.appendChild(gradersTable(body.graders));
  }

  function loadStatistics() {
    say(statsStatus, _('Loading the statistics…'));
    return call('statistics', null, 'GET').then(function (result) {
      if (!result.ok) { return say(statsStatus, failure(result), true); }
      say(statsStatus, '');
      renderStatistics(result.body);
    });
  }

  var reportsTitle = idPrefix + '-title';
  region.setAttribute('aria-labelledby', reportsTitle);
  region.appendChild(heading(3, reportsTitle, isInstructor ? _('Statistics, exports and audit log') : _('Statistics')));
  region.appendChild(el('section', {'class': 'viatique-reports-part', 'aria-labelledby': statsTitle,
    'data-region': 'statistics-part'}, [
    heading(4, statsTitle, _('Statistics')),
    el('p', {'class': 'viatique-hint', text: _('Figures over the graded copies only.')}),
    el('div', {'class': 'viatique-buttons'}, [refresh]), statsStatus, statsBody
  ]));
  loadStatistics();
  // shown again (the dashboard's Reports screen, viatique_staff.js): copies may have been graded meanwhile
  root.addEventListener('viatique:screen-shown', function (event) {
    if (event.detail && event.detail.screen === 'reports') { loadStatistics(); }
  });

  if (!isInstructor) { return; }

  // ---------------------------------------------------------------- exports

  var separatorSelect = el('select', {id: idPrefix + '-separator', 'data-field': 'separator'}, [
    el('option', {value: 'comma', text: _('Comma (decimal point)')}),
    el('option', {value: 'semicolon', text: _('Semicolon (decimal comma)')})
  ]);
  var csvLink = el('a', {'class': 'viatique-button', 'data-action': 'grades-csv', download: '',
    text: _('Download the grades CSV')});
  function updateCsvLink() { csvLink.setAttribute('href', url('grades_csv', '', {separator: separatorSelect.value})); }
  separatorSelect.addEventListener('change', updateCsvLink);
  updateCsvLink();

  var namingName = idPrefix + '-naming';
  var namings = el('fieldset', {'class': 'viatique-fieldset'}, [
    el('legend', {text: _('Name the PDFs in the ZIP by')}),
    el('label', {'class': 'viatique-choice'}, [el('input', {type: 'radio', name: namingName, value: 'username',
      checked: true, 'data-field': 'naming'}), ' ', _('username (the code for unidentified copies)')]),
    el('label', {'class': 'viatique-choice'}, [el('input', {type: 'radio', name: namingName, value: 'code',
      'data-field': 'naming'}), ' ', _('anonymous code')])
  ]);
  var zipButton = el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'export-zip',
    text: _('Build a ZIP of the graded PDFs'), onclick: startZip});
  var zipProgressLabel = idPrefix + '-zip-progress';
  var zipProgress = el('progress', {max: 1, value: 0, 'aria-labelledby': zipProgressLabel, hidden: true});
  var zipStatus = el('div', {'class': 'viatique-messages', role: 'status', 'aria-live': 'polite',
    'data-region': 'export-status', id: zipProgressLabel});
  var zipLink = el('a', {'class': 'viatique-button', 'data-action': 'export-download', download: '', hidden: true,
    text: _('Download the ZIP')});
  /* A job's status polled every POLL_MS until ``finished(job)`` (a ZIP, an archive export or import): its
   * answer shown with ``show``, a refusal said in ``status`` and ``button`` enabled again. One timer each. */
  function jobWatcher(handler, button, status, show, finished) {
    var timer = null;
    return function watch(id) {
      clearTimeout(timer);
      call(handler, {id: id}, 'GET').then(function (result) {
        if (!result.ok) { button.disabled = false; return say(status, failure(result), true); }
        show(result.body);
        if (!finished(result.body)) { timer = setTimeout(function () { watch(id); }, POLL_MS); }
      });
    };
  }

  function ended(job) { return job.state === 'failed' || job.state === 'expired'; }

  function showJob(job) {
    zipProgress.hidden = job.state === 'done' || ended(job);
    zipProgress.max = Math.max(1, job.total);
    zipProgress.value = job.done;
    if (job.state === 'expired') {
      say(zipStatus, job.error);
    } else if (job.state === 'failed') {
      say(zipStatus, fmt(_('The ZIP could not be built: {error}'), {error: job.error || '—'}), true);
    } else if (job.ready) {
      say(zipStatus, fmt(_('The ZIP of {total} graded PDFs is ready.'), {total: job.total}));
      zipLink.setAttribute('href', url('export_download', job.id));
      zipLink.hidden = false;
    } else {
      say(zipStatus, fmt(_('Building the ZIP: {done} of {total} PDFs…'), {done: job.done, total: job.total}));
    }
    zipButton.disabled = !(job.ready || ended(job));
  }

  var poll = jobWatcher('export_status', zipButton, zipStatus, showJob,
    function (job) { return job.ready || ended(job); });

  function startZip() {
    var chosen = namings.querySelector('input:checked');
    zipButton.disabled = true;
    zipLink.hidden = true;
    call('export_zip', {naming: chosen ? chosen.value : 'code'}).then(function (result) {
      if (!result.ok) { zipButton.disabled = false; return say(zipStatus, failure(result), true); }
      showJob(result.body);
      poll(result.body.id);
    });
  }

  var exportsTitle = idPrefix + '-exports';
  region.appendChild(el('section', {'class': 'viatique-reports-part', 'aria-labelledby': exportsTitle,
    'data-region': 'exports'}, [
    heading(4, exportsTitle, _('Exports')),
    el('p', {'class': 'viatique-hint', text: _('One row per copy and one column per question, headed with the ' +
      'id of the question, which never changes. Choose the semicolon for a spreadsheet set up for French.')}),
    el('div', {'class': 'viatique-buttons'}, [el('label', {'for': separatorSelect.id, text: _('Separator')}), ' ',
      separatorSelect, ' ', csvLink]),
    namings, el('div', {'class': 'viatique-buttons'}, [zipButton, ' ', zipLink]), zipProgress, zipStatus
  ]));
  call('export_status', null, 'GET').then(function (result) {
    var latest = result.ok && result.body.exports && result.body.exports[0];
    if (latest) { showJob(latest); if (!latest.ready && !ended(latest)) { poll(latest.id); } }
  });

  // ---------------------------------------------------------------- exam archive

  var archiveTitle = idPrefix + '-archive';
  var archiveButton = el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'archive-export',
    text: _('Export the exam archive'), onclick: startArchive});
  var archiveProgressLabel = idPrefix + '-archive-progress';
  var archiveProgress = el('progress', {max: 1, value: 0, 'aria-labelledby': archiveProgressLabel, hidden: true});
  var archiveStatus = el('div', {'class': 'viatique-messages', role: 'status', 'aria-live': 'polite',
    'data-region': 'archive-status', id: archiveProgressLabel});
  var archiveLink = el('a', {'class': 'viatique-button', 'data-action': 'archive-download', download: '', hidden: true,
    text: _('Download the exam archive')});
  var importInput = el('input', {type: 'file', id: idPrefix + '-archive-file', accept: '.zip,application/zip',
    'data-field': 'archive-file'});
  var importButton = el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'archive-import',
    text: _('Import an exam archive'), onclick: startImport});
  var importProgressLabel = idPrefix + '-import-progress';
  var importProgress = el('progress', {max: 1, value: 0, 'aria-labelledby': importProgressLabel, hidden: true});
  var importStatus = el('div', {'class': 'viatique-messages', role: 'status', 'aria-live': 'polite',
    'data-region': 'archive-import-status', id: importProgressLabel});
  var importPart = el('div', {'class': 'viatique-archive-import', role: 'group', 'data-region': 'archive-import',
    'aria-labelledby': idPrefix + '-archive-import-title'}, [
    heading(5, idPrefix + '-archive-import-title', _('Import an exam archive')),
    el('p', {'class': 'viatique-hint', text: _('This exam has no scans, copies or booklets yet: an archive ' +
      'exported from another exam can be imported into it. Learners are found by username.')}),
    el('div', {'class': 'viatique-buttons'}, [el('label', {'for': importInput.id, text: _('Exam archive (.zip)')}),
      ' ', importInput, ' ', importButton]),
    importProgress, importStatus
  ]);

  function archiveEnded(job) { return job.state === 'failed' || job.state === 'refused' || job.state === 'expired'; }

  function showArchive(job) {
    archiveProgress.hidden = job.state === 'done' || archiveEnded(job);
    archiveProgress.max = Math.max(1, job.total);
    archiveProgress.value = job.done;
    if (archiveEnded(job)) {
      say(archiveStatus, job.state === 'expired' ? job.message :
        fmt(_('The exam archive could not be exported: {error}'), {error: job.message || job.error}),
        job.state !== 'expired');
    } else if (job.ready) {
      say(archiveStatus, _('The exam archive is ready. It holds the names and work of the learners: keep it ' +
        'where only the exam\'s staff can read it.'));
      archiveLink.setAttribute('href', url('archive_download', job.id));
      archiveLink.hidden = false;
    } else {
      say(archiveStatus, fmt(_('Exporting the exam archive: {done} of {total} files…'),
        {done: job.done, total: job.total}));
    }
    archiveButton.disabled = !(job.ready || archiveEnded(job));
  }

  var pollArchive = jobWatcher('archive_status', archiveButton, archiveStatus, showArchive,
    function (job) { return job.ready || archiveEnded(job); });

  function startArchive() {
    archiveButton.disabled = true;
    archiveLink.hidden = true;
    call('archive_export', {}).then(function (result) {
      if (!result.ok) { archiveButton.disabled = false; return say(archiveStatus, failure(result), true); }
      showArchive(result.body);
      pollArchive(result.body.id);
    });
  }

  function showImport(job) {
    importProgress.hidden = job.state !== 'running' && job.state !== 'queued';
    importProgress.max = Math.max(1, job.total);
    importProgress.value = job.done;
    if (job.state === 'done') {
      say(importStatus, _('The archive is imported. The dashboard is being refreshed…'));
      window.location.reload();
    } else if (archiveEnded(job)) {
      say(importStatus, fmt(_('The archive was not imported: {error}'), {error: job.message || job.error}), true);
    } else {
      say(importStatus, job.total ? fmt(_('Importing the archive: {done} of {total} files…'),
        {done: job.done, total: job.total}) : _('Importing the archive…'));
    }
    importButton.disabled = !(job.state === 'done' || archiveEnded(job));
  }

  var pollImport = jobWatcher('archive_status', importButton, importStatus, showImport,
    function (job) { return job.state !== 'queued' && job.state !== 'running'; });

  function startImport() {
    var file = importInput.files && importInput.files[0];
    if (!file) { importInput.focus(); return say(importStatus, _('Choose an exam archive (.zip) to import.'), true); }
    importButton.disabled = true;
    say(importStatus, _('Sending the archive…'));
    common.postFile(runtime.handlerUrl(element, 'archive_import'), file, 'application/zip').then(function (result) {
      if (!result.ok) { importButton.disabled = false; return say(importStatus, failure(result), true); }
      showImport(result.body);
      pollImport(result.body.id);
    });
  }

  /* The import is offered only when the exam is empty (the server refuses it otherwise): its controls are
   * added to the page then, and only then. */
  var archiveSection = el('section', {'class': 'viatique-reports-part', 'aria-labelledby': archiveTitle,
    'data-region': 'archive'}, [
    heading(4, archiveTitle, _('Exam archive')),
    el('p', {'class': 'viatique-hint', text: _('Everything of this exam in one file (scans, copies, grading, ' +
      'audit log, settings), to move it to another course or keep it outside the platform.')}),
    el('div', {'class': 'viatique-buttons'}, [archiveButton, ' ', archiveLink]), archiveProgress, archiveStatus
  ]);
  region.appendChild(archiveSection);
  function offerImport() { if (!importPart.parentNode) { archiveSection.appendChild(importPart); } }
  call('archive_status', null, 'GET').then(function (result) {
    if (!result.ok) { return; }
    if (result.body.importable) { offerImport(); }
    var latestExport = null;
    var latestImport = null;
    (result.body.archives || []).forEach(function (job) {
      if (job.kind === 'archive' && !latestExport) { latestExport = job; }
      if (job.kind === 'archive_import' && !latestImport) { latestImport = job; }
    });
    if (latestExport) {
      showArchive(latestExport);
      if (!latestExport.ready && !archiveEnded(latestExport)) { pollArchive(latestExport.id); }
    }
    if (latestImport && (latestImport.state === 'queued' || latestImport.state === 'running')) {
      offerImport();
      showImport(latestImport);
      pollImport(latestImport.id);
    } else if (latestImport && archiveEnded(latestImport) && result.body.importable) {
      showImport(latestImport);
    }
  });

  // ---------------------------------------------------------------- audit log

  var auditTitle = idPrefix + '-audit';
  var auditOffset = 0;
  var filters = {};
  function field(name, label, type) {
    var input = el('input', {id: idPrefix + '-audit-' + name, name: name, type: type || 'text',
      'data-filter': name});
    return {input: input, node: el('div', {'class': 'viatique-filter'}, [el('label', {'for': input.id, text: label}), ' ', input])};
  }
  var copyField = field('copy', _('Copy (code or id)'));
  var actorField = field('actor', _('Actor (username)'));
  var actionSelect = el('select', {id: idPrefix + '-audit-action', name: 'action', 'data-filter': 'action'},
    [el('option', {value: '', text: _('All actions')})]);
  var fromField = field('date_from', _('From (date)'), 'date');
  var toField = field('date_to', _('To (date, included)'), 'date');
  var auditStatus = el('div', {'class': 'viatique-messages', role: 'status', 'aria-live': 'polite',
    'data-region': 'audit-status'});
  var auditBody = el('tbody', {});
  var previous = el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'audit-previous',
    text: _('Previous'), disabled: true, onclick: function () { auditOffset = Math.max(0, auditOffset - AUDIT_PAGE); loadAudit(); }});
  var next = el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'audit-next', text: _('Next'),
    disabled: true, onclick: function () { auditOffset += AUDIT_PAGE; loadAudit(); }});
  var pageLabel = el('span', {'data-region': 'audit-page'});
  var auditCsv = el('a', {'class': 'viatique-button', 'data-action': 'audit-csv', download: '',
    text: _('Download these events as CSV')});

  var form = el('form', {'class': 'viatique-audit-filters', 'data-region': 'audit-filters',
    'aria-label': _('Filter the audit log')}, [
    copyField.node, actorField.node,
    el('div', {'class': 'viatique-filter'}, [el('label', {'for': actionSelect.id, text: _('Action')}), ' ', actionSelect]),
    fromField.node, toField.node,
    el('div', {'class': 'viatique-buttons'}, [
      el('button', {type: 'submit', 'class': 'viatique-button', 'data-action': 'audit-filter', text: _('Filter')}), ' ',
      el('button', {type: 'reset', 'class': 'viatique-button', 'data-action': 'audit-reset', text: _('Clear the filters')})
    ])
  ]);
  form.addEventListener('submit', function (event) { event.preventDefault(); applyFilters(); });
  form.addEventListener('reset', function () { setTimeout(applyFilters, 0); });

  function applyFilters() {
    filters = {copy: copyField.input.value.trim(), actor: actorField.input.value.trim(), action: actionSelect.value,
      date_from: fromField.input.value, date_to: toField.input.value};
    auditOffset = 0;
    loadAudit();
  }

  function renderActions(actions) {
    var chosen = actionSelect.value;
    while (actionSelect.options.length > 1) { actionSelect.remove(1); }
    actions.forEach(function (action) { actionSelect.appendChild(el('option', {value: action, text: action})); });
    actionSelect.value = actions.indexOf(chosen) === -1 ? '' : chosen;
  }

  function details(value) {
    var keys = Object.keys(value || {});
    return keys.map(function (key) {
      var item = value[key];
      return key + ': ' + (typeof item === 'object' ? JSON.stringify(item) : String(item));
    }).join(', ');
  }

  function renderAudit(body) {
    auditBody.textContent = '';
    body.events.forEach(function (event) {
      auditBody.appendChild(el('tr', {'data-event-id': event.id, 'data-action': event.action}, [
        el('td', {text: event.time.replace('T', ' ').slice(0, 19)}),
        el('td', {text: event.actor || _('system')}),
        el('th', {scope: 'row', text: event.action}),
        el('td', {text: event.copy_code || (event.copy_id === null ? '—' : '#' + event.copy_id)}),
        el('td', {text: event.client_ip || '—'}),
        el('td', {'class': 'viatique-details', text: details(event.details)})
      ]));
    });
    renderActions(body.actions || []);
    var last = Math.min(body.offset + body.events.length, body.count);
    say(auditStatus, body.count ? fmt(_('Matching events: {count}'), {count: body.count}) :
      _('No event matches these filters.'));
    pageLabel.textContent = body.count ? fmt(_('{first}–{last} of {count}'), {first: body.offset + 1, last: last,
      count: body.count}) : '';
    previous.disabled = body.offset <= 0;
    next.disabled = last >= body.count;
    auditCsv.setAttribute('href', url('audit_log_csv', '', filters));
  }

  function loadAudit() {
    say(auditStatus, _('Loading the audit log…'));
    var query = Object.assign({offset: auditOffset, limit: AUDIT_PAGE}, filters);
    Object.keys(query).forEach(function (key) { if (query[key] === '') { delete query[key]; } });
    return call('audit_log', query, 'GET').then(function (result) {
      if (!result.ok) { return say(auditStatus, failure(result), true); }
      renderAudit(result.body);
    });
  }

  /* The audit log follows the actions that add to it: this screen's exports and downloads, and what was
   * done on the other screens meanwhile (read again each time the Reports screen is shown). */
  var AUDITED = {'export-zip': 1, 'export-download': 1, 'archive-export': 1, 'archive-download': 1, 'grades-csv': 1};
  root.addEventListener('viatique:screen-shown', function (event) {
    if (event.detail && event.detail.screen === 'reports') { loadAudit(); }
  });
  region.addEventListener('click', function (event) {
    var control = event.target.closest ? event.target.closest('[data-action]') : null;
    // a request (or a download) is on its way: read the log once the server has recorded it
    if (control && AUDITED[control.getAttribute('data-action')]) { setTimeout(loadAudit, 1200); }
  });

  region.appendChild(el('section', {'class': 'viatique-reports-part', 'aria-labelledby': auditTitle,
    'data-region': 'audit-log'}, [
    heading(4, auditTitle, _('Audit log')),
    form, auditStatus,
    el('table', {'class': 'viatique-table viatique-audit', 'data-region': 'audit-events'}, [
      el('caption', {'class': 'viatique-sr-only', text: _('Audit events, newest first')}),
      el('thead', {}, [el('tr', {}, [_('Time (UTC)'), _('Actor'), _('Action'), _('Copy'), _('Client IP'), _('Details')]
        .map(function (text) { return el('th', {scope: 'col', text: text}); }))]),
      auditBody
    ]),
    el('nav', {'class': 'viatique-pager', 'aria-label': _('Pages of the audit log')}, [previous, ' ', pageLabel, ' ', next]),
    el('div', {'class': 'viatique-buttons'}, [auditCsv])
  ]));
  loadAudit();
}
