/* Viatique Studio editor: exam settings and the marking-scheme tree editor.
 * Question ids are kept as the server gave them; new questions are sent
 * without an id and the server assigns a fresh, never reused one. */
function ViatiqueStudioEditor(runtime, element, args) {
  'use strict';
  var common = window.ViatiqueCommon;
  args = common.startupArgs(element, args);
  var root = common.rootElement(element);
  var _ = common.makeGettext(args.i18n);
  var ngettext = common.makeNgettext(args.i18n, args.lang);
  var numbers = common.numbers(args.lang);
  var fmt = common.format;
  var el = common.el;
  var form = root.querySelector('.viatique-studio-form');
  var list = root.querySelector('[data-region="scheme"]');
  var totalLabel = root.querySelector('[data-region="total"]');
  var errors = root.querySelector('[data-region="errors"]');
  var saved = root.querySelector('[data-region="saved"]');
  var addButton = root.querySelector('[data-action="add-question"]');
  var impactPanel = root.querySelector('[data-region="impact"]');
  var impactList = root.querySelector('[data-region="impact-list"]');
  var impactActions = root.querySelector('[data-region="impact-actions"]');
  var pendingToken = null;
  var settings = JSON.parse(JSON.stringify(args.settings));
  var scheme = settings.marking_scheme || {questions: []};
  var uid = 0;

  function notify(name, data) {
    if (runtime.notify) { runtime.notify(name, data || {}); }
  }

  function fillFields() {
    ['display_name', 'pages_per_copy', 'grade_scale', 'weight', 'regrade_window_days', 'name_area_height'].forEach(function (name) {
      // an unset weight (null) is an empty field, and an empty field is sent as "" (null on the server)
      form.elements[name].value = settings[name] === null || settings[name] === undefined ? '' : settings[name];
    });
    form.elements.anonymous_grading.checked = !!settings.anonymous_grading;
    if (form.elements.grading_mode) { form.elements.grading_mode.value = settings.grading_mode || 'by_question'; }
    if (form.elements.rubric_editors) { form.elements.rubric_editors.value = settings.rubric_editors || 'instructors'; }
  }

  function siblingsOf(path) {
    var nodes = scheme.questions;
    for (var i = 0; i < path.length - 1; i++) { nodes = nodes[path[i]].children; }
    return nodes;
  }

  function total(nodes) {
    return nodes.reduce(function (sum, node) {
      if (node.children) { return sum + total(node.children); }
      var value = numbers.parse(node.max);
      return sum + (isNaN(value) ? 0 : value);
    }, 0);
  }

  function numberInput(node, key, labelText, accessibleName, path) {
    var id = 'viatique-' + key + '-' + (++uid);
    var input = el('input', {
      type: 'text', inputmode: 'decimal', id: id, value: node[key] === undefined ? '' : numbers.format(node[key]),
      'aria-label': accessibleName,
      'data-field': key, 'data-path': path.map(function (i) { return i + 1; }).join('.'), size: 5
    });
    input.addEventListener('input', function () { node[key] = input.value; updateTotal(); });
    return el('span', {'class': 'viatique-inline'}, [el('label', {'for': id, text: labelText}), input]);
  }

  /* How a question's rubric items count (docs/grading.md, "Rubrics"): gains from 0, or deductions from its maximum. */
  function scoringSelect(node, number, path) {
    var id = 'viatique-scoring-' + (++uid);
    var select = el('select', {id: id, 'aria-label': fmt(_('Scoring of question {number}'), {number: number}),
                               'data-field': 'scoring', 'data-path': path.map(function (i) { return i + 1; }).join('.')}, [
      el('option', {value: 'gains', text: _('Gains from 0')}),
      el('option', {value: 'deductions', text: _('Deductions from the maximum')})
    ]);
    select.value = node.scoring === 'deductions' ? 'deductions' : 'gains';
    select.addEventListener('change', function () {
      if (select.value === 'deductions') { node.scoring = 'deductions'; } else { delete node.scoring; }
    });
    return el('span', {'class': 'viatique-inline'}, [el('label', {'for': id, text: _('Scoring')}), select]);
  }

  function actionButton(action, text, label, handler) {
    return el('button', {type: 'button', 'class': 'viatique-button viatique-small', 'aria-label': label,
                         title: label, 'data-action': action, onclick: handler, text: text});
  }

  var BUTTON_LABELS = {
    up: function (name) { return fmt(_('Move “{name}” up'), {name: name}); },
    down: function (name) { return fmt(_('Move “{name}” down'), {name: name}); },
    'add-child': function (name) { return fmt(_('Add a sub-question to “{name}”'), {name: name}); },
    remove: function (name) { return fmt(_('Remove “{name}”'), {name: name}); }
  };

  /* The row buttons name their question; keep the names in step with the label being typed. */
  function nameButtons(buttons, label) {
    var name = label || _('(no label)');
    buttons.forEach(function (button) {
      var text = BUTTON_LABELS[button.getAttribute('data-action')](name);
      button.setAttribute('aria-label', text);
      button.setAttribute('title', text);
    });
  }

  function renderNode(node, path) {
    var labelId = 'viatique-label-' + (++uid);
    var labelInput = el('input', {type: 'text', id: labelId, value: node.label || '', maxlength: 200,
                                  'data-field': 'label',
                                  'data-path': path.map(function (i) { return i + 1; }).join('.')});
    var buttons = [];
    labelInput.addEventListener('input', function () { node.label = labelInput.value; nameButtons(buttons, node.label); });
    var row = el('div', {'class': 'viatique-question-row'}, [
      el('label', {'for': labelId, text: fmt(_('Question {number}'), {number: path.map(function (i) { return i + 1; }).join('.')})}),
      labelInput
    ]);
    if (!node.children) {
      var number = path.map(function (i) { return i + 1; }).join('.');
      row.appendChild(numberInput(node, 'max', _('Maximum'), fmt(_('Maximum of question {number}'), {number: number}), path));
      row.appendChild(numberInput(node, 'step', _('Step'), fmt(_('Step of question {number}'), {number: number}), path));
      row.appendChild(scoringSelect(node, number, path));
    }
    row.appendChild(el('span', {'class': 'viatique-qid', text: node.id ? fmt(_('id {id}'), {id: node.id}) : _('new')}));
    var siblings = siblingsOf(path);
    var index = path[path.length - 1];
    buttons.push(actionButton('up', '↑', '', function () {
      if (index > 0) { siblings.splice(index - 1, 0, siblings.splice(index, 1)[0]); render(path.slice(0, -1).concat([index - 1]), 'up'); }
    }));
    buttons.push(actionButton('down', '↓', '', function () {
      if (index < siblings.length - 1) { siblings.splice(index + 1, 0, siblings.splice(index, 1)[0]); render(path.slice(0, -1).concat([index + 1]), 'down'); }
    }));
    buttons.push(actionButton('add-child', '+', '', function () {
      if (!node.children) { node.children = []; delete node.max; delete node.step; }
      node.children.push({label: '', max: 1, step: 0.5});
      render(path.concat([node.children.length - 1]));
    }));
    buttons.push(actionButton('remove', '×', '', function () {
      siblings.splice(index, 1);
      // keep the focus nearby: the next question, else the previous one, else the parent
      if (siblings.length) { render(path.slice(0, -1).concat([Math.min(index, siblings.length - 1)])); }
      else if (path.length > 1) { render(path.slice(0, -1)); }
      else { render(null); addButton.focus(); }
    }));
    nameButtons(buttons, node.label);
    buttons.forEach(function (button) { row.appendChild(button); });
    var item = el('li', {'class': 'viatique-question', 'data-question-id': node.id || ''}, [row]);
    if (node.children) {
      var childList = el('ol', {'class': 'viatique-scheme-children'});
      node.children.forEach(function (child, i) { childList.appendChild(renderNode(child, path.concat([i]))); });
      item.appendChild(childList);
    }
    return item;
  }

  var layoutEditor = null;

  function updateTotal() {
    totalLabel.textContent = fmt(_('Total: {total} points'),
      {total: numbers.format(Math.round(total(scheme.questions) * 1000) / 1000)});
  }

  /* Re-render the tree; focus the question at focusPath, if any: its label, or its button
   * focusAction (so that a keyboard user can press "Move up" again and again). */
  function render(focusPath, focusAction) {
    list.textContent = '';
    scheme.questions.forEach(function (node, i) { list.appendChild(renderNode(node, [i])); });
    updateTotal();
    if (layoutEditor) { layoutEditor.refresh(); }
    if (focusPath && focusPath.length) {
      var selector = '[data-field="label"][data-path="' + focusPath.map(function (i) { return i + 1; }).join('.') + '"]';
      var target = list.querySelector(selector);
      var button = target && focusAction &&
        target.parentNode.querySelector('button[data-action="' + focusAction + '"]');
      if (button) { button.focus(); } else if (target) { target.focus(); }
    }
  }

  function showErrors(problems, message) {
    var ul = errors.querySelector('ul');
    ul.textContent = '';
    root.querySelectorAll('[aria-invalid]').forEach(function (input) { input.removeAttribute('aria-invalid'); });
    (problems && problems.length ? problems : [{path: '', message: message}]).forEach(function (problem) {
      ul.appendChild(el('li', {text: problem.message}));
      // the field the problem is about: a question's label, maximum or step, or a setting
      var match = /^marking_scheme\.([\d.]+)$/.exec(problem.path || '');
      if (match && problem.field === 'layout' && layoutEditor) { layoutEditor.flag(match[1]); return; }
      var target = match ? list.querySelector('[data-field="' + (problem.field || 'label') + '"][data-path="' + match[1] + '"]')
                         : form.elements[problem.path];
      if (target && target.setAttribute) { target.setAttribute('aria-invalid', 'true'); }
    });
    errors.hidden = false;
    errors.focus && errors.setAttribute('tabindex', '-1');
    errors.focus();
  }

  function collect() {
    return {
      display_name: form.elements.display_name.value,
      pages_per_copy: form.elements.pages_per_copy.value,
      grade_scale: form.elements.grade_scale.value,
      weight: form.elements.weight.value,
      regrade_window_days: form.elements.regrade_window_days.value,
      name_area_height: form.elements.name_area_height.value,
      anonymous_grading: form.elements.anonymous_grading.checked,
      grading_mode: form.elements.grading_mode ? form.elements.grading_mode.value : undefined,
      rubric_editors: form.elements.rubric_editors ? form.elements.rubric_editors.value : undefined,
      marking_scheme: scheme
    };
  }

  addButton.addEventListener('click', function () {
    scheme.questions.push({label: '', max: 1, step: 0.5});
    render([scheme.questions.length - 1]);
  });

  /* What a change of the marking scheme does to graded copies, in words (scheme_change_impact's answer). */
  function impactLines(impact) {
    var lines = [];
    var codes = function (list, count) {
      return list.join(', ') + (count > list.length ? ' …' : '');
    };
    if (impact.released.count) {
      lines.push(fmt(ngettext('{count} released copy will change: {codes}. Learners keep seeing their published ' +
                              'score until it is published again.',
                              '{count} released copies will change: {codes}. Learners keep seeing their published ' +
                              'score until it is published again.', impact.released.count),
                     {count: impact.released.count, codes: codes(impact.released.codes, impact.released.count)}));
    }
    impact.incomplete.by_question.forEach(function (question) {
      if (!question.copies) { return; }
      lines.push(fmt(ngettext('{count} copy becomes incomplete for question {label}: it goes back to grading for it.',
                              '{count} copies become incomplete for question {label}: they go back to grading for it.',
                              question.copies), {count: question.copies, label: question.label || question.id}));
    });
    impact.removed.forEach(function (question) {
      if (!question.copies) { return; }
      lines.push(fmt(ngettext('Question {label} is removed: its points on {count} copy no longer count.',
                              'Question {label} is removed: its points on {count} copies no longer count.',
                              question.copies), {count: question.copies, label: question.label || question.id}));
    });
    if (impact.total_changes.count) {
      lines.push(fmt(ngettext('{count} copy changes total: {changes}.', '{count} copies change total: {changes}.',
                              impact.total_changes.count),
                     {count: impact.total_changes.count, changes: impact.total_changes.copies.slice(0, 10).map(function (row) {
                       return fmt(_('{code} from {before} to {after}'), {code: row.code,
                         before: row.before === null ? '–' : numbers.format(row.before),
                         after: row.after === null ? '–' : numbers.format(row.after)});
                     }).join(', ') + (impact.total_changes.count > 10 ? ' …' : '')}));
    }
    if (impact.misfits.count) {
      lines.push(fmt(ngettext('{count} points no longer fit their question (they are kept and flagged in the copy list): {list}.',
                              '{count} points no longer fit their question (they are kept and flagged in the copy list): {list}.',
                              impact.misfits.count),
                     {count: impact.misfits.count, list: impact.misfits.points.slice(0, 10).map(function (row) {
                       return fmt(_('{code}, {label}: {points} (maximum {max}, step {step})'), {code: row.code,
                         label: row.label || row.question, points: numbers.format(row.points),
                         max: numbers.format(row.max), step: numbers.format(row.step)});
                     }).join('; ') + (impact.misfits.count > 10 ? ' …' : '')}));
    }
    if (impact.rerender) {
      lines.push(fmt(ngettext('{count} graded copy gets a new graded PDF; a released one, its new score.',
                              '{count} graded copies get a new graded PDF; released ones, their new score.',
                              impact.rerender), {count: impact.rerender}));
    }
    return lines;
  }

  /* The confirmation: the impact in words, then its two buttons (made while it is shown). */
  function showImpact(impact) {
    pendingToken = impact.token;
    impactList.textContent = '';
    impactLines(impact).forEach(function (line) { impactList.appendChild(el('li', {text: line})); });
    impactActions.textContent = '';
    impactActions.appendChild(el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'confirm-change',
      text: _('Save and apply this change'), onclick: function () { if (pendingToken) { submit(pendingToken); } }}));
    impactActions.appendChild(el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'cancel-change',
      text: _('Go back to editing'), onclick: function () {
        hideImpact();
        form.querySelector('[data-action="save"]').focus();
      }}));
    impactPanel.hidden = false;
    impactPanel.focus();
  }

  function hideImpact() {
    pendingToken = null;
    impactActions.textContent = '';
    impactPanel.hidden = true;
  }

  function failed(result) {
    notify('error', {title: _('The settings were not saved'), message: result.body.message || ''});
    showErrors(result.body.problems, result.body.message || _('The settings were not saved.'));
  }

  function unreachable() {
    showErrors(null, _('The server could not be reached. Your edits are still here; try again.'));
  }

  function submit(token) {
    var data = collect();
    if (token) { data.scheme_change_token = token; }
    notify('save', {state: 'start', message: _('Saving')});
    common.callHandler(runtime.handlerUrl(element, 'studio_submit'), data).then(function (result) {
      if (result.ok) {
        hideImpact();
        settings = result.body.settings;
        scheme = settings.marking_scheme;
        fillFields();
        render(null);
        root.setAttribute('data-saved', String(Date.now()));
        // said in a live region present from the start, near the Save button (Studio's own notice may not show)
        saved.textContent = _('Settings saved.');
        notify('save', {state: 'end'});
      } else if (result.body.error === 'scheme_change_unconfirmed' && result.body.impact) {
        // copies changed since the impact was shown: the new one is shown to confirm
        notify('save', {state: 'end'});
        showImpact(result.body.impact);
      } else {
        failed(result);
      }
    }).catch(unreachable);
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    errors.hidden = true;
    saved.textContent = '';
    hideImpact();
    root.querySelectorAll('[aria-invalid]').forEach(function (input) { input.removeAttribute('aria-invalid'); });
    // what the change does to graded copies, asked first: a change that touches none saves at once
    common.callHandler(runtime.handlerUrl(element, 'scheme_change_impact'), collect()).then(function (result) {
      if (!result.ok) { failed(result); return; }
      // settings the save refuses have no impact: the save says what is wrong
      if (result.body.needs_confirmation) { showImpact(result.body); } else { submit(null); }
    }).catch(unreachable);
  });

  root.querySelector('[data-action="cancel"]').addEventListener('click', function () { notify('cancel'); });

  fillFields();
  // where each question's answer is (viatique_layout.js): kept in the scheme's questions, saved with them
  layoutEditor = window.ViatiqueLayout.build({
    container: root.querySelector('[data-region="layout"]'), runtime: runtime, element: element,
    i18n: args.i18n, lang: args.lang, idPrefix: form.elements.display_name.id + '-layout',
    entries: function () { return window.ViatiqueLayout.leafEntries(scheme.questions, _); },
    pagesPerCopy: function () { return Number(form.elements.pages_per_copy.value) || settings.pages_per_copy || 1; }
  });
  render(null);
}
