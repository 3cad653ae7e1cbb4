/* Viatique: rubrics in the grading workspaces (ViatiqueRubric.panel) and in the dashboard
 * (ViatiqueRubricEditor, viatique_rubric_editor.js).
 *
 * A question's rubric (the ``rubric`` handler: {scoring, groups, items}) is a list of items, each a text
 * and signed points, in groups, a "pick one" group allowing one of its items at a time. Items whose
 * question_id is "" are comments usable on any question (the former comment bank). The panel shows, for one
 * question of the copy or answer on screen, its items as toggle buttons (aria-pressed) numbered 1 to 9 and 0
 * (the tenth), the points that result, a free adjustment with its comment, and "Add an item" (then usable
 * by every grader of the question). The server computes the points: applying an item (apply_rubric_item)
 * or saving the adjustment (save_adjustment) answers {question_id, points, adjustment, comment, items}, which
 * the panel shows and hands to the workspace (onResult), so its points field and total follow.
 *
 * The workspace gives ``send(name, data)``: the call with the copy's or the answer's fencing added, its
 * refusals (lease_lost, stale_draft) handled as its other writes; it resolves with {ok, status, body}.
 * What changes is told through the workspace's announcer (viatique_announce.js).
 */
(function (global) {
  'use strict';

  var KEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '0'];

  /* The item's points with their sign: "+1", "−0.5" (a true minus sign), "0". */
  function signed(points, formatNumber) {
    if (points === null || points === undefined || points === '') { return ''; }
    var value = typeof points === 'number' ? points : parseFloat(points);
    if (isNaN(value)) { return String(points); }
    if (value > 0) { return '+' + formatNumber(value); }
    if (value < 0) { return '\u2212' + formatNumber(-value); }
    return formatNumber(0);
  }

  /* A signed number typed by a grader ("-0,5", "+1", "2"): the number, or NaN. */
  function parseSigned(text) {
    var clean = String(text === null || text === undefined ? '' : text).replace(/[\s\u00a0\u202f]/g, '')
      .replace('\u2212', '-').replace(',', '.');
    return /^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(clean) ? parseFloat(clean) : NaN;
  }

  function byPosition(a, b) { return (a.position || 0) - (b.position || 0) || String(a.id).localeCompare(String(b.id)); }

  /* The items of ``rubric`` (one question's) then the exam-wide ones, in the order they are shown and keyed,
   * each with its group (or null): [{item, group}]. */
  function ordered(rubric, shared) {
    var groups = (rubric.groups || []).slice().sort(byPosition);
    var items = (rubric.items || []).slice().sort(byPosition);
    var rows = [];
    items.filter(function (item) { return !item.group_id; }).forEach(function (item) { rows.push({item: item, group: null}); });
    groups.forEach(function (group) {
      items.filter(function (item) { return String(item.group_id) === String(group.id); })
        .forEach(function (item) { rows.push({item: item, group: group}); });
    });
    (shared || []).slice().sort(byPosition).forEach(function (item) { rows.push({item: item, group: 'shared'}); });
    return rows;
  }

  /* The panel of one question. options: {el, _, fmt, formatNumber, idPrefix, announcer, send, call, question
   * ({id, label, max, step}), rubric, shared, state ({items, adjustment, comment, points}), onResult(body),
   * canAdd}. Returns {node, question, setRubric, setState, setEditable, setKeyed, applyKey, state}. */
  function panel(options) {
    var el = options.el;
    var _ = options._;
    var fmt = options.fmt;
    var formatNumber = options.formatNumber;
    var question = options.question;
    var base = options.idPrefix + '-rubric-' + question.id;
    var rubric = options.rubric || {scoring: 'gains', groups: [], items: []};
    var shared = options.shared || [];
    var state = {items: [], adjustment: null, comment: '', points: null};
    var editable = false;
    var queue = Promise.resolve();  // the writes, one after the other (keys pressed quickly are all done)
    var rows = [];
    var name = options.questionName || question.label || question.id;

    function button(action, text, onclick, attrs) {
      return el('button', Object.assign({type: 'button', 'class': 'viatique-button', 'data-action': action,
        text: text, onclick: onclick}, attrs || {}));
    }

    var heading = el('legend', {id: base + '-title', text: fmt(_('Rubric: {question}'), {question: name})});
    var keyedNote = el('span', {'class': 'viatique-rubric-keyed', 'data-region': 'rubric-keyed', hidden: true,
      text: _('Keys 1 to 9 and 0 apply these items.')});
    var scoringText = el('p', {'class': 'viatique-hint viatique-rubric-scoring', id: base + '-scoring',
      'data-region': 'rubric-scoring'});
    var list = el('div', {'class': 'viatique-rubric-items', 'data-region': 'rubric-items'});
    var emptyText = el('p', {'class': 'viatique-hint', 'data-region': 'rubric-empty',
      text: _('No rubric item for this question yet: add one below, or type the points.')});
    var pointsText = el('p', {'class': 'viatique-rubric-points', 'data-region': 'rubric-points'});

    var adjustmentError = el('span', {'class': 'viatique-error', id: base + '-adjustment-error',
      'data-region': 'field-error'});
    var adjustmentInput = el('input', {type: 'text', inputmode: 'decimal', id: base + '-adjustment',
      'class': 'viatique-number', 'data-field': 'rubric-adjustment', 'aria-describedby': adjustmentError.id});
    var adjustmentHint = el('span', {'class': 'viatique-hint', id: base + '-adjustment-hint',
      text: _('Added to the items\' points; the question\'s comment says why (the learner reads it).')});
    adjustmentInput.setAttribute('aria-describedby', adjustmentHint.id + ' ' + adjustmentError.id);
    var adjustmentButton = button('save-adjustment', _('Save the adjustment'), function () { saveAdjustment(); },
      {'aria-label': fmt(_('Save the adjustment of {question}'), {question: name})});
    var adjustment = el('div', {'class': 'viatique-rubric-adjustment', 'data-region': 'rubric-adjustment'}, [
      el('label', {'for': adjustmentInput.id, text: _('Adjustment (points, + or −)')}), adjustmentInput,
      adjustmentHint, adjustmentButton, adjustmentError
    ]);
    adjustmentInput.addEventListener('keydown', function (event) {
      if (event.key === 'Enter') { event.preventDefault(); saveAdjustment(); }
    });

    var newText = el('input', {type: 'text', id: base + '-new-text', 'data-field': 'rubric-new-text'});
    var newPoints = el('input', {type: 'text', inputmode: 'decimal', id: base + '-new-points', 'class': 'viatique-number',
      'data-field': 'rubric-new-points'});
    var addButton = button('add-rubric-item', _('Add the item'), function () { addItem(); },
      {'aria-label': fmt(_('Add the item to the rubric of {question}'), {question: name})});
    // the form is in the page only while open, and the toggle only while the work can change: no control
    // is ever left hidden in the page without a name
    var addForm = el('div', {'class': 'viatique-rubric-add-form', id: base + '-add-form', 'data-region': 'rubric-add-form'}, [
      el('p', {'class': 'viatique-hint', text: _('Every grader of this question can then use it.')}),
      el('label', {'for': newText.id, text: _('Text (shown to the learner)')}), newText,
      el('label', {'for': newPoints.id, text: _('Points (+ or −)')}), newPoints,
      addButton
    ]);
    var addToggle = button('open-rubric-add', _('Add an item'), function () { showAdder(!adderOpen); },
      {'aria-expanded': 'false', 'aria-controls': addForm.id,
        'aria-label': fmt(_('Add an item to the rubric of {question}'), {question: name})});
    var adderOpen = false;
    var adder = el('div', {'class': 'viatique-rubric-add', 'data-region': 'rubric-add'}, [addToggle]);

    function showAdder(open) {
      adderOpen = !!open && editable;
      addToggle.setAttribute('aria-expanded', adderOpen ? 'true' : 'false');
      if (adderOpen && !addForm.parentNode) { adder.appendChild(addForm); newText.focus(); }
      if (!adderOpen && addForm.parentNode) { adder.removeChild(addForm); }
    }
    [newText, newPoints].forEach(function (input) {
      input.addEventListener('keydown', function (event) {
        if (event.key === 'Enter') { event.preventDefault(); addItem(); }
      });
    });

    var node = el('fieldset', {'class': 'viatique-rubric', 'data-region': 'rubric', 'data-question': question.id,
      'aria-describedby': scoringText.id}, [heading, keyedNote, scoringText, emptyText, list, pointsText, adjustment]);
    var adderAnchor = document.createComment('');
    node.appendChild(adderAnchor);

    function scoringLine() {
      return rubric.scoring === 'deductions'
        ? fmt(_('Scoring: deductions from {max} points.'), {max: formatNumber(question.max)})
        : fmt(_('Scoring: gains from 0, at most {max} points.'), {max: formatNumber(question.max)});
    }

    function itemLabel(item) {
      var points = signed(item.points, formatNumber);
      return points ? fmt(_('{text} ({points})'), {text: item.text, points: points}) : item.text;
    }

    function isApplied(item) {
      return state.items.map(String).indexOf(String(item.id)) !== -1;
    }

    function render() {
      scoringText.textContent = scoringLine();
      list.textContent = '';
      rows = ordered(rubric, shared);
      emptyText.hidden = rows.length > 0;
      var groupNodes = {};
      rows.forEach(function (row, index) {
        var item = row.item;
        var key = KEYS[index];
        var toggle = el('button', {type: 'button', 'class': 'viatique-button viatique-rubric-item',
          'data-action': 'rubric-item', 'data-item': item.id, 'aria-pressed': isApplied(item) ? 'true' : 'false',
          'aria-keyshortcuts': key || null, disabled: !editable,
          onclick: function () { toggle_(item); }}, [
          key ? el('kbd', {'class': 'viatique-rubric-key', 'aria-hidden': 'true', text: key}) : '',
          el('span', {'class': 'viatique-rubric-text', text: item.text}),
          el('span', {'class': 'viatique-rubric-item-points', text: signed(item.points, formatNumber)})
        ]);
        var container = list;
        if (row.group) {
          var id = row.group === 'shared' ? 'shared' : String(row.group.id);
          if (!groupNodes[id]) {
            var label = row.group === 'shared' ? _('For any question')
              : (row.group.pick_one ? fmt(_('{group} (pick one)'), {group: row.group.label}) : row.group.label);
            var labelId = base + '-group-' + id;
            groupNodes[id] = el('div', {'class': 'viatique-rubric-group', role: 'group', 'aria-labelledby': labelId,
              'data-group': id, 'data-pick-one': row.group.pick_one ? 'true' : null}, [
              el('p', {'class': 'viatique-rubric-group-label', id: labelId, text: label})]);
            list.appendChild(groupNodes[id]);
          }
          container = groupNodes[id];
        }
        container.appendChild(toggle);
      });
      showPoints();
    }

    function showPoints() {
      var points = state.points;
      pointsText.textContent = points === null || points === undefined
        ? fmt(_('Points: not given yet, out of {max}'), {max: formatNumber(question.max)})
        : fmt(_('Points: {points} / {max}'), {points: formatNumber(points), max: formatNumber(question.max)});
      if (document.activeElement !== adjustmentInput) {
        adjustmentInput.value = state.adjustment === null || state.adjustment === undefined ||
          parseFloat(state.adjustment) === 0 ? '' : formatNumber(state.adjustment);
      }
      list.querySelectorAll('[data-action="rubric-item"]').forEach(function (toggle) {
        var applied = state.items.map(String).indexOf(toggle.getAttribute('data-item')) !== -1;
        toggle.setAttribute('aria-pressed', applied ? 'true' : 'false');
      });
    }

    function setState(next) {
      state = {items: (next && next.items) || [], adjustment: next ? next.adjustment : null,
        comment: (next && next.comment) || '',
        points: next && next.points !== undefined ? next.points : null};
      showPoints();
    }

    function setEditable(value) {
      editable = !!value;
      node.querySelectorAll('button, input').forEach(function (control) { control.disabled = !editable; });
      var shown = editable && options.canAdd !== false;
      if (shown && !adder.parentNode) { node.insertBefore(adder, adderAnchor); }
      if (!shown && adder.parentNode) { showAdder(false); node.removeChild(adder); }
    }

    /* Which of the workspace's panels the digit keys act on. */
    function setKeyed(value) {
      keyedNote.hidden = !value;
      node.setAttribute('data-keyed', value ? 'true' : 'false');
    }

    function said(body, text) {
      var points = body.points === null || body.points === undefined ? '—' : formatNumber(body.points);
      options.announcer.say(text + ' ' + fmt(_('{question}: {points} / {max}.'), {question: name, points: points,
        max: formatNumber(question.max)}));
    }

    /* ``work`` (returning a promise) once the writes before it are done. */
    function enqueue(work) {
      queue = queue.then(work, work);
      return queue;
    }

    function answered(result, text) {
      if (!result || !result.ok) { return false; }
      var body = result.body || {};
      setState({items: body.items || [], adjustment: body.adjustment, comment: body.comment, points: body.points});
      if (options.onResult) { options.onResult(body); }
      said(body, text);
      return true;
    }

    function toggle_(item) {
      if (!editable) { return; }
      enqueue(function () {
        if (!editable) { return null; }
        var applied = !isApplied(item);  // as the writes before this one left it
        return options.send('apply_rubric_item', {question_id: question.id, item_id: item.id, applied: applied})
          .then(function (result) {
            answered(result, fmt(applied ? _('Applied: {item}.') : _('Removed: {item}.'), {item: itemLabel(item)}));
          });
      });
    }

    /* The digit ``key`` ("1"... "0") pressed in the workspace: its item toggled; false when there is none. */
    function applyKey(key) {
      var index = KEYS.indexOf(key);
      var row = rows[index];
      if (index === -1 || !row) {
        options.announcer.warn(fmt(_('No rubric item {key} for {question}.'), {key: key, question: name}));
        return false;
      }
      if (!editable) { options.announcer.warn(_('This work is read-only.')); return false; }
      toggle_(row.item);
      return true;
    }

    function saveAdjustment() {
      if (!editable) { return; }
      var raw = adjustmentInput.value.trim();
      var value = raw ? parseSigned(raw) : 0;
      if (isNaN(value)) {
        adjustmentError.textContent = fmt(_('Type a number, for example {example}.'), {example: '-' + formatNumber(0.5)});
        adjustmentInput.setAttribute('aria-invalid', 'true');
        options.announcer.warn(adjustmentError.textContent);
        return;
      }
      adjustmentError.textContent = '';
      adjustmentInput.removeAttribute('aria-invalid');
      enqueue(function () {
        return options.send('save_adjustment', {question_id: question.id, adjustment: String(value),
          comment: options.comment ? options.comment() : state.comment}).then(function (result) {
          answered(result, value ? fmt(_('Adjustment saved: {points}.'), {points: signed(value, formatNumber)})
            : _('No adjustment.'));
        });
      });
    }

    function addItem() {
      if (!editable) { return; }
      var text = newText.value.trim();
      var points = parseSigned(newPoints.value);
      if (!text) { options.announcer.warn(_('Type the text of the item first.')); newText.focus(); return; }
      if (isNaN(points)) {
        options.announcer.warn(fmt(_('Type the points of the item, for example {example}.'), {example: '-' + formatNumber(1)}));
        newPoints.focus();
        return;
      }
      options.call('create_rubric_item', {question_id: question.id, text: text, points: String(points)})
        .then(function (result) {
          if (!result.ok) { options.announcer.warn(options.failure(result)); return; }
          var item = result.body.item || result.body;
          rubric.items = (rubric.items || []).concat([item]);
          newText.value = '';
          newPoints.value = '';
          showAdder(false);
          render();
          setEditable(editable);
          var made = list.querySelector('[data-item="' + item.id + '"]');
          if (made) { made.focus(); }
          options.announcer.say(fmt(_('Item added to the rubric of {question}: {item}.'), {question: name,
            item: itemLabel(item)}));
          if (options.onAdded) { options.onAdded(item); }
        });
    }

    render();
    setState(options.state);
    setEditable(false);
    setKeyed(false);
    return {
      node: node,
      question: question,
      applyKey: applyKey,
      setState: setState,
      setEditable: setEditable,
      setKeyed: setKeyed,
      setRubric: function (next, nextShared) {
        rubric = next || rubric;
        shared = nextShared || shared;
        render();
        setEditable(editable);
      },
      state: function () { return state; },
      hasItems: function () { return rows.length > 0; }
    };
  }

  /* The ``rubric`` handler's answer ({questions: {id: {scoring, groups, items}}, exam_wide: [items], can_edit}),
   * or open_copy's ``rubric``, as {questions, shared (the exam-wide items), can_edit}. */
  function take(body) {
    body = body || {};
    return {questions: body.questions || {}, shared: body.exam_wide || [], can_edit: !!body.can_edit};
  }

  /* The rubric of the exam (every question's, ``questionId``'s only when given): resolves take()'s, or null. */
  function load(call, questionId) {
    return call('rubric', questionId ? {question_id: questionId} : null, 'GET').then(function (result) {
      return result.ok ? take(result.body) : null;
    });
  }

  /* The rubric state of a question in open_copy's points or open_answer's answer: {items, adjustment, comment,
   * points}. */
  function stateOf(entry) {
    entry = entry || {};
    return {items: entry.items || [], adjustment: entry.adjustment === undefined ? null : entry.adjustment,
      comment: entry.comment || '', points: entry.points === undefined ? null : entry.points};
  }

  /* A workspace's ``send`` for its panels: flush() (the work not saved yet) first, then call(name, payload) with
   * target()'s {copy_id, fencing} (null: nothing may be written); dropped when key() changed meanwhile (the
   * grader moved to other work). A success hands its draft version to onVersion, a refusal goes to refused. */
  function sender(options) {
    return function (name, payload) {
      var key = options.key();
      if (!options.target()) { return Promise.resolve(null); }
      return options.flush().then(function () {
        var target = options.target();
        if (!target || options.key() !== key) { return null; }
        return options.call(name, Object.assign({copy_id: target.copy_id, fencing: target.fencing}, payload));
      }).then(function (result) {
        if (!result || options.key() !== key) { return null; }
        if (result.ok && result.body.version) { options.onVersion(result.body.version); }
        if (!result.ok) { options.refused(result); }
        return result;
      });
    };
  }

  global.ViatiqueRubric = {panel: panel, load: load, take: take, sender: sender, stateOf: stateOf, signed: signed, parseSigned: parseSigned,
    ordered: ordered, KEYS: KEYS};
})(window);
