/* Viatique: grading by question in the full-window workspace (an exam whose grading mode is by question).
 *
 * ViatiqueQuestionGrading(runtime, element, args) builds, in the page's [data-region="grading"] section:
 * without a question (args.target.question_id), the list of the exam's questions with their progress
 * ("Question 3: 41 / 150 graded, you: 17"), each a link to grade it; with one, the answers to that
 * question, one at a time: next_answer claims the next ungraded answer (its lease taken), the page where it
 * is shows, zoomed to the question's box when its layout has one (w: the whole page; [ and ]: the other
 * pages of the copy), the points and comment of the question and its annotations (t, x, c: tick, cross,
 * comment box at the cursor of the focused page). Ctrl+Enter (or n) saves the answer as graded and claims
 * the next; s skips it, a marks it "no answer" (the page of the question was not scanned, or left blank);
 * p goes back to the answer graded before. Work autosaves (save_answer), the lease is renewed by a
 * heartbeat and given back when leaving. The next answers' pages are fetched ahead (viatique_prefetch.js)
 * from the copies the grader is likely to get next. What is heard: viatique_announce.js's one status and
 * one alert; single keys act only on the page or on no control (viatique_keys.js).
 */
function ViatiqueQuestionGrading(runtime, element, args) {
  'use strict';
  var common = window.ViatiqueCommon;
  var keys = window.ViatiqueKeys;
  args = common.startupArgs(element, args);
  var section = common.claimSection(element, 'grading');
  if (!section) { return; }
  var region = section.region;
  var idPrefix = section.idPrefix;
  var _ = common.makeGettext(args.i18n);
  var fmt = common.format;
  var el = common.el;
  var formatNumber = common.numbers(args.lang).format;
  var calls = common.sectionCalls(runtime, element, _);
  var call = calls.call;
  var failure = calls.failure;
  var prefetch = window.ViatiquePrefetch.create(12);
  var questionId = (args.target || {}).question_id || '';
  var CURSOR_STEP = 0.02;
  var PREFETCH_AHEAD = 2;
  var DEFAULT_SIZE = {comment: [0.3, 0.08]};
  var TOOLS = [
    {kind: 'tick', key: 't', label: _('Tick')},
    {kind: 'cross', key: 'x', label: _('Cross')},
    {kind: 'comment', key: 'c', label: _('Comment box')}
  ];
  var SHORTCUTS = [
    ['n ' + _('or') + ' ' + _('Ctrl+Enter'), _('Graded: save and go to the next answer')],
    ['p', _('Previous answer')],
    ['s', _('Skip this answer for now')],
    ['a', _('No answer (0 points, stated to the learner)')],
    ['w', _('Whole page, or back to the question\'s box')],
    [_('[ ] or Page Up, Page Down'), _('Other pages of the copy')],
    ['t, x, c', _('Choose a tool: tick, cross, comment box')],
    [_('Arrow keys'), _('On the focused page: move the placement cursor')],
    [_('Enter'), _('On the focused page: place the chosen tool at the cursor')],
    ['1 … 9, 0', _('Apply or remove the rubric item of that number (0: the tenth)')],
    ['m', _('Go to the points')],
    [_('Esc'), _('Put the tool down, close the open panel, or go from a field back to the page')],
    ['d', _('Back to the dashboard')],
    ['?', _('Show or hide this list')]
  ];

  var answer = null;       // next_answer's or open_answer's answer on screen
  var lease = null;
  var version = 0;
  var annotations = [];
  var dirty = false;
  var saving = null;
  var saveTimer = null;
  var heartbeatTimer = null;
  var pageNumber = 1;      // the copy's page on screen (its position)
  var wholePage = false;
  var tool = null;
  var cursor = {x: 0.1, y: 0.1};
  var history = [];        // copy ids of the answers graded in this page, for "previous answer"
  var upcoming = [];       // copy ids likely to come next, for fetching their pages ahead
  var pagesOf = {};        // copy id -> its pages (open_copy), asked once
  var rubric = null;       // the question's rubric (ViatiqueRubric.load)
  var panel = null;        // its panel (viatique_rubric.js), under the points

  function url(name, suffix) { return runtime.handlerUrl(element, name, suffix); }
  function clamp(value, low, high) { return Math.min(Math.max(value, low), high); }
  function round(value) { return Math.round(value * 10000) / 10000; }
  function uuid4() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join('');
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join('-');
  }
  function button(action, text, onclick, attrs) {
    return el('button', Object.assign({type: 'button', 'class': 'viatique-button', 'data-action': action,
      text: text, onclick: onclick}, attrs || {}));
  }
  function questionName(question) {
    var path = question.path;
    return (Array.isArray(path) ? path.join(' › ') : path) || question.label;
  }
  function progressText(row) {
    return fmt(_('{question}: {graded} / {total} graded, you: {mine}'), {question: questionName(row),
      graded: row.graded, total: row.total, mine: row.mine});
  }

  /* ------------------------------------------------------------- the picker */

  if (!questionId) { return buildPicker(); }

  function buildPicker() {
    var heading = el('h2', {id: idPrefix + '-questions', tabindex: '-1', text: _('Grade by question')});
    var list = el('ul', {'class': 'viatique-question-list', 'data-region': 'question-list'});
    var status = el('p', {'class': 'viatique-message', role: 'status', 'data-region': 'announce-status'});
    region.appendChild(el('div', {'class': 'viatique-workspace', 'data-region': 'workspace'}, [heading, status, list]));
    call('question_progress', null, 'GET').then(function (result) {
      if (!result.ok) { status.textContent = failure(result); return; }
      (result.body.questions || []).forEach(function (row) {
        var address = new URL(window.location.href);
        address.searchParams.delete('copy');
        address.searchParams.set('question', row.id);
        list.appendChild(el('li', {'data-question': row.id}, [
          el('a', {href: address.toString(), 'class': 'viatique-button', text: progressText(row)})
        ]));
      });
      heading.focus();
    });
  }

  /* ------------------------------------------------------------- the layout */

  var title = el('h2', {id: idPrefix + '-title', tabindex: '-1', 'data-region': 'grading-title'});
  var progressLine = el('p', {'class': 'viatique-question-progress', 'data-region': 'question-progress'});
  var stateText = el('p', {'class': 'viatique-grading-state', 'data-region': 'grading-state'});
  var missingNote = el('p', {'class': 'viatique-missing-pages', 'data-region': 'missing-pages', hidden: true});
  var alertBox = el('div', {'class': 'viatique-grading-alert', role: 'alert', 'data-region': 'grading-alert'});
  var outcome = el('div', {'class': 'viatique-messages', 'data-region': 'grading-outcome'});
  var helpId = idPrefix + '-help';
  var helpButton = button('help', _('Keyboard shortcuts (?)'), function () { toggleHelp(); },
    {'aria-expanded': 'false', 'aria-controls': helpId, 'aria-keyshortcuts': '?'});
  var previousButton = button('previous-answer', _('Previous answer'), function () { previousAnswer(); },
    {'aria-keyshortcuts': 'p'});
  var nextButton = button('done-next', _('Graded, next answer'), function () { doneAndNext(); },
    {'aria-keyshortcuts': 'n Control+Enter'});
  var skipButton = button('skip-answer', _('Skip'), function () { skip(); }, {'aria-keyshortcuts': 's'});
  var noAnswerButton = button('no-answer', _('No answer'), function () { noAnswer(); }, {'aria-keyshortcuts': 'a'});
  var backButton = args.dashboard_url ? button('back-to-dashboard', _('Back to the dashboard'), function () {
    leave().then(function () { window.location.assign(args.dashboard_url); });
  }, {'aria-keyshortcuts': 'd'}) : null;
  var wholeButton = button('whole-page', _('Whole page'), function () { toggleWhole(); },
    {'aria-pressed': 'false', 'aria-keyshortcuts': 'w'});
  var pagePrev = button('previous-page', _('Previous page'), function () { showPage(pageNumber - 1, true); },
    {'aria-keyshortcuts': '['});
  var pageNext = button('next-page', _('Next page'), function () { showPage(pageNumber + 1, true); },
    {'aria-keyshortcuts': ']'});
  var pageLabel = el('span', {'class': 'viatique-page-label', 'data-region': 'page-label'});
  var toolButtons = TOOLS.map(function (item) {
    return button('tool-' + item.kind, item.label, function () { pickTool(tool === item.kind ? null : item.kind); },
      {'aria-pressed': 'false', 'data-tool': item.kind, 'aria-keyshortcuts': item.key});
  });
  var image = el('img', {'class': 'viatique-page-image', 'data-region': 'page-image', alt: '', draggable: 'false'});
  var overlay = el('div', {'class': 'viatique-overlay', 'aria-hidden': 'true', 'data-region': 'overlay'});
  var cursorMark = el('div', {'class': 'viatique-cursor'});
  var sheetHintId = idPrefix + '-sheet-hint';
  var sheet = el('div', {'class': 'viatique-sheet viatique-question-sheet', tabindex: '0', role: 'application',
    'aria-describedby': sheetHintId, 'data-region': 'sheet', 'data-single-keys': ''}, [image, overlay, cursorMark]);
  var viewport = el('div', {'class': 'viatique-stage viatique-question-viewport', 'data-region': 'stage'}, [sheet]);
  var sheetHint = el('p', {'class': 'viatique-sr-only', id: sheetHintId,
    text: _('Arrow keys move the placement cursor; Enter places the chosen tool; the annotations are listed ' +
      'beside the page.')});
  var pointsError = el('span', {'class': 'viatique-error', id: idPrefix + '-points-error', 'data-region': 'field-error'});
  var pointsInput = el('input', {type: 'text', inputmode: 'decimal', id: idPrefix + '-points', 'class': 'viatique-number',
    'data-field': 'points', 'aria-describedby': pointsError.id});
  var pointsLabel = el('label', {'for': pointsInput.id});
  var maxText = el('span', {'class': 'viatique-max'});
  var commentInput = el('input', {type: 'text', id: idPrefix + '-comment', 'data-field': 'question-comment'});
  var annotationList = el('ul', {'class': 'viatique-annotation-list', 'data-region': 'annotations'});
  var helpPanel = el('div', {'class': 'viatique-help', id: helpId, role: 'dialog', 'aria-labelledby': helpId + '-title',
    'data-region': 'grading-help', hidden: true}, [
    el('h3', {id: helpId + '-title', text: _('Keyboard shortcuts')}),
    keys.list(el, SHORTCUTS),
    button('close-help', _('Close the list of shortcuts'), function () { toggleHelp(false); })
  ]);
  var side = el('div', {'class': 'viatique-focus-side', 'data-region': 'side', role: 'region', tabindex: '0',
    'aria-label': _('Points and annotations')}, [
    el('fieldset', {'class': 'viatique-points-panel', 'data-region': 'points-panel'}, [
      el('legend', {text: _('Points')}),
      el('div', {'class': 'viatique-points-row'}, [pointsLabel, pointsInput, maxText, pointsError]),
      el('label', {'for': commentInput.id, text: _('Comment')}), commentInput
    ]),
    el('div', {'class': 'viatique-rubric-slot', 'data-region': 'rubric-slot'}),
    el('div', {'class': 'viatique-buttons', 'data-region': 'grading-actions'}, [nextButton, skipButton, noAnswerButton]),
    el('h3', {text: _('Annotations')}), annotationList
  ]);
  var body = el('div', {'class': 'viatique-grading-body', 'data-region': 'grading-body'}, [
    el('div', {'class': 'viatique-focus-left'}, [
      el('div', {'class': 'viatique-grading-tools', role: 'group', 'aria-label': _('Annotation tools')}, toolButtons),
      el('div', {'class': 'viatique-grading-viewer', role: 'group', 'aria-label': _('Page viewer')},
        [pagePrev, pageLabel, pageNext, wholeButton]),
      el('div', {'class': 'viatique-grading-main'}, [viewport]), sheetHint
    ]),
    side
  ]);
  var skipLinks = el('div', {'class': 'viatique-skip'}, [
    button('skip-to-page', _('Skip to the page'), function () { sheet.focus(); }, {'class': 'viatique-button viatique-skip-button'}),
    button('skip-to-points', _('Skip to the points'), function () { pointsInput.focus(); },
      {'class': 'viatique-button viatique-skip-button'})
  ]);
  region.setAttribute('aria-labelledby', title.id);
  region.appendChild(el('div', {'class': 'viatique-workspace', 'data-region': 'workspace'}, [
    el('div', {'class': 'viatique-grading-head'}, [title, skipLinks,
      el('div', {'class': 'viatique-buttons viatique-grading-bar'},
        [previousButton].concat(backButton ? [backButton] : []).concat([helpButton])),
      progressLine, stateText]),
    missingNote, alertBox, outcome, helpPanel, body
  ]));
  var announcer = window.ViatiqueAnnounce.create(outcome, el);
  var rubricSlot = side.querySelector('[data-region="rubric-slot"]');
  function say(text) { announcer.say(text); }
  function warn(text) { announcer.warn(text); }

  /* --------------------------------------------------------------- progress */

  function loadProgress() {
    return call('question_progress', null, 'GET').then(function (result) {
      if (!result.ok) { return; }
      var row = (result.body.questions || []).filter(function (item) { return item.id === questionId; })[0];
      if (row) { progressLine.textContent = progressText(row); }
      return row;
    });
  }

  /* ----------------------------------------------------------------- leases */

  function stopHeartbeat() { window.clearTimeout(heartbeatTimer); heartbeatTimer = null; }

  function heartbeat() {
    stopHeartbeat();
    if (!lease || !answer) { return; }
    var current = answer;
    heartbeatTimer = window.setTimeout(function () {
      call('renew_answer_lease', {copy_id: current.copy.id, question_id: questionId, token: lease.token})
        .then(function (result) {
          if (current !== answer || !lease) { return; }
          if (!result.ok && result.body && result.body.error === 'lease_lost') { return leaseLost(); }
          heartbeat();
        });
    }, (answer.settings.heartbeat_seconds || 30) * 1000);
  }

  function leaseLost() {
    lease = null;
    stopHeartbeat();
    setEditable(false);
    alertBox.textContent = '';
    alertBox.appendChild(el('p', {'class': 'viatique-message viatique-error',
      text: _('You no longer hold this answer: your lease expired or an instructor released it. Nothing more ' +
        'is saved from this page.')}));
  }

  /* --------------------------------------------------------------- the work */

  function checkPoints() {
    var question = answer.question;
    var text = pointsInput.value.trim().replace(',', '.');
    if (!text) { return {empty: true}; }
    if (!/^\d+(\.\d+)?$/.test(text)) {
      return {error: fmt(_('Type a number, for example {example}.'), {example: formatNumber(1.5)})};
    }
    var value = parseFloat(text);
    var step = parseFloat(question.step) || 0;
    if (value > parseFloat(question.max) + 1e-9) {
      return {error: fmt(_('At most {max} points.'), {max: formatNumber(question.max)})};
    }
    if (step > 0 && Math.abs(value / step - Math.round(value / step)) > 1e-6) {
      return {error: fmt(_('Use steps of {step} points.'), {step: formatNumber(question.step)})};
    }
    return {value: String(parseFloat(value.toFixed(4)))};
  }

  function showPointsError() {
    var result = checkPoints();
    var text = result.error || '';
    if (text) { pointsInput.setAttribute('aria-invalid', 'true'); } else { pointsInput.removeAttribute('aria-invalid'); }
    if (text && text !== pointsError.textContent) { announcer.later(text, 700); }
    if (!text && pointsError.textContent) { announcer.cancel(); }
    pointsError.textContent = text;
    return result;
  }

  function body_() {
    var result = checkPoints();
    return {copy_id: answer.copy.id, question_id: questionId, fencing: lease.fencing, version: version,
      points: result.value === undefined ? null : result.value, comment: commentInput.value,
      annotations: annotations};
  }

  function changed() {
    if (!lease) { return; }
    dirty = true;
    window.clearTimeout(saveTimer);
    saveTimer = window.setTimeout(function () { save(false); }, (answer.settings.autosave_seconds || 2) * 1000);
  }

  /* save_answer, tried again after a short wait when the connection or the server failed (a busy server,
   * the lease store away for a moment): up to RETRIES times, then the failure. */
  var RETRIES = 3;
  function sendSave(payload, attempt) {
    return call('save_answer', payload).then(function (result) {
      var transient = result.status === 0 || result.status >= 500;
      if (!transient || attempt >= RETRIES) { return result; }
      return new Promise(function (resolve) { window.setTimeout(resolve, 500 * Math.pow(2, attempt)); })
        .then(function () { return sendSave(payload, attempt + 1); });
    });
  }

  /* Send the answer's work (``done``: as graded); resolves with the server's answer body, or null. */
  function save(done) {
    window.clearTimeout(saveTimer);
    if (!answer || !lease) { return Promise.resolve(null); }
    if (saving) { return saving.then(function () { return save(done); }); }
    if (!dirty && !done) { return Promise.resolve({}); }
    var payload = body_();
    payload.done = !!done;
    dirty = false;
    saving = sendSave(payload, 0).then(function (result) {
      saving = null;
      if (result.ok) { version = result.body.version; return result.body; }
      dirty = true;
      var error = result.body && result.body.error;
      if (error === 'lease_lost') { leaseLost(); return null; }
      if (error === 'incomplete') { warn(_('Give points first, or skip the answer, or mark it "No answer".')); return null; }
      warn(fmt(_('Not saved: {reason}'), {reason: failure(result)}));
      return null;
    });
    return saving;
  }

  function setEditable(editable) {
    [pointsInput, commentInput, nextButton, skipButton, noAnswerButton].concat(toolButtons).forEach(function (node) {
      node.disabled = !editable;
    });
    if (panel) { panel.setEditable(editable); }
    region.setAttribute('data-editable', editable ? 'true' : 'false');
    if (!editable) { chooseTool(null); }
  }

  /* ----------------------------------------------------------------- rubric */

  /* The question's rubric, when the answer does not carry it. */
  function loadRubric() {
    var current = answer;
    window.ViatiqueRubric.load(call, questionId).then(function (loaded) {
      if (!loaded || current !== answer) { return; }
      rubric = loaded;
      if (panel) { panel.setRubric(rubric.questions[questionId], rubric.shared); }
      else { showRubric(); }
    });
  }

  /* The answer's rubric panel (viatique_rubric.js): its applied items and adjustment. */
  function showRubric() {
    if (!rubric) { return; }
    if (!panel) {
      panel = window.ViatiqueRubric.panel({
        el: el, _: _, fmt: fmt, formatNumber: formatNumber, idPrefix: idPrefix, announcer: announcer,
        question: answer.question, questionName: questionName(answer.question),
        rubric: rubric.questions[questionId], shared: rubric.shared, state: null,
        send: rubricSend, call: call, failure: failure, onResult: rubricResult,
        comment: function () { return commentInput.value; }
      });
      rubricSlot.appendChild(panel.node);
      panel.setKeyed(true);
    }
    panel.setState(window.ViatiqueRubric.stateOf(answer.answer));
    panel.setEditable(!!(lease && answer.can_edit));
  }

  /* apply_rubric_item, save_adjustment: after the work not saved yet, with the answer's lease fencing. */
  var rubricSend = window.ViatiqueRubric.sender({
    call: call,
    key: function () { return answer; },
    flush: function () { return save(false); },
    target: function () { return answer && lease ? {copy_id: answer.copy.id, fencing: lease.fencing} : null; },
    onVersion: function (value) { version = value; },
    refused: function (result) {
      if (result.body && result.body.error === 'lease_lost') { return leaseLost(); }
      warn(fmt(_('Not saved: {reason}'), {reason: failure(result)}));
    }
  });

  /* The points the server computed from the rubric, in the points field. */
  function rubricResult(body) {
    pointsInput.value = body.points === null || body.points === undefined ? '' : formatNumber(body.points);
    answer.answer = Object.assign({}, answer.answer, body);
    showPointsError();
  }

  function rubricKey(key) {
    if (!panel) { return warn(_('The rubric is not loaded yet.')); }
    panel.applyKey(key);
  }

  /* ---------------------------------------------------------------- answers */

  function leave() {
    stopHeartbeat();
    if (!answer || !lease) { return Promise.resolve(); }
    var current = answer;
    var held = lease;
    return save(false).then(function () {
      lease = null;
      return call('release_answer_lease', {copy_id: current.copy.id, question_id: questionId, token: held.token});
    });
  }

  function claimNext() {
    alertBox.textContent = '';
    return call('next_answer', {question_id: questionId}).then(function (result) {
      if (!result.ok) { warn(failure(result)); return; }
      if (!result.body.answer) { return nothingLeft(result.body.remaining || 0); }
      show(result.body.answer);
    });
  }

  function nothingLeft(remaining) {
    answer = null;
    lease = null;
    body.hidden = true;
    title.textContent = fmt(_('{question}: nothing left to grade'), {question: progressLine.textContent.split(':')[0]});
    region.removeAttribute('data-copy-id');
    loadProgress();
    title.focus();
    say(remaining ? fmt(_('Every answer left is being graded by someone else right now ({count}). Try again ' +
      'in a moment.'), {count: remaining}) : _('Every answer to this question is graded.'));
  }

  function show(next) {
    answer = next;
    lease = next.lease;
    version = (next.draft && next.draft.version) || 0;
    annotations = (next.annotations || []).map(function (item) { return Object.assign({}, item); });
    dirty = false;
    body.hidden = false;
    wholePage = false;
    wholeButton.setAttribute('aria-pressed', 'false');
    cursor = {x: 0.1, y: 0.1};
    title.textContent = fmt(_('{question} — copy {code}'), {question: questionName(next.question), code: next.copy.code});
    region.setAttribute('data-copy-id', next.copy.id);
    region.setAttribute('data-answer-state', next.answer.state);
    pointsLabel.textContent = questionName(next.question);
    maxText.textContent = fmt(_('/ {max} (steps of {step})'), {max: formatNumber(next.question.max),
      step: formatNumber(next.question.step)});
    pointsInput.value = next.answer.points === null || next.answer.points === undefined ? '' : formatNumber(next.answer.points);
    commentInput.value = next.answer.comment || '';
    pointsError.textContent = '';
    pointsInput.removeAttribute('aria-invalid');
    commentInput.setAttribute('aria-label', fmt(_('Comment on {question}'), {question: questionName(next.question)}));
    stateText.textContent = next.answer.no_answer ? _('Marked "no answer".')
      : (next.answer.state === 'graded' ? _('Graded') : _('To grade'));
    var missing = next.missing_pages || [];
    missingNote.hidden = !next.page_missing;
    missingNote.textContent = next.page_missing ? fmt(_('The page of this question was not scanned (page {pages}). ' +
      'Mark it "No answer", or skip it.'), {pages: missing.filter(function (page) {
        return next.question_pages.indexOf(page) !== -1;
      }).join(', ')}) : '';
    if (next.rubric) { rubric = window.ViatiqueRubric.take({questions: {}, exam_wide: next.rubric.exam_wide}); }
    if (next.rubric) { rubric.questions[questionId] = next.rubric; }
    if (next.rubric && panel) { panel.setRubric(rubric.questions[questionId], rubric.shared); }
    showRubric();
    if (!next.rubric) { loadRubric(); }
    setEditable(!!(lease && next.can_edit));
    if (next.held_by && !lease) {
      alertBox.textContent = '';
      alertBox.appendChild(el('p', {'class': 'viatique-message viatique-error', text: fmt(_('{holder} is grading ' +
        'this answer. It is open read-only.'), {holder: next.held_by.holder})}));
    }
    var first = (next.question_pages || [1]).filter(function (number) { return pageOf(number); })[0];
    showPage(first || (next.question_pages || [1])[0], false);
    renderAnnotations();
    heartbeat();
    title.focus();
    say(fmt(_('Copy {code}, page {page}. {count} left to grade.'), {code: next.copy.code, page: pageNumber,
      count: next.remaining}) + (next.page_missing ? ' ' + missingNote.textContent : ''));
    loadProgress();
    fetchAhead();
  }

  function doneAndNext() {
    if (!answer || !lease) { return claimNext(); }
    var result = showPointsError();
    if (result.error) { pointsInput.focus(); return warn(result.error); }
    if (result.empty) { pointsInput.focus(); return warn(_('Give points first, or skip the answer, or mark it "No answer".')); }
    var copyId = answer.copy.id;
    save(true).then(function (saved) {
      if (!saved) { return; }
      history.push(copyId);
      lease = null;
      stopHeartbeat();
      claimNext();
    });
  }

  function skip() {
    if (!answer || !lease) { return claimNext(); }
    var current = answer;
    save(false).then(function () {
      return call('skip_answer', {copy_id: current.copy.id, question_id: questionId, token: lease.token});
    }).then(function () { lease = null; stopHeartbeat(); claimNext(); });
  }

  function noAnswer() {
    if (!answer || !lease) { return; }
    var copyId = answer.copy.id;
    call('mark_no_answer', {copy_id: copyId, question_id: questionId, fencing: lease.fencing, version: version})
      .then(function (result) {
        if (!result.ok) {
          if (result.body && result.body.error === 'lease_lost') { return leaseLost(); }
          return warn(failure(result));
        }
        history.push(copyId);
        lease = null;
        stopHeartbeat();
        claimNext();
      });
  }

  function previousAnswer() {
    var copyId = history[history.length - 1];
    if (!copyId) { return say(_('No answer was graded before this one in this window.')); }
    leave().then(function () {
      history.pop();
      return call('open_answer', {copy_id: copyId, question_id: questionId, take_lease: true});
    }).then(function (result) {
      if (!result.ok) { return warn(failure(result)); }
      show(result.body.answer);
    });
  }

  /* The pages of the copies this grader is likely to get next (theirs, then nobody's, by code), fetched
   * ahead: next_answer claims atomically and cannot be asked in advance, so this is a guess, which costs
   * only a few images when wrong. */
  function fetchAhead() {
    var current = answer;
    var list = upcoming.length ? Promise.resolve(upcoming)
      : call('list_copies', {limit: 200}, 'GET').then(function (result) {
        upcoming = ((result.ok && result.body.copies) || []).filter(function (row) {
          return ['ready', 'in_progress', 'reopened'].indexOf(row.state) !== -1 &&
            (!row.grader || row.grader === args.username);
        }).map(function (row) { return row.id; });
        return upcoming;
      });
    list.then(function (ids) {
      var after = ids.slice(ids.indexOf(current.copy.id) + 1).slice(0, PREFETCH_AHEAD);
      after.forEach(function (copyId) {
        var wanted = (current.question_pages || [1])[0];
        var known = pagesOf[copyId] ? Promise.resolve(pagesOf[copyId])
          : call('open_copy', {copy_id: copyId}, 'GET').then(function (result) {
            return (pagesOf[copyId] = result.ok ? result.body.pages || [] : []);
          });
        known.then(function (pages) {
          var page = pages.filter(function (item) { return item.position === wanted; })[0];
          if (page) { prefetch.want([url('page_image', String(page.id))]); }
        });
      });
    });
  }

  /* ------------------------------------------------------------ page viewer */

  function pageOf(number) {
    return (answer.pages || []).filter(function (page) { return page.position === number; })[0] || null;
  }

  function box() {
    var value = answer.layout && answer.layout.box;
    return value && value.page === pageNumber && !wholePage ? value : null;
  }

  function showPage(number, focus) {
    var count = Math.max(answer.expected_pages || 0, (answer.pages || []).length);
    pageNumber = clamp(number, 1, Math.max(1, count));
    var page = pageOf(pageNumber);
    pagePrev.disabled = pageNumber <= 1;
    pageNext.disabled = pageNumber >= count;
    pageLabel.textContent = fmt(_('Page {number} of {count}'), {number: pageNumber, count: count});
    sheet.setAttribute('aria-label', fmt(_('Page {number} of {count}'), {number: pageNumber, count: count}));
    if (page) {
      prefetch.show(image, url('page_image', String(page.id)));
      image.alt = fmt(_('Page {number} of copy {code}'), {number: pageNumber, code: answer.copy.code});
      image.hidden = false;
      sheet.setAttribute('data-page-id', page.id);
    } else {
      image.hidden = true;
      image.removeAttribute('src');
      sheet.removeAttribute('data-page-id');
    }
    fit();
    renderOverlay();
    if (focus) { sheet.focus(); }
  }

  /* The page scaled so that the question's box (or the whole page) fills the viewport, and clipped to it. */
  function fit() {
    if (!answer) { return; }
    var page = pageOf(pageNumber);
    var ratio = page && page.width_pt && page.height_pt ? page.width_pt / page.height_pt : 210 / 297;
    var width = viewport.clientWidth || 600;
    var height = viewport.clientHeight || 600;
    var area = box() || {x0: 0, y0: 0, x1: 1, y1: 1};
    var sheetHeight = Math.min(width / ((area.x1 - area.x0) * ratio), height / (area.y1 - area.y0));
    var sheetWidth = sheetHeight * ratio;
    sheet.style.height = sheetHeight + 'px';
    sheet.style.width = sheetWidth + 'px';
    sheet.style.left = (width - (area.x1 - area.x0) * sheetWidth) / 2 - area.x0 * sheetWidth + 'px';
    sheet.style.top = (height - (area.y1 - area.y0) * sheetHeight) / 2 - area.y0 * sheetHeight + 'px';
    viewport.setAttribute('data-zoom', box() ? 'box' : 'page');
  }

  function toggleWhole() {
    wholePage = !wholePage;
    wholeButton.setAttribute('aria-pressed', wholePage ? 'true' : 'false');
    fit();
    say(wholePage || !(answer.layout && answer.layout.box) ? _('Whole page.') : _('The question\'s box.'));
  }

  if (window.ResizeObserver) { new window.ResizeObserver(function () { fit(); }).observe(viewport); }

  /* ------------------------------------------------------------ annotations */

  function chooseTool(kind) {
    tool = kind;
    toolButtons.forEach(function (node) {
      node.setAttribute('aria-pressed', node.getAttribute('data-tool') === kind ? 'true' : 'false');
    });
    sheet.setAttribute('data-tool', kind || '');
  }

  function pickTool(kind) {
    var before = tool;
    chooseTool(kind);
    if (before !== tool) { say(window.ViatiqueAnnounce.toolChange(TOOLS, kind, _, fmt)); }
  }

  function renderOverlay() {
    overlay.textContent = '';
    var page = pageOf(pageNumber);
    annotations.filter(function (item) { return page && String(item.page_id) === String(page.id); }).forEach(function (item) {
      var mark = el('div', {'class': 'viatique-annot viatique-annot-' + item.kind, 'data-kind': item.kind,
        text: item.kind === 'tick' ? '✓' : (item.kind === 'cross' ? '✗' : item.text || '')});
      mark.style.left = (item.x * 100) + '%';
      mark.style.top = (item.y * 100) + '%';
      if (item.width) { mark.style.width = (item.width * 100) + '%'; mark.style.height = (item.height * 100) + '%'; }
      overlay.appendChild(mark);
    });
    cursorMark.style.left = (cursor.x * 100) + '%';
    cursorMark.style.top = (cursor.y * 100) + '%';
  }

  function kindLabel(kind) {
    return (TOOLS.filter(function (item) { return item.kind === kind; })[0] || {label: kind}).label;
  }

  function renderAnnotations() {
    annotationList.textContent = '';
    annotations.forEach(function (item, index) {
      var number = index + 1;
      var page = (answer.pages || []).filter(function (p) { return String(p.id) === String(item.page_id); })[0];
      var row = el('li', {'class': 'viatique-annotation', 'data-kind': item.kind}, [
        el('p', {'class': 'viatique-annotation-title', text: fmt(_('{number}. {kind} on page {page}'),
          {number: number, kind: kindLabel(item.kind), page: page ? page.position : '?'})})
      ]);
      if (item.kind === 'comment') {
        var text = el('input', {type: 'text', value: item.text || '', 'data-field': 'annotation-text',
          'aria-label': fmt(_('Text of annotation {number}'), {number: number})});
        text.disabled = !lease;
        text.addEventListener('input', function () { item.text = text.value; renderOverlay(); changed(); });
        row.appendChild(text);
      }
      row.appendChild(button('delete-annotation', _('Delete'), function () {
        annotations = annotations.filter(function (other) { return other !== item; });
        renderAnnotations();
        renderOverlay();
        changed();
        say(fmt(_('{kind} deleted.'), {kind: kindLabel(item.kind)}));
        sheet.focus();
      }, {'aria-label': fmt(_('Delete annotation {number}'), {number: number}), disabled: !lease}));
      annotationList.appendChild(row);
    });
  }

  function place() {
    var page = pageOf(pageNumber);
    if (!lease) { return warn(_('This answer is read-only.')); }
    if (!tool) { return warn(_('Choose a tool first (t, x or c).')); }
    if (!page) { return warn(_('This page was not scanned.')); }
    var size = DEFAULT_SIZE[tool] || [0, 0];
    var item = {uid: uuid4(), page_id: page.id, kind: tool, x: round(Math.min(cursor.x, 1 - size[0])),
      y: round(Math.min(cursor.y, 1 - size[1])), width: size[0], height: size[1], text: '', points: null};
    annotations.push(item);
    renderOverlay();
    renderAnnotations();
    changed();
    say(fmt(_('{kind} placed on page {number}.'), {kind: kindLabel(tool), number: pageNumber}));
  }

  sheet.addEventListener('keydown', function (event) {
    var moves = {ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1]}[event.key];
    if (moves && !event.altKey && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      var step = event.shiftKey ? 0.1 : CURSOR_STEP;
      var area = box() || {x0: 0, y0: 0, x1: 1, y1: 1};
      cursor = {x: round(clamp(cursor.x + moves[0] * step, area.x0, area.x1)),
        y: round(clamp(cursor.y + moves[1] * step, area.y0, area.y1))};
      renderOverlay();
      say(fmt(_('Cursor at {x} % across, {y} % down'), {x: Math.round(cursor.x * 100), y: Math.round(cursor.y * 100)}));
    } else if (event.key === 'Enter') {
      event.preventDefault();
      place();
    }
  });
  sheet.addEventListener('click', function (event) {
    var rect = sheet.getBoundingClientRect();
    cursor = {x: clamp((event.clientX - rect.left) / rect.width, 0, 1), y: clamp((event.clientY - rect.top) / rect.height, 0, 1)};
    if (tool) { place(); } else { renderOverlay(); }
  });

  pointsInput.addEventListener('input', function () { showPointsError(); changed(); });
  commentInput.addEventListener('input', changed);

  /* ------------------------------------------------------------------- help */

  var helpReturn = null;
  function toggleHelp(show) {
    show = show === undefined ? helpPanel.hidden : show;
    if (show) { helpReturn = document.activeElement; }
    helpPanel.hidden = !show;
    helpButton.setAttribute('aria-expanded', show ? 'true' : 'false');
    if (show) { helpPanel.querySelector('[data-action="close-help"]').focus(); }
    else { (helpReturn && helpReturn.isConnected ? helpReturn : helpButton).focus(); }
  }

  /* ------------------------------------------------------------------- keys */

  document.addEventListener('keydown', function (event) {
    var key = event.key;
    var target = event.target;
    if ((event.ctrlKey || event.metaKey) && key === 'Enter') { event.preventDefault(); doneAndNext(); return; }
    if (key === 'Escape') {
      if (!helpPanel.hidden) { toggleHelp(false); }
      else if (keys.isTextField(target)) { event.preventDefault(); sheet.focus(); }
      else { pickTool(null); }
      return;
    }
    if (keys.isTextField(target)) { return; }
    if (key === 'PageUp' || key === 'PageDown') {
      if (answer) { event.preventDefault(); showPage(pageNumber + (key === 'PageDown' ? 1 : -1), true); }
      return;
    }
    if (key.length !== 1 || !keys.singleKeyAllowed(event)) { return; }
    var actions = {
      '?': function () { toggleHelp(); },
      n: doneAndNext, p: previousAnswer, s: skip, a: noAnswer, w: toggleWhole,
      m: function () { pointsInput.focus(); },
      d: function () { if (backButton) { backButton.click(); } },
      '[': function () { showPage(pageNumber - 1, true); },
      ']': function () { showPage(pageNumber + 1, true); }
    };
    TOOLS.forEach(function (item) { actions[item.key] = function () { if (lease) { pickTool(item.kind); } }; });
    window.ViatiqueRubric.KEYS.forEach(function (digit) { actions[digit] = function () { rubricKey(digit); }; });
    if (!actions[key] || (!answer && key !== '?' && key !== 'd' && key !== 'n')) { return; }
    event.preventDefault();
    actions[key]();
  });

  window.addEventListener('pagehide', function () {
    if (!answer || !lease) { return; }
    try {
      fetch(url('release_answer_lease'), {method: 'POST', credentials: 'same-origin', keepalive: true,
        headers: {'Content-Type': 'application/json', 'X-CSRFToken': common.csrfToken(),
          'X-Requested-With': 'XMLHttpRequest'},
        body: JSON.stringify({copy_id: answer.copy.id, question_id: questionId, token: lease.token})});
    } catch (error) { /* the lease runs out by itself */ }
  });

  body.hidden = true;
  loadProgress();
  claimNext();
}
