/* Viatique question layout editor: where each question's answer is on a copy.
 * Shared by the Studio editor (viatique_studio.js) and the dashboard's Settings screen (below).
 * For the question chosen: the pages of its answer (typed), and optionally a box drawn with the
 * mouse on a reference page (the exam's first copy, or a blank page before any scan), or typed
 * as four numbers (% of the page) for keyboard users. The layout is kept in ``entry.node.layout``
 * as the marking scheme stores it: {pages: [..], box?: {page, x0, y0, x1, y1}} (0 to 1), or none
 * (the whole copy). */
(function (global) {
  'use strict';

  var EDGES = ['x0', 'y0', 'x1', 'y1'];
  var MIN_SIZE = 0.01;

  function round4(value) { return Math.round(value * 10000) / 10000; }

  /* options: {container, runtime, element, i18n, lang, idPrefix, entries: function () -> [{title, node}],
   * pagesPerCopy: function () -> number, onChange: function ()} */
  function build(options) {
    var common = global.ViatiqueCommon;
    var _ = common.makeGettext(options.i18n);
    var fmt = common.format;
    var el = common.el;
    var numbers = common.numbers(options.lang);
    var prefix = options.idPrefix;
    var references = {};
    var shown = 1;
    var drag = null;

    var select = el('select', {id: prefix + '-question', 'data-field': 'layout-question'});
    var pagesHint = el('p', {'class': 'viatique-hint', id: prefix + '-pages-hint',
      text: _('Page numbers of the copy, separated by commas (for example 2, 3). Empty: the whole copy.')});
    var pagesInput = el('input', {type: 'text', id: prefix + '-pages', 'data-field': 'layout-pages', size: 12,
      inputmode: 'numeric', 'aria-describedby': prefix + '-pages-hint'});
    var pageInput = el('input', {type: 'number', id: prefix + '-shown', 'data-field': 'layout-shown', min: 1,
      step: 1, size: 4});
    var image = el('img', {'class': 'viatique-layout-image', alt: '', hidden: true, draggable: 'false'});
    var blank = el('p', {'class': 'viatique-layout-blank', hidden: true});
    var boxView = el('div', {'class': 'viatique-layout-box', 'data-region': 'layout-box', hidden: true});
    var surface = el('div', {'class': 'viatique-layout-page', 'data-region': 'layout-page'}, [image, blank, boxView]);
    var edgeLabels = {x0: _('Left edge'), y0: _('Top edge'), x1: _('Right edge'), y1: _('Bottom edge')};
    var edgeInputs = {};
    var edgeFields = EDGES.map(function (edge) {
      var id = prefix + '-' + edge;
      edgeInputs[edge] = el('input', {type: 'number', id: id, min: 0, max: 100, step: 0.1, size: 6,
        'data-field': 'layout-' + edge});
      return el('span', {'class': 'viatique-inline'}, [el('label', {'for': id, text: edgeLabels[edge]}), edgeInputs[edge]]);
    });
    var clearButton = el('button', {type: 'button', 'class': 'viatique-button viatique-small',
      'data-action': 'layout-clear-box', text: _('Remove the box')});
    var status = el('p', {'class': 'viatique-layout-status', role: 'status', 'aria-live': 'polite',
      'data-region': 'layout-status'});

    [
      el('p', {'class': 'viatique-hint', text: _('For each question, say where its answer is: the pages of the copy ' +
        'and, if you like, a box on one of them. Graders then see that part of each copy. Draw the box with the ' +
        'mouse on the page shown, or type its edges. Moving a box never changes points already given.')}),
      el('div', {'class': 'viatique-field'}, [el('label', {'for': prefix + '-question', text: _('Question')}), select]),
      el('div', {'class': 'viatique-field'}, [el('label', {'for': prefix + '-pages', text: _('Pages of its answer')}),
        pagesInput, pagesHint]),
      el('div', {'class': 'viatique-field'}, [el('label', {'for': prefix + '-shown', text: _('Page shown')}), pageInput]),
      surface,
      el('fieldset', {'class': 'viatique-fieldset viatique-layout-edges'}, [
        el('legend', {text: _('Box on the page shown (% of the page, from its top left corner)')})
      ].concat(edgeFields).concat([clearButton])),
      status
    ].forEach(function (node) { options.container.appendChild(node); });

    function entries() { return options.entries(); }
    function current() { return entries()[Number(select.value) || 0]; }
    function layoutOf() { var entry = current(); return entry ? entry.node.layout || null : null; }
    function pagesPerCopy() { return Math.max(1, Number(options.pagesPerCopy()) || 1); }

    function setLayout(layout) {
      var entry = current();
      if (!entry) { return; }
      if (layout && layout.pages && layout.pages.length) { entry.node.layout = layout; } else { delete entry.node.layout; }
      if (options.onChange) { options.onChange(); }
    }

    function describe(layout) {
      if (!layout) { return _('Whole copy'); }
      var pages = layout.pages.join(', ');
      var text = layout.pages.length === 1 ? fmt(_('Page {pages}'), {pages: pages}) : fmt(_('Pages {pages}'), {pages: pages});
      if (layout.box) {
        var box = layout.box;
        text += ' — ' + fmt(_('box on page {page}: {left} to {right} % across, {top} to {bottom} % down'), {
          page: box.page, left: numbers.format(round4(box.x0 * 100)), right: numbers.format(round4(box.x1 * 100)),
          top: numbers.format(round4(box.y0 * 100)), bottom: numbers.format(round4(box.y1 * 100))});
      }
      return text;
    }

    function parsePages(text) {
      var pages = [];
      var bad = null;
      text.split(/[,;\s]+/).filter(Boolean).forEach(function (part) {
        var number = Number(part);
        if (!/^\d+$/.test(part) || number < 1 || number > pagesPerCopy()) { bad = part; }
        else if (pages.indexOf(number) === -1) { pages.push(number); }
      });
      pages.sort(function (a, b) { return a - b; });
      return {pages: pages, bad: bad};
    }

    function showBox(box) {
      boxView.hidden = !box;
      if (box) {
        boxView.style.left = (box.x0 * 100) + '%';
        boxView.style.top = (box.y0 * 100) + '%';
        boxView.style.width = ((box.x1 - box.x0) * 100) + '%';
        boxView.style.height = ((box.y1 - box.y0) * 100) + '%';
      }
    }

    function fillEdges(box) {
      EDGES.forEach(function (edge) {
        edgeInputs[edge].value = box ? String(round4(box[edge] * 100)) : '';
        edgeInputs[edge].removeAttribute('aria-invalid');
      });
    }

    function loadReference() {
      var number = shown;
      var showImage = function (pageId) {
        if (number !== shown) { return; }
        if (pageId) {
          image.src = options.runtime.handlerUrl(options.element, 'page_image', pageId);
          image.alt = fmt(_('Page {page} of the first scanned copy'), {page: number});
          image.hidden = false;
          blank.hidden = true;
        } else {
          image.hidden = true;
          image.removeAttribute('src');
          blank.hidden = false;
          blank.textContent = fmt(_('Page {page}: no copy has been scanned yet. Draw on this blank page.'), {page: number});
        }
      };
      if (Object.prototype.hasOwnProperty.call(references, number)) { showImage(references[number]); return; }
      common.callHandler(options.runtime.handlerUrl(options.element, 'question_layout'), {page: number}, 'GET')
        .then(function (result) {
          references[number] = result.ok && result.body.reference ? result.body.reference.page_id : null;
          showImage(references[number]);
        }).catch(function () { showImage(null); });
    }

    function showPage(number) {
      shown = Math.min(Math.max(1, number || 1), pagesPerCopy());
      pageInput.max = pagesPerCopy();
      pageInput.value = shown;
      var layout = layoutOf();
      var box = layout && layout.box && layout.box.page === shown ? layout.box : null;
      showBox(box);
      fillEdges(box);
      loadReference();
    }

    /* show the chosen question's layout; ``announce``: say it (the user chose it) */
    function showQuestion(announce) {
      var layout = layoutOf();
      pagesInput.value = layout ? layout.pages.join(', ') : '';
      pagesInput.removeAttribute('aria-invalid');
      showPage(layout ? (layout.box ? layout.box.page : layout.pages[0]) : shown);
      if (announce === true && current()) {
        say(fmt(_('{question}: {layout}'), {question: current().title, layout: describe(layout)}));
      }
    }

    function say(text) { status.textContent = text; }

    function setBox(box) {
      if (!current()) { return; }
      var layout = layoutOf();
      var pages = layout ? layout.pages.slice() : [];
      if (box && pages.indexOf(box.page) === -1) { pages.push(box.page); pages.sort(function (a, b) { return a - b; }); }
      var next = pages.length ? {pages: pages} : null;
      if (next && box) { next.box = box; }
      setLayout(next);
      pagesInput.value = next ? next.pages.join(', ') : '';
      showBox(box);
      say(fmt(_('{question}: {layout}'), {question: current().title, layout: describe(next)}));
    }

    /* refresh the question list (the scheme changed) and keep the question chosen when it is still there */
    function refresh() {
      var chosen = Number(select.value) || 0;
      select.textContent = '';
      entries().forEach(function (entry, index) {
        select.appendChild(el('option', {value: String(index), text: entry.title}));
      });
      select.value = String(Math.min(chosen, Math.max(0, entries().length - 1)));
      showQuestion();
    }

    select.addEventListener('change', function () { showQuestion(true); });
    // labels typed since the list was made (the Studio editor): the options follow them
    select.addEventListener('focus', function () {
      entries().forEach(function (entry, index) {
        if (select.options[index]) { select.options[index].textContent = entry.title; }
      });
    });
    pageInput.addEventListener('change', function () { showPage(Number(pageInput.value)); });

    pagesInput.addEventListener('change', function () {
      if (!current()) { return; }
      var parsed = parsePages(pagesInput.value);
      if (parsed.bad !== null) {
        pagesInput.setAttribute('aria-invalid', 'true');
        say(fmt(_('“{value}” is not a page of the copy: pages go from 1 to {max}.'), {value: parsed.bad, max: pagesPerCopy()}));
        return;
      }
      pagesInput.removeAttribute('aria-invalid');
      var layout = layoutOf();
      var box = layout && layout.box && parsed.pages.indexOf(layout.box.page) !== -1 ? layout.box : null;
      var next = parsed.pages.length ? {pages: parsed.pages} : null;
      if (next && box) { next.box = box; }
      setLayout(next);
      showPage(next ? (box ? box.page : (next.pages.indexOf(shown) === -1 ? next.pages[0] : shown)) : shown);
      say(fmt(_('{question}: {layout}'), {question: current().title, layout: describe(next)}));
    });

    EDGES.forEach(function (edge) {
      edgeInputs[edge].addEventListener('change', function () {
        var values = {};
        var complete = EDGES.every(function (item) {
          var text = edgeInputs[item].value;
          var value = numbers.parse(text);
          values[item] = value / 100;
          return text !== '' && !isNaN(value);
        });
        if (!complete) { return; }
        var wrong = EDGES.filter(function (item) { return values[item] < 0 || values[item] > 1; });
        var empty = values.x1 - values.x0 < MIN_SIZE || values.y1 - values.y0 < MIN_SIZE;
        EDGES.forEach(function (item) {
          var bad = wrong.indexOf(item) !== -1 || (empty && (item === 'x1' || item === 'y1'));
          if (bad) { edgeInputs[item].setAttribute('aria-invalid', 'true'); }
          else { edgeInputs[item].removeAttribute('aria-invalid'); }
        });
        if (wrong.length) { say(_('The box goes outside the page: its edges must be from 0 to 100 %.')); return; }
        if (empty) { say(_('The box is empty: the right edge must be right of the left edge, the bottom edge below the top edge.')); return; }
        setBox({page: shown, x0: round4(values.x0), y0: round4(values.y0), x1: round4(values.x1), y1: round4(values.y1)});
      });
    });

    clearButton.addEventListener('click', function () {
      var layout = layoutOf();
      if (layout && layout.box) { setBox(null); } else { say(_('This question has no box.')); }
      fillEdges(null);
    });

    function point(event) {
      var rect = surface.getBoundingClientRect();
      return {x: Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width)),
              y: Math.min(1, Math.max(0, (event.clientY - rect.top) / rect.height))};
    }

    function dragged(end) {
      return {page: shown, x0: round4(Math.min(drag.x, end.x)), y0: round4(Math.min(drag.y, end.y)),
              x1: round4(Math.max(drag.x, end.x)), y1: round4(Math.max(drag.y, end.y))};
    }

    surface.addEventListener('pointerdown', function (event) {
      if (event.button !== 0 || !current()) { return; }
      event.preventDefault();
      drag = point(event);
      if (surface.setPointerCapture) { surface.setPointerCapture(event.pointerId); }
    });
    surface.addEventListener('pointermove', function (event) {
      if (drag) { showBox(dragged(point(event))); }
    });
    surface.addEventListener('pointerup', function (event) {
      if (!drag) { return; }
      var box = dragged(point(event));
      drag = null;
      if (box.x1 - box.x0 < MIN_SIZE || box.y1 - box.y0 < MIN_SIZE) {
        var layout = layoutOf();
        showBox(layout && layout.box && layout.box.page === shown ? layout.box : null);
        say(_('The box is too small: drag from one corner to the opposite one.'));
        return;
      }
      fillEdges(box);
      setBox(box);
    });

    /* a layout the server refused: show its question, its pages marked invalid (``number``: "1.2") */
    function flag(number) {
      var index = -1;
      entries().forEach(function (entry, i) { if (entry.number === number && index === -1) { index = i; } });
      if (index === -1) { return; }
      select.value = String(index);
      showQuestion(false);
      pagesInput.setAttribute('aria-invalid', 'true');
    }

    refresh();
    return {refresh: refresh, showQuestion: showQuestion, flag: flag};
  }

  /* The leaf questions of a scheme, numbered as the editor numbers them: [{title, node}]. */
  function leafEntries(questions, gettext) {
    var found = [];
    function walk(nodes, path) {
      nodes.forEach(function (node, index) {
        var number = path.concat([index + 1]);
        if (node.children) { walk(node.children, number); return; }
        found.push({node: node, number: number.join('.'), title: global.ViatiqueCommon.format(gettext('Question {number}: {label}'),
          {number: number.join('.'), label: node.label || gettext('(no label)')})});
      });
    }
    walk(questions || [], []);
    return found;
  }

  global.ViatiqueLayout = {build: build, leafEntries: leafEntries};
})(window);

/* The dashboard's Settings screen: the question layout edited by instructors and saved at once
 * (``save_question_layout``). Called by viatique_staff.js with the block's runtime, element, arguments. */
function ViatiqueLayoutSettings(runtime, element, args) {
  'use strict';
  var common = window.ViatiqueCommon;
  args = common.startupArgs(element, args);
  var section = common.claimSection(element, 'layout', args.role === 'instructor');
  if (!section) { return; }
  var _ = common.makeGettext(args.i18n);
  var el = common.el;
  var calls = common.sectionCalls(runtime, element, _);
  var titleId = section.idPrefix + '-title';
  var state = {questions: [], pagesPerCopy: 1};
  var editor = null;
  var body = el('div', {'class': 'viatique-layout'});
  var messages = el('div', {'class': 'viatique-messages', role: 'status', 'aria-live': 'polite',
    'data-region': 'layout-messages'});
  var saveButton = el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'save-layout',
    text: _('Save the layout')});
  section.region.setAttribute('aria-labelledby', titleId);
  [el('h3', {id: titleId, text: _('Where the answers are')}), body,
   el('div', {'class': 'viatique-buttons'}, [saveButton]), messages].forEach(function (node) {
    section.region.appendChild(node);
  });

  function say(text, isError) {
    messages.textContent = '';
    messages.appendChild(el('p', {'class': isError ? 'viatique-message viatique-error' : 'viatique-message', text: text}));
  }

  function take(answer) {
    state.pagesPerCopy = answer.pages_per_copy;
    state.questions = answer.questions.map(function (row) {
      var node = {id: row.id, label: row.path || row.label};
      if (!row.layout.whole_copy) {
        node.layout = {pages: row.layout.pages};
        if (row.layout.box) { node.layout.box = row.layout.box; }
      }
      return {node: node, title: node.label};
    });
  }

  function entries() { return state.questions; }

  calls.call('question_layout', {}, 'GET').then(function (result) {
    if (!result.ok) { say(calls.failure(result), true); return; }
    take(result.body);
    editor = window.ViatiqueLayout.build({
      container: body, runtime: runtime, element: element, i18n: args.i18n, lang: args.lang,
      idPrefix: section.idPrefix, entries: entries, pagesPerCopy: function () { return state.pagesPerCopy; }
    });
  });

  saveButton.addEventListener('click', function () {
    var layouts = {};
    state.questions.forEach(function (entry) { layouts[entry.node.id] = entry.node.layout || null; });
    calls.call('save_question_layout', {layouts: layouts}).then(function (result) {
      if (!result.ok) { say(calls.failure(result), true); return; }
      take(result.body);
      if (editor) { editor.refresh(); }
      section.region.setAttribute('data-saved', String(Date.now()));
      say(_('The layout was saved.'));
    });
  });
}
