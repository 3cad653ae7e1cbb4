/* Viatique staff dashboard section: the grading workspace: page viewer, annotation tools, points panel,
 * comment bank, leases and autosave.
 *
 * A copy opens from the copy list's "Open" button (viatique_staff.js sends "viatique:open-copy" to the
 * block's root with detail {copyId, code}), or from "Previous copy" / "Next copy" here. Opening reads
 * the copy (open_copy) then takes its lease (acquire_lease); a copy someone else holds opens read-only
 * with who holds it. The lease is renewed by a heartbeat and released when the copy is left, the
 * workspace closed or the page unloaded (fetch with keepalive and the CSRF header).
 *
 * Every change autosaves the whole work (save_draft) after a short delay; the work is also kept in
 * localStorage (keyed by block and copy) until the server has it, so a refused or failed save loses
 * nothing. Annotations are placed with the mouse (click, or drag for boxes and highlights) or the
 * keyboard (arrow keys move a cursor over the focused page, Enter places), in coordinates normalised
 * to the page. "?" lists every shortcut.
 *
 * Started by ViatiqueStaffDashboard (viatique_staff.js) with its (runtime, element, args); everything
 * lives under the block's root element, in its [data-region="grading"] section. The full-window workspace
 * (the block's workspace handler, a page of its own) starts it too, through viatique_workspace.js, with
 * args.mode 'page': the same workspace laid out to fill the window, its "Close" going back to the dashboard.
 *
 * What is heard: one polite status and one alert (viatique_announce.js): a copy opening is told once, a
 * tool chosen is told, an error is told assertively (a points error once the typing stops); the total, the
 * save state and the cursor are shown, not spoken on every change. Single-key shortcuts act only when the
 * focus is on the page or on no control (viatique_keys.js), and can be turned off in the list of shortcuts.
 * Page images are fetched ahead (viatique_prefetch.js): the next pages of the copy, the first of the next.
 */
function ViatiqueGrading(runtime, element, args) {
  'use strict';
  var common = window.ViatiqueCommon;
  args = common.startupArgs(element, args);
  var section = common.claimSection(element, 'grading');
  if (!section) { return; }
  var root = section.root;
  var region = section.region;
  var _ = common.makeGettext(args.i18n);
  var ngettext = common.makeNgettext(args.i18n, args.lang);
  var formatNumber = common.numbers(args.lang).format;  // "0,5" in French
  var fmt = common.format;
  var el = common.el;
  var idPrefix = section.idPrefix;
  var keys = window.ViatiqueKeys;
  var pageMode = args.mode === 'page';
  var prefetch = window.ViatiquePrefetch.create(12);
  var PREFETCH_PAGES = 2;
  var FIELD_ERROR_DELAY_MS = 700;
  var COPIES_CHANGED = 'viatique:copies-changed';
  var EDITABLE_STATES = {ready: true, in_progress: true, reopened: true};
  var POLL_MS = 1000;
  var POLL_MAX_MS = 5000;
  var OPENER_WAIT_MS = 5000;
  var MAX_RETRY_S = 60;
  var CURSOR_STEP = 0.02;
  var CURSOR_BIG_STEP = 0.1;
  var ZOOM_STEP = 1.25;
  var ZOOM_MIN = 0.5;
  var ZOOM_MAX = 4;
  var FIT_HEIGHT_VH = 78;  // "fit": the whole page in the stage
  var DRAG_MIN = 0.01;
  var DEFAULT_SIZE = {comment: [0.3, 0.08], highlight: [0.4, 0.03]};
  var MIN_BOX = 0.02;  // the smallest width or height a box gets from the keyboard

  var TOOLS = [
    {kind: 'comment', key: 'c', label: _('Comment box'), hint: _('Comment box: click, or drag to size it')},
    {kind: 'tick', key: 't', label: _('Tick'), hint: _('Tick: click where it goes')},
    {kind: 'cross', key: 'x', label: _('Cross'), hint: _('Cross: click where it goes')},
    {kind: 'highlight', key: 'h', label: _('Highlight'), hint: _('Highlight: drag over the passage')},
    {kind: 'text', key: 'f', label: _('Free text'), hint: _('Free text: click where it starts')}
  ];
  var KIND_LABELS = {};
  TOOLS.forEach(function (tool) { KIND_LABELS[tool.kind] = tool.label; });
  var STATES = {
    ready: _('Ready'), in_progress: _('Being graded'), submitted: _('Submitted: the graded PDF is being made'),
    graded: _('Graded'), render_failed: _('The graded PDF could not be made'), reopened: _('Reopened')
  };
  var SHORTCUTS = [
    ['n, p ' + _('or') + ' Alt+PageDown, Alt+PageUp', _('Next or previous copy')],
    ['c, t, x, h, f', _('Choose a tool: comment box, tick, cross, highlight, free text')],
    [_('Esc'), _('Put the tool down, close the open panel, or go from a field back to the page')],
    [_('Arrow keys'), _('On the focused page: move the placement cursor (with Shift: in bigger steps)')],
    [_('Home'), _('On the focused page: bring the cursor to the top left corner')],
    [_('Enter'), _('On the focused page: place the chosen tool at the cursor')],
    [_('Arrow keys'), _('On an annotation\'s Move or Resize button: move it, or make it wider, narrower, taller or shorter')],
    [_('[ ] or Page Up, Page Down'), _('Previous or next page')],
    ['+ -', _('Zoom in, zoom out')],
    ['w', _('Whole page (fit the page)')],
    ['1 … 9, 0', _('Apply or remove the rubric item of that number (0: the tenth)')],
    ['q', _('The next question\'s rubric for the number keys')],
    ['m', _('Go to the points')],
    ['b', _('Comment bank: type to filter, Enter inserts (in a text field: Alt+B)')],
    [_('Ctrl+S'), _('Save now')],
    [_('Ctrl+Enter'), _('Finalize')],
    ['d', pageMode ? _('Back to the dashboard') : _('Close the copy')],
    ['?', _('Show or hide this list')]
  ];

  /* ------------------------------------------------------------------ state */

  var data = null;         // open_copy's answer for the copy on screen
  var work = null;         // {annotations, points, general_comment}: what save_draft sends
  var version = 0;         // the draft version the server has
  var lease = null;        // {token, fencing, expires_at} while we hold the copy
  var editable = false;
  var dirty = false;
  var saving = null;       // the promise of the save in flight
  var saveTimer = null;
  var retryDelay = 0;
  var heartbeatTimer = null;
  var pollTimer = null;
  var halted = false;      // a stale draft or a lost lease: nothing more is sent until a reload
  var pageIndex = 0;
  var zoom = 1;
  var tool = null;
  var cursor = {x: 0.1, y: 0.1};
  var invalid = {};        // field key -> true while a points field holds a value that is not sent
  var bank = [];
  var rubric = null;       // ViatiqueRubric.load's answer: the exam's rubric items, by question
  var panels = {};         // question id -> its rubric panel (ViatiqueRubric.panel)
  var keyedQuestion = null;  // the question whose rubric items the number keys apply
  var bankTarget = null;   // the text field the bank inserts into (null: a comment box on the page)
  var bankActive = 0;
  var openSeq = 0;
  var tabId = uuid4();

  function url(name, suffix) { return runtime.handlerUrl(element, name, suffix); }

  var calls = common.sectionCalls(runtime, element, _);
  var call = calls.call;
  var failure = calls.failure;

  /* A request that must still leave when the page goes away: fetch with keepalive carries the CSRF
   * header the LMS requires (navigator.sendBeacon cannot). */
  function sendOnUnload(name, body) {
    try {
      fetch(url(name), {method: 'POST', credentials: 'same-origin', keepalive: true,
        headers: {'Content-Type': 'application/json', 'X-CSRFToken': common.csrfToken(),
          'X-Requested-With': 'XMLHttpRequest'},
        body: JSON.stringify(body)});
    } catch (error) { /* the page is going away: the local copy of the work remains */ }
  }

  function clock(iso) {
    var date = iso ? new Date(iso) : new Date();
    if (isNaN(date.getTime())) { return String(iso); }
    return date.toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'});
  }

  function uuid4() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join('');
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join('-');
  }

  function clamp(value, low, high) { return Math.min(Math.max(value, low), high); }

  /* A part that comes and goes is taken out of the page (not only hidden), so no control without a
   * name is ever left behind; its place is kept by a comment. */
  function slot(node) {
    var anchor = document.createComment('');
    return {
      anchor: anchor,
      shown: function () { return !!node.parentNode; },
      show: function (visible) {
        if (visible && !node.parentNode) { anchor.parentNode.insertBefore(node, anchor); }
        if (!visible && node.parentNode) { node.parentNode.removeChild(node); }
      }
    };
  }

  function button(action, text, onclick, attrs) {
    return el('button', Object.assign({type: 'button', 'class': 'viatique-button', 'data-action': action,
      text: text, onclick: onclick}, attrs || {}));
  }

  /* ------------------------------------------------------------------ points */

  function questionLabel(question) {
    var path = question.path;
    if (Array.isArray(path)) { path = path.join(' › '); }
    return path || question.label;
  }

  function questionById(id) {
    return ((data && data.questions) || []).filter(function (question) { return question.id === id; })[0] || null;
  }

  /* A points value typed by a grader: {value: "1.5"} when within the question's maximum and step,
   * {empty: true}, or {error: text}. */
  function checkPoints(raw, question) {
    var text = String(raw === null || raw === undefined ? '' : raw).trim().replace(',', '.');
    if (!text) { return {empty: true}; }
    if (!/^\d+(\.\d+)?$/.test(text)) {
      return {error: fmt(_('Type a number, for example {example}.'), {example: formatNumber(1.5)})};
    }
    var value = parseFloat(text);
    var max = parseFloat(question.max);
    var step = parseFloat(question.step) || 0;
    if (value > max + 1e-9) { return {error: fmt(_('At most {max} points.'), {max: formatNumber(question.max)})}; }
    if (step > 0) {
      var steps = value / step;
      if (Math.abs(steps - Math.round(steps)) > 1e-6) {
        return {error: fmt(_('Use steps of {step} points.'), {step: formatNumber(question.step)})};
      }
    }
    return {value: String(parseFloat(value.toFixed(4)))};
  }

  function clientTotal() {
    var total = 0;
    Object.keys(work.points).forEach(function (id) {
      var points = work.points[id] && work.points[id].points;
      if (points !== null && points !== undefined && points !== '') { total += parseFloat(points); }
    });
    return parseFloat(total.toFixed(4));
  }

  function maxTotal() {
    return parseFloat(data.questions.reduce(function (sum, question) { return sum + parseFloat(question.max); }, 0)
      .toFixed(4));
  }

  /* ------------------------------------------------------------- the layout */

  var titleId = idPrefix + '-title';
  var helpId = idPrefix + '-help';
  var bankId = idPrefix + '-bank';
  var bankListId = idPrefix + '-bank-list';
  var sheetHintId = idPrefix + '-sheet-hint';

  var title = el('h3', {id: titleId, tabindex: '-1', 'data-region': 'grading-title'});
  var stateText = el('p', {'class': 'viatique-grading-state', 'data-region': 'grading-state'});
  // pages of the copy that were never scanned ("Page 3 of 4 was not scanned."), read with the title
  var missingNote = el('p', {'class': 'viatique-missing-pages', id: idPrefix + '-missing', 'data-region': 'missing-pages',
    hidden: true});
  var previousCopyButton = button('previous-copy', _('Previous copy'), function () { goToCopy('previous'); });
  var nextCopyButton = button('next-copy', _('Next copy'), function () { goToCopy('next'); });
  var closeButton = pageMode && args.dashboard_url
    ? button('back-to-dashboard', _('Back to the dashboard'), function () { backToDashboard(); },
      {'aria-keyshortcuts': 'd'})
    : button('close-workspace', _('Close the copy'), function () { close(); }, {'aria-keyshortcuts': 'd'});
  var helpButton = button('help', _('Keyboard shortcuts (?)'), function () { toggleHelp(); },
    {'aria-expanded': 'false', 'aria-controls': helpId, 'aria-keyshortcuts': '?'});
  previousCopyButton.setAttribute('aria-keyshortcuts', 'p Alt+PageUp');
  nextCopyButton.setAttribute('aria-keyshortcuts', 'n Alt+PageDown');
  var alertBox = el('div', {'class': 'viatique-grading-alert', role: 'alert', 'data-region': 'grading-alert'});
  // shown, not spoken: a save every few seconds would talk over the grader; its errors are told (warn)
  var saveStatus = el('p', {'class': 'viatique-save-status', 'data-region': 'save-status'});

  var singleKeysBox = el('input', {type: 'checkbox', id: idPrefix + '-single-keys', 'data-field': 'single-keys',
    onchange: function () { keys.setSingleKeys(singleKeysBox.checked); }});
  var helpHeading = el('h4', {id: helpId + '-title', text: _('Keyboard shortcuts')});
  var helpPanel = el('div', {'class': 'viatique-help', id: helpId, role: 'dialog', 'aria-labelledby': helpHeading.id,
    'data-region': 'grading-help'}, [
    helpHeading,
    keys.list(el, SHORTCUTS),
    el('p', {'class': 'viatique-hint', text: _('Single keys act when the focus is on the page, not on a button ' +
      'or a field; from a field, Esc goes back to the page.')}),
    el('div', {'class': 'viatique-check'}, [singleKeysBox,
      el('label', {'for': singleKeysBox.id, text: _('Use single-key shortcuts')})]),
    button('close-help', _('Close the list of shortcuts'), function () { toggleHelp(false); })
  ]);
  var helpReturn = null;  // where the focus goes back when the list closes
  var helpSlot = slot(helpPanel);

  var toolButtons = TOOLS.map(function (item) {
    return button('tool-' + item.kind, item.label, function () { pickTool(tool === item.kind ? null : item.kind); },
      {'aria-pressed': 'false', 'data-tool': item.kind, 'aria-keyshortcuts': item.key, title: item.hint});
  });
  var pagePrevButton = button('previous-page', _('Previous page'), function () { showPage(pageIndex - 1, true); },
    {'aria-keyshortcuts': 'PageUp'});
  var pageNextButton = button('next-page', _('Next page'), function () { showPage(pageIndex + 1, true); },
    {'aria-keyshortcuts': 'PageDown'});
  var pageLabel = el('span', {'class': 'viatique-page-label', 'data-region': 'page-label'});
  var zoomOutButton = button('zoom-out', _('Zoom out'), function () { setZoom(zoom / ZOOM_STEP); },
    {'aria-keyshortcuts': '-'});
  var zoomInButton = button('zoom-in', _('Zoom in'), function () { setZoom(zoom * ZOOM_STEP); },
    {'aria-keyshortcuts': '+'});
  var zoomFitButton = button('zoom-fit', _('Fit the page'), function () { setZoom(1); }, {'aria-keyshortcuts': '0'});
  var bankButton = button('open-bank', _('Comment bank (b)'), function () { openBank(null); },
    {'aria-expanded': 'false', 'aria-controls': bankId, 'aria-keyshortcuts': 'b'});
  var toolHint = el('p', {'class': 'viatique-hint', 'data-region': 'tool-hint'});

  var thumbs = el('ul', {'class': 'viatique-thumbs', 'data-region': 'thumbnails'});
  var image = el('img', {'class': 'viatique-page-image', 'data-region': 'page-image', alt: '', draggable: 'false'});
  var overlay = el('div', {'class': 'viatique-overlay', 'aria-hidden': 'true', 'data-region': 'overlay'});
  var rubber = el('div', {'class': 'viatique-rubber', hidden: true});
  var cursorMark = el('div', {'class': 'viatique-cursor', 'data-region': 'cursor'});
  var sheet = el('div', {'class': 'viatique-sheet', id: idPrefix + '-sheet', tabindex: '0', role: 'application',
    'aria-describedby': sheetHintId, 'data-region': 'sheet', 'data-single-keys': ''}, [image, overlay, rubber, cursorMark]);
  var cursorText = el('p', {'class': 'viatique-hint viatique-cursor-text', 'data-region': 'cursor-text'});
  var stage = el('div', {'class': 'viatique-stage', 'data-region': 'stage'}, [sheet]);
  var sheetHint = el('p', {'class': 'viatique-sr-only', id: sheetHintId,
    text: _('Arrow keys move the placement cursor; Enter places the chosen tool; the annotations are listed ' +
      'beside the page.')});
  var annotationList = el('ul', {'class': 'viatique-annotation-list', 'data-region': 'annotations'});
  var annotationsEmpty = el('p', {'class': 'viatique-hint', 'data-region': 'annotations-empty',
    text: _('No annotation yet.')});
  var arrowHint = el('p', {'class': 'viatique-sr-only', id: idPrefix + '-arrow-hint',
    text: _('Arrow keys move the annotation or change its size; with Shift, in bigger steps.')});

  var pointsRows = el('div', {'class': 'viatique-points-rows', 'data-region': 'points'});
  // the rubric panels, one per question, after the points panel
  var rubricsBox = el('div', {'class': 'viatique-rubrics', 'data-region': 'rubrics'});
  var totalText = el('p', {'class': 'viatique-total', 'data-region': 'total'});
  var generalComment = el('textarea', {id: idPrefix + '-general', rows: '3', 'data-field': 'general-comment',
    'data-bank-target': '', 'data-editable': ''});

  var bankFilter = el('input', {type: 'text', id: idPrefix + '-bank-filter', role: 'combobox', autocomplete: 'off',
    'aria-autocomplete': 'list', 'aria-expanded': 'true', 'aria-controls': bankListId,
    'data-field': 'bank-filter'});
  var bankList = el('ul', {'class': 'viatique-listbox', id: bankListId, role: 'listbox',
    'aria-label': _('Comments of the bank'), 'data-region': 'bank-list'});
  var bankStatus = el('p', {'class': 'viatique-hint', role: 'status', 'aria-live': 'polite',
    'data-region': 'bank-status'});
  var bankPanel = el('div', {'class': 'viatique-bank', id: bankId, role: 'dialog', 'aria-label': _('Comment bank'),
    'data-region': 'bank'}, [
    el('label', {'for': bankFilter.id, text: _('Filter the comments')}),
    bankFilter, bankList, bankStatus,
    el('div', {'class': 'viatique-buttons'}, [button('close-bank', _('Close the comment bank'),
      function () { closeBank(true); })])
  ]);
  var bankSlot = slot(bankPanel);

  var saveButton = button('save-now', _('Save now'), function () { saveNow(); }, {'aria-keyshortcuts': 'Control+S'});
  var finalizeButton = button('finalize', _('Finalize'), function () { finalize(); },
    {'aria-keyshortcuts': 'Control+Enter'});
  var actionsBox = el('div', {'class': 'viatique-buttons', 'data-region': 'grading-actions'});
  // the one polite status and the one alert of the workspace (viatique_announce.js), filled below
  var outcome = el('div', {'class': 'viatique-messages', 'data-region': 'grading-outcome'});
  var announcer = window.ViatiqueAnnounce.create(outcome, el);

  var confirmTitle = el('h4', {id: idPrefix + '-confirm-title'});
  var confirmText = el('p', {id: idPrefix + '-confirm-text'});
  var confirmYes = button('confirm-finalize', _('Yes, finalize'), function () { confirmFinalize(true); });
  var confirmPanel = el('div', {'class': 'viatique-confirm', role: 'alertdialog', 'aria-modal': 'false',
    'aria-labelledby': confirmTitle.id, 'aria-describedby': confirmText.id, 'data-region': 'finalize-confirm'}, [
    confirmTitle, confirmText,
    el('div', {'class': 'viatique-buttons'}, [confirmYes,
      button('cancel-finalize', _('Cancel'), function () { confirmFinalize(false); })])
  ]);
  var confirmSlot = slot(confirmPanel);
  confirmPanel.addEventListener('keydown', function (event) {
    if (event.key === 'Escape') { event.preventDefault(); event.stopPropagation(); confirmFinalize(false); }
  });

  // past the tools and the bars in one key press: a keyboard user reaches the page or the points at once
  var skipLinks = el('div', {'class': 'viatique-skip', 'data-region': 'skip-links'}, [
    button('skip-to-page', _('Skip to the page'), function () { sheet.focus(); }, {'class': 'viatique-button viatique-skip-button'}),
    button('skip-to-points', _('Skip to the points'), function () { focusPoints(); },
      {'class': 'viatique-button viatique-skip-button'})
  ]);

  var toolsBar = el('div', {'class': 'viatique-grading-tools', role: 'group', 'aria-label': _('Annotation tools')},
    toolButtons.concat([bankButton]));
  var viewerBar = el('div', {'class': 'viatique-grading-viewer', role: 'group', 'aria-label': _('Page viewer')}, [
    pagePrevButton, pageLabel, pageNextButton, zoomOutButton, zoomFitButton, zoomInButton
  ]);
  var thumbsNav = el('nav', {'class': 'viatique-thumbs-nav', 'aria-label': _('Pages of the copy')}, [thumbs]);
  var annotationPanel = el('div', {'class': 'viatique-annotations', 'data-region': 'annotation-panel'}, [
    el('h4', {id: idPrefix + '-annotations-title', text: _('Annotations')}),
    annotationsEmpty, annotationList, arrowHint
  ]);
  var pointsPanel = el('fieldset', {'class': 'viatique-points-panel', 'data-region': 'points-panel'}, [
    el('legend', {text: _('Points')}), pointsRows, totalText,
    el('label', {'for': generalComment.id, text: _('General comment')}), generalComment
  ]);
  // the full-window page: the page on the left, the points beside it (both in view at 1366 x 768)
  var body = pageMode
    ? el('div', {'class': 'viatique-grading-body', 'data-region': 'grading-body'}, [
      el('div', {'class': 'viatique-focus-left'}, [toolsBar, viewerBar, toolHint, bankSlot.anchor,
        el('div', {'class': 'viatique-grading-main'}, [thumbsNav, stage]), sheetHint, cursorText]),
      el('div', {'class': 'viatique-focus-side', 'data-region': 'side', role: 'region', tabindex: '0',
        'aria-label': _('Points and annotations')}, [pointsPanel, actionsBox, confirmSlot.anchor, rubricsBox,
        annotationPanel])
    ])
    : el('div', {'class': 'viatique-grading-body', 'data-region': 'grading-body'}, [
      toolsBar, toolHint, viewerBar, bankSlot.anchor,
      el('div', {'class': 'viatique-grading-main'}, [thumbsNav, stage, annotationPanel]),
      sheetHint, cursorText, pointsPanel, rubricsBox, actionsBox, confirmSlot.anchor
    ]);
  var bodySlot = slot(body);

  // the whole workspace is out of the page while no copy is open (no hidden control is left behind)
  var workspace = el('div', {'class': 'viatique-workspace', 'data-region': 'workspace'}, [
    el('div', {'class': 'viatique-grading-head'}, [
      title,
      skipLinks,  // the first Tab stop of the page, and the first after the copy's heading, which opening focuses
      el('div', {'class': 'viatique-buttons viatique-grading-bar'}, [previousCopyButton, nextCopyButton, closeButton,
        helpButton]),
      stateText, saveStatus
    ]),
    missingNote, alertBox, outcome, helpSlot.anchor, bodySlot.anchor
  ]);
  var workspaceSlot = slot(workspace);
  region.setAttribute('aria-labelledby', titleId);
  region.appendChild(workspaceSlot.anchor);

  /* --------------------------------------------------------------- messages */

  function alertWith(text, buttons) {
    alertBox.textContent = '';
    if (!text) { return; }
    alertBox.appendChild(el('p', {'class': 'viatique-message viatique-error', text: text}));
    if (buttons && buttons.length) { alertBox.appendChild(el('div', {'class': 'viatique-buttons'}, buttons)); }
  }

  /* A message for the grader: heard once, politely; an error assertively (and shown in red). */
  function say(text, isError) {
    if (isError) { announcer.warn(text); } else { announcer.say(text); }
  }

  function setSaveStatus(text, kind) {
    saveStatus.textContent = text;
    saveStatus.setAttribute('data-save-state', kind || '');
  }

  function reloadButton() {
    return button('reload-copy', _('Reload'), function () { reloadCopy(); });
  }

  /* ------------------------------------------------------------ local copy */

  function backupKey(copyId) { return 'viatique-work:' + url('save_draft') + ':' + copyId; }

  function writeBackup() {
    try {
      window.localStorage.setItem(backupKey(data.copy.id), JSON.stringify({version: version, work: work}));
    } catch (error) { /* storage full or forbidden: the page still holds the work */ }
  }

  function readBackup(copyId) {
    try { return JSON.parse(window.localStorage.getItem(backupKey(copyId)) || 'null'); } catch (error) { return null; }
  }

  function dropBackup(copyId) {
    try { window.localStorage.removeItem(backupKey(copyId)); } catch (error) { /* nothing to drop */ }
  }

  /* Tabs of this browser holding a copy: the same grader's tabs share one lease, so a tab that leaves
   * gives the lease back only when no other tab still has the copy open (each tab notes itself at
   * every heartbeat; a note older than three heartbeats is a tab that died). Returns how many others. */
  function noteTab(copyId, present) {
    var key = 'viatique-tabs:' + url('save_draft') + ':' + copyId;
    try {
      var tabs = JSON.parse(window.localStorage.getItem(key) || '{}');
      var now = Date.now();
      var oldest = now - 3 * ((data && data.settings.heartbeat_seconds) || 30) * 1000;
      Object.keys(tabs).forEach(function (tab) { if (tabs[tab] < oldest) { delete tabs[tab]; } });
      if (present) { tabs[tabId] = now; } else { delete tabs[tabId]; }
      var others = Object.keys(tabs).filter(function (tab) { return tab !== tabId; }).length;
      if (Object.keys(tabs).length) { window.localStorage.setItem(key, JSON.stringify(tabs)); }
      else { window.localStorage.removeItem(key); }
      return others;
    } catch (error) { return 0; }
  }

  /* --------------------------------------------------------------- autosave */

  function payload() {
    var points = {};
    Object.keys(work.points).forEach(function (id) {
      var entry = work.points[id];
      if (entry.points !== null && entry.points !== undefined && entry.points !== '') {
        points[id] = {points: entry.points, comment: entry.comment || ''};
      } else if (entry.comment) {
        points[id] = {points: null, comment: entry.comment};
      }
    });
    return {
      annotations: work.annotations.map(function (item) {
        var copy = Object.assign({}, item);
        if (invalid['annotation:' + item.uid]) { copy.points = null; }
        return copy;
      }),
      points: points,
      general_comment: work.general_comment
    };
  }

  function changed() {
    if (!editable || halted) { return; }
    dirty = true;
    writeBackup();
    setSaveStatus(_('Changes not saved yet'), 'pending');
    scheduleSave(data.settings.autosave_seconds * 1000);
  }

  function scheduleSave(delay) {
    window.clearTimeout(saveTimer);
    saveTimer = window.setTimeout(function () { save(); }, delay);
  }

  /* Send the whole work; resolves true once the server holds it. */
  function save() {
    window.clearTimeout(saveTimer);
    if (!data || !editable || halted || !lease) { return Promise.resolve(!dirty); }
    if (saving) { return saving.then(function () { return dirty ? save() : true; }); }
    if (!dirty) { return Promise.resolve(true); }
    var copyId = data.copy.id;
    var seq = openSeq;
    dirty = false;
    setSaveStatus(_('Saving…'), 'saving');
    saving = call('save_draft', {copy_id: copyId, fencing: lease.fencing, version: version, payload: payload()})
      .then(function (result) {
        saving = null;
        if (seq !== openSeq) { return false; }
        if (result.ok) {
          version = result.body.version;
          retryDelay = 0;
          if (result.body.total !== undefined && result.body.total !== null) { data.copy.total = result.body.total; }
          showTotal();
          if (dirty) { return save(); }
          dropBackup(copyId);
          setSaveStatus(fmt(_('Saved at {time}'), {time: clock(result.body.saved_at)}), 'saved');
          return true;
        }
        dirty = true;
        return saveRefused(result);
      });
    return saving;
  }

  function saveRefused(result) {
    var error = result.body && result.body.error;
    if (error === 'stale_draft') {
      halt();
      setSaveStatus(_('Not saved: this copy was saved from another window.'), 'error');
      alertWith(_('This copy was changed in another window or tab since you opened it. Nothing more is saved ' +
        'from this page: reload the copy to see the latest work.'), [reloadButton()]);
      return false;
    }
    if (error === 'lease_lost') { leaseLost(); return false; }
    if (error === 'invalid_work') {
      var problems = (result.body.problems || []).map(function (problem) { return problem.message; });
      setSaveStatus(fmt(_('Not saved: {problems}'), {problems: problems.join(' ') || failure(result)}), 'error');
      announcer.warn(saveStatus.textContent);
      return false;
    }
    // the lease store is away (503), the server failed or the network is down: retry with backoff
    retryDelay = retryDelay ? Math.min(retryDelay * 2, MAX_RETRY_S) : 2;
    setSaveStatus(fmt(_('Not saved — retrying in {seconds} s. Your work is kept in this browser.'),
      {seconds: retryDelay}), 'retrying');
    if (retryDelay === 2) { announcer.warn(saveStatus.textContent); }  // told once, not at every retry
    scheduleSave(retryDelay * 1000);
    return false;
  }

  function saveNow() {
    if (!editable) { return; }
    if (!dirty && !saving) { setSaveStatus(_('Nothing to save: everything is saved.'), 'saved'); return; }
    save();
  }

  /* A stale draft or a lost lease: stop writing, keep the work on screen and in this browser. */
  function halt() {
    halted = true;
    window.clearTimeout(saveTimer);
    stopHeartbeat();
    setEditable(false);
  }

  /* ------------------------------------------------------------------ lease */

  function stopHeartbeat() { window.clearTimeout(heartbeatTimer); heartbeatTimer = null; }

  function heartbeat() {
    stopHeartbeat();
    if (!lease || halted) { return; }
    var seq = openSeq;
    heartbeatTimer = window.setTimeout(function () {
      call('renew_lease', {copy_id: data.copy.id, token: lease.token}).then(function (result) {
        if (seq !== openSeq || !lease) { return; }
        if (result.ok) {
          lease.expires_at = result.body.expires_at;
          noteTab(data.copy.id, true);
        } else if (result.body && result.body.error === 'lease_lost') {
          leaseLost();
          return;
        }
        heartbeat();  // a network hiccup: try again at the next beat, the lease outlives a few of them
      });
    }, data.settings.heartbeat_seconds * 1000);
  }

  function leaseLost() {
    lease = null;
    noteTab(data.copy.id, false);
    if (dirty) { writeBackup(); }
    halt();
    setSaveStatus(dirty ? _('Not saved: your lease on this copy was lost.') : '', 'error');
    alertWith(_('You no longer hold this copy: your lease expired or an instructor released it. Nothing more ' +
      'is saved from this page. Reload the copy to take it again.'), [reloadButton()]);
  }

  function acquire() {
    var seq = openSeq;
    return call('acquire_lease', {copy_id: data.copy.id}).then(function (result) {
      if (seq !== openSeq) { return; }
      if (result.ok) {
        lease = result.body;
        noteTab(data.copy.id, true);
        alertWith('');
        setEditable(true);
        heartbeat();
        restoreBackup();
        return;
      }
      setEditable(false);
      var actions = [];
      if (result.status === 409 && result.body.error === 'lease_held') { return showHeld(result.body); }
      actions.push(button('retry-lease', _('Try again'), function () { acquire(); }));
      alertWith(fmt(_('This copy could not be taken for grading: {reason} It is open read-only.'),
        {reason: failure(result)}), actions);
    });
  }

  function showHeld(held) {
    var actions = [];
    if (data.is_instructor) {
      actions.push(button('force-release', _('Force release'), function () { forceRelease(); }));
    }
    alertWith(fmt(_('{holder} is grading this copy until {time}. It is open read-only.'),
      {holder: held.holder, time: clock(held.expires_at)}), actions);
  }

  function forceRelease() {
    call('force_release_lease', {copy_id: data.copy.id}).then(function (result) {
      if (!result.ok) { return alertWith(failure(result)); }
      say(_('The lease was released.'));
      acquire();
    });
  }

  /* Save what is left and give the copy back; resolves when done (or at once when nothing is held). */
  function leaveCopy() {
    window.clearTimeout(pollTimer);
    stopHeartbeat();
    if (!data) { return Promise.resolve(); }
    var copyId = data.copy.id;
    return save().then(function () {
      var held = lease;
      lease = null;
      openSeq += 1;
      if (!held || noteTab(copyId, false)) { return; }  // another tab of ours still grades it
      return call('release_lease', {copy_id: copyId, token: held.token});
    });
  }

  window.addEventListener('pagehide', function () {
    if (!data || !lease) { return; }
    if (dirty && !halted) {
      writeBackup();
      sendOnUnload('save_draft', {copy_id: data.copy.id, fencing: lease.fencing, version: version, payload: payload()});
    }
    if (!noteTab(data.copy.id, false)) { sendOnUnload('release_lease', {copy_id: data.copy.id, token: lease.token}); }
  });

  /* ---------------------------------------------------------------- opening */

  function openCopy(copyId) {
    openSeq += 1;
    stopHeartbeat();
    window.clearTimeout(pollTimer);
    var seq = openSeq;
    halted = false;
    lease = null;
    editable = false;
    dirty = false;
    retryDelay = 0;
    invalid = {};
    window.clearTimeout(saveTimer);
    workspaceSlot.show(true);
    region.hidden = false;
    alertWith('');
    say('');
    setSaveStatus('');
    return call('open_copy', {copy_id: copyId}, 'GET').then(function (result) {
      if (seq !== openSeq) { return; }
      if (!result.ok) {
        bodySlot.show(false);
        title.textContent = _('Grading');
        stateText.textContent = '';
        alertWith(failure(result));
        title.focus();
        return;
      }
      keyedQuestion = null;
      if (result.body.rubric) { rubric = window.ViatiqueRubric.take(result.body.rubric); }
      showCopy(result.body, true);
      if (!result.body.rubric) { loadRubric(); }
      title.focus();
      announceOpened();
      prefetchNextCopy();
      if (pageMode) { rememberCopy(data.copy.id); }
      if (data.can_edit && EDITABLE_STATES[data.copy.state]) { return acquire(); }
      if (data.lease && data.lease.holder) { showHeld(data.lease); }
      if (data.copy.state === 'submitted') { poll(); }
    });
  }

  function showCopy(body, resetView) {
    data = body;
    version = (body.draft && body.draft.version) || 0;
    work = {
      annotations: (body.annotations || []).map(function (item) { return Object.assign({}, item); }),
      points: {},
      general_comment: body.copy.general_comment || ''
    };
    Object.keys(body.points || {}).forEach(function (id) {
      var entry = body.points[id] || {};
      work.points[id] = {points: entry.points === null || entry.points === undefined ? null : String(entry.points),
        comment: entry.comment || ''};
    });
    if (resetView) { pageIndex = 0; cursor = {x: 0.1, y: 0.1}; }
    pageIndex = clamp(pageIndex, 0, Math.max(0, body.pages.length - 1));
    title.textContent = fmt(_('Copy {code}'), {code: body.copy.code});
    showMissing(body);
    region.setAttribute('data-copy-id', body.copy.id);
    region.setAttribute('data-copy-state', body.copy.state);
    previousCopyButton.disabled = !(body.neighbours && body.neighbours.previous);
    nextCopyButton.disabled = !(body.neighbours && body.neighbours.next);
    bodySlot.show(true);
    showState();
    renderThumbs();
    renderPoints();
    generalComment.value = work.general_comment;
    showPage(pageIndex, false);
    setEditable(false);
  }

  /* Told once when a copy opens (its heading has the focus and is read too): its state, pages and total. */
  function announceOpened() {
    say(fmt(_('{state}. {count} pages. Total: {total} / {max}.'), {
      state: STATES[data.copy.state] || data.copy.state, count: data.pages.length,
      total: formatNumber(clientTotal()), max: formatNumber(maxTotal())}));
  }

  /* The first pages of the next copy, fetched ahead (open_copy only reads). */
  function prefetchNextCopy() {
    var next = data.neighbours && data.neighbours.next;
    if (!next) { return; }
    var seq = openSeq;
    call('open_copy', {copy_id: next}, 'GET').then(function (result) {
      if (seq !== openSeq || !result.ok) { return; }
      prefetch.want((result.body.pages || []).slice(0, PREFETCH_PAGES).map(function (page) {
        return url('page_image', String(page.id));
      }));
    });
  }

  /* In the full-window page, the address names the copy on screen, so a reload or a bookmark opens it. */
  function rememberCopy(copyId) {
    try {
      var address = new URL(window.location.href);
      address.searchParams.set('copy', copyId);
      address.searchParams.delete('question');
      window.history.replaceState(null, '', address.toString());
    } catch (error) { /* an old browser: the address stays as it was */ }
  }

  function backToDashboard() {
    leaveCopy().then(function () { window.location.assign(args.dashboard_url); });
  }

  function focusPoints() {
    var fields = Array.prototype.slice.call(pointsRows.querySelectorAll('[data-field="points"]'));
    var empty = fields.filter(function (field) { return !field.value.trim() && !field.disabled; })[0];
    var target = empty || fields[0];
    if (target) { target.focus(); }
  }

  /* Warn of pages never scanned: the grader must not take "Page 3 of 3" for the whole copy. */
  function showMissing(body) {
    var missing = body.missing_pages || [];
    var params = {pages: missing.join(', '), count: body.expected_pages || body.pages.length};
    var text = missing.length === 1 ? fmt(_('Page {pages} of {count} was not scanned.'), params)
      : fmt(_('Pages {pages} of {count} were not scanned.'), params);
    if (missing.length && body.missing_accepted) { text += ' ' + _('The instructor accepted the copy without it.'); }
    missingNote.textContent = missing.length ? text : '';
    missingNote.hidden = !missing.length;
    if (missing.length) { title.setAttribute('aria-describedby', missingNote.id); } else { title.removeAttribute('aria-describedby'); }
  }

  function restoreBackup() {
    var backup = readBackup(data.copy.id);
    if (!backup) { return; }
    if (backup.version === version && backup.work) {
      work = backup.work;
      renderPoints();
      generalComment.value = work.general_comment || '';
      showPage(pageIndex, false);
      say(_('Changes not yet saved from this browser were restored.'));
      changed();
    } else {
      dropBackup(data.copy.id);
    }
  }

  function reloadCopy() {
    if (!data) { return; }
    var copyId = data.copy.id;
    // a lost lease or a stale draft: the local copy of the work only counts if it matches the server
    openCopy(copyId);
  }

  function goToCopy(which) {
    if (!data) { return; }
    var target = data.neighbours && data.neighbours[which];
    if (!target) { return say(which === 'next' ? _('This is the last copy.') : _('This is the first copy.')); }
    leaveCopy().then(function () { openCopy(target); });
  }

  function close() {
    leaveCopy().then(function () {
      var copyId = data && data.copy.id;
      data = null;
      region.hidden = true;
      workspaceSlot.show(false);
      region.removeAttribute('data-copy-id');
      if (copyId) { focusOpener(copyId); }
      root.dispatchEvent(new CustomEvent(COPIES_CHANGED, {detail: {progress: null, source: 'grading'}}));
    });
  }

  /* The focus goes back to the copy's "Open" button in the list, and again when the list, reloaded
   * after the workspace closed, replaces that button (unless the focus went somewhere else meanwhile). */
  function focusOpener(copyId) {
    var tbody = root.querySelector('[data-region="copies"] tbody');
    function focus() {
      var opener = root.querySelector('tr[data-copy-id="' + copyId + '"] [data-action="open-copy"]');
      if (opener) { opener.focus(); }
      return !!opener;
    }
    focus();
    if (!tbody || !window.MutationObserver) { return; }
    var observer = new MutationObserver(function () {
      var lost = !document.activeElement || document.activeElement === document.body;
      if (lost && focus()) { observer.disconnect(); }
    });
    observer.observe(tbody, {childList: true});
    window.setTimeout(function () { observer.disconnect(); }, OPENER_WAIT_MS);
  }

  function showState() {
    var copy = data.copy;
    stateText.textContent = fmt(_('State: {state}'), {state: STATES[copy.state] || copy.state});
    stateText.setAttribute('data-state', copy.state);
    region.setAttribute('data-copy-state', copy.state);
    showTotal();
    actionsBox.textContent = '';
    if (editable) {
      actionsBox.appendChild(saveButton);
      actionsBox.appendChild(finalizeButton);
    }
    if (copy.state === 'render_failed') {
      actionsBox.appendChild(button('retry-render', _('Retry'), function () { retryRender(); }));
      say(fmt(_('The graded PDF could not be made: {reason}'), {reason: copy.render_error || '—'}), true);
    }
    if (data.is_instructor && (copy.state === 'graded' || copy.state === 'render_failed')) {
      actionsBox.appendChild(button('reopen', _('Reopen'), function () { reopen(); }));
    }
    if (copy.graded_pdf && copy.state === 'graded') {
      actionsBox.appendChild(el('a', {'class': 'viatique-button', href: url('graded_pdf', String(copy.id)),
        'data-action': 'graded-pdf', text: fmt(_('Graded PDF of copy {code}'), {code: copy.code})}));
    }
  }

  function setEditable(value) {
    editable = !!value && !halted && !!lease;
    region.setAttribute('data-editable', editable ? 'true' : 'false');
    body.querySelectorAll('[data-editable]').forEach(function (node) { node.disabled = !editable; });
    toolButtons.forEach(function (node) { node.disabled = !editable; });
    bankButton.disabled = !editable;
    Object.keys(panels).forEach(function (id) { panels[id].setEditable(editable); });
    if (!editable) { chooseTool(null); closeBank(false); }
    // (no aria-readonly: role=application does not take it; showState says whether the copy can be changed)
    showState();
  }

  /* ------------------------------------------------------------ page viewer */

  function renderThumbs() {
    thumbs.textContent = '';
    data.pages.forEach(function (page, index) {
      thumbs.appendChild(el('li', {}, [el('button', {
        type: 'button', 'class': 'viatique-thumb-button', 'data-page-index': index,
        'aria-label': fmt(_('Page {number}'), {number: index + 1}),
        onclick: function () { showPage(index, true); }
      }, [el('img', {src: url('page_image', page.id + '/thumb'), alt: '', loading: 'lazy'})])]));
    });
  }

  function currentPage() { return data.pages[pageIndex]; }

  function showPage(index, focusSheet) {
    if (!data || !data.pages.length) { return; }
    pageIndex = clamp(index, 0, data.pages.length - 1);
    var page = currentPage();
    var number = pageIndex + 1;
    var count = data.pages.length;
    prefetch.show(image, url('page_image', String(page.id)));
    prefetch.want(data.pages.slice(pageIndex + 1, pageIndex + 1 + PREFETCH_PAGES).map(function (next) {
      return url('page_image', String(next.id));
    }));
    image.alt = fmt(_('Page {number} of copy {code}'), {number: number, code: data.copy.code});
    sheet.style.aspectRatio = (page.width_pt && page.height_pt) ? page.width_pt + ' / ' + page.height_pt : '210 / 297';
    sheet.setAttribute('aria-label', fmt(_('Page {number} of {count}'), {number: number, count: count}));
    sheet.setAttribute('data-page-id', page.id);
    pageLabel.textContent = fmt(_('Page {number} of {count}'), {number: number, count: count});
    pagePrevButton.disabled = pageIndex === 0;
    pageNextButton.disabled = pageIndex === count - 1;
    thumbs.querySelectorAll('button').forEach(function (node, i) {
      if (i === pageIndex) { node.setAttribute('aria-current', 'page'); } else { node.removeAttribute('aria-current'); }
    });
    renderOverlay();
    renderAnnotationList();
    if (focusSheet) { sheet.focus(); }
  }

  /* The page's height at zoom 1: the stage's in the full-window page (the whole page in view), else 78vh. */
  function fitHeight() {
    if (pageMode && stage.clientHeight) { return Math.max(200, stage.clientHeight - 12) * zoom + 'px'; }
    return (zoom * FIT_HEIGHT_VH) + 'vh';
  }

  function setZoom(value) {
    zoom = clamp(value, ZOOM_MIN, ZOOM_MAX);
    sheet.style.height = fitHeight();
    zoomOutButton.disabled = zoom <= ZOOM_MIN;
    zoomInButton.disabled = zoom >= ZOOM_MAX;
    stage.setAttribute('data-zoom', zoom.toFixed(2));
  }

  function pageAnnotations() {
    var pageId = currentPage().id;
    return work.annotations.filter(function (item) { return String(item.page_id) === String(pageId); });
  }

  function place(node, item) {
    node.style.left = (item.x * 100) + '%';
    node.style.top = (item.y * 100) + '%';
    if (item.width) { node.style.width = (item.width * 100) + '%'; }
    if (item.height) { node.style.height = (item.height * 100) + '%'; }
  }

  function renderOverlay() {
    overlay.textContent = '';
    pageAnnotations().forEach(function (item) {
      var mark = el('div', {'class': 'viatique-annot viatique-annot-' + item.kind, 'data-uid': item.uid,
        'data-kind': item.kind});
      if (item.kind === 'tick') { mark.textContent = '✓'; }
      else if (item.kind === 'cross') { mark.textContent = '✗'; }
      else { mark.textContent = item.text || ''; }
      if (item.points !== null && item.points !== undefined && item.points !== '') {
        mark.appendChild(el('span', {'class': 'viatique-annot-points',
          text: fmt(_('{points} pt'), {points: formatNumber(item.points)})}));
      }
      place(mark, item);
      overlay.appendChild(mark);
    });
    cursorMark.style.left = (cursor.x * 100) + '%';
    cursorMark.style.top = (cursor.y * 100) + '%';
  }

  /* --------------------------------------------------------------- placement */

  function chooseTool(kind) {
    tool = kind;
    toolButtons.forEach(function (node) {
      node.setAttribute('aria-pressed', node.getAttribute('data-tool') === kind ? 'true' : 'false');
    });
    var chosen = TOOLS.filter(function (item) { return item.kind === kind; })[0];
    toolHint.textContent = chosen ? chosen.hint : (editable ? _('Choose a tool to annotate the page.') : '');
    sheet.setAttribute('data-tool', kind || '');
  }

  /* A tool chosen or put down by the grader (a button, a key): told, not only shown. */
  function pickTool(kind) {
    var before = tool;
    chooseTool(kind);
    if (before !== tool) { say(window.ViatiqueAnnounce.toolChange(TOOLS, kind, _, fmt)); }
  }

  function addAnnotation(x, y, width, height, extra) {
    var kind = (extra && extra.kind) || tool;
    var size = DEFAULT_SIZE[kind];
    if (size && !(width > DRAG_MIN && height > DRAG_MIN)) { width = size[0]; height = size[1]; }
    if (!size) { width = 0; height = 0; }
    x = clamp(x, 0, 1);
    y = clamp(y, 0, 1);
    var item = Object.assign({
      uid: uuid4(), page_id: currentPage().id, kind: kind,
      x: round(Math.min(x, 1 - width)), y: round(Math.min(y, 1 - height)),
      width: round(width), height: round(height), text: '', question_id: '', points: null
    }, extra || {});
    work.annotations.push(item);
    renderOverlay();
    renderAnnotationList();
    changed();
    say(fmt(_('{kind} placed on page {number}.'), {kind: KIND_LABELS[kind] || kind, number: pageIndex + 1}));
    var field = annotationList.querySelector('[data-uid="' + item.uid + '"] [data-field="annotation-text"]');
    if (field && (kind === 'comment' || kind === 'text') && !item.text) { field.focus(); }
    return item;
  }

  function round(value) { return Math.round(value * 10000) / 10000; }

  function pointFrom(event) {
    var box = sheet.getBoundingClientRect();
    return {x: clamp((event.clientX - box.left) / box.width, 0, 1), y: clamp((event.clientY - box.top) / box.height, 0, 1)};
  }

  var drag = null;
  sheet.addEventListener('pointerdown', function (event) {
    if (!editable || !tool || event.button !== 0) { return; }
    event.preventDefault();
    sheet.focus();
    drag = {start: pointFrom(event), id: event.pointerId};
    if (sheet.setPointerCapture) { sheet.setPointerCapture(event.pointerId); }
  });
  sheet.addEventListener('pointermove', function (event) {
    if (!drag || !DEFAULT_SIZE[tool]) { return; }
    var end = pointFrom(event);
    var box = {x: Math.min(drag.start.x, end.x), y: Math.min(drag.start.y, end.y),
      width: Math.abs(end.x - drag.start.x), height: Math.abs(end.y - drag.start.y)};
    place(rubber, box);
    rubber.hidden = false;
  });
  sheet.addEventListener('pointerup', function (event) {
    if (!drag) { return; }
    var start = drag.start;
    var end = pointFrom(event);
    drag = null;
    rubber.hidden = true;
    cursor = {x: end.x, y: end.y};
    if (DEFAULT_SIZE[tool] && Math.abs(end.x - start.x) > DRAG_MIN && Math.abs(end.y - start.y) > DRAG_MIN) {
      addAnnotation(Math.min(start.x, end.x), Math.min(start.y, end.y), Math.abs(end.x - start.x),
        Math.abs(end.y - start.y));
    } else {
      addAnnotation(end.x, end.y, 0, 0);
    }
  });
  sheet.addEventListener('pointercancel', function () { drag = null; rubber.hidden = true; });

  sheet.addEventListener('keydown', function (event) {
    var step = event.shiftKey ? CURSOR_BIG_STEP : CURSOR_STEP;
    var moves = {ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step]};
    var home = event.key === 'Home';
    if ((moves[event.key] || home) && !event.altKey && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      cursor = home ? {x: 0, y: 0} : {x: round(clamp(cursor.x + moves[event.key][0], 0, 1)),
        y: round(clamp(cursor.y + moves[event.key][1], 0, 1))};
      renderOverlay();
      cursorText.textContent = fmt(_('Cursor at {x} % across, {y} % down'),
        {x: Math.round(cursor.x * 100), y: Math.round(cursor.y * 100)});
      say(cursorText.textContent);
      return;
    }
    if (event.key === 'Enter') {
      event.preventDefault();
      if (!editable) { return say(_('This copy is read-only.'), true); }
      if (!tool) { return say(_('Choose a tool first (c, t, x, h or f).'), true); }
      addAnnotation(cursor.x, cursor.y, 0, 0);
    }
  });

  /* --------------------------------------------------------- annotation list */

  function questionSelect(id, value, onchange) {
    var select = el('select', {id: id, 'data-field': 'annotation-question', 'data-editable': '', onchange: onchange},
      [el('option', {value: '', text: _('No question')})].concat(data.questions.map(function (question) {
        return el('option', {value: question.id, text: questionLabel(question)});
      })));
    select.value = value || '';
    select.disabled = !editable;
    return select;
  }

  function describe(item, number) {
    return fmt(_('{number}. {kind} at {x} % across, {y} % down'), {number: number, kind: KIND_LABELS[item.kind] || item.kind,
      x: Math.round(item.x * 100), y: Math.round(item.y * 100)});
  }

  function renderAnnotationList() {
    annotationList.textContent = '';
    var items = pageAnnotations().slice().sort(function (a, b) { return a.y - b.y || a.x - b.x; });
    annotationsEmpty.hidden = items.length > 0;
    items.forEach(function (item, index) {
      annotationList.appendChild(annotationRow(item, index + 1));
    });
  }

  function annotationRow(item, number) {
    var base = idPrefix + '-a-' + item.uid;
    var heading = describe(item, number);
    var error = el('span', {'class': 'viatique-error', id: base + '-error', 'data-region': 'field-error'});
    var text = el('input', {type: 'text', id: base + '-text', value: item.text || '', 'data-field': 'annotation-text',
      'data-bank-target': '', 'data-editable': '', placeholder: _('Text'),
      'aria-label': fmt(_('Text of annotation {number}'), {number: number})});
    var points = el('input', {type: 'text', inputmode: 'decimal', id: base + '-points', 'class': 'viatique-number',
      value: item.points === null || item.points === undefined ? '' : item.points, 'data-field': 'annotation-points',
      'data-editable': '', 'aria-describedby': error.id, placeholder: _('Points'),
      'aria-label': fmt(_('Points of annotation {number}'), {number: number})});
    var question = questionSelect(base + '-question', item.question_id, function () {
      item.question_id = question.value;
      checkAnnotationPoints(item, points, error);
      renderOverlay();
      changed();
    });
    question.setAttribute('aria-label', fmt(_('Question of annotation {number}'), {number: number}));
    text.addEventListener('input', function () { item.text = text.value; renderOverlay(); changed(); });
    text.addEventListener('keydown', function (event) {
      if (event.key === 'Enter') { event.preventDefault(); sheet.focus(); }
    });
    points.addEventListener('input', function () { checkAnnotationPoints(item, points, error); renderOverlay(); changed(); });
    [text, points, question].forEach(function (node) { node.disabled = !editable; });
    var title = el('p', {'class': 'viatique-annotation-title', text: heading});
    var adjusters = [arrowButton('move-annotation', _('Move'), fmt(_('Move annotation {number}'), {number: number}))];
    if (DEFAULT_SIZE[item.kind]) {
      adjusters.push(arrowButton('resize-annotation', _('Resize'), fmt(_('Resize annotation {number}'), {number: number})));
    }
    adjusters.forEach(function (node) {
      node.addEventListener('keydown', function (event) { adjustAnnotation(item, number, node, title, event); });
    });
    var row = el('li', {'class': 'viatique-annotation', 'data-uid': item.uid, 'data-kind': item.kind}, [
      title,
      el('div', {'class': 'viatique-annotation-fields'}, [
        text, question, points, error].concat(adjusters).concat([
        button('add-to-bank', _('Add to bank'), function () { addToBank(item.text, item.question_id, item.points); },
          {'aria-label': fmt(_('Add to bank: annotation {number}'), {number: number}),
            'data-editable': '', disabled: !editable}),
        button('delete-annotation', _('Delete'), function () { deleteAnnotation(item); },
          {'aria-label': fmt(_('Delete annotation {number}'), {number: number}), 'data-editable': '',
            disabled: !editable})
      ]))
    ]);
    checkAnnotationPoints(item, points, error);
    return row;
  }

  /* A button that arrow keys act on while it has the focus (moving or resizing an annotation from the
     keyboard); a click says how to use it. */
  function arrowButton(action, text, label) {
    var node = button(action, text, function () {
      say(action === 'move-annotation' ? _('Use the arrow keys to move the annotation (with Shift: in bigger steps).')
        : _('Use the arrow keys to resize the box: Right and Down make it wider and taller (with Shift: in bigger steps).'));
    }, {'aria-label': label, 'aria-describedby': idPrefix + '-arrow-hint', 'data-editable': '', disabled: !editable});
    return node;
  }

  function adjustAnnotation(item, number, node, title, event) {
    var step = event.shiftKey ? CURSOR_BIG_STEP : CURSOR_STEP;
    var delta = {ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step]}[event.key];
    if (!delta || event.altKey || event.ctrlKey || event.metaKey) { return; }
    event.preventDefault();
    if (!editable) { return; }
    if (node.getAttribute('data-action') === 'move-annotation') {
      item.x = round(clamp(item.x + delta[0], 0, 1 - item.width));
      item.y = round(clamp(item.y + delta[1], 0, 1 - item.height));
    } else {
      item.width = round(clamp(item.width + delta[0], MIN_BOX, 1 - item.x));
      item.height = round(clamp(item.height + delta[1], MIN_BOX, 1 - item.y));
    }
    title.textContent = describe(item, number);
    renderOverlay();
    changed();
    say(DEFAULT_SIZE[item.kind]
      ? fmt(_('Annotation {number}: {x} % across, {y} % down, {width} % wide, {height} % high'), {number: number,
        x: Math.round(item.x * 100), y: Math.round(item.y * 100), width: Math.round(item.width * 100),
        height: Math.round(item.height * 100)})
      : fmt(_('Annotation {number}: {x} % across, {y} % down'), {number: number, x: Math.round(item.x * 100),
        y: Math.round(item.y * 100)}));
  }

  function checkAnnotationPoints(item, input, error) {
    var question = questionById(item.question_id);
    var key = 'annotation:' + item.uid;
    var raw = input.value;
    var result = !raw.trim() ? {empty: true}
      : (question ? checkPoints(raw, question) : {error: _('Choose the question these points are for.')});
    showFieldError(input, error, key, result);
    if (result.value !== undefined) { item.points = result.value; }
    else if (result.empty) { item.points = null; }
  }

  /* A field's error is shown beside it (aria-invalid, aria-describedby) and told once the typing stops. */
  function showFieldError(input, error, key, result) {
    var before = error.textContent;
    if (result.error) {
      invalid[key] = true;
      input.setAttribute('aria-invalid', 'true');
      error.textContent = result.error;
      if (result.error !== before) { announcer.later(result.error, FIELD_ERROR_DELAY_MS); }
    } else {
      delete invalid[key];
      input.removeAttribute('aria-invalid');
      error.textContent = '';
      if (before) { announcer.cancel(); }
    }
  }

  function deleteAnnotation(item) {
    work.annotations = work.annotations.filter(function (other) { return other.uid !== item.uid; });
    delete invalid['annotation:' + item.uid];
    renderOverlay();
    renderAnnotationList();
    say(fmt(_('{kind} deleted.'), {kind: KIND_LABELS[item.kind] || item.kind}));
    changed();
    sheet.focus();
  }

  /* ------------------------------------------------------------ points panel */

  function renderPoints() {
    pointsRows.textContent = '';
    data.questions.forEach(function (question) {
      var base = idPrefix + '-q-' + question.id;
      var entry = work.points[question.id] || (work.points[question.id] = {points: null, comment: ''});
      var error = el('span', {'class': 'viatique-error', id: base + '-error', 'data-region': 'field-error'});
      var input = el('input', {type: 'text', inputmode: 'decimal', id: base + '-points', 'class': 'viatique-number',
        'data-field': 'points', 'data-question': question.id, 'data-editable': '', 'aria-describedby': error.id,
        value: entry.points === null ? '' : entry.points});
      var comment = el('input', {type: 'text', id: base + '-comment', 'data-field': 'question-comment',
        'data-question': question.id, 'data-bank-target': '', 'data-editable': '', value: entry.comment || '',
        placeholder: _('Comment'),
        'aria-label': fmt(_('Comment on {question}'), {question: questionLabel(question)})});
      input.addEventListener('input', function () {
        var result = checkPoints(input.value, question);
        showFieldError(input, error, 'question:' + question.id, result);
        if (result.value !== undefined) { entry.points = result.value; }
        else if (result.empty) { entry.points = null; }
        showTotal();
        changed();
      });
      comment.addEventListener('input', function () { entry.comment = comment.value; changed(); });
      pointsRows.appendChild(el('div', {'class': 'viatique-points-row', 'data-question': question.id}, [
        el('label', {'for': input.id, text: questionLabel(question)}),
        input,
        el('span', {'class': 'viatique-max', text: fmt(_('/ {max} (steps of {step})'),
          {max: formatNumber(question.max), step: formatNumber(question.step)})}),
        comment, error
      ]));
    });
    renderRubrics();
    showTotal();
  }

  /* ----------------------------------------------------------------- rubric */

  /* The exam's rubric, when open_copy does not carry it. */
  function loadRubric() {
    var seq = openSeq;
    return window.ViatiqueRubric.load(call).then(function (loaded) {
      if (seq !== openSeq || !loaded) { return; }
      rubric = loaded;
      renderRubrics();
    });
  }

  /* A panel per question (viatique_rubric.js), after the points (which stay in view first). */
  function renderRubrics() {
    panels = {};
    rubricsBox.textContent = '';
    if (!data || !rubric) { return; }
    data.questions.forEach(function (question) {
      var panel = window.ViatiqueRubric.panel({
        el: el, _: _, fmt: fmt, formatNumber: formatNumber, idPrefix: idPrefix, announcer: announcer,
        question: question, questionName: questionLabel(question),
        rubric: rubric.questions[question.id], shared: rubric.shared,
        state: window.ViatiqueRubric.stateOf((data.points || {})[question.id]),
        send: rubricSend, call: call, failure: failure,
        comment: function () { return (work.points[question.id] || {}).comment || ''; },
        onResult: rubricResult, onAdded: function (item) { rubricAdded(question.id, item); }
      });
      panels[question.id] = panel;
      rubricsBox.appendChild(panel.node);
      panel.setEditable(editable);
    });
    if (!panels[keyedQuestion]) { keyedQuestion = firstKeyedQuestion(); }
    markKeyed();
  }

  /* The number keys act first on the first question without points (the one being graded). */
  function firstKeyedQuestion() {
    var open = data.questions.filter(function (question) {
      var entry = work.points[question.id];
      return !entry || entry.points === null || entry.points === undefined || entry.points === '';
    })[0];
    return (open || data.questions[0] || {}).id || null;
  }

  function markKeyed() {
    Object.keys(panels).forEach(function (id) { panels[id].setKeyed(id === keyedQuestion); });
  }

  function nextKeyedQuestion() {
    var ids = data.questions.map(function (question) { return question.id; });
    if (!ids.length) { return; }
    keyedQuestion = ids[(ids.indexOf(keyedQuestion) + 1) % ids.length];
    markKeyed();
    say(fmt(_('Number keys: the rubric of {question}.'), {question: questionLabel(questionById(keyedQuestion))}));
  }

  function rubricKey(key) {
    var panel = panels[keyedQuestion];
    if (!panel) { return say(_('The rubric is not loaded yet.'), true); }
    panel.applyKey(key);
  }

  /* Working on a question (its points, its rubric) makes it the one the number keys act on. */
  [pointsRows, rubricsBox].forEach(function (box) {
    box.addEventListener('focusin', function (event) {
      var holder = event.target.closest && event.target.closest('[data-question]');
      var id = holder && holder.getAttribute('data-question');
      if (id && panels[id] && id !== keyedQuestion) { keyedQuestion = id; markKeyed(); }
    });
  });

  /* A rubric write (apply_rubric_item, save_adjustment) with the copy and its lease's fencing, after the
   * work not saved yet: refused as the other writes (a lost lease, a stale draft). */
  var rubricSend = window.ViatiqueRubric.sender({
    call: call,
    key: function () { return openSeq; },
    flush: function () { return save(); },
    target: function () {
      return data && editable && lease && !halted ? {copy_id: data.copy.id, fencing: lease.fencing} : null;
    },
    onVersion: function (value) { version = value; },
    refused: function (result) {
      var error = result.body && result.body.error;
      if (error === 'lease_lost' || error === 'stale_draft') { saveRefused(result); } else { say(failure(result), true); }
    }
  });

  /* The points the server computed from the rubric: in the question's field and the total. */
  function rubricResult(body) {
    var entry = work.points[body.question_id] || (work.points[body.question_id] = {points: null, comment: ''});
    entry.points = body.points === null || body.points === undefined ? null : String(body.points);
    var input = pointsRows.querySelector('[data-field="points"][data-question="' + body.question_id + '"]');
    if (input) {
      input.value = entry.points === null ? '' : entry.points;
      input.removeAttribute('aria-invalid');
      delete invalid['question:' + body.question_id];
      var error = document.getElementById(input.getAttribute('aria-describedby'));
      if (error) { error.textContent = ''; }
    }
    if (data.points) { data.points[body.question_id] = Object.assign({}, data.points[body.question_id], body); }
    showTotal();
  }

  /* An item made while grading: every panel that may use it (its question's, or all for an exam-wide one). */
  function rubricAdded(questionId, item) {
    var own = rubric.questions[questionId] || (rubric.questions[questionId] = {scoring: 'gains', groups: [], items: []});
    if (own.items.indexOf(item) === -1) { own.items.push(item); }
  }

  function showTotal() {
    if (!data || !work) { return; }
    totalText.textContent = fmt(_('Total: {total} / {max}'), {total: formatNumber(clientTotal()), max: formatNumber(maxTotal())});
  }

  generalComment.addEventListener('input', function () { work.general_comment = generalComment.value; changed(); });

  /* ------------------------------------------------------------ comment bank */

  function fold(text) {
    return String(text || '').normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
  }

  function bankMatches() {
    var words = fold(bankFilter.value).split(/\s+/).filter(Boolean);
    return bank.filter(function (comment) {
      var text = fold(comment.text);
      return words.every(function (word) { return text.indexOf(word) !== -1; });
    });
  }

  function renderBank() {
    var matches = bankMatches();
    bankActive = clamp(bankActive, 0, Math.max(0, matches.length - 1));
    bankList.textContent = '';
    matches.forEach(function (comment, index) {
      var question = questionById(comment.question_id);
      var detail = question ? ' — ' + questionLabel(question) : '';
      if (comment.points !== null && comment.points !== undefined) {
        detail += ' ' + fmt(_('({points} pt)'), {points: formatNumber(comment.points)});
      }
      bankList.appendChild(el('li', {id: bankListId + '-' + index, role: 'option', 'class': 'viatique-option',
        'aria-selected': index === bankActive ? 'true' : 'false', 'data-bank-id': comment.id,
        onclick: function () { insertFromBank(comment); }}, [
        el('span', {'class': 'viatique-option-name', text: comment.text}), detail
      ]));
    });
    if (matches.length) { bankFilter.setAttribute('aria-activedescendant', bankListId + '-' + bankActive); }
    else { bankFilter.removeAttribute('aria-activedescendant'); }
    bankStatus.textContent = bank.length ? fmt(ngettext('{count} comment', '{count} comments', matches.length),
      {count: matches.length})
      : _('The bank is empty: use "Add to bank" on an annotation.');
    return matches;
  }

  function loadBank() {
    return call('comment_bank', null, 'GET').then(function (result) {
      if (!result.ok) { bankStatus.textContent = failure(result); return; }
      bank = result.body.comments || [];
      if (bankSlot.shown()) { renderBank(); }
    });
  }

  function openBank(target) {
    if (!editable) { return; }
    bankTarget = target;
    bankFilter.value = '';
    bankActive = 0;
    bankSlot.show(true);
    bankButton.setAttribute('aria-expanded', 'true');
    renderBank();
    bankFilter.focus();
    loadBank();
  }

  function closeBank(restoreFocus) {
    if (!bankSlot.shown()) { return; }
    bankSlot.show(false);
    bankButton.setAttribute('aria-expanded', 'false');
    if (restoreFocus) { (bankTarget && bankTarget.isConnected ? bankTarget : sheet).focus(); }
  }

  function insertFromBank(comment) {
    var target = bankTarget;
    closeBank(false);
    if (target && target.isConnected) {
      target.value = target.value ? target.value + ' ' + comment.text : comment.text;
      target.dispatchEvent(new Event('input'));
      target.focus();
      return;
    }
    var hasPoints = comment.points !== null && comment.points !== undefined && comment.points !== '';
    addAnnotation(cursor.x, cursor.y, 0, 0, {kind: 'comment', text: comment.text,
      question_id: comment.question_id || '', points: hasPoints ? String(comment.points) : null});
    sheet.focus();
  }

  bankFilter.addEventListener('input', function () { bankActive = 0; renderBank(); });
  bankFilter.addEventListener('keydown', function (event) {
    var matches = bankMatches();
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      bankActive = clamp(bankActive + (event.key === 'ArrowDown' ? 1 : -1), 0, Math.max(0, matches.length - 1));
      renderBank();
    } else if (event.key === 'Enter') {
      event.preventDefault();
      if (matches[bankActive]) { insertFromBank(matches[bankActive]); }
    } else if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      closeBank(true);
    }
  });

  function addToBank(text, questionId, points) {
    if (!String(text || '').trim()) { return say(_('Type the comment first, then add it to the bank.'), true); }
    var comment = {text: text};
    if (questionId) { comment.question_id = questionId; }
    if (points !== null && points !== undefined && points !== '') { comment.points = points; }
    call('add_bank_comment', comment).then(function (result) {
      if (!result.ok) { return say(failure(result), true); }
      bank.push(result.body.comment);
      say(_('Added to the comment bank.'));
    });
  }

  /* ---------------------------------------------------------------- finalize */

  function finalize() {
    if (!editable) { return; }
    var wrong = Object.keys(invalid);
    if (wrong.length) {
      say(_('Some points are not valid: correct the fields marked in red first.'), true);
      var field = body.querySelector('[aria-invalid="true"]');
      if (field) { field.focus(); }
      return;
    }
    var missing = data.questions.filter(function (question) {
      var entry = work.points[question.id];
      return !entry || entry.points === null || entry.points === undefined || entry.points === '';
    });
    if (missing.length) {
      say(fmt(_('Not finalized: points are missing for {questions}.'), {questions: missing.map(questionLabel).join(', ')}), true);
      var empty = pointsRows.querySelector('[data-field="points"][data-question="' + missing[0].id + '"]');
      if (empty) { empty.focus(); }
      return;
    }
    confirmReturn = document.activeElement;
    confirmTitle.textContent = fmt(_('Finalize copy {code}?'), {code: data.copy.code});
    confirmText.textContent = fmt(_('Total: {total} / {max}. Once finalized, only an instructor can reopen it.'),
      {total: formatNumber(clientTotal()), max: formatNumber(maxTotal())});
    confirmSlot.show(true);
    confirmYes.focus();
  }
  var confirmReturn = null;

  function confirmFinalize(yes) {
    if (!confirmSlot.shown()) { return; }
    confirmSlot.show(false);
    if (!yes) {
      (confirmReturn && confirmReturn.isConnected ? confirmReturn : finalizeButton).focus();
      return;
    }
    finalizeButton.focus();
    finalizeButton.disabled = true;
    dirty = dirty || !version;
    save().then(function (saved) {
      if (!saved) { finalizeButton.disabled = false; return say(_('The work must be saved before it is finalized.'), true); }
      return call('finalize', {copy_id: data.copy.id, fencing: lease.fencing}).then(finalized);
    });
  }

  function finalized(result) {
    finalizeButton.disabled = false;
    if (!result.ok) {
      var error = result.body && result.body.error;
      if (error === 'incomplete') {
        var missing = result.body.missing || [];
        say(fmt(_('Not finalized: points are missing for {questions}.'), {questions: missing.map(function (item) {
          var question = questionById(item.id);
          return question ? questionLabel(question) : item.label;
        }).join(', ')}), true);
        var first = missing[0] && pointsRows.querySelector('[data-field="points"][data-question="' + missing[0].id + '"]');
        if (first) { first.focus(); }
        return;
      }
      if (error === 'lease_lost') { return leaseLost(); }
      return say(failure(result), true);
    }
    // the server released the lease with the finalize
    lease = null;
    stopHeartbeat();
    noteTab(data.copy.id, false);
    dropBackup(data.copy.id);
    data.copy.state = result.body.state;
    setEditable(false);
    setSaveStatus('');
    say(_('Finalized. The graded PDF is being made…'));
    // the Finalize button is gone: the focus goes back to the copy's heading (n: the next copy)
    if (!document.activeElement || document.activeElement === document.body) { title.focus(); }
    poll();
  }

  /* Read the copy again until its PDF is made (or failed), less and less often (1 s, then up to 5 s). */
  function poll(attempt) {
    attempt = attempt || 0;
    window.clearTimeout(pollTimer);
    var seq = openSeq;
    var copyId = data.copy.id;
    pollTimer = window.setTimeout(function () {
      call('open_copy', {copy_id: copyId}, 'GET').then(function (result) {
        if (seq !== openSeq) { return; }
        if (!result.ok || result.body.copy.state === 'submitted') { return poll(attempt + 1); }
        showCopy(result.body, false);
        if (result.body.copy.state === 'graded') { say(_('Graded: the graded PDF is ready.')); }
      });
    }, Math.min(POLL_MS * (1 + attempt / 2), POLL_MAX_MS));
  }

  function retryRender() {
    call('retry_render', {copy_id: data.copy.id}).then(function (result) {
      if (!result.ok) { return say(failure(result), true); }
      data.copy.state = result.body.state;
      showState();
      say(_('The graded PDF is being made again…'));
      poll();
    });
  }

  function reopen() {
    call('reopen_copy', {copy_id: data.copy.id}).then(function (result) {
      if (!result.ok) { return say(failure(result), true); }
      openCopy(data.copy.id).then(function () { say(_('The copy was reopened.')); });
    });
  }

  /* ------------------------------------------------------------------- help */

  function toggleHelp(show) {
    show = show === undefined ? !helpSlot.shown() : show;
    if (show === helpSlot.shown()) { return; }
    if (show) { helpReturn = document.activeElement; }
    var inside = helpPanel.contains(document.activeElement);
    helpSlot.show(show);
    helpButton.setAttribute('aria-expanded', show ? 'true' : 'false');
    if (show) {
      singleKeysBox.checked = keys.singleKeysOn();
      helpPanel.querySelector('[data-action="close-help"]').focus();
    } else if (inside || document.activeElement === document.body) {
      (helpReturn && helpReturn.isConnected ? helpReturn : helpButton).focus();
    }
  }

  /* -------------------------------------------------------------- shortcuts */

  // the full-window page is the workspace's alone: its keys also act when the focus is on nothing (the body)
  (pageMode ? document : region).addEventListener('keydown', function (event) {
    if (!data || event.defaultPrevented) { return; }
    var key = event.key;
    var target = event.target;
    if ((event.ctrlKey || event.metaKey) && (key === 's' || key === 'S')) {
      event.preventDefault();
      saveNow();
      return;
    }
    if (event.altKey && (key === 'b' || key === 'B') && target.hasAttribute('data-bank-target')) {
      event.preventDefault();
      openBank(target);
      return;
    }
    if ((event.ctrlKey || event.metaKey) && key === 'Enter') {
      event.preventDefault();
      if (editable && !confirmSlot.shown()) { finalize(); }
      return;
    }
    if (event.altKey && !event.ctrlKey && (key === 'PageDown' || key === 'PageUp')) {
      event.preventDefault();
      goToCopy(key === 'PageDown' ? 'next' : 'previous');
      return;
    }
    if (key === 'Escape') {
      if (bankSlot.shown()) { closeBank(true); } else if (helpSlot.shown()) { toggleHelp(false); }
      else if (keys.isTextField(target) && target.tagName !== 'SELECT') { event.preventDefault(); sheet.focus(); }
      else { pickTool(null); }
      return;
    }
    if (keys.isTextField(target)) { return; }
    if ((key === 'PageUp' || key === 'PageDown') && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      showPage(pageIndex + (key === 'PageDown' ? 1 : -1), true);
      return;
    }
    if (key.length !== 1 || !keys.singleKeyAllowed(event)) { return; }
    if (key === '[' || key === ']') { event.preventDefault(); showPage(pageIndex + (key === ']' ? 1 : -1), true); return; }
    if (key === '?') { event.preventDefault(); toggleHelp(); return; }
    if (key === '+' || key === '=') { setZoom(zoom * ZOOM_STEP); return; }
    if (key === '-') { setZoom(zoom / ZOOM_STEP); return; }
    if (key === 'w') { setZoom(1); say(_('Whole page.')); return; }
    if (/^[0-9]$/.test(key)) { event.preventDefault(); rubricKey(key); return; }
    if (key === 'q') { event.preventDefault(); nextKeyedQuestion(); return; }
    if (key === 'n' || key === 'p') { event.preventDefault(); goToCopy(key === 'n' ? 'next' : 'previous'); return; }
    if (key === 'd') { event.preventDefault(); if (pageMode && args.dashboard_url) { backToDashboard(); } else { close(); } return; }
    if (key === 'm') { event.preventDefault(); focusPoints(); return; }
    if (!editable) { return; }
    if (key === 'b') { event.preventDefault(); openBank(null); return; }
    var chosen = TOOLS.filter(function (item) { return item.key === key; })[0];
    if (chosen) { event.preventDefault(); pickTool(chosen.kind); }
  });

  root.addEventListener('viatique:open-copy', function (event) {
    var copyId = event.detail && event.detail.copyId;
    if (!copyId) { return; }
    if (data && String(data.copy.id) === String(copyId) && !region.hidden) { title.focus(); return; }
    var opening = data ? leaveCopy() : Promise.resolve();
    opening.then(function () { openCopy(copyId); });
  });

  if (pageMode && window.ResizeObserver) {
    // the page fits the stage, whose height is known once the workspace is shown, and changes with the window
    var fitted = 0;
    new window.ResizeObserver(function () {
      if (stage.clientHeight && stage.clientHeight !== fitted) { fitted = stage.clientHeight; setZoom(zoom); }
    }).observe(stage);
  }
  setZoom(1);
  chooseTool(null);
}
