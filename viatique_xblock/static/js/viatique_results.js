/* Viatique staff dashboard section: release of results and regrade requests.
 *
 * Instructors release the results (a confirmation dialog states how many copies are graded, not graded
 * and not identified) or take them back; every staff member sees the open regrade requests they answer
 * (instructors all of them, graders those of their copies), and instructors may reopen the copy with
 * their answer. Started by ViatiqueStaffDashboard (viatique_staff.js) with its (runtime, element, args);
 * everything lives under the block's root element. */
function ViatiqueResults(runtime, element, args) {
  'use strict';
  var common = window.ViatiqueCommon;
  args = common.startupArgs(element, args);
  var section = common.claimSection(element, 'results');
  if (!section) { return; }
  var root = section.root;
  var region = section.region;
  var _ = common.makeGettext(args.i18n);
  var fmt = common.format;
  var el = common.el;
  var isInstructor = args.role === 'instructor';
  var idPrefix = section.idPrefix;
  var COPIES_CHANGED = 'viatique:copies-changed';
  var SOURCE = 'results';
  var summary = null;

  var calls = common.sectionCalls(runtime, element, _);
  var call = calls.call;
  var failure = calls.failure;

  function say(box, text, isError) {
    box.textContent = '';
    box.appendChild(el('p', {'class': isError ? 'viatique-message viatique-error' : 'viatique-message', text: text}));
  }

  var titleId = idPrefix + '-title';
  region.setAttribute('aria-labelledby', titleId);
  region.appendChild(el('h3', {id: titleId, text: isInstructor ? _('Results and regrade requests') : _('Regrade requests')}));

  /* ---------------------------------------------------------------- release (instructors) */

  var releaseState, releaseButton, releaseMessages, dialog, dialogText, confirmButton;
  var pending = null;  // 'release' or 'unrelease' while the dialog is open

  function counts() {
    return fmt(_('Graded copies whose score goes to the gradebook: {graded}. Copies not graded yet: {ungraded}. ' +
      'Copies not identified: {unidentified}. Learners whose copy is not graded and identified see no result.'), {
      graded: summary.graded, ungraded: summary.ungraded, unidentified: summary.unidentified});
  }

  function showSummary() {
    releaseState.textContent = summary.released
      ? fmt(_('Results were released on {date}: learners see their graded copies.'),
        {date: new Date(summary.released_at).toLocaleString()})
      : _('Results are not released: learners only see the state of their copy.');
    // one button, which releases or takes the results back
    releaseButton.textContent = summary.released ? _('Unrelease the results…') : _('Release the results…');
    releaseButton.setAttribute('data-action', summary.released ? 'unrelease' : 'release');
    releaseButton.hidden = false;
    var counter = root.querySelector('dd[data-count="released"]');
    if (counter) { counter.textContent = summary.released ? _('released') : _('not released'); }
  }

  function loadSummary() {
    return call('release_summary', null, 'GET').then(function (result) {
      if (!result.ok) { return say(releaseMessages, failure(result), true); }
      summary = result.body;
      showSummary();
    });
  }

  function ask(action) {
    loadSummary().then(function () {
      if (!summary) { return; }
      pending = action;
      dialog.querySelector('h4').textContent = action === 'release' ? _('Release the results?') : _('Unrelease the results?');
      dialogText.textContent = action === 'release' ? counts()
        : fmt(_('The {published} scores sent to the gradebook are withdrawn, and learners no longer see their ' +
          'graded copies until you release again.'), {published: summary.published});
      confirmButton.textContent = action === 'release' ? _('Release') : _('Unrelease');
      region.appendChild(dialog);  // in the page only while open: its controls are never hidden
      dialog.showModal();
      confirmButton.focus();
    });
  }

  function closeDialog() {
    var action = pending;
    pending = null;
    if (dialog.open) { dialog.close(); }
    if (dialog.parentNode) { dialog.parentNode.removeChild(dialog); }
    releaseButton.focus();
  }

  function confirm() {
    var action = pending;
    confirmButton.disabled = true;
    call(action === 'release' ? 'release_results' : 'unrelease_results', {}).then(function (result) {
      confirmButton.disabled = false;
      closeDialog();
      if (!result.ok) { return say(releaseMessages, failure(result), true); }
      summary = result.body;
      showSummary();
      say(releaseMessages, action === 'release'
        ? fmt(_('Results released: {count} scores sent to the gradebook.'), {count: summary.published})
        : _('Results taken back: the scores were withdrawn from the gradebook.'));
      releaseButton.focus();
      return call('scan_progress', null, 'GET').then(function (counters) {
        root.dispatchEvent(new CustomEvent(COPIES_CHANGED, {
          detail: {progress: counters.ok ? counters.body.progress : null, source: SOURCE}
        }));
        showSummary();
      });
    });
  }

  if (isInstructor) {
    var dialogTitle = idPrefix + '-dialog-title';
    var dialogDescription = idPrefix + '-dialog-text';
    releaseState = el('p', {'class': 'viatique-release-state', 'data-region': 'release-state'});
    releaseButton = el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'release', hidden: true,
      'aria-haspopup': 'dialog', text: _('Release the results…'), onclick: function () {
        ask(summary && summary.released ? 'unrelease' : 'release');
      }});
    releaseMessages = el('div', {'class': 'viatique-messages', role: 'status', 'aria-live': 'polite',
      'data-region': 'release-messages'});
    dialogText = el('p', {id: dialogDescription, 'data-region': 'release-counts'});
    confirmButton = el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'confirm-release',
      text: _('Release'), onclick: confirm});
    dialog = el('dialog', {'class': 'viatique-dialog', 'aria-labelledby': dialogTitle, 'aria-describedby': dialogDescription,
      'data-region': 'release-dialog'}, [
      el('h4', {id: dialogTitle}),
      dialogText,
      el('div', {'class': 'viatique-buttons'}, [confirmButton, el('button', {type: 'button', 'class': 'viatique-button',
        'data-action': 'cancel-release', text: _('Cancel'), onclick: closeDialog})])
    ]);
    dialog.addEventListener('cancel', function (event) { event.preventDefault(); closeDialog(); });
    [releaseState, el('div', {'class': 'viatique-buttons'}, [releaseButton]), releaseMessages]
      .forEach(function (node) { region.appendChild(node); });
    loadSummary();
    root.addEventListener(COPIES_CHANGED, function (event) {
      if (!event.detail || event.detail.source !== SOURCE) { loadSummary(); }
    });
  }

  /* ---------------------------------------------------------------- regrade requests (staff) */

  var requestsTitle = idPrefix + '-requests';
  var requestsStatus = el('p', {'class': 'viatique-status', role: 'status', 'aria-live': 'polite',
    'data-region': 'regrade-status'});
  var requestsList = el('ul', {'class': 'viatique-regrade-list', 'data-region': 'regrade-requests'});
  region.appendChild(el('h4', {id: requestsTitle, text: _('Open regrade requests')}));
  region.appendChild(requestsStatus);
  region.appendChild(requestsList);

  function answerForm(item) {
    var answerId = idPrefix + '-answer-' + item.id;
    var answer = el('textarea', {id: answerId, rows: '3', maxlength: '2000', 'data-field': 'answer', required: true});
    var reopen = el('input', {type: 'checkbox', id: answerId + '-reopen', 'data-field': 'reopen'});
    var send = el('button', {type: 'submit', 'class': 'viatique-button', 'data-action': 'answer-regrade',
      text: _('Send the answer')});
    var parts = [el('label', {'for': answerId, text: fmt(_('Answer to copy {code}'), {code: item.code})}), answer];
    if (isInstructor) {
      parts.push(el('label', {'class': 'viatique-choice', 'for': reopen.id}, [reopen, ' ',
        _('Reopen the copy to change its points (it must then be finalized again)')]));
    }
    parts.push(send);
    return el('form', {'class': 'viatique-regrade-answer', onsubmit: function (event) {
      event.preventDefault();
      if (!answer.value.trim()) {
        answer.setAttribute('aria-invalid', 'true');
        requestsStatus.textContent = _('Write an answer.');
        answer.focus();
        return;
      }
      send.disabled = true;
      call('answer_regrade', {id: item.id, answer: answer.value, reopen: reopen.checked}).then(function (result) {
        send.disabled = false;
        if (!result.ok) { requestsStatus.textContent = failure(result); return; }
        renderRequests(result.body.requests);
        requestsStatus.textContent = result.body.reopened
          ? fmt(_('Answer sent; copy {code} is reopened for grading.'), {code: item.code})
          : fmt(_('Answer sent for copy {code}.'), {code: item.code});
        if (result.body.reopened) {
          root.dispatchEvent(new CustomEvent(COPIES_CHANGED, {detail: {progress: null, source: SOURCE}}));
        }
        region.querySelector('#' + requestsTitle).focus();
      });
    }}, parts);
  }

  function renderRequests(requests) {
    requestsList.textContent = '';
    requests.forEach(function (item) {
      var who = item.name || item.username;
      var heading = who ? fmt(_('Copy {code} ({name}), {question}'), {code: item.code, name: who, question: item.question})
        : fmt(_('Copy {code}, {question}'), {code: item.code, question: item.question});
      requestsList.appendChild(el('li', {'data-request': item.id, 'data-code': item.code}, [
        el('p', {}, [el('strong', {text: heading})]),
        el('p', {text: fmt(_('Points now: {points}'), {points: item.points === null ? '—' : item.points})}),
        el('p', {'data-field': 'message', text: fmt(_('Message: {message}'), {message: item.message})}),
        answerForm(item)
      ]));
    });
    requestsStatus.textContent = requests.length ? fmt(_('{count} open requests'), {count: requests.length})
      : _('No open regrade request.');
  }

  function loadRequests() {
    call('regrade_requests', null, 'GET').then(function (result) {
      if (!result.ok) { requestsStatus.textContent = failure(result); return; }
      renderRequests(result.body.requests);
    });
  }

  region.querySelector('#' + requestsTitle).setAttribute('tabindex', '-1');
  loadRequests();
}
