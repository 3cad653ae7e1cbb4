/* Viatique staff dashboard section: lockouts, seen and lifted by instructors.
 * Lists the lockouts of this course still in force (a learner, or a client address, that made too
 * many refused requests) and lifts one at once. Called by viatique_staff.js with the block's
 * runtime, element and arguments; everything lives under the block's root element. */
function ViatiqueLockouts(runtime, element, args) {
  'use strict';
  var common = window.ViatiqueCommon;
  args = common.startupArgs(element, args);
  var section = common.claimSection(element, 'lockouts', args.role === 'instructor');
  if (!section) { return; }
  var root = section.root;
  var region = section.region;
  var _ = common.makeGettext(args.i18n);
  var fmt = common.format;
  var el = common.el;
  var idPrefix = section.idPrefix;
  var titleId = idPrefix + '-title';

  function call(name, data, method) {
    return common.callHandler(runtime.handlerUrl(element, name), data, method)
      .catch(function () { return {status: 0, ok: false, body: {}}; });
  }

  function failure(result) {
    if (result.body && result.body.message) { return result.body.message; }
    return result.status ? fmt(_('The server answered with an error ({status}).'), {status: result.status})
      : _('The connection to the server was lost.');
  }

  var messages = el('div', {'class': 'viatique-messages', role: 'status', 'aria-live': 'polite',
    'data-region': 'lockouts-messages', tabindex: '-1'});
  var tbody = el('tbody');
  var table = el('table', {'class': 'viatique-table', 'data-region': 'lockouts-table', hidden: true}, [
    el('caption', {'class': 'viatique-hint', text: _('Lockouts in force in this course')}),
    el('thead', {}, [el('tr', {}, [
      el('th', {scope: 'col', text: _('Locked out')}),
      el('th', {scope: 'col', text: _('Kind')}),
      el('th', {scope: 'col', text: _('Until')}),
      el('th', {scope: 'col', text: _('Time left')}),
      el('th', {scope: 'col', text: _('Action')})
    ])]),
    tbody
  ]);
  var refresh = el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'refresh-lockouts',
    text: _('Refresh'), onclick: function () { load(); }});

  region.setAttribute('aria-labelledby', titleId);
  [
    el('h3', {id: titleId, text: _('Lockouts')}),
    el('p', {'class': 'viatique-hint', text: _('A learner who makes too many refused requests (copies, pages or ' +
      'links that are not theirs) is locked out for a while; so is a network address after many more. ' +
      'Lift a lockout to let them in again at once.')}),
    el('div', {'class': 'viatique-buttons'}, [refresh]),
    messages,
    table
  ].forEach(function (node) { region.appendChild(node); });

  function say(text, isError) {
    messages.textContent = '';
    messages.appendChild(el('p', {'class': isError ? 'viatique-message viatique-error' : 'viatique-message', text: text}));
  }

  function kindLabel(kind) {
    return kind === 'address' ? _('Network address') : _('User');
  }

  function timeLeft(seconds) {
    return fmt(_('{minutes} min'), {minutes: Math.max(1, Math.ceil(seconds / 60))});
  }

  function render(lockouts) {
    tbody.textContent = '';
    lockouts.forEach(function (item) {
      var until = new Date(item.locked_until);
      var lift = el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'lift-lockout',
        'aria-label': fmt(_('Lift the lockout of {subject}'), {subject: item.subject}), text: _('Lift'),
        onclick: function () { liftLockout(item, lift); }});
      tbody.appendChild(el('tr', {'data-lockout-id': item.id, 'data-kind': item.kind}, [
        el('th', {scope: 'row', text: item.subject}),
        el('td', {text: kindLabel(item.kind)}),
        el('td', {text: isNaN(until.getTime()) ? item.locked_until : until.toLocaleString()}),
        el('td', {text: timeLeft(item.retry_after)}),
        el('td', {}, [lift])
      ]));
    });
    table.hidden = !lockouts.length;
  }

  function load() {
    return call('lockouts', null, 'GET').then(function (result) {
      if (!result.ok) { return say(fmt(_('The lockouts could not be loaded: {message}'), {message: failure(result)}), true); }
      render(result.body.lockouts);
      say(result.body.lockouts.length ? fmt(_('Lockouts in force: {count}'), {count: result.body.lockouts.length})
        : _('Nobody is locked out.'));
    });
  }

  function liftLockout(item, button) {
    button.disabled = true;
    call('lift_lockout', {id: item.id}).then(function (result) {
      if (!result.ok) {
        button.disabled = false;
        return say(failure(result), true);
      }
      render(result.body.lockouts);
      say(fmt(_('Lockout of {subject} lifted.'), {subject: item.subject}));
      messages.focus();  // the row and its button are gone: keep the keyboard user's place
    });
  }

  load();
  // shown again (the dashboard's Settings screen, viatique_staff.js): lockouts may have happened meanwhile
  root.addEventListener('viatique:screen-shown', function (event) {
    if (event.detail && event.detail.screen === 'settings') { load(); }
  });
}
