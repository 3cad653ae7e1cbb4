/* Viatique learner view: once results are released, the learner's own results from the my_results handler:
 * total (and on the grade scale), points and comments per question, the general comment, the pages with
 * the annotations drawn over them (zoom, keyboard navigation between pages), the same annotations as a
 * text list for screen readers, the graded PDF, and regrade requests.
 *
 * Everything lives under the block's root element; the server decides what is the learner's own. */
function ViatiqueLearner(runtime, element, args) {
  'use strict';
  var common = window.ViatiqueCommon;
  args = common.startupArgs(element, args);
  var root = common.rootElement(element);
  var region = root.querySelector('[data-region="learner-results"]');
  if (!region || args.status !== 'released') { return; }
  var _ = common.makeGettext(args.i18n);
  var ngettext = common.makeNgettext(args.i18n, args.lang);
  var number = common.numbers(args.lang).format;
  var fmt = common.format;
  var el = common.el;
  var idPrefix = (region.getAttribute('data-id-prefix') || 'viatique') + '-learner';
  var ZOOMS = [1, 1.25, 1.5, 2, 2.5, 3];
  var KINDS = {comment: _('Comment'), tick: _('Tick'), cross: _('Cross'), highlight: _('Highlight'),
    text: _('Text')};
  var SYMBOLS = {tick: '\u2713', cross: '\u2717'};
  var STATES = {open: _('Waiting for an answer'), answered: _('Answered')};
  var data = null;
  var pageIndex = 0;
  var zoomIndex = 0;

  function url(name, suffix) { return runtime.handlerUrl(element, name, suffix); }

  var calls = common.sectionCalls(runtime, element, _);
  var call = calls.call;
  var failure = calls.failure;

  function questionLabel(id) {
    var question = (data.questions || []).filter(function (item) { return item.id === id; })[0];
    return question ? question.path : id;
  }

  function pointsText(points, max) {
    return points === null || points === undefined ? _('not graded')
      : fmt(_('{points} / {max}'), {points: number(points), max: number(max)});
  }

  /* ---------------------------------------------------------------- summary and questions */

  function summary() {
    var copy = data.copy;
    var children = [
      el('h3', {id: idPrefix + '-summary', text: _('Your result')}),
      el('p', {'class': 'viatique-learner-total', 'data-region': 'total',
        text: fmt(_('Total: {total} / {max}'), {total: number(copy.total), max: number(copy.max)})})
    ];
    if (copy.scale) {
      children.push(el('p', {'class': 'viatique-learner-scaled', 'data-region': 'scale-total',
        text: fmt(_('On a scale of {scale}: {points}'), {scale: number(copy.scale), points: number(copy.scale_total)})}));
    }
    if (copy.grader) {
      children.push(el('p', {text: fmt(_('Graded by {grader}'), {grader: copy.grader})}));
    }
    if (copy.graded_pdf) {
      children.push(el('p', {}, [el('a', {href: url('graded_pdf', String(copy.id)), 'class': 'viatique-button',
        'data-action': 'download-pdf', download: '', text: _('Download your graded copy (PDF)')})]));
    }
    return el('section', {'class': 'viatique-section', 'aria-labelledby': idPrefix + '-summary'}, children);
  }

  /* Signed points of a rubric item or an adjustment ("+1,5", "-1" in French), as the server sends them signed. */
  function signed(points) {
    var text = String(points);
    return (text.charAt(0) === '-' ? '-' : '+') + number(text.replace(/^[+-]/, ''));
  }

  /* A question's comment; with rubric items applied: the items with their points, then the adjustment and the
     comment, as the graded PDF lists them. */
  function commentCell(question) {
    var comment = question.no_answer ? [_('No answer.'), question.comment].filter(Boolean).join(' ') : (question.comment || '—');
    var items = question.items || [];
    if (!items.length) {
      return el('td', {'data-field': 'comment', text: comment});
    }
    var parts = [el('ul', {'class': 'viatique-learner-rubric', 'data-region': 'rubric-items'}, items.map(function (item) {
      return el('li', {text: item.points ? fmt(_('{text} ({points})'), {text: item.text, points: signed(item.points)})
        : item.text});
    }))];
    if (question.adjustment) {
      parts.push(el('p', {'data-field': 'adjustment', text: fmt(_('Adjustment: {points}'), {points: signed(question.adjustment)})}));
    }
    if (question.comment || question.no_answer) {
      parts.push(el('p', {text: comment}));
    }
    return el('td', {'data-field': 'comment'}, parts);
  }

  function questionsTable() {
    var rows = data.questions.map(function (question) {
      return el('tr', {'data-question': question.id}, [
        el('th', {scope: 'row', text: question.path}),
        el('td', {'data-field': 'points', text: pointsText(question.points, question.max)}),
        commentCell(question)
      ]);
    });
    var parts = [
      el('h3', {text: _('Points per question')}),
      el('table', {'class': 'viatique-table', 'data-region': 'questions'}, [
        el('caption', {'class': 'viatique-sr-only', text: _('Points and comments per question')}),
        el('thead', {}, [el('tr', {}, [el('th', {scope: 'col', text: _('Question')}),
          el('th', {scope: 'col', text: _('Points')}), el('th', {scope: 'col', text: _('Comment')})])]),
        el('tbody', {}, rows)
      ])
    ];
    if (data.copy.general_comment) {
      parts.push(el('h3', {text: _('General comment')}));
      parts.push(el('p', {'class': 'viatique-learner-comment', 'data-region': 'general-comment',
        text: data.copy.general_comment}));
    }
    return el('section', {'class': 'viatique-section'}, parts);
  }

  /* ---------------------------------------------------------------- pages and annotations */

  function annotationsOf(page) {
    return data.annotations.filter(function (note) { return note.page_id === page.id; });
  }

  function describe(note) {
    var parts = [KINDS[note.kind] || note.kind];
    if (note.text) { parts.push(fmt(_('“{text}”'), {text: note.text})); }
    if (note.question_id) { parts.push(fmt(_('question {question}'), {question: questionLabel(note.question_id)})); }
    if (note.points !== null && note.points !== undefined) { parts.push(fmt(_('points: {points}'), {points: number(note.points)})); }
    return parts.join(' — ');
  }

  /* A comment or a free text where the graded PDF puts it, with the PDF's own lines (pdf/layout.py): sizes are
   * fractions of the page's width in container units (cqw), so the text scales with the page on any screen. */
  function laidOut(note, position) {
    var box = note.layout;
    var cqw = function (fraction) { return (fraction * 100) + 'cqw'; };
    var style = 'left:' + (box.x * 100) + '%;top:' + (box.y * 100) + '%;width:' + (box.width * 100) + '%;' +
      'min-height:' + (box.height * 100) + '%;padding:' + cqw(box.pad) + ';font-size:' + cqw(box.size) + ';' +
      'line-height:' + cqw(box.lead) + ';';
    var children = [el('span', {'class': 'viatique-mark-number', text: String(position)})];
    box.lines.forEach(function (line) { children.push(el('span', {'class': 'viatique-mark-line', text: line})); });
    if (note.points !== null && note.points !== undefined) {
      children.push(el('span', {'class': 'viatique-mark-points',
        text: fmt(_('{points} pt'), {points: number(note.points)})}));
    }
    return el('div', {'class': 'viatique-mark viatique-mark-laid viatique-mark-' + note.kind, style: style,
      'data-kind': note.kind, title: describe(note)}, children);
  }

  function mark(note, position) {
    if (note.layout) { return laidOut(note, position); }
    var style = 'left:' + (note.x * 100) + '%;top:' + (note.y * 100) + '%;';
    var boxed = note.kind === 'comment' || note.kind === 'highlight' || note.kind === 'text';
    if (boxed && note.width > 0) {
      style += 'width:' + (note.width * 100) + '%;';
      if (note.height > 0) { style += 'min-height:' + (note.height * 100) + '%;'; }
    }
    var children = [el('span', {'class': 'viatique-mark-number', text: String(position)})];
    if (SYMBOLS[note.kind]) { children.push(el('span', {'class': 'viatique-mark-symbol', text: SYMBOLS[note.kind]})); }
    if (note.text && note.kind !== 'highlight') { children.push(el('span', {'class': 'viatique-mark-label', text: note.text})); }
    if (note.points !== null && note.points !== undefined) {
      children.push(el('span', {'class': 'viatique-mark-points', text: fmt(_('{points} pt'), {points: number(note.points)})}));
    }
    return el('div', {'class': 'viatique-mark viatique-mark-' + note.kind, style: style, 'data-kind': note.kind,
      title: describe(note)}, children);
  }

  var viewer, pageLabel, zoomLabel, frame, previousButton, nextButton, zoomInButton, zoomOutButton;

  function showPage() {
    var page = data.pages[pageIndex];
    var notes = annotationsOf(page);
    var first = data.annotations.indexOf(notes[0]) + 1;
    frame.textContent = '';
    frame.style.width = (ZOOMS[zoomIndex] * 100) + '%';
    frame.setAttribute('data-page-id', page.id);
    frame.appendChild(el('img', {src: url('learner_page_image', String(page.id)), 'class': 'viatique-learner-image',
      alt: fmt(ngettext('Page {number} of your copy, with {count} annotation (listed below)',
        'Page {number} of your copy, with {count} annotations (listed below)', notes.length),
        {number: page.position || pageIndex + 1, count: notes.length})}));
    var overlay = el('div', {'class': 'viatique-marks', 'aria-hidden': 'true'});
    notes.forEach(function (note, index) { overlay.appendChild(mark(note, first + index)); });
    frame.appendChild(overlay);
    pageLabel.textContent = fmt(_('Page {number} of {count}'), {number: pageIndex + 1, count: data.pages.length});
    zoomLabel.textContent = fmt(_('Zoom {percent} %'), {percent: Math.round(ZOOMS[zoomIndex] * 100)});
    // aria-disabled, not disabled: a button that can do no more keeps the focus ("Next page" on the last page)
    previousButton.setAttribute('aria-disabled', String(pageIndex <= 0));
    nextButton.setAttribute('aria-disabled', String(pageIndex >= data.pages.length - 1));
    zoomOutButton.setAttribute('aria-disabled', String(zoomIndex <= 0));
    zoomInButton.setAttribute('aria-disabled', String(zoomIndex >= ZOOMS.length - 1));
  }

  function goTo(index) {
    if (index < 0 || index >= data.pages.length) { return; }
    pageIndex = index;
    showPage();
  }

  function zoom(step) {
    var next = Math.min(ZOOMS.length - 1, Math.max(0, zoomIndex + step));
    if (next !== zoomIndex) { zoomIndex = next; showPage(); }
  }

  function onKey(event) {
    var keys = {ArrowLeft: -1, PageUp: -1, ArrowRight: 1, PageDown: 1};
    if (Object.prototype.hasOwnProperty.call(keys, event.key)) {
      event.preventDefault();
      goTo(pageIndex + keys[event.key]);
    } else if (event.key === 'Home' || event.key === 'End') {
      event.preventDefault();
      goTo(event.key === 'Home' ? 0 : data.pages.length - 1);
    } else if (event.key === '+' || event.key === '=') {
      event.preventDefault(); zoom(1);
    } else if (event.key === '-') {
      event.preventDefault(); zoom(-1);
    }
  }

  function pagesSection() {
    var titleId = idPrefix + '-pages';
    previousButton = el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'previous-page',
      text: _('Previous page'), onclick: function () { goTo(pageIndex - 1); }});
    nextButton = el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'next-page',
      text: _('Next page'), onclick: function () { goTo(pageIndex + 1); }});
    zoomOutButton = el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'zoom-out',
      'aria-label': _('Zoom out'), text: '−', onclick: function () { zoom(-1); }});
    zoomInButton = el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'zoom-in',
      'aria-label': _('Zoom in'), text: '+', onclick: function () { zoom(1); }});
    pageLabel = el('span', {'data-region': 'page-label', 'aria-live': 'polite'});
    zoomLabel = el('span', {'data-region': 'zoom-label'});
    frame = el('div', {'class': 'viatique-learner-page', 'data-region': 'page'});
    viewer = el('div', {'class': 'viatique-learner-viewer', tabindex: '0', role: 'group', 'data-region': 'viewer',
      'aria-roledescription': _('page viewer'),
      'aria-label': _('Your annotated copy. Left and right arrows change the page, plus and minus zoom.'),
      onkeydown: onKey}, [frame]);
    return el('section', {'class': 'viatique-section', 'aria-labelledby': titleId}, [
      el('h3', {id: titleId, text: _('Your annotated copy')}),
      el('div', {'class': 'viatique-pager', role: 'toolbar', 'aria-label': _('Pages and zoom')}, [
        previousButton, pageLabel, nextButton, zoomOutButton, zoomLabel, zoomInButton]),
      viewer
    ]);
  }

  function annotationList() {
    var titleId = idPrefix + '-notes';
    var list = el('ol', {'class': 'viatique-learner-notes', 'data-region': 'annotation-list'});
    var number = 0;
    data.pages.forEach(function (page, index) {
      var notes = annotationsOf(page);
      var items = notes.map(function (note) {
        number += 1;
        return el('li', {value: String(number), 'data-kind': note.kind, text: describe(note)});
      });
      list.appendChild(el('li', {'class': 'viatique-learner-notes-page'}, [
        el('span', {text: fmt(_('Page {number}'), {number: page.position || index + 1})}),
        items.length ? el('ol', {}, items) : el('p', {'class': 'viatique-hint', text: _('No annotation on this page.')})
      ]));
    });
    return el('section', {'class': 'viatique-section', 'aria-labelledby': titleId}, [
      el('h3', {id: titleId, text: _('Annotations, page by page')}), list]);
  }

  /* ---------------------------------------------------------------- regrade requests */

  /* The regrade section is built once; its live region (messages) stays in the DOM while the form and the
   * list are rebuilt, so what it says is heard. */
  var regradeParts = null;

  function regradeSection() {
    var titleId = idPrefix + '-regrade';
    var messages = el('div', {'class': 'viatique-messages', role: 'status', 'aria-live': 'polite',
      'data-region': 'regrade-messages'});
    regradeParts = {
      title: el('h3', {id: titleId, tabindex: '-1', text: _('Regrade requests')}),
      body: el('div', {'data-region': 'regrade-body'}),
      messages: messages,
      list: el('div', {'data-region': 'regrade-requests-list'})
    };
    fillRegrade();
    return el('section', {'class': 'viatique-section', 'aria-labelledby': titleId, 'data-region': 'regrade'},
      [regradeParts.title, regradeParts.body, messages, regradeParts.list]);
  }

  function regradeForm(available) {
    var messages = regradeParts.messages;
    var select = el('select', {id: idPrefix + '-question', name: 'question_id', 'data-field': 'question'},
      available.map(function (question) { return el('option', {value: question.id, text: question.path}); }));
    var errorId = idPrefix + '-message-error';
    var error = el('p', {id: errorId, 'class': 'viatique-field-error', 'data-region': 'message-error', hidden: true});
    var message = el('textarea', {id: idPrefix + '-message', name: 'message', rows: '4', maxlength: '2000',
      'data-field': 'message', 'aria-required': 'true'});
    function showError(text) {
      error.textContent = text;
      error.hidden = !text;
      if (text) {
        message.setAttribute('aria-invalid', 'true');
        message.setAttribute('aria-describedby', errorId);
      } else {
        message.removeAttribute('aria-invalid');
        message.removeAttribute('aria-describedby');
      }
    }
    message.addEventListener('input', function () { if (message.value.trim()) { showError(''); } });
    var send = el('button', {type: 'submit', 'class': 'viatique-button', 'data-action': 'request-regrade',
      text: _('Ask for a regrade')});
    // novalidate: the form's own error message, next to the field, rather than the browser's bubble
    return el('form', {'class': 'viatique-regrade-form', 'data-region': 'regrade-form', novalidate: true,
      onsubmit: function (event) {
        event.preventDefault();
        if (!message.value.trim()) {
          showError(_('Write a message.'));
          message.focus();
          return;
        }
        showError('');
        send.disabled = true;
        var before = data.regrade.requests.map(function (item) { return item.id; });
        call('request_regrade', {question_id: select.value, message: message.value}).then(function (result) {
          send.disabled = false;
          if (!result.ok) { messages.textContent = failure(result); send.focus(); return; }
          data = result.body;
          fillRegrade();
          messages.textContent = _('Your request was sent.');
          // the focus goes to the request just sent (the form it was in has been rebuilt)
          var added = data.regrade.requests.filter(function (item) { return before.indexOf(item.id) === -1; })[0];
          var target = added && regradeParts.list.querySelector('[data-request="' + added.id + '"]');
          (target || regradeParts.title).focus();
        });
      }}, [
      el('div', {'class': 'viatique-field'}, [el('label', {'for': select.id, text: _('Question')}), ' ', select]),
      el('div', {'class': 'viatique-field'}, [el('label', {'for': message.id, text: _('Why should it be looked at again?')}),
        message, error]),
      send
    ]);
  }

  function fillRegrade() {
    var regrade = data.regrade;
    var body = regradeParts.body;
    body.textContent = '';
    regradeParts.list.textContent = '';
    if (regrade.open) {
      var available = data.questions.filter(function (question) {
        return regrade.open_questions.indexOf(question.id) === -1;
      });
      body.appendChild(el('p', {'class': 'viatique-hint', text: fmt(_('You may ask for a regrade of one question at a time until {date}.'),
        {date: new Date(regrade.closes_at).toLocaleString(args.lang || undefined)})}));
      body.appendChild(available.length ? regradeForm(available)
        : el('p', {'class': 'viatique-hint', text: _('Every question already has a request waiting for an answer.')}));
    } else if (regrade.waits_for_new_grade) {
      body.appendChild(el('p', {'class': 'viatique-hint', 'data-region': 'regrade-waits',
        text: _('Your copy is being updated after a change of the marking scheme. You can ask for a regrade once its new grade is published.')}));
    } else {
      body.appendChild(el('p', {'class': 'viatique-hint', text: _('Regrade requests are closed for this exam.')}));
    }
    if (regrade.requests.length) {
      regradeParts.list.appendChild(el('ul', {'class': 'viatique-regrade-list', 'data-region': 'my-requests'}, regrade.requests.map(function (item) {
        var lines = [
          el('p', {}, [el('strong', {text: questionLabel(item.question_id)}), ' — ',
            el('span', {'data-field': 'state', text: STATES[item.state] || item.state})]),
          el('p', {text: fmt(_('Your message: {message}'), {message: item.message})})
        ];
        if (item.answer) {
          lines.push(el('p', {'data-field': 'answer', text: fmt(_('Answer: {answer}'), {answer: item.answer})}));
          var question = data.questions.filter(function (entry) { return entry.id === item.question_id; })[0];
          if (question && item.points_before !== null && question.points !== item.points_before) {
            lines.push(el('p', {'data-field': 'new-points', text: fmt(_('Points for this question: {before} before, {now} now.'),
              {before: number(item.points_before), now: number(question.points)})}));
          }
        }
        return el('li', {'data-request': item.id, tabindex: '-1'}, lines);
      })));
    }
  }

  /* ---------------------------------------------------------------- load */

  function render() {
    region.textContent = '';
    if (!data.released) {
      region.appendChild(el('p', {'class': 'viatique-hint', text: data.message}));
      return;
    }
    region.appendChild(summary());
    region.appendChild(questionsTable());
    if (data.pages.length) {
      region.appendChild(pagesSection());
      region.appendChild(annotationList());
      pageIndex = Math.min(pageIndex, data.pages.length - 1);
      showPage();
    }
    region.appendChild(regradeSection());
  }

  function load() {
    call('my_results', null, 'GET').then(function (result) {
      if (!result.ok) {
        region.textContent = '';
        region.appendChild(el('p', {'class': 'viatique-error', role: 'alert', text: failure(result)}));
        return;
      }
      data = result.body;
      render();
    });
  }

  load();
}
