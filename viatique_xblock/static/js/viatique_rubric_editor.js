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
 *
 * Nothing typed is lost: what is typed in a field and not saved yet (an item's text, points or group, a group's
 * label or "pick one", a new item, a new group) is a draft kept apart from the rubric read from the server, so
 * reading the rubric again (the Grading screen shown again, another question chosen, after a save) shows the
 * drafts as they were ("Not saved" on their row, "Undo" to drop them) and the server's version of everything
 * else. A draft whose item or group someone else changed meanwhile keeps what was typed, with their version
 * beside it; one whose item or group someone else deleted stays in the list, to add again or discard; both are
 * said in the status region. Leaving the page with drafts asks for a confirmation (beforeunload).
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
  // what was typed and not saved yet. items / groups: id -> {base (the item or group as last read), fields
  // ({name: typed value}, only those differing from base), changed (someone else saved it meanwhile), gone
  // (someone else deleted it: fields hold every value)}; newItem / newGroup: question id -> the form's values
  var drafts = {items: {}, groups: {}, newItem: {}, newGroup: {}};
  var notices = [];        // what a reading of the rubric found about the drafts, said with the next message

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
    if (text) {
      messages.appendChild(el('p', {'class': isError ? 'viatique-message viatique-error' : 'viatique-message', text: text}));
    }
    notices.splice(0).forEach(function (notice) {
      messages.appendChild(el('p', {'class': 'viatique-message viatique-error', 'data-region': 'rubric-draft-notice',
        text: notice}));
    });
  }

  function sayNotices() { if (notices.length) { say(''); } }

  function name(id) { return id ? (names[id] || id) : _('Any question'); }

  function signed(points) {
    return points === null || points === undefined ? _('no points') : rubricLib.signed(points, formatNumber);
  }

  /* ------------------------------------------------------------- loading */

  function load() {
    return rubricLib.load(call).then(function (loaded) {
      if (!loaded) { return; }
      rubric = loaded;
      if (!rubric.can_edit) {
        if (built && hasDrafts()) { return locked(); }
        region.hidden = true; region.textContent = ''; built = false; return;
      }
      build();
      region.hidden = false;
      questionSelect.disabled = false;
      reconcile();
      fillSelect();
      render();
    });
  }

  /* ------------------------------------------------------------- drafts */

  function pointsText(points) { return points === null || points === undefined || points === '' ? '' : formatNumber(points); }
  function itemValues(item) {
    return {text: item.text || '', points: pointsText(item.points), group: item.group_id ? String(item.group_id) : ''};
  }
  function groupValues(group) { return {label: group.label || '', pick_one: !!group.pick_one}; }

  function hasDrafts() {
    return ['items', 'groups', 'newItem', 'newGroup'].some(function (kind) { return Object.keys(drafts[kind]).length > 0; });
  }

  /* The values typed in the fields of ``base`` (an item or a group, valuesOf giving its values as shown): kept
   * in ``store`` as its draft when any differs, else its draft dropped. Returns the draft or null. */
  function record(store, base, typed, valuesOf) {
    var draft = store[base.id] || {base: base, fields: {}};
    var was = valuesOf(draft.base);
    draft.fields = {};
    Object.keys(typed).forEach(function (name) {
      if (draft.gone || typed[name] !== was[name]) { draft.fields[name] = typed[name]; }
    });
    if (Object.keys(draft.fields).length) { store[base.id] = draft; } else { delete store[base.id]; }
    return store[base.id] || null;
  }

  /* A form's values kept as the draft of ``key`` in ``store`` (dropped when all are empty). */
  function recordForm(store, key, values) {
    var empty = Object.keys(values).every(function (name) { return !values[name]; });
    if (empty) { delete store[key]; } else { store[key] = values; }
  }

  /* The rubric just read, compared with the drafts: a draft whose item or group is gone is kept (to add again
   * or discard), one whose item or group someone else changed keeps what was typed, with theirs beside it;
   * both told (notices). Typed values equal to the server's are no longer drafts. */
  function reconcile() {
    var items = {};
    var groups = {};
    Object.keys(rubric.questions).forEach(function (id) {
      (rubric.questions[id].items || []).forEach(function (item) { items[item.id] = item; });
      (rubric.questions[id].groups || []).forEach(function (group) { groups[group.id] = group; });
    });
    (rubric.shared || []).forEach(function (item) { items[item.id] = item; });
    compare(drafts.items, items, itemValues, function (item) { return item.text; },
      _('"{text}" was deleted by someone else meanwhile. What you typed in it is kept at the end of its list: ' +
        'add it again or discard it.'),
      _('"{text}" was saved by someone else meanwhile. What you typed in it is kept, not saved: their version ' +
        'is shown beside it.'));
    compare(drafts.groups, groups, groupValues, function (group) { return group.label || _('(no label)'); },
      _('The group "{text}" was deleted by someone else meanwhile. What you typed in it is kept at the end of ' +
        'the groups: add it again or discard it.'),
      _('The group "{text}" was saved by someone else meanwhile. What you typed in it is kept, not saved: ' +
        'their version is shown beside it.'));
  }

  function compare(store, found, valuesOf, nameOf, goneText, changedText) {
    Object.keys(store).forEach(function (id) {
      var draft = store[id];
      if (draft.gone) { return; }
      var now = found[id];
      if (!now) {
        draft.gone = true;
        draft.fields = Object.assign(valuesOf(draft.base), draft.fields);
        notices.push(fmt(goneText, {text: nameOf(draft.base)}));
        return;
      }
      var was = valuesOf(draft.base);
      var is = valuesOf(now);
      var changed = Object.keys(is).some(function (name) { return is[name] !== was[name]; });
      var known = nameOf(draft.base);  // as the user last saw it
      draft.base = now;
      Object.keys(draft.fields).forEach(function (name) {
        if (draft.fields[name] === is[name]) { delete draft.fields[name]; }
      });
      if (!Object.keys(draft.fields).length) { delete store[id]; return; }
      if (changed) {
        draft.changed = true;
        notices.push(fmt(changedText, {text: known}));
      }
    });
  }

  /* A successful save of ``base`` with the values ``sent`` (as typed when it was sent): its draft is dropped,
   * unless more was typed meanwhile (then it is a draft against ``savedAs``, the item or group as saved). */
  function saved(store, base, sent, savedAs, valuesOf) {
    var draft = store[base.id];
    if (!draft) { return; }
    var now = Object.assign({}, valuesOf(draft.base), draft.fields);
    var same = Object.keys(sent).every(function (name) { return now[name] === sent[name]; });
    if (same || !savedAs) { delete store[base.id]; return; }
    draft.base = savedAs;
    draft.changed = false;
  }

  /* The rubric can no longer be changed by this user (the block's setting) while drafts are open: they are
   * shown as text, to be kept elsewhere, and said. */
  function locked() {
    questionSelect.disabled = true;
    body.textContent = '';
    var list = el('ul', {'data-region': 'rubric-unsaved-list'});
    Object.keys(drafts.items).forEach(function (id) {
      var draft = drafts.items[id];
      var values = Object.assign(itemValues(draft.base), draft.fields);
      list.appendChild(el('li', {text: fmt(_('Item "{text}" ({points})'), {text: values.text, points: values.points || _('no points')})}));
    });
    Object.keys(drafts.newItem).forEach(function (id) {
      var values = drafts.newItem[id];
      list.appendChild(el('li', {text: fmt(_('New item of {question}: "{text}" ({points})'),
        {question: name(id), text: values.text, points: values.points || _('no points')})}));
    });
    Object.keys(drafts.groups).forEach(function (id) {
      var draft = drafts.groups[id];
      list.appendChild(el('li', {text: fmt(_('Group "{label}"'), {label: Object.assign(groupValues(draft.base), draft.fields).label})}));
    });
    Object.keys(drafts.newGroup).forEach(function (id) {
      list.appendChild(el('li', {text: fmt(_('New group of {question}: "{label}"'), {question: name(id), label: drafts.newGroup[id].label})}));
    });
    body.appendChild(list);
    say(_('You can no longer change this rubric, so what you typed could not be saved. It is listed here: ' +
      'copy what you need before leaving the page.'), true);
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
    var active = document.activeElement;
    var activeId = active && active.id && body.contains(active) ? active.id : null;
    body.textContent = '';
    var data = current();
    var groups = (data.groups || []).slice().sort(function (a, b) { return a.position - b.position; });
    var items = rubricLib.ordered({groups: groups, items: data.items || []}, []).map(function (row) { return row.item; });
    var gone = Object.keys(drafts.items).map(function (id) { return drafts.items[id]; }).filter(function (draft) {
      return draft.gone && (draft.base.question_id || '') === (questionId || '');
    });
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
      el('tbody', {}, items.map(function (item, index) { return itemRow(item, index, items, groups); })
        .concat(gone.map(function (draft, index) { return goneItemRow(draft, index, groups); })))
    ]);
    body.appendChild(items.length || gone.length ? table : el('p', {'class': 'viatique-hint', 'data-region': 'rubric-empty',
      text: _('No rubric item yet.')}));
    body.appendChild(newItemForm(groups));
    if (questionId) { body.appendChild(groupsPart(groups)); }
    if (activeId) {
      var again = body.querySelector('#' + CSS.escape(activeId));
      if (again) { again.focus(); }
    }
  }

  function groupSelect(id, value, groups, label) {
    var select = el('select', {id: id, 'data-field': 'rubric-item-group', 'aria-label': label},
      [el('option', {value: '', text: _('No group')})].concat(groups.map(function (group) {
        return el('option', {value: String(group.id), text: group.label || _('(no label)')});
      })));
    select.value = value ? String(value) : '';
    return select;
  }

  /* "Not saved" and, for a draft someone else saved meanwhile, their version, in ``box``; ``undo`` while a
   * draft is there (no control is left hidden in the page). */
  function showDraft(box, row, draft, theirs, undo) {
    box.textContent = '';
    if (draft) { row.setAttribute('data-unsaved', 'true'); } else { row.removeAttribute('data-unsaved'); }
    if (!draft) { return; }
    box.appendChild(el('span', {'class': 'viatique-badge viatique-warning', 'data-region': 'rubric-unsaved',
      text: _('Not saved')}));
    if (draft.changed) {
      box.appendChild(el('span', {'class': 'viatique-hint', 'data-region': 'rubric-theirs', text: ' ' + theirs}));
    }
    box.appendChild(document.createTextNode(' '));
    box.appendChild(undo);
  }

  function itemRow(item, index, items, groups) {
    var base = idPrefix + '-item-' + item.id;
    var number = index + 1;
    var draft = drafts.items[item.id];
    var shown = Object.assign(itemValues(item), draft ? draft.fields : {});
    var text = el('input', {type: 'text', id: base + '-text', value: shown.text, 'data-field': 'rubric-item-text',
      'aria-label': fmt(_('Text of item {number}'), {number: number})});
    var points = el('input', {type: 'text', inputmode: 'decimal', id: base + '-points', 'class': 'viatique-number',
      value: shown.points, 'data-field': 'rubric-item-points',
      'aria-label': fmt(_('Points of item {number}'), {number: number})});
    var group = groupSelect(base + '-group', shown.group, groups, fmt(_('Group of item {number}'), {number: number}));
    var typed = function () { return {text: text.value, points: points.value, group: group.value}; };
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
      editItem(item, change, saveButton, typed());
    }, {'aria-label': fmt(_('Save item {number}'), {number: number})});
    var up = button('move-rubric-item-up', _('Up'), function () { move(item, items, -1, up); },
      {'aria-label': fmt(_('Move item {number} up'), {number: number}), disabled: index === 0});
    var down = button('move-rubric-item-down', _('Down'), function () { move(item, items, 1, down); },
      {'aria-label': fmt(_('Move item {number} down'), {number: number}), disabled: index === items.length - 1});
    var remove = button('delete-rubric-item', _('Delete'), function () { deleteItem(item, remove); },
      {'aria-label': fmt(_('Delete item {number}'), {number: number})});
    var undo = button('undo-rubric-item', _('Undo'), function () {
      delete drafts.items[item.id];
      render();
      var field = body.querySelector('#' + CSS.escape(text.id));
      if (field) { field.focus(); }
      say(fmt(_('Changes undone: {text}.'), {text: item.text}));
    }, {'aria-label': fmt(_('Undo the changes to item {number}'), {number: number})});
    var box = el('span', {'class': 'viatique-rubric-draft', 'data-region': 'rubric-draft'});
    var row = el('tr', {'data-item': item.id}, [
      el('td', {}, [text]), el('td', {}, [points]), el('td', {}, [group]),
      el('td', {}, [el('div', {'class': 'viatique-buttons'}, [saveButton, up, down, remove, box])])
    ]);
    var theirs = fmt(_('Saved by someone else as: "{text}" ({points}).'), {text: item.text, points: signed(item.points)});
    var sync = function () { showDraft(box, row, record(drafts.items, item, typed(), itemValues), theirs, undo); };
    text.addEventListener('input', sync);
    points.addEventListener('input', sync);
    group.addEventListener('change', sync);
    showDraft(box, row, draft || null, theirs, undo);
    return row;
  }

  /* A draft whose item someone else deleted: what was typed, to add again (a new item) or discard. */
  function goneItemRow(draft, index, groups) {
    var base = idPrefix + '-gone-item-' + draft.base.id;
    var number = index + 1;
    var text = el('input', {type: 'text', id: base + '-text', value: draft.fields.text, 'data-field': 'rubric-item-text',
      'aria-label': fmt(_('Text of deleted item {number}'), {number: number})});
    var points = el('input', {type: 'text', inputmode: 'decimal', id: base + '-points', 'class': 'viatique-number',
      value: draft.fields.points, 'data-field': 'rubric-item-points',
      'aria-label': fmt(_('Points of deleted item {number}'), {number: number})});
    var group = groupSelect(base + '-group', draft.fields.group, groups,
      fmt(_('Group of deleted item {number}'), {number: number}));
    var keep = function () { draft.fields = {text: text.value, points: points.value, group: group.value}; };
    text.addEventListener('input', keep);
    points.addEventListener('input', keep);
    group.addEventListener('change', keep);
    var again = button('add-rubric-item-again', _('Add it again'), function () {
      keep();
      createItem(draft.base.question_id || '', text, points, group, function () { delete drafts.items[draft.base.id]; });
    }, {'aria-label': fmt(_('Add it again (deleted item {number})'), {number: number})});
    var discard = button('discard-rubric-item', _('Discard'), function () {
      delete drafts.items[draft.base.id];
      render();
      questionSelect.focus();
      say(fmt(_('What you typed in the deleted item "{text}" was discarded.'), {text: draft.base.text}));
    }, {'aria-label': fmt(_('Discard deleted item {number}'), {number: number})});
    return el('tr', {'data-gone-item': draft.base.id, 'data-unsaved': 'true'}, [
      el('td', {}, [text]), el('td', {}, [points]), el('td', {}, [group]),
      el('td', {}, [el('div', {'class': 'viatique-buttons'}, [
        el('span', {'class': 'viatique-badge viatique-warning', 'data-region': 'rubric-unsaved',
          text: _('Deleted by someone else, not saved')}), again, discard])])
    ]);
  }

  /* Creates an item of ``question`` from the fields ``text``, ``points``, ``group``; ``done`` after it is
   * created (before the rubric is read again). */
  function createItem(question, text, points, group, done) {
    var value = points.value.trim() ? rubricLib.parseSigned(points.value) : null;
    if (!text.value.trim()) { text.focus(); return say(_('Type the text of the item first.'), true); }
    if (isNaN(value) || (value === null && question)) {
      points.focus();
      return say(fmt(_('Type the points of the item, for example {example}.'), {example: '-' + formatNumber(1)}), true);
    }
    var payload = {question_id: question, text: text.value.trim(), points: value === null ? null : String(value)};
    if (group.value) { payload.group_id = group.value; }
    call('create_rubric_item', payload).then(function (result) {
      if (!result.ok) { return say(failure(result), true); }
      var item = result.body.item || result.body;
      done();
      load().then(function () {
        say(fmt(_('Item added: {text} ({points}).'), {text: item.text, points: signed(item.points)}));
        var field = body.querySelector('[data-field="rubric-new-text"]');
        if (field) { field.focus(); }
      });
    });
  }

  function newItemForm(groups) {
    var base = idPrefix + '-new-item';
    var question = questionId || '';
    var draft = drafts.newItem[question] || {};
    var text = el('input', {type: 'text', id: base + '-text', 'data-field': 'rubric-new-text', value: draft.text || null});
    var points = el('input', {type: 'text', inputmode: 'decimal', id: base + '-points', 'class': 'viatique-number',
      'data-field': 'rubric-new-points', value: draft.points || null});
    var group = groupSelect(base + '-group', draft.group || '', groups, _('Group of the new item'));
    var typed = function () { return {text: text.value, points: points.value, group: group.value}; };
    var keep = function () { recordForm(drafts.newItem, question, typed()); };
    text.addEventListener('input', keep);
    points.addEventListener('input', keep);
    group.addEventListener('change', keep);
    var add = button('create-rubric-item', _('Add the item'), function () {
      var sent = typed();
      createItem(question, text, points, group, function () {
        var now = drafts.newItem[question] || {};
        if (now.text === sent.text && now.points === sent.points && (now.group || '') === sent.group) {
          delete drafts.newItem[question];
        }
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
      var draft = drafts.groups[group.id];
      var shown = Object.assign(groupValues(group), draft ? draft.fields : {});
      var label = el('input', {type: 'text', id: base + '-label', value: shown.label,
        'data-field': 'rubric-group-label', 'aria-label': fmt(_('Label of group {number}'), {number: index + 1})});
      var pickOne = el('input', {type: 'checkbox', id: base + '-pick-one', 'data-field': 'rubric-group-pick-one'});
      pickOne.checked = shown.pick_one;
      var typed = function () { return {label: label.value, pick_one: pickOne.checked}; };
      var undo = button('undo-rubric-group', _('Undo'), function () {
        delete drafts.groups[group.id];
        render();
        var field = body.querySelector('#' + CSS.escape(label.id));
        if (field) { field.focus(); }
        say(fmt(_('Changes undone: {text}.'), {text: group.label || _('(no label)')}));
      }, {'aria-label': fmt(_('Undo the changes to group {number}'), {number: index + 1})});
      var box = el('span', {'class': 'viatique-rubric-draft', 'data-region': 'rubric-draft'});
      var row = el('li', {'data-group': group.id}, [
        label,
        el('span', {'class': 'viatique-check'}, [pickOne, el('label', {'for': pickOne.id,
          text: fmt(_('Pick one (group {number})'), {number: index + 1})})]),
        button('save-rubric-group', _('Save'), function () {
          saveGroup({group_id: group.id, question_id: questionId, label: label.value.trim(), pick_one: pickOne.checked,
            position: group.position}, group, typed());
        }, {'aria-label': fmt(_('Save group {number}'), {number: index + 1})}),
        button('delete-rubric-group', _('Delete'), function () { deleteGroup(group); },
          {'aria-label': fmt(_('Delete group {number}'), {number: index + 1})}),
        box
      ]);
      var theirs = fmt(_('Saved by someone else as: "{label}"{pick}.'),
        {label: group.label || _('(no label)'), pick: group.pick_one ? ' (' + _('Pick one') + ')' : ''});
      var sync = function () { showDraft(box, row, record(drafts.groups, group, typed(), groupValues), theirs, undo); };
      label.addEventListener('input', sync);
      pickOne.addEventListener('change', sync);
      showDraft(box, row, draft || null, theirs, undo);
      list.appendChild(row);
    });
    Object.keys(drafts.groups).map(function (id) { return drafts.groups[id]; }).filter(function (draft) {
      return draft.gone && draft.base.question_id === questionId;
    }).forEach(function (draft, index) {
      var base = idPrefix + '-gone-group-' + draft.base.id;
      var label = el('input', {type: 'text', id: base + '-label', value: draft.fields.label,
        'data-field': 'rubric-group-label', 'aria-label': fmt(_('Label of deleted group {number}'), {number: index + 1})});
      var pickOne = el('input', {type: 'checkbox', id: base + '-pick-one', 'data-field': 'rubric-group-pick-one'});
      pickOne.checked = !!draft.fields.pick_one;
      var keep = function () { draft.fields = {label: label.value, pick_one: pickOne.checked}; };
      label.addEventListener('input', keep);
      pickOne.addEventListener('change', keep);
      list.appendChild(el('li', {'data-gone-group': draft.base.id, 'data-unsaved': 'true'}, [
        label,
        el('span', {'class': 'viatique-check'}, [pickOne, el('label', {'for': pickOne.id,
          text: fmt(_('Pick one (deleted group {number})'), {number: index + 1})})]),
        el('span', {'class': 'viatique-badge viatique-warning', 'data-region': 'rubric-unsaved',
          text: _('Deleted by someone else, not saved')}),
        button('add-rubric-group-again', _('Add it again'), function () {
          keep();
          if (!label.value.trim()) { label.focus(); return say(_('Type the label of the group first.'), true); }
          saveGroup({question_id: questionId, label: label.value.trim(), pick_one: pickOne.checked,
            position: groups.length}, draft.base, null);
        }, {'aria-label': fmt(_('Add it again (deleted group {number})'), {number: index + 1})}),
        button('discard-rubric-group', _('Discard'), function () {
          delete drafts.groups[draft.base.id];
          render();
          questionSelect.focus();
          say(fmt(_('What you typed in the deleted group "{text}" was discarded.'), {text: draft.base.label}));
        }, {'aria-label': fmt(_('Discard deleted group {number}'), {number: index + 1})})
      ]));
    });
    var newDraft = drafts.newGroup[questionId] || {};
    var newLabel = el('input', {type: 'text', id: idPrefix + '-new-group', 'data-field': 'rubric-new-group',
      value: newDraft.label || null});
    var newPick = el('input', {type: 'checkbox', id: idPrefix + '-new-group-pick-one'});
    newPick.checked = !!newDraft.pick_one;
    var question = questionId;
    var keepNew = function () { recordForm(drafts.newGroup, question, {label: newLabel.value, pick_one: newPick.checked}); };
    newLabel.addEventListener('input', keepNew);
    newPick.addEventListener('change', keepNew);
    return el('fieldset', {'class': 'viatique-rubric-group-editor', 'data-region': 'rubric-group-editor'}, [
      el('legend', {text: _('Groups')}),
      el('p', {'class': 'viatique-hint', text: _('A "pick one" group allows one of its items per copy.')}),
      list,
      el('label', {'for': newLabel.id, text: _('New group')}), newLabel,
      el('span', {'class': 'viatique-check'}, [newPick, el('label', {'for': newPick.id, text: _('Pick one')})]),
      button('create-rubric-group', _('Add the group'), function () {
        if (!newLabel.value.trim()) { newLabel.focus(); return say(_('Type the label of the group first.'), true); }
        saveGroup({question_id: questionId, label: newLabel.value.trim(), pick_one: newPick.checked,
          position: groups.length}, null, {label: newLabel.value, pick_one: newPick.checked});
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

  function editItem(item, change, back, sent) {
    // only a change of the points or the text re-scores (a group or a position does not)
    var rescores = change.points !== (item.points === null || item.points === undefined ? null : String(parseFloat(item.points))) ||
      change.text !== item.text;
    usage(item).then(function (used) {
      if (!used) { return; }
      var send = function () { sendEdit(item, change, back, sent); };
      if (!used.copies || !rescores) { return send(); }
      ask(fmt(_('Save this item? It re-scores {usage}: their points change at once, and the released scores ' +
        'are published again.'), {usage: usageText(used)}), send, back);
    });
  }

  function sendEdit(item, change, back, sent) {
    var payload = Object.assign({item_id: item.id, version: item.version}, change);
    call('edit_rubric_item', payload).then(function (result) {
      if (!result.ok) { return refused(result); }
      var rescore = result.body.rescore;
      saved(drafts.items, item, sent, result.body.item, itemValues);
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
      delete drafts.items[item.id];  // deleted on purpose, after a confirmation
      load().then(function () {
        questionSelect.focus();
        say(fmt(_('Item deleted: {text}.'), {text: item.text}));
        if (rescore && rescore.copies) { watch(rescore); }
      });
    });
  }

  /* ``payload`` sent to save_rubric_group; ``group``: the group it changes (or the deleted group it adds
   * again, ``sent`` null), null for a new one; ``sent``: the fields as typed, to drop their draft once saved. */
  function saveGroup(payload, group, sent) {
    var question = questionId;
    call('save_rubric_group', payload).then(function (result) {
      if (!result.ok) { return refused(result); }
      if (group && sent) { saved(drafts.groups, group, sent, result.body.group, groupValues); }
      else if (group) { delete drafts.groups[group.id]; }
      else {
        var now = drafts.newGroup[question] || {label: '', pick_one: false};
        if (now.label === sent.label && !!now.pick_one === sent.pick_one) { delete drafts.newGroup[question]; }
      }
      load().then(function () { say(fmt(_('Group saved: {label}.'), {label: payload.label})); });
    });
  }

  function deleteGroup(group) {
    call('delete_rubric_group', {group_id: group.id}).then(function (result) {
      if (!result.ok) { return refused(result); }
      delete drafts.groups[group.id];
      load().then(function () {
        questionSelect.focus();
        say(fmt(_('Group deleted: {label}. Its items are kept, without a group.'), {label: group.label}));
      });
    });
  }

  function refused(result) {
    if (result.body && result.body.error === 'stale_item') {
      return load().then(function () {
        // the notices of the reading (what was typed, kept beside their version) say it, or this
        say(notices.length ? '' : _('Someone else changed this item meanwhile: the rubric was read again. What ' +
          'you typed is kept, not saved: check it and save again.'), true);
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
  // the Grading screen shown again: the rubric read again (others' saves appear), the drafts kept
  common.rootElement(element).addEventListener('viatique:screen-shown', function (event) {
    if (event.detail && event.detail.screen === 'grading' && rubric && (rubric.can_edit || hasDrafts())) { load().then(sayNotices); }
  });
  // leaving the page with drafts asks first (the browser's own question; only while there are drafts)
  window.addEventListener('beforeunload', function (event) {
    if (!region.isConnected || !hasDrafts()) { return undefined; }
    event.preventDefault();
    event.returnValue = '';
    return '';
  });
}
