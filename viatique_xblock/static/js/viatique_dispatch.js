/* Viatique dispatch (instructors): deal the copies nobody has been given yet to the graders chosen
 * among the course staff, balanced (counts differ by at most one), and rebalance copies nobody has
 * started. Copies already given out or being graded never move: the server enforces it.
 *
 * Started by ViatiqueStaffDashboard (viatique_staff.js) with its (runtime, element, args);
 * everything lives under the block's root element. After a deal or a
 * rebalance the block root receives a "viatique:copies-changed" event (detail.progress: the copy
 * counters), so the copy list shows the new graders.
 */
function ViatiqueDispatch(runtime, element, args) {
  'use strict';
  var common = window.ViatiqueCommon;
  args = common.startupArgs(element, args);
  var section = common.claimSection(element, 'dispatch', args.role === 'instructor');
  if (!section) { return; }
  var root = section.root;
  var region = section.region;
  var _ = common.makeGettext(args.i18n);
  var fmt = common.format;
  var el = common.el;
  var idPrefix = section.idPrefix;
  var COPIES_CHANGED = 'viatique:copies-changed';
  var SOURCE = 'dispatch';
  var graders = [];  // [{username, name, copies}] from the graders handler

  function call(name, data, method) {
    return common.callHandler(runtime.handlerUrl(element, name), data, method)
      .catch(function () { return {status: 0, ok: false, body: {}}; });
  }

  function failure(result) {
    if (result.body && result.body.message) { return result.body.message; }
    return result.status ? fmt(_('The server answered with an error ({status}).'), {status: result.status})
      : _('The connection to the server was lost.');
  }

  var titleId = idPrefix + '-title';
  var list = el('div', {'class': 'viatique-graders', 'data-region': 'graders'});
  var dealButton = el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'deal',
    text: _('Deal the unassigned copies'), onclick: function () { run('dispatch'); }});
  var rebalanceButton = el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'rebalance',
    text: _('Rebalance'), onclick: function () { run('rebalance'); }});
  var messages = el('div', {'class': 'viatique-messages', role: 'status', 'aria-live': 'polite',
    'data-region': 'dispatch-messages'});
  var outcome = el('ul', {'class': 'viatique-dispatch-result', 'data-region': 'dispatch-result', hidden: true});

  region.setAttribute('aria-labelledby', titleId);
  [
    el('h3', {id: titleId, text: _('Dispatch to graders')}),
    el('p', {'class': 'viatique-hint', text: _('Deal gives the copies nobody has yet to the graders ticked, so that ' +
      'their counts differ by at most one. Rebalance moves copies nobody has started from the busiest of them to ' +
      'the least busy. Copies being graded or graded never move.')}),
    el('fieldset', {'class': 'viatique-fieldset'}, [el('legend', {text: _('Graders')}), list]),
    el('div', {'class': 'viatique-buttons'}, [dealButton, ' ', rebalanceButton]),
    messages,
    outcome
  ].forEach(function (node) { region.appendChild(node); });

  function say(text, isError) {
    messages.textContent = '';
    messages.appendChild(el('p', {'class': isError ? 'viatique-message viatique-error' : 'viatique-message', text: text}));
  }

  function graderLabel(grader, copies) {
    return fmt(_('{name} ({username}), copies: {count}'), {name: grader.name, username: grader.username, count: copies});
  }

  function checkboxes() { return Array.prototype.slice.call(list.querySelectorAll('input[type="checkbox"]')); }

  function renderGraders() {
    var ticked = {};
    checkboxes().forEach(function (box) { ticked[box.value] = box.checked; });
    list.textContent = '';
    graders.forEach(function (grader) {
      list.appendChild(el('label', {'class': 'viatique-choice', 'data-grader': grader.username}, [
        el('input', {type: 'checkbox', value: grader.username, checked: !!ticked[grader.username],
          'data-field': 'grader'}),
        ' ', el('span', {'data-region': 'grader-label', text: graderLabel(grader, grader.copies)})
      ]));
    });
    if (!graders.length) { list.appendChild(el('p', {'class': 'viatique-hint', text: _('This course has no staff yet.')})); }
  }

  function loadGraders() {
    return call('graders', null, 'GET').then(function (result) {
      if (!result.ok) { return say(fmt(_('The graders could not be loaded: {message}'), {message: failure(result)}), true); }
      graders = result.body.graders;
      renderGraders();
    });
  }

  function nameOf(username) {
    var grader = graders.filter(function (item) { return item.username === username; })[0];
    return grader ? grader.name : username;
  }

  function showOutcome(body) {
    var totals = body.totals || {};
    var dealt = body.dealt || {};
    var count = 0;
    outcome.textContent = '';
    Object.keys(totals).forEach(function (username) {
      count += dealt[username] || 0;
      var text = graderLabel({name: nameOf(username), username: username}, totals[username]);
      if (body.dealt) { text += ' ' + fmt(_('(new: {count})'), {count: dealt[username] || 0}); }
      outcome.appendChild(el('li', {'data-grader': username, 'data-total': totals[username], text: text}));
    });
    outcome.hidden = false;
    if (body.dealt) {
      say(count ? fmt(_('{count} copies dealt.'), {count: count}) : _('No copy was waiting to be dealt.'));
    } else {
      say(body.moved ? fmt(_('{count} copies moved.'), {count: body.moved}) :
        _('Nothing to move: the counts already differ by at most one, or the other copies are started.'));
    }
  }

  function run(action) {
    var chosen = checkboxes().filter(function (box) { return box.checked; }).map(function (box) { return box.value; });
    if (!chosen.length) {
      say(_('Choose at least one grader.'), true);
      if (checkboxes().length) { checkboxes()[0].focus(); }
      return;
    }
    dealButton.disabled = rebalanceButton.disabled = true;
    call(action, {graders: chosen}).then(function (result) {
      dealButton.disabled = rebalanceButton.disabled = false;
      if (!result.ok) { return say(failure(result), true); }
      showOutcome(result.body);
      loadGraders();
      return call('scan_progress', null, 'GET').then(function (counters) {
        root.dispatchEvent(new CustomEvent(COPIES_CHANGED, {
          detail: {progress: counters.ok ? counters.body.progress : null, source: SOURCE}
        }));
      });
    });
  }

  /* New copies or moved pages may change the counts; identifications (the desk's events) never do. */
  root.addEventListener(COPIES_CHANGED, function (event) {
    var source = event.detail && event.detail.source;
    if (source !== SOURCE && source !== 'identify') { loadGraders(); }
  });
  loadGraders();
}

