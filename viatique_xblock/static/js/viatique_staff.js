/* Viatique staff dashboard: the screens, the progress header, the copy list and the print screen.
 *
 * Screens: the dashboard is a set of screens (Scans, Identification, Grading, Results, Reports,
 * Settings), one shown at a time. The current one is the URL's hash (#grading), so the browser's back
 * and forward buttons move between screens and a reload keeps the screen; the copy list's search and
 * filters ride along (#grading?state=graded&q=K12), so a counter of the progress header, which stays
 * at the top of the window, is a plain link to the filtered list. The screens' links are a <nav> of
 * links with aria-current="page" on the current one (keyboard: Tab and Enter, as any link). Showing a
 * screen tells the sections with "viatique:screen-shown" ({screen}), so they refresh what may have
 * changed meanwhile (the audit log, the statistics).
 *
 * Copy list: searched, filtered, sorted and paged by the server (list_copies); the form's values are
 * the hash's query. Print screen (instructors, in Scans): booklets anonymous or prenamed from the roster,
 * on blank pages or on the blank exam the instructor uploads (booklet_subject, the PDF as the request's
 * body), made by a task (booklet_print, booklet_status) with its progress, then a download link.
 */
function ViatiqueStaffDashboard(runtime, element, args) {
  'use strict';
  var common = window.ViatiqueCommon;
  args = common.startupArgs(element, args);
  var root = common.rootElement(element);
  var _ = common.makeGettext(args.i18n);
  var ngettext = common.makeNgettext(args.i18n, args.lang);
  var fmt = common.format;
  var el = common.el;
  var calls = common.sectionCalls(runtime, element, _);
  var isInstructor = args.role === 'instructor';
  var pageSize = 50;
  var offset = 0;
  var showNames = isInstructor || !args.anonymous;
  var tbody = root.querySelector('[data-region="copies"] tbody');
  var status = root.querySelector('[data-region="copies-status"]');
  var previous = root.querySelector('[data-action="previous-page"]');
  var next = root.querySelector('[data-action="next-page"]');
  var pageLabel = root.querySelector('[data-region="page-label"]');
  var filterForm = root.querySelector('[data-region="copy-filters"]');
  var graderSelect = filterForm.querySelector('[data-filter="grader"]');
  var FILTERS = ['q', 'state', 'grader', 'identity', 'missing', 'sort'];

  var STATES = {
    ready: _('Ready'), in_progress: _('Being graded'), submitted: _('Submitted'),
    graded: _('Graded'), render_failed: _('PDF failed'), reopened: _('Reopened'),
    unidentified: _('Unidentified'), identified: _('Identified')
  };

  // ---------------------------------------------------------------- screens

  var screens = {};
  Array.prototype.forEach.call(root.querySelectorAll('[data-screen]'), function (node) {
    screens[node.getAttribute('data-screen')] = node;
  });
  var links = root.querySelectorAll('[data-screen-link]');
  var DEFAULT_SCREEN = isInstructor && !Number(args.copies) ? 'scans' : 'grading';
  var current = null;

  /* {screen, query} of the URL's hash; an unknown screen is the default one. */
  function parseHash() {
    var hash = (window.location.hash || '').replace(/^#/, '');
    var mark = hash.indexOf('?');
    var name = decodeURIComponent(mark === -1 ? hash : hash.slice(0, mark));
    var query = {};
    (mark === -1 ? '' : hash.slice(mark + 1)).split('&').forEach(function (part) {
      if (!part) { return; }
      var pair = part.split('=');
      var key = decodeURIComponent(pair[0]);
      if (FILTERS.indexOf(key) !== -1 || key === 'offset') {
        query[key] = decodeURIComponent((pair[1] || '').replace(/\+/g, ' '));
      }
    });
    return {screen: screens[name] ? name : DEFAULT_SCREEN, query: query};
  }

  function queryString(query) {
    return Object.keys(query).filter(function (key) { return query[key] !== '' && query[key] !== undefined; })
      .map(function (key) { return encodeURIComponent(key) + '=' + encodeURIComponent(query[key]); }).join('&');
  }

  function showScreen(name) {
    Object.keys(screens).forEach(function (key) { screens[key].hidden = key !== name; });
    Array.prototype.forEach.call(links, function (link) {
      if (link.getAttribute('data-screen-link') === name) { link.setAttribute('aria-current', 'page'); }
      else { link.removeAttribute('aria-current'); }
    });
    if (current !== name) {
      current = name;
      root.dispatchEvent(new CustomEvent('viatique:screen-shown', {detail: {screen: name}}));
    }
  }

  /* The hash changed (a link, back or forward, a reload): show its screen and, on Grading, its list (which
   * is loaded once whatever the screen: the other screens' sections follow the copies it counts). */
  function route() {
    var target = parseHash();
    showScreen(target.screen);
    if (target.screen === 'grading') {
      var query = queryString(target.query);
      var gradingLink = root.querySelector('[data-screen-link="grading"]');
      if (gradingLink) { gradingLink.setAttribute('href', '#grading' + (query ? '?' + query : '')); }
      if (query !== loadedQuery || !loaded) { applyQuery(target.query); }
    } else if (!loaded) {
      applyQuery({});
    }
  }

  /* Go to a screen (and list query) as a link would: a new history entry. */
  function go(screen, query) {
    var text = query ? queryString(query) : '';
    var hash = '#' + screen + (text ? '?' + text : '');
    if (window.location.hash === hash) { route(); } else { window.location.hash = hash; }
  }

  // ---------------------------------------------------------------- copy list

  var loadedQuery = null;
  var loaded = false;
  var filters = {};

  function setFormFrom(query) {
    FILTERS.forEach(function (key) {
      var field = filterForm.querySelector('[data-filter="' + key + '"]');
      if (!field) { return; }
      var value = query[key] || '';
      if (field.type === 'checkbox') { field.checked = value === '1'; return; }
      if (field.tagName === 'SELECT' && value && !field.querySelector('option[value="' + CSS.escape(value) + '"]')) {
        field.appendChild(el('option', {value: value, text: value}));  // a grader not listed yet
      }
      field.value = value;
    });
  }

  function formQuery() {
    var query = {};
    FILTERS.forEach(function (key) {
      var field = filterForm.querySelector('[data-filter="' + key + '"]');
      if (!field) { return; }
      var value = field.type === 'checkbox' ? (field.checked ? '1' : '') : field.value.trim();
      if (value) { query[key] = value; }
    });
    return query;
  }

  function applyQuery(query) {
    loadedQuery = queryString(query);
    filters = {};
    FILTERS.forEach(function (key) { if (query[key]) { filters[key] = query[key]; } });
    offset = Math.max(0, parseInt(query.offset, 10) || 0);
    setFormFrom(query);
    load();
  }

  function updateGraders(graders) {
    if (!graders) { return; }
    var known = {};
    Array.prototype.forEach.call(graderSelect.options, function (option) { known[option.value] = true; });
    graders.forEach(function (username) {
      if (!known[username]) { graderSelect.appendChild(el('option', {value: username, text: username})); }
    });
  }

  function render(data) {
    tbody.textContent = '';
    data.copies.forEach(function (copy) {
      var cells = [el('th', {scope: 'row', text: copy.code})];
      if (showNames) {
        cells.push(el('td', {text: copy.name || copy.username || '—'}));
      }
      cells.push(el('td', {text: STATES[copy.identity] || copy.identity}));
      var stateCell = el('td', {'data-state': copy.state, text: STATES[copy.state] || copy.state});
      if (copy.missing_pages) {
        stateCell.appendChild(el('span', {'class': 'viatique-badge viatique-warning', 'data-missing': copy.missing_pages,
          text: fmt(ngettext('{count} page missing', '{count} pages missing', copy.missing_pages),
            {count: copy.missing_pages})}));
      }
      cells.push(stateCell);
      cells.push(el('td', {text: copy.grader || '—'}));
      var totalCell = el('td', {text: copy.total === null ? '—' : copy.total});
      if (copy.points_off_scheme) {
        // points given before a maximum or step changed: kept as they were, for the instructor to see to
        totalCell.appendChild(el('span', {'class': 'viatique-badge viatique-warning', 'data-off-scheme': 'true',
          text: _('Points off the marking scheme')}));
      }
      cells.push(totalCell);
      // graders open their own copies and those nobody was given (opening another's is refused, and
      // refusals count towards the lockout)
      var mayOpen = isInstructor || !copy.grader || copy.grader === args.username;
      cells.push(el('td', {}, !mayOpen ? [] : [el('button', {
        type: 'button', 'class': 'viatique-button', 'data-action': 'open-copy',
        'aria-label': fmt(_('Open copy {code}'), {code: copy.code}), text: _('Open'),
        onclick: function () {
          // the grading workspace (viatique_grading.js) listens for this
          root.dispatchEvent(new CustomEvent('viatique:open-copy', {detail: {copyId: copy.id, code: copy.code}}));
        }
      })].concat(args.grading_mode === 'by_question' ? [] : [' ', el('a', {
        // the full-window workspace, in a tab of its own (the block's workspace handler); by question, the
        // links are per question (showQuestionLinks)
        'class': 'viatique-button', 'data-action': 'open-workspace', target: '_blank',
        href: runtime.handlerUrl(element, 'workspace', '', 'copy=' + encodeURIComponent(copy.id)),
        'aria-label': fmt(_('Full window: copy {code} (new tab)'), {code: copy.code}), text: _('Full window')
      })])));
      tbody.appendChild(el('tr', {'data-copy-id': copy.id}, cells));
    });
    var filtered = Object.keys(filters).some(function (key) { return key !== 'sort'; });
    if (!data.count) {
      status.textContent = filtered ? _('No copy matches this search.')
        : _('No copies yet. Copies appear here once scans are processed.');
    } else {
      status.textContent = fmt(filtered ? _('{count} copies match') : _('{count} copies'), {count: data.count});
    }
    var last = Math.min(data.offset + data.copies.length, data.count);
    pageLabel.textContent = data.count ? fmt(_('{first}–{last} of {count}'), {
      first: data.offset + 1, last: last, count: data.count
    }) : '';
    previous.disabled = data.offset <= 0;
    next.disabled = last >= data.count;
    updateGraders(data.graders);
  }

  var loadSeq = 0;
  function load() {
    var seq = ++loadSeq;
    loaded = true;
    status.textContent = _('Loading copies…');
    var query = Object.assign({offset: offset, limit: pageSize}, filters);
    return calls.call('list_copies', query, 'GET').then(function (result) {
      if (seq !== loadSeq) { return; }
      if (!result.ok) {
        status.textContent = result.status ? calls.failure(result) : _('The copies could not be loaded. Check your connection.');
        return;
      }
      render(result.body);
    });
  }

  /* Scans processed or pages fixed (viatique_scans.js): new counters, and the list again. */
  function copiesChanged(event) {
    var progress = (event.detail && event.detail.progress) || {};
    Object.keys(progress).forEach(function (key) {
      var counter = root.querySelector('dd[data-count="' + key + '"]');
      if (!counter || typeof progress[key] !== 'number') { return; }
      var link = counter.querySelector('a');
      (link || counter).textContent = progress[key];
    });
    load();
  }

  function pageTo(newOffset) {
    go('grading', Object.assign({}, filters, newOffset ? {offset: newOffset} : {}));
  }

  previous.addEventListener('click', function () { pageTo(Math.max(0, offset - pageSize)); });
  next.addEventListener('click', function () { pageTo(offset + pageSize); });
  filterForm.addEventListener('submit', function (event) {
    event.preventDefault();
    go('grading', formQuery());
  });
  filterForm.addEventListener('reset', function () { setTimeout(function () { go('grading', {}); }, 0); });
  // a change of a select or of the checkbox applies at once; the search box applies with Enter or "Find"
  filterForm.addEventListener('change', function (event) {
    if (event.target.getAttribute('data-filter') !== 'q') { go('grading', formQuery()); }
  });
  root.addEventListener('viatique:copies-changed', copiesChanged);
  // a copy opened from another screen (a regrade request): the workspace is on the Grading screen
  /* Grading by question: each question a link to the full-window workspace (a tab of its own), with its
   * progress ("Question 3: 41 / 150 graded, you: 17"), refreshed when the Grading screen shows. */
  var questionLinks = root.querySelector('[data-region="question-links"]');
  function showQuestionLinks() {
    if (!questionLinks || args.grading_mode !== 'by_question') { return; }
    calls.call('question_progress', null, 'GET').then(function (result) {
      if (!result.ok) { return; }
      var list = questionLinks.querySelector('ul');
      list.textContent = '';
      (result.body.questions || []).forEach(function (row) {
        var name = Array.isArray(row.path) ? row.path.join(' › ') : (row.path || row.label);
        var text = fmt(_('{question}: {graded} / {total} graded, you: {mine}'),
          {question: name, graded: row.graded, total: row.total, mine: row.mine});
        list.appendChild(el('li', {'data-question': row.id}, [el('a', {
          href: runtime.handlerUrl(element, 'workspace', '', 'question=' + encodeURIComponent(row.id)),
          target: '_blank', 'data-action': 'grade-question', text: text,
          'aria-label': fmt(_('{text} (new tab)'), {text: text})
        })]));
      });
      questionLinks.hidden = false;
    });
  }
  root.addEventListener('viatique:screen-shown', function (event) {
    if (event.detail && event.detail.screen === 'grading') { showQuestionLinks(); }
  });
  showQuestionLinks();

  root.addEventListener('viatique:open-copy', function () { if (current !== 'grading') { go('grading', filters); } });
  window.addEventListener('hashchange', route);

  // ---------------------------------------------------------------- print screen (instructors)

  function printScreen() {
    var section = common.claimSection(element, 'booklets', isInstructor);
    if (!section) { return; }
    var region = section.region;
    var idPrefix = section.idPrefix;
    var POLL_MS = 1500;
    var titleId = idPrefix + '-title';
    region.setAttribute('aria-labelledby', titleId);

    function numberField(name, label, value, min, max, hint) {
      var input = el('input', {id: idPrefix + '-' + name, type: 'number', name: name, min: min, max: max,
        value: value, 'class': 'viatique-number', 'data-field': name, required: true,
        'aria-describedby': hint ? idPrefix + '-' + name + '-hint' : null});
      var node = el('div', {'class': 'viatique-field'}, [el('label', {'for': input.id, text: label}), ' ', input]);
      if (hint) { node.appendChild(el('span', {id: idPrefix + '-' + name + '-hint', 'class': 'viatique-hint', text: ' ' + hint})); }
      return {input: input, node: node};
    }
    var modeName = idPrefix + '-mode';
    var anonymousChoice = el('input', {type: 'radio', name: modeName, value: 'anonymous', checked: true, 'data-field': 'mode'});
    var prenamedChoice = el('input', {type: 'radio', name: modeName, value: 'prenamed', 'data-field': 'mode'});
    var rosterHint = el('span', {'class': 'viatique-hint', 'data-region': 'roster-count'});
    var modes = el('fieldset', {'class': 'viatique-fieldset'}, [
      el('legend', {text: _('Booklets')}),
      el('label', {'class': 'viatique-choice'}, [anonymousChoice, ' ',
        _('Anonymous: learners write their name in the box of the cover')]),
      el('label', {'class': 'viatique-choice'}, [prenamedChoice, ' ',
        _('Prenamed: one booklet per enrolled learner, with their name printed'), ' ', rosterHint])
    ]);
    var count = numberField('copies', _('Number of booklets'), 30, 1, 5000);
    var pages = numberField('pages', _('Pages per booklet'), args.pages_per_copy || 4, 1, 200);
    // what each booklet holds: blank pages, or the pages of the blank exam uploaded here
    var holdsName = idPrefix + '-holds';
    var blankChoice = el('input', {type: 'radio', name: holdsName, value: 'blank', checked: true, 'data-field': 'holds'});
    var subjectChoice = el('input', {type: 'radio', name: holdsName, value: 'subject', disabled: true,
      'data-field': 'holds'});
    var subjectLabel = el('span', {'data-region': 'subject-name', text: _('The blank exam (none uploaded yet)')});
    var subjectFile = el('input', {type: 'file', id: idPrefix + '-subject-file', accept: 'application/pdf,.pdf',
      'data-field': 'subject-file', 'aria-describedby': idPrefix + '-subject-status'});
    // said as it changes, as the print run's status (role=status) below the button is
    var subjectStatus = el('span', {id: idPrefix + '-subject-status', 'class': 'viatique-hint', 'aria-live': 'polite',
      'data-region': 'subject-status'});
    var holds = el('fieldset', {'class': 'viatique-fieldset'}, [
      el('legend', {text: _('Pages of each booklet')}),
      el('label', {'class': 'viatique-choice'}, [blankChoice, ' ', _('Blank pages')]),
      el('label', {'class': 'viatique-choice'}, [subjectChoice, ' ', subjectLabel]),
      el('div', {'class': 'viatique-field'}, [
        el('label', {'for': subjectFile.id, text: _('Blank exam to print on (PDF)')}), ' ', subjectFile, ' ', subjectStatus])
    ]);
    var extra = numberField('extra_pages', _('Extra blank pages'), 0, 0, 200,
      _('(at the end of each booklet, for long answers)'));
    var button = el('button', {type: 'submit', 'class': 'viatique-button', 'data-action': 'print-booklets',
      text: _('Make the booklets')});
    var progressLabel = idPrefix + '-progress';
    var progress = el('progress', {max: 1, value: 0, hidden: true, 'aria-labelledby': progressLabel});
    var messages = el('div', {'class': 'viatique-messages', role: 'status', 'aria-live': 'polite', id: progressLabel,
      'data-region': 'booklets-status'});
    var link = el('a', {'class': 'viatique-button', 'data-action': 'download-booklets', download: '', hidden: true,
      text: _('Download the booklets (PDF)')});
    var form = el('form', {'class': 'viatique-booklet-form', 'data-region': 'booklet-form', novalidate: true}, [
      modes, count.node, holds, pages.node, extra.node, el('div', {'class': 'viatique-buttons'}, [button, ' ', link])
    ]);

    function say(text, isError) {
      messages.textContent = '';
      if (text) {
        messages.appendChild(el('p', {'class': isError ? 'viatique-message viatique-error' : 'viatique-message', text: text}));
      }
    }

    function syncMode() {
      count.input.disabled = prenamedChoice.checked;
      pages.input.disabled = subjectChoice.checked;
    }
    anonymousChoice.addEventListener('change', syncMode);
    prenamedChoice.addEventListener('change', syncMode);
    blankChoice.addEventListener('change', syncMode);
    subjectChoice.addEventListener('change', syncMode);

    /* The blank exam uploaded (or null): the choice to print on it, with its name and pages. */
    function showSubject(subject) {
      subjectChoice.disabled = !subject;
      subjectLabel.textContent = subject
        ? fmt(ngettext('The blank exam: {name}, {count} page', 'The blank exam: {name}, {count} pages', subject.pages),
          {name: subject.name, count: subject.pages})
        : _('The blank exam (none uploaded yet)');
      if (!subject) { blankChoice.checked = true; }
      syncMode();
    }

    var maxSubjectBytes = 50 * 1024 * 1024;  // the server's own limit once booklet_status answered
    subjectFile.addEventListener('change', function () {
      var file = subjectFile.files && subjectFile.files[0];
      subjectFile.removeAttribute('aria-invalid');
      if (!file) { return; }
      if (file.size > maxSubjectBytes) {
        subjectFile.setAttribute('aria-invalid', 'true');
        subjectStatus.textContent = fmt(_('This file is larger than {size} MB: the blank exam can be {size} MB at most.'),
          {size: common.numbers(args.lang).format(Math.floor(maxSubjectBytes / 1048576))});
        return;
      }
      subjectStatus.textContent = _('Checking the blank exam…');
      common.postFile(runtime.handlerUrl(element, 'booklet_subject'), file, 'application/pdf',
        {name: file.name}).then(function (result) {
        if (!result.ok) {
          subjectFile.setAttribute('aria-invalid', 'true');
          subjectStatus.textContent = calls.failure(result);
          return;
        }
        subjectStatus.textContent = _('Uploaded: the booklets can be printed on it.');
        showSubject(result.body);
        subjectChoice.checked = true;
        syncMode();
      });
    });

    function show(job) {
      progress.hidden = job.ready || job.failed;
      progress.max = Math.max(1, job.total);
      progress.value = job.done;
      if (job.failed) {
        say(_('The booklets could not be made; the details are in the server\'s logs. Try again.'), true);
      } else if (job.ready) {
        say(fmt(_('{count} booklets are ready to print.'), {count: job.total}));
        link.setAttribute('href', runtime.handlerUrl(element, 'booklet_download', job.id));
        link.hidden = false;
      } else {
        say(fmt(_('Making the booklets: {done} of {total}…'), {done: job.done, total: job.total}));
      }
      button.disabled = !(job.ready || job.failed);
    }

    var timer = null;
    function watch(id) {
      clearTimeout(timer);
      calls.call('booklet_status', {id: id}, 'GET').then(function (result) {
        if (!result.ok) { button.disabled = false; return say(calls.failure(result), true); }
        show(result.body);
        if (!result.body.ready && !result.body.failed) { timer = setTimeout(function () { watch(id); }, POLL_MS); }
      });
    }

    /* The field a refusal is about gets aria-invalid and the focus; the message is said next to the button. */
    function invalid(field, message) {
      field.setAttribute('aria-invalid', 'true');
      say(message, true);
      field.focus();
    }

    form.addEventListener('submit', function (event) {
      event.preventDefault();
      [count.input, pages.input, extra.input].forEach(function (input) { input.removeAttribute('aria-invalid'); });
      var checks = [[count, 1, 5000, !prenamedChoice.checked], [pages, 1, 200, !subjectChoice.checked],
        [extra, 0, 200, true]];
      for (var index = 0; index < checks.length; index++) {
        var item = checks[index];
        var value = Number(item[0].input.value);
        if (item[3] && (item[0].input.value === '' || !Number.isInteger(value) || value < item[1] || value > item[2])) {
          return invalid(item[0].input, fmt(_('Enter a whole number from {min} to {max}.'), {min: item[1], max: item[2]}));
        }
      }
      button.disabled = true;
      link.hidden = true;
      say(_('Making the booklets…'));
      calls.call('booklet_print', {prenamed: prenamedChoice.checked, copies: Number(count.input.value),
        pages: Number(pages.input.value), extra_pages: Number(extra.input.value),
        subject: subjectChoice.checked}).then(function (result) {
        if (!result.ok) { button.disabled = false; return say(calls.failure(result), true); }
        show(result.body);
        if (!result.body.ready && !result.body.failed) { watch(result.body.id); }
      });
    });

    region.appendChild(el('h3', {id: titleId, text: _('Print booklets')}));
    region.appendChild(el('p', {'class': 'viatique-hint', text: _('Every page carries a QR code that files it in ' +
      'its copy when the scans come back. The cover\'s top band, where the name goes, is never shown to graders.')}));
    region.appendChild(form);
    region.appendChild(progress);
    region.appendChild(messages);
    syncMode();
    calls.call('booklet_status', {roster: 1}, 'GET').then(function (result) {
      if (!result.ok) { return; }
      rosterHint.textContent = fmt(_('({count} enrolled)'), {count: result.body.roster});
      showSubject(result.body.subject);
      maxSubjectBytes = result.body.max_subject_bytes || maxSubjectBytes;
      var latest = result.body.jobs && result.body.jobs[0];
      if (latest && !latest.failed) {
        show(latest);
        if (!latest.ready) { watch(latest.id); }
      }
    });
  }

  printScreen();
  route();
  // the dashboard's other sections, each a module of its own loaded with this one
  [window.ViatiqueScans, window.ViatiqueIdentify, window.ViatiqueDispatch, window.ViatiqueGrading,
   window.ViatiqueRubricEditor, window.ViatiqueResults, window.ViatiqueReports, window.ViatiqueLockouts, window.ViatiqueLayoutSettings].forEach(function (section) {
    if (typeof section === 'function') { section(runtime, element, args); }
  });
}
