/* Viatique staff dashboard section: the rubric editor (the Grading screen), for those who may edit rubrics
 * (the ``rubric`` handler's can_edit: instructors, all course staff, or nobody once grading started, as the
 * block's setting says); for the others the section stays out of the page.
 *
 * Per question (a select): its groups (label, "pick one"; added, renamed, deleted) and its items (text,
 * signed points, group, order). Items are living: saving an item that is applied somewhere first says what
 * it does ("Re-scores 20 copies (5 released).", from rubric_item_usage) and asks for a confirmation, then
 * edit_rubric_item re-scores those copies at once and the progress of publishing the released scores again
 * and rendering the graded PDFs again is shown (rescore_progress, polled until done). Deleting an applied
 * item asks for a confirmation stating the number of copies (delete_rubric_item with that number; 409
 * confirmation_needed when it changed meanwhile: asked again with the new one). An edit from an older view of
 * the item is refused (409 stale_item): the rubric is read again. Everything is told in one status region.
 */
function ViatiqueRubricEditor(runtime, element, args) {
  'use strict';
  var common = window.ViatiqueCommon;
  args = common.startupArgs(element, args);
  var section = common.claimSection(element, 'rubrics');
  if (!section) { return; }
  var region = section.region;
  var idPrefix = section.idPrefix;
  var _ = common.makeGettext(args.i18n);
  var ngettext = common.makeNgettext(args.i18n, args.lang);
  var fmt = common.format;
  var el = common.el;
  var formatNumber = common.numbers(args.lang).format;
  var calls = common.sectionCalls(runtime, element, _);
  var call = calls.call;
  var failure = calls.failure;
  var rubricLib = window.ViatiqueRubric;
  var POLL_MS = 1000;

  var names = {};          // question id -> its label (question_progress)
  var rubric = null;       // ViatiqueRubric.load's answer
  var questionId = null;
  var pollTimer = null;
  var pending = null;      // the confirmation on screen: {run, cancel, back}

  function button(action, text, onclick, attrs) {
    return el('button', Object.assign({type: 'button', 'class': 'viatique-button', 'data-action': action,
      text: text, onclick: onclick}, attrs || {}));
  }

  var titleId = idPrefix + '-title';
  var questionSelect = el('select', {id: idPrefix + '-question', 'data-field': 'rubric-question'});
  var body = el('div', {'class': 'viatique-rubric-editor-body', 'data-region': 'rubric-editor-body'});
  var messages = el('div', {'class': 'viatique-messages', role: 'status', 'aria-live': 'polite',
    'data-region': 'rubric-editor-status'});
  var confirmTitle = el('p', {'class': 'viatique-rubric-confirm-text', id: idPrefix + '-confirm-text'});
  var confirmYes = button('confirm-rubric', _('Yes'), function () { confirmAnswer(true); });
  // in the page only while a confirmation is asked (no control is left hidden in the page)
  var confirmPanel = el('div', {'class': 'viatique-confirm', role: 'alertdialog', 'aria-modal': 'false',
    'aria-labelledby': confirmTitle.id, 'data-region': 'rubric-confirm'}, [
    confirmTitle,
    el('div', {'class': 'viatique-buttons'}, [confirmYes,
      button('cancel-rubric', _('Cancel'), function () { confirmAnswer(false); })])
  ]);
  confirmPanel.addEventListener('keydown', function (event) {
    if (event.key === 'Escape') { event.preventDefault(); event.stopPropagation(); confirmAnswer(false); }
  });
  var progress = el('div', {'class': 'viatique-rubric-progress', 'data-region': 'rescore-progress', hidden: true});

  region.hidden = true;
  region.setAttribute('aria-labelledby', titleId);

  function say(text, isError) {
    messages.textContent = '';
    messages.appendChild(el('p', {'class': isError ? 'viatique-message viatique-error' : 'viatique-message', text: text}));
  }

  function name(id) { return id ? (names[id] || id) : _('Any question'); }

  function signed(points) {
    return points === null || points === undefined ? _('no points') : rubricLib.signed(points, formatNumber);
  }

  /* ------------------------------------------------------------- loading */

  function load() {
    return rubricLib.load(call).then(function (loaded) {
      if (!loaded) { return; }
      rubric = loaded;
      if (!rubric.can_edit) { region.hidden = true; region.textContent = ''; built = false; return; }
      build();
      region.hidden = false;
      fillSelect();
      render();
    });
  }

  function fillSelect() {
    var ids = Object.keys(names);
    Object.keys(rubric.questions).forEach(function (id) { if (id && ids.indexOf(id) === -1) { ids.push(id); } });
    questionSelect.textContent = '';
    ids.concat(['']).forEach(function (id) {
      questionSelect.appendChild(el('option', {value: id, text: name(id)}));
    });
    if (questionId === null || ids.concat(['']).indexOf(questionId) === -1) { questionId = ids[0] || ''; }
    questionSelect.value = questionId;
  }

  questionSelect.addEventListener('change', function () { questionId = questionSelect.value; render(); });

  function current() {
    if (!questionId) { return {scoring: 'gains', groups: [], items: rubric.shared}; }
    return rubric.questions[questionId] || (rubric.questions[questionId] = {scoring: 'gains', groups: [], items: []});
  }

  /* ------------------------------------------------------------- showing */

  function render() {
    body.textContent = '';
    var data = current();
    var groups = (data.groups || []).slice().sort(function (a, b) { return a.position - b.position; });
    var items = rubricLib.ordered({groups: groups, items: data.items || []}, []).map(function (row) { return row.item; });
    if (questionId) {
      body.appendChild(el('p', {'class': 'viatique-hint', 'data-region': 'rubric-scoring',
        text: data.scoring === 'deductions' ? _('Scoring: deductions from the question\'s maximum.')
          : _('Scoring: gains from 0.')}));
    }
    var table = el('table', {'class': 'viatique-table viatique-rubric-table', 'data-region': 'rubric-items-table'}, [
      el('caption', {text: fmt(_('Rubric items of {question}'), {question: name(questionId)})}),
      el('thead', {}, [el('tr', {}, [
        el('th', {scope: 'col', text: _('Text')}), el('th', {scope: 'col', text: _('Points')}),
        el('th', {scope: 'col', text: _('Group')}), el('th', {scope: 'col', text: _('Actions')})
      ])]),
      el('tbody', {}, items.map(function (item, index) { return itemRow(item, index, items, groups); }))
    ]);
    body.appendChild(items.length ? table : el('p', {'class': 'viatique-hint', 'data-region': 'rubric-empty',
      text: _('No rubric item yet.')}));
    body.appendChild(newItemForm(groups));
    if (questionId) { body.appendChild(groupsPart(groups)); }
  }

  function groupSelect(id, value, groups, label) {
    var select = el('select', {id: id, 'data-field': 'rubric-item-group', 'aria-label': label},
      [el('option', {value: '', text: _('No group')})].concat(groups.map(function (group) {
        return el('option', {value: String(group.id), text: group.label || _('(no label)')});
      })));
    select.value = value ? String(value) : '';
    return select;
  }

  function itemRow(item, index, items, groups) {
    var base = idPrefix + '-item-' + item.id;
    var number = index + 1;
    var text = el('input', {type: 'text', id: base + '-text', value: item.text, 'data-field': 'rubric-item-text',
      'aria-label': fmt(_('Text of item {number}'), {number: number})});
    var points = el('input', {type: 'text', inputmode: 'decimal', id: base + '-points', 'class': 'viatique-number',
      value: item.points === null || item.points === undefined ? '' : formatNumber(item.points),
      'data-field': 'rubric-item-points', 'aria-label': fmt(_('Points of item {number}'), {number: number})});
    var group = groupSelect(base + '-group', item.group_id, groups, fmt(_('Group of item {number}'), {number: number}));
    var saveButton = button('save-rubric-item', _('Save'), function () {
      var change = {text: text.value.trim()};
      var value = points.value.trim() ? rubricLib.parseSigned(points.value) : null;
      if (points.value.trim() && isNaN(value)) {
        points.setAttribute('aria-invalid', 'true');
        points.focus();
        return say(fmt(_('Type the points of the item, for example {example}.'), {example: '-' + formatNumber(1)}), true);
      }
      points.removeAttribute('aria-invalid');
      if (!change.text) { text.focus(); return say(_('Type the text of the item first.'), true); }
      change.points = value === null ? null : String(value);
      change.group_id = group.value || null;
      editItem(item, change, saveButton);
    }, {'aria-label': fmt(_('Save item {number}'), {number: number})});
    var up = button('move-rubric-item-up', _('Up'), function () { move(item, items, -1, up); },
      {'aria-label': fmt(_('Move item {number} up'), {number: number}), disabled: index === 0});
    var down = button('move-rubric-item-down', _('Down'), function () { move(item, items, 1, down); },
      {'aria-label': fmt(_('Move item {number} down'), {number: number}), disabled: index === items.length - 1});
    var remove = button('delete-rubric-item', _('Delete'), function () { deleteItem(item, remove); },
      {'aria-label': fmt(_('Delete item {number}'), {number: number})});
    return el('tr', {'data-item': item.id}, [
      el('td', {}, [text]), el('td', {}, [points]), el('td', {}, [group]),
      el('td', {}, [el('div', {'class': 'viatique-buttons'}, [saveButton, up, down, remove])])
    ]);
  }

  function newItemForm(groups) {
    var base = idPrefix + '-new-item';
    var text = el('input', {type: 'text', id: base + '-text', 'data-field': 'rubric-new-text'});
    var points = el('input', {type: 'text', inputmode: 'decimal', id: base + '-points', 'class': 'viatique-number',
      'data-field': 'rubric-new-points'});
    var group = groupSelect(base + '-group', '', groups, _('Group of the new item'));
    var add = button('create-rubric-item', _('Add the item'), function () {
      var value = rubricLib.parseSigned(points.value);
      if (!text.value.trim()) { text.focus(); return say(_('Type the text of the item first.'), true); }
      if (isNaN(value)) {
        points.focus();
        return say(fmt(_('Type the points of the item, for example {example}.'), {example: '-' + formatNumber(1)}), true);
      }
      var payload = {question_id: questionId, text: text.value.trim(), points: String(value)};
      if (group.value) { payload.group_id = group.value; }
      call('create_rubric_item', payload).then(function (result) {
        if (!result.ok) { return say(failure(result), true); }
        var item = result.body.item || result.body;
        load().then(function () {
          say(fmt(_('Item added: {text} ({points}).'), {text: item.text, points: signed(item.points)}));
          var field = body.querySelector('[data-field="rubric-new-text"]');
          if (field) { field.focus(); }
        });
      });
    });
    return el('fieldset', {'class': 'viatique-rubric-new', 'data-region': 'rubric-new'}, [
      el('legend', {text: _('New item')}),
      el('label', {'for': text.id, text: _('Text (shown to the learner)')}), text,
      el('label', {'for': points.id, text: _('Points (+ or −)')}), points,
      group, add
    ]);
  }

  function groupsPart(groups) {
    var list = el('ul', {'class': 'viatique-rubric-groups', 'data-region': 'rubric-groups'});
    groups.forEach(function (group, index) {
      var base = idPrefix + '-group-' + group.id;
      var label = el('input', {type: 'text', id: base + '-label', value: group.label || '',
        'data-field': 'rubric-group-label', 'aria-label': fmt(_('Label of group {number}'), {number: index + 1})});
      var pickOne = el('input', {type: 'checkbox', id: base + '-pick-one', 'data-field': 'rubric-group-pick-one'});
      pickOne.checked = !!group.pick_one;
      list.appendChild(el('li', {'data-group': group.id}, [
        label,
        el('span', {'class': 'viatique-check'}, [pickOne, el('label', {'for': pickOne.id,
          text: fmt(_('Pick one (group {number})'), {number: index + 1})})]),
        button('save-rubric-group', _('Save'), function () {
          saveGroup({id: group.id, question_id: questionId, label: label.value.trim(), pick_one: pickOne.checked,
            position: group.position});
        }, {'aria-label': fmt(_('Save group {number}'), {number: index + 1})}),
        button('delete-rubric-group', _('Delete'), function () { deleteGroup(group); },
          {'aria-label': fmt(_('Delete group {number}'), {number: index + 1})})
      ]));
    });
    var newLabel = el('input', {type: 'text', id: idPrefix + '-new-group', 'data-field': 'rubric-new-group'});
    var newPick = el('input', {type: 'checkbox', id: idPrefix + '-new-group-pick-one'});
    return el('fieldset', {'class': 'viatique-rubric-group-editor', 'data-region': 'rubric-group-editor'}, [
      el('legend', {text: _('Groups')}),
      el('p', {'class': 'viatique-hint', text: _('A "pick one" group allows one of its items per copy.')}),
      list,
      el('label', {'for': newLabel.id, text: _('New group')}), newLabel,
      el('span', {'class': 'viatique-check'}, [newPick, el('label', {'for': newPick.id, text: _('Pick one')})]),
      button('create-rubric-group', _('Add the group'), function () {
        if (!newLabel.value.trim()) { newLabel.focus(); return say(_('Type the label of the group first.'), true); }
        saveGroup({question_id: questionId, label: newLabel.value.trim(), pick_one: newPick.checked,
          position: groups.length});
      })
    ]);
  }

  /* ------------------------------------------------------------- confirmations */

  function ask(text, run, back) {
    pending = {run: run, back: back};
    confirmTitle.textContent = text;
    if (!confirmPanel.parentNode) { confirmAnchor.parentNode.insertBefore(confirmPanel, confirmAnchor); }
    confirmYes.focus();
  }

  function confirmAnswer(yes) {
    if (!pending) { return; }
    var chosen = pending;
    pending = null;
    if (confirmPanel.parentNode) { confirmPanel.parentNode.removeChild(confirmPanel); }
    if (chosen.back && chosen.back.isConnected) { chosen.back.focus(); }
    if (yes) { chosen.run(); } else { say(_('Nothing was changed.')); }
  }

  function usageText(usage) {
    return fmt(ngettext('{copies} copy ({released} released)', '{copies} copies ({released} released)', usage.copies),
      {copies: usage.copies, released: usage.released});
  }

  /* ------------------------------------------------------------- writes */

  function usage(item) {
    return call('rubric_item_usage', {item_id: item.id}, 'GET').then(function (result) {
      if (!result.ok) { say(failure(result), true); return null; }
      return result.body;
    });
  }

  function editItem(item, change, back) {
    // only a change of the points or the text re-scores (a group or a position does not)
    var rescores = change.points !== (item.points === null || item.points === undefined ? null : String(parseFloat(item.points))) ||
      change.text !== item.text;
    usage(item).then(function (used) {
      if (!used) { return; }
      var send = function () { sendEdit(item, change, back); };
      if (!used.copies || !rescores) { return send(); }
      ask(fmt(_('Save this item? It re-scores {usage}: their points change at once, and the released scores ' +
        'are published again.'), {usage: usageText(used)}), send, back);
    });
  }

  function sendEdit(item, change, back) {
    var payload = Object.assign({item_id: item.id, version: item.version}, change);
    call('edit_rubric_item', payload).then(function (result) {
      if (!result.ok) { return refused(result); }
      var rescore = result.body.rescore;
      load().then(function () {
        var row = body.querySelector('tr[data-item="' + item.id + '"] [data-action="save-rubric-item"]');
        if (row) { row.focus(); } else if (back && back.isConnected) { back.focus(); }
        if (rescore && rescore.copies) {
          say(fmt(_('Item saved: {usage} re-scored.'), {usage: usageText(rescore)}));
          watch(rescore);
        } else {
          say(_('Item saved.'));
        }
      });
    });
  }

  /* The item and its neighbour swap their positions (two edits; equal positions are made apart). */
  function move(item, items, delta, back) {
    var index = items.indexOf(item);
    var other = items[index + delta];
    if (!other) { return; }
    var mine = other.position === item.position ? other.position + delta : other.position;
    call('edit_rubric_item', {item_id: item.id, version: item.version, position: mine}).then(function (result) {
      if (!result.ok || other.position === item.position) { return result; }
      return call('edit_rubric_item', {item_id: other.id, version: other.version, position: item.position});
    }).then(function (result) {
      if (!result.ok) { return refused(result); }
      load().then(function () {
        var action = delta < 0 ? 'move-rubric-item-up' : 'move-rubric-item-down';
        var again = body.querySelector('tr[data-item="' + item.id + '"] [data-action="' + action + '"]');
        if (again && !again.disabled) { again.focus(); }
        else {
          var row = body.querySelector('tr[data-item="' + item.id + '"] [data-field="rubric-item-text"]');
          if (row) { row.focus(); }
        }
        say(fmt(delta < 0 ? _('Moved up: {text}.') : _('Moved down: {text}.'), {text: item.text}));
      });
    });
  }

  function deleteItem(item, back) {
    usage(item).then(function (used) {
      if (!used) { return; }
      var text = used.copies
        ? fmt(_('Delete "{text}"? It is applied to {usage}: their points change, and the released scores are ' +
          'published again.'), {text: item.text, usage: usageText(used)})
        : fmt(_('Delete "{text}"? It is applied to no copy.'), {text: item.text});
      ask(text, function () { sendDelete(item, used.copies, back); }, back);
    });
  }

  function sendDelete(item, copies, back) {
    call('delete_rubric_item', {item_id: item.id, copies: copies}).then(function (result) {
      if (!result.ok) {
        if (result.body && result.body.error === 'confirmation_needed') {
          // more (or fewer) copies have it now: asked again with the number of now
          return deleteItem(item, back);
        }
        return refused(result);
      }
      var rescore = result.body.rescore;
      load().then(function () {
        questionSelect.focus();
        say(fmt(_('Item deleted: {text}.'), {text: item.text}));
        if (rescore && rescore.copies) { watch(rescore); }
      });
    });
  }

  function saveGroup(group) {
    call('save_rubric_group', group).then(function (result) {
      if (!result.ok) { return refused(result); }
      load().then(function () { say(fmt(_('Group saved: {label}.'), {label: group.label})); });
    });
  }

  function deleteGroup(group) {
    call('delete_rubric_group', {group_id: group.id}).then(function (result) {
      if (!result.ok) { return refused(result); }
      load().then(function () {
        questionSelect.focus();
        say(fmt(_('Group deleted: {label}. Its items are kept, without a group.'), {label: group.label}));
      });
    });
  }

  function refused(result) {
    if (result.body && result.body.error === 'stale_item') {
      return load().then(function () {
        say(_('Someone else changed this item meanwhile: the rubric was read again. Make your change again.'), true);
      });
    }
    say(failure(result), true);
  }

  /* ------------------------------------------------------------- re-scoring */

  /* The progress of a living edit: the released scores published again, the graded PDFs made again. */
  function watch(rescore) {
    window.clearTimeout(pollTimer);
    progress.hidden = false;
    var bar = el('progress', {max: '1', value: '0', id: idPrefix + '-rescore-bar'});
    var label = el('label', {'for': bar.id, text: _('Publishing the new scores')});
    var line = el('p', {'data-region': 'rescore-line'});
    progress.textContent = '';
    [label, bar, line].forEach(function (node) { progress.appendChild(node); });
    function poll() {
      call('rescore_progress', {id: rescore.id}, 'GET').then(function (result) {
        if (!result.ok) { line.textContent = failure(result); return; }
        var state = result.body;
        var released = state.released || 0;
        var toRender = state.to_render === undefined ? state.total || 0 : state.to_render;
        bar.max = String(Math.max(1, released + toRender));
        bar.value = String(Math.min(released, state.republished || 0) + Math.min(toRender, state.rendered || 0));
        line.textContent = fmt(_('{republished} / {released} released scores published again, {rendered} / ' +
          '{to_render} graded PDFs made again.'), {republished: state.republished || 0, released: released,
          rendered: state.rendered || 0, to_render: toRender});
        if (state.done) {
          line.setAttribute('data-done', 'true');
          say(fmt(_('Re-scoring done: {usage}.'), {usage: usageText(rescore)}));
          return;
        }
        pollTimer = window.setTimeout(poll, POLL_MS);
      });
    }
    poll();
  }

  /* ------------------------------------------------------------- start */

  var confirmAnchor = document.createComment('');
  var built = false;

  /* The section's parts, put in the page once the requester is known to be allowed to edit. */
  function build() {
    if (built) { return; }
    built = true;
    [el('h3', {id: titleId, text: _('Rubrics')}),
     el('p', {'class': 'viatique-hint', text: _('Items are living: changing the points or the text of an item ' +
       're-scores every copy it is applied to.')}),
     el('div', {'class': 'viatique-field'}, [el('label', {'for': questionSelect.id, text: _('Question')}), questionSelect]),
     confirmAnchor, body, progress, messages].forEach(function (node) { region.appendChild(node); });
  }

  call('question_progress', null, 'GET').then(function (result) {
    ((result.ok && result.body.questions) || []).forEach(function (row) {
      var path = row.path;
      names[row.id] = (Array.isArray(path) ? path.join(' › ') : path) || row.label || row.id;
    });
    return load();
  });
  common.rootElement(element).addEventListener('viatique:screen-shown', function (event) {
    if (event.detail && event.detail.screen === 'grading' && rubric && rubric.can_edit) { load(); }
  });
}
