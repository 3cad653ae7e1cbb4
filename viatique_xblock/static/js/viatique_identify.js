/* Viatique identification desk (instructors): one unidentified copy at a time, the name area of its
 * cover, and a search over the course roster, driven from the keyboard.
 *
 * Type part of the name (accents, case and the order of first and last names do not matter), move
 * in the results with ArrowDown / ArrowUp (an ARIA combobox with its listbox), confirm with Enter:
 * the next unidentified copy comes up and the search box keeps the focus. Matching a learner who
 * already has a copy is refused with who holds them, showing both copies' name areas; "Swap" gives
 * them to this copy and brings the other copy back to the desk. "Undo" takes back the last match.
 * The queue comes from the server (desk_queue): a skipped copy is remembered there for this
 * instructor, after a reload too, until the next scan. "Not on the roster" puts the copy on the
 * hold list shown under the desk, from which "Back to the desk" resolves it.
 *
 * Started by ViatiqueStaffDashboard (viatique_staff.js) with its (runtime, element, args);
 * everything lives under the block's root element. After each change the block root receives a
 * "viatique:copies-changed" event (detail.progress: identified and total), which refreshes the
 * counters and the copy list; the desk reloads its queue when another module sends that event.
 */
function ViatiqueIdentify(runtime, element, args) {
  'use strict';
  var common = window.ViatiqueCommon;
  args = common.startupArgs(element, args);
  var section = common.claimSection(element, 'identify', args.role === 'instructor');
  if (!section) { return; }
  var root = section.root;
  var region = section.region;
  var _ = common.makeGettext(args.i18n);
  var fmt = common.format;
  var el = common.el;
  var idPrefix = section.idPrefix;
  var SEARCH_DELAY_MS = 150;
  var QUEUE_SIZE = 50;
  var COPIES_CHANGED = 'viatique:copies-changed';
  var SOURCE = 'identify';

  var queue = [];          // copies to identify, as desk_queue gives them (skipped ones last; first QUEUE_SIZE)
  var left = 0;            // how many copies are unidentified (and not on hold) in all
  var current = null;      // the copy on the desk
  var preferred = null;    // id of the copy to put on the desk next (after an undo or a swap)
  var results = [];        // roster_search results for resultsQuery
  var resultsQuery = null;
  var active = -1;         // index of the highlighted result
  var searchSeq = 0;
  var timer = null;
  var busy = false;
  var pendingConfirm = false;
  var lastMatch = null;    // {id, code, name}: what Undo takes back
  var conflict = null;     // {learner, holder}: a refused match that Swap would force
  var progress = null;

  function url(name, suffix) { return runtime.handlerUrl(element, name, suffix); }

  function call(name, data, method) {
    return common.callHandler(url(name), data, method).catch(function () { return {status: 0, ok: false, body: {}}; });
  }

  function failure(result) {
    if (result.body && result.body.message) { return result.body.message; }
    return result.status ? fmt(_('The server answered with an error ({status}).'), {status: result.status})
      : _('The connection to the server was lost.');
  }

  /* A part of the desk that comes and goes: out of use, it is taken out of the page (not only
   * hidden), so no control without a name is left behind. Its place is kept by a comment. */
  function slot(node) {
    var anchor = document.createComment('');
    return {
      anchor: anchor,
      show: function (visible) {
        if (visible && !node.parentNode) { anchor.parentNode.insertBefore(node, anchor); }
        if (!visible && node.parentNode) { node.parentNode.removeChild(node); }
      }
    };
  }

  function announce(text, isError) {
    messages.appendChild(el('p', {'class': isError ? 'viatique-message viatique-error' : 'viatique-message', text: text}));
    while (messages.childNodes.length > 4) { messages.removeChild(messages.firstChild); }
  }

  /* ------------------------------------------------------------------ the desk */

  var titleId = idPrefix + '-title';
  var listboxId = idPrefix + '-results';
  var hintId = idPrefix + '-hint';
  var copyLabelId = idPrefix + '-copy';
  var conflictTextId = idPrefix + '-conflict-text';

  var counter = el('p', {'class': 'viatique-desk-progress', role: 'status', 'aria-live': 'polite',
    'data-region': 'identify-progress'});
  var copyLabel = el('p', {'class': 'viatique-desk-copy', id: copyLabelId, 'data-region': 'desk-copy'});
  var nameArea = el('img', {'class': 'viatique-name-area', 'data-region': 'name-area', alt: ''});
  var input = el('input', {
    type: 'text', id: idPrefix + '-search', role: 'combobox', autocomplete: 'off', spellcheck: 'false',
    'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': listboxId,
    'aria-describedby': copyLabelId + ' ' + hintId, 'data-field': 'learner-search'
  });
  var listbox = el('ul', {'class': 'viatique-listbox', id: listboxId, role: 'listbox',
    'aria-label': _('Learners found'), 'data-region': 'learner-results', hidden: true});
  var resultsStatus = el('p', {'class': 'viatique-hint', role: 'status', 'aria-live': 'polite',
    'data-region': 'results-status'});
  var conflictText = el('p', {id: conflictTextId, role: 'alert', 'data-region': 'conflict-text'});
  // the name areas of both copies, side by side: the instructor compares them before swapping
  var conflictCrops = el('div', {'class': 'viatique-conflict-crops', 'data-region': 'conflict-crops'});
  var swapButton = el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'swap',
    'aria-describedby': conflictTextId, text: _('Swap'), onclick: function () { swap(); }});
  var conflictBox = el('div', {'class': 'viatique-conflict', 'data-region': 'identify-conflict'}, [
    conflictText, conflictCrops,
    el('div', {'class': 'viatique-buttons'}, [
      swapButton, ' ',
      el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'cancel-swap', text: _('Cancel'),
        onclick: function () { hideConflict(); input.focus(); }})
    ])
  ]);
  var skipButton = el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'skip-copy',
    text: _('Skip this copy'), onclick: skip});
  var holdOpenButton = el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'not-on-roster',
    'aria-expanded': 'false', text: _('Not on the roster'), onclick: function () { showHoldForm(true); }});
  var holdNote = el('input', {type: 'text', id: idPrefix + '-hold-note', maxlength: '255', 'data-field': 'hold-note'});
  var holdError = el('p', {'class': 'viatique-error', id: idPrefix + '-hold-error', 'data-region': 'hold-error'});
  var holdForm = el('form', {'class': 'viatique-hold-form', 'data-region': 'hold-form', onsubmit: function (event) {
    event.preventDefault();
    hold();
  }}, [
    el('label', {'for': holdNote.id, text: _('Name on the cover, or why (optional)')}), ' ', holdNote, ' ',
    el('button', {type: 'submit', 'class': 'viatique-button', 'data-action': 'hold', text: _('Put on hold')}), ' ',
    el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'cancel-hold', text: _('Cancel'),
      onclick: function () { showHoldForm(false); holdOpenButton.focus(); }}),
    holdError
  ]);
  var holdSlot = slot(holdForm);
  var heldTitleId = idPrefix + '-held-title';
  var heldList = el('ul', {'class': 'viatique-held', 'data-region': 'held-copies'});
  var heldEmpty = el('p', {'class': 'viatique-hint', text: _('No copy is on hold.')});
  var heldBox = el('div', {'class': 'viatique-held-box', role: 'group', 'aria-labelledby': heldTitleId,
    'data-region': 'hold-list'}, [
    el('h4', {id: heldTitleId, tabindex: '-1', text: _('On hold: names not on the roster')}),
    el('p', {'class': 'viatique-hint',
      text: _('Once the learner is enrolled, put the copy back on the desk to identify it.')}),
    heldEmpty, heldList
  ]);
  var lastText = el('span', {'data-region': 'last-match-text'});
  var undoButton = el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'undo', text: _('Undo'),
    onclick: undo});
  var lastBox = el('p', {'class': 'viatique-last-match', 'data-region': 'last-match'}, [lastText, ' ', undoButton]);
  var conflictSlot = slot(conflictBox);
  var lastSlot = slot(lastBox);
  var desk = el('div', {'class': 'viatique-desk', 'data-region': 'desk'}, [
    el('div', {'class': 'viatique-desk-cover'}, [copyLabel, nameArea]),
    el('div', {'class': 'viatique-desk-search'}, [
      el('label', {'for': input.id, text: _("Learner's name")}),
      input,
      el('p', {'class': 'viatique-hint', id: hintId,
        text: _('Type part of the name, in any order; choose with the Up and Down arrow keys; confirm with Enter.')}),
      listbox, resultsStatus, conflictSlot.anchor,
      el('div', {'class': 'viatique-buttons'}, [skipButton, ' ', holdOpenButton]),
      holdSlot.anchor
    ])
  ]);
  var deskSlot = slot(desk);
  var done = el('p', {'class': 'viatique-hint', tabindex: '-1', 'data-region': 'desk-done', hidden: true});
  var messages = el('div', {'class': 'viatique-messages', role: 'status', 'aria-live': 'polite',
    'data-region': 'identify-messages'});

  region.setAttribute('aria-labelledby', titleId);
  [el('h3', {id: titleId, text: _('Identification desk')}), counter, deskSlot.anchor, done, lastSlot.anchor, messages,
    heldBox]
    .forEach(function (node) { region.appendChild(node); });

  function showProgress(value) {
    if (!value || typeof value.identified !== 'number') { return; }
    progress = value;
    counter.textContent = fmt(_('Identified: {identified} of {total} copies'), value);
  }

  function copiesChanged() {
    root.dispatchEvent(new CustomEvent(COPIES_CHANGED, {detail: {progress: progress, source: SOURCE}}));
  }

  /* ------------------------------------------------------------------ the queue */

  /* The first copies to identify; keepSearch: what is typed is for the copy that comes next. */
  function loadQueue(keepSearch) {
    return call('desk_queue', null, 'GET').then(function (result) {
      if (!result.ok) {
        announce(fmt(_('The copies to identify could not be loaded: {message}'), {message: failure(result)}), true);
        return;
      }
      takeQueue(result.body);
      chooseCurrent(keepSearch);
    });
  }

  function takeQueue(body) {
    queue = body.copies.slice(0, QUEUE_SIZE);
    left = body.count;
    renderHeld(body.held || []);
  }

  function inQueue(id) { return queue.filter(function (copy) { return copy.id === id; })[0] || null; }

  /* The server's order: copies this instructor skipped come last (the first of them when all were). */
  function chooseCurrent(keepSearch) {
    var next = (preferred !== null && inQueue(preferred)) || (current && inQueue(current.id)) || queue[0] || null;
    preferred = null;
    var changed = !current || !next || current.id !== next.id;
    current = next;
    if (changed) { showCurrent(keepSearch); } else { copyLabel.textContent = currentLabel(); }
  }

  function currentLabel() {
    return fmt(_('Copy {code} ({left} left to identify)'), {code: current.code, left: left});
  }

  function showCurrent(keepSearch) {
    var hadFocus = region.contains(document.activeElement);
    if (!keepSearch || !current) { clearSearch(); }
    hideConflict();
    showHoldForm(false);
    if (!current) {
      deskSlot.show(false);
      done.hidden = false;
      done.textContent = progress && progress.total === 0 ?
        _('No copy yet: copies to identify appear here once scans are processed.') :
        _('Every copy is identified.');
      if (hadFocus && document.activeElement !== undoButton) { done.focus(); }
      return;
    }
    done.hidden = true;
    deskSlot.show(true);
    copyLabel.textContent = currentLabel();
    nameArea.alt = fmt(_('Name area of the cover of copy {code}'), {code: current.code});
    nameArea.src = url('name_area', String(current.id));
    nameArea.setAttribute('data-copy-code', current.code);
    desk.setAttribute('data-copy-code', current.code);
  }

  function skip() {
    if (!current || busy) { return; }
    busy = true;
    var copy = current;
    call('desk_skip', {copy_id: copy.id}).then(function (result) {
      busy = false;
      if (!result.ok) {
        announce(failure(result), true);
        return;
      }
      takeQueue(result.body);
      current = null;  // the skipped copy is last in the queue now
      chooseCurrent();
      announce(fmt(_('Copy {code} put aside for later.'), {code: copy.code}));
      if (current) { input.focus(); }
    });
  }

  /* ----------------------------------------------------------- the hold list */

  function showHoldForm(visible) {
    holdSlot.show(visible);
    holdOpenButton.setAttribute('aria-expanded', String(visible));
    holdError.textContent = '';
    holdNote.removeAttribute('aria-invalid');
    holdNote.removeAttribute('aria-describedby');
    if (visible) {
      holdNote.value = '';
      holdNote.focus();
    }
  }

  function hold() {
    if (!current || busy) { return; }
    busy = true;
    var copy = current;
    call('hold_copy', {copy_id: copy.id, note: holdNote.value}).then(function (result) {
      busy = false;
      if (!result.ok) {  // the error stays next to the form that caused it
        holdError.textContent = failure(result);
        holdNote.setAttribute('aria-invalid', 'true');
        holdNote.setAttribute('aria-describedby', holdError.id);
        holdNote.focus();
        return;
      }
      showHoldForm(false);
      takeQueue(result.body);
      current = null;
      chooseCurrent();
      announce(fmt(_('Copy {code} is on hold: its name is not on the roster.'), {code: copy.code}));
      showProgress(result.body.progress);
      copiesChanged();
      if (current) { input.focus(); }
    });
  }

  function renderHeld(held) {
    heldList.textContent = '';
    held.forEach(function (copy) {
      var error = el('p', {'class': 'viatique-error', id: idPrefix + '-held-error-' + copy.id});
      var back = el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'release-hold',
        text: _('Back to the desk'), 'aria-label': fmt(_('Back to the desk: copy {code}'), {code: copy.code})});
      back.addEventListener('click', function () { releaseHold(copy, back, error); });
      heldList.appendChild(el('li', {'class': 'viatique-held-copy', 'data-copy-id': copy.id}, [
        el('img', {'class': 'viatique-name-area', src: url('name_area', String(copy.id)), loading: 'lazy',
          alt: fmt(_('Name area of the cover of copy {code}'), {code: copy.code})}),
        el('p', {text: copy.note ? fmt(_('Copy {code}: {note}'), copy) : fmt(_('Copy {code}'), copy)}),
        back, error
      ]));
    });
    heldEmpty.hidden = held.length > 0;
  }

  function releaseHold(copy, button, error) {
    call('release_hold', {copy_id: copy.id}).then(function (result) {
      if (!result.ok) {
        error.textContent = failure(result);
        button.setAttribute('aria-describedby', error.id);
        button.focus();
        return;
      }
      takeQueue(result.body);
      preferred = copy.id;
      chooseCurrent();
      announce(fmt(_('Copy {code} is back on the desk.'), {code: copy.code}));
      showProgress(result.body.progress);
      copiesChanged();
      if (current) { input.focus(); }
    });
  }

  /* ----------------------------------------------------------------- the search */

  function clearSearch() {
    window.clearTimeout(timer);
    searchSeq += 1;
    input.value = '';
    results = [];
    resultsQuery = null;
    active = -1;
    resultsStatus.textContent = '';
    renderResults();
  }

  function search(query) {
    window.clearTimeout(timer);
    var seq = ++searchSeq;
    return call('roster_search', {q: query}, 'GET').then(function (result) {
      if (seq !== searchSeq) { return; }  // a newer search was started
      if (!result.ok) {
        resultsStatus.textContent = failure(result);
        return;
      }
      results = result.body.results;
      resultsQuery = query;
      active = results.length ? 0 : -1;
      showProgress(result.body.progress);
      renderResults();
      resultsStatus.textContent = results.length ?
        fmt(_('Learners found: {count}; the first one is highlighted.'), {count: results.length}) :
        fmt(_('No learner matches "{query}".'), {query: query});
    });
  }

  function optionId(index) { return idPrefix + '-option-' + index; }

  function renderResults() {
    listbox.textContent = '';
    results.forEach(function (learner, index) {
      var parts = [el('span', {'class': 'viatique-option-name', text: learner.name}), ' ',
        el('span', {'class': 'viatique-hint', text: learner.username})];
      if (learner.copy) {
        parts.push(' ', el('span', {'class': 'viatique-taken', 'data-taken': learner.copy,
          text: fmt(_('already matched to copy {code}'), {code: learner.copy})}));
      }
      listbox.appendChild(el('li', {
        id: optionId(index), role: 'option', 'class': 'viatique-option', 'aria-selected': String(index === active),
        'data-username': learner.username,
        onmousedown: function (event) { event.preventDefault(); },  // the search box keeps the focus
        onclick: function () { highlight(index); identify(learner, false); }
      }, parts));
    });
    listbox.hidden = !results.length;
    input.setAttribute('aria-expanded', String(results.length > 0));
    highlight(active);
  }

  function highlight(index) {
    active = index;
    Array.prototype.forEach.call(listbox.children, function (option, position) {
      option.setAttribute('aria-selected', String(position === index));
    });
    var option = index >= 0 ? listbox.children[index] : null;
    if (option) {
      input.setAttribute('aria-activedescendant', option.id);
      if (option.scrollIntoView) { option.scrollIntoView({block: 'nearest'}); }
    } else {
      input.removeAttribute('aria-activedescendant');
    }
  }

  function onInput() {
    hideConflict();
    var query = input.value.trim();
    window.clearTimeout(timer);
    if (!query) {
      searchSeq += 1;
      results = [];
      resultsQuery = null;
      resultsStatus.textContent = '';
      renderResults();
      return;
    }
    timer = window.setTimeout(function () { search(query); }, SEARCH_DELAY_MS);
  }

  function onKeyDown(event) {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      if (!results.length) { return; }
      var step = event.key === 'ArrowDown' ? 1 : -1;
      highlight((active + step + results.length) % results.length);
    } else if (event.key === 'Enter') {
      event.preventDefault();
      confirm();
    } else if (event.key === 'Escape') {
      if (conflict) { hideConflict(); } else if (input.value) { clearSearch(); }
    }
  }

  /* Enter: the highlighted learner of the results for what is typed (searching first if needed). */
  function confirm() {
    if (busy) {
      pendingConfirm = true;
      return;
    }
    if (!current) { return; }
    var query = input.value.trim();
    if (!query) {
      resultsStatus.textContent = _("Type part of the learner's name first.");
      return;
    }
    if (resultsQuery === query && results.length) {
      identify(results[Math.max(active, 0)], false);
      return;
    }
    search(query).then(function () {
      if (input.value.trim() === query && resultsQuery === query && results.length) {
        identify(results[Math.max(active, 0)], false);
      }
    });
  }

  /* --------------------------------------------------------- match, swap, undo */

  /* While a match is sent and the next copy loaded, the desk is busy; an Enter pressed meanwhile
   * (a fast typist already on the next name) is kept and confirmed once the next copy is there. */
  function identify(learner, forceSwap) {
    if (busy || !current) { return; }
    busy = true;
    var copy = current;
    var holder = forceSwap && conflict ? conflict.holder : null;
    call('identify', {copy_id: copy.id, username: learner.username, swap: forceSwap}).then(function (result) {
      if (result.ok) { return matched(copy, learner, result.body, holder); }
      busy = false;
      pendingConfirm = false;
      if (result.body.error === 'learner_taken') {
        showConflict(learner, result.body.holder, failure(result));
      } else {
        announce(failure(result), true);
        input.focus();
      }
    });
  }

  function matched(copy, learner, body, holder) {
    clearSearch();
    hideConflict();
    lastMatch = {id: copy.id, code: copy.code, name: learner.name};
    lastText.textContent = fmt(_('Last match: copy {code} is {name}.'), lastMatch);
    undoButton.setAttribute('aria-label', fmt(_('Undo the match of copy {code} with {name}'), lastMatch));
    lastSlot.show(true);
    preferred = holder ? holder.id : null;
    input.focus();
    return loadQueue(true).then(function () {
      if (holder) {
        announce(fmt(_('Swapped: copy {code} is {name}; copy {holder} is unidentified again and comes next.'),
          {code: copy.code, name: learner.name, holder: holder.code}));
      } else {
        announce(fmt(_('Copy {code} is {name}.'), lastMatch));
      }
      settled(body.progress);
    });
  }

  /* A change is done and the desk shows the next copy: counters, the copy list, then a kept Enter. */
  function settled(value) {
    busy = false;
    showProgress(value);
    copiesChanged();
    if (current) { input.focus(); }
    if (pendingConfirm) {
      pendingConfirm = false;
      confirm();
    }
  }

  function crop(copy, caption) {
    return el('figure', {'class': 'viatique-conflict-crop'}, [
      el('img', {'class': 'viatique-name-area', src: url('name_area', String(copy.id)),
        alt: fmt(_('Name area of the cover of copy {code}'), {code: copy.code})}),
      el('figcaption', {text: caption})
    ]);
  }

  function showConflict(learner, holder, message) {
    conflict = {learner: learner, holder: holder};
    conflictText.textContent = message;
    conflictCrops.textContent = '';
    conflictCrops.appendChild(crop(current, fmt(_('This copy: {code}'), {code: current.code})));
    if (holder) {
      conflictCrops.appendChild(crop(holder, fmt(_('Copy {code}, matched to {name} now'),
        {code: holder.code, name: learner.name})));
    }
    swapButton.textContent = _('Swap');
    swapButton.setAttribute('aria-label', fmt(_('Swap: give {name} to copy {code}'),
      {name: learner.name, code: current.code}));
    conflictSlot.show(true);
    swapButton.focus();
  }

  function hideConflict() {
    conflict = null;
    conflictSlot.show(false);
    conflictText.textContent = '';
    conflictCrops.textContent = '';
  }

  function swap() {
    if (conflict) { identify(conflict.learner, true); }
  }

  function undo() {
    if (!lastMatch || busy) { return; }
    busy = true;
    var match = lastMatch;
    call('unidentify', {copy_id: match.id}).then(function (result) {
      if (!result.ok) {
        busy = false;
        announce(failure(result), true);
        return;
      }
      lastMatch = null;
      lastSlot.show(false);
      preferred = match.id;
      return loadQueue().then(function () {
        announce(fmt(_('Undone: copy {code} is unidentified again.'), match));
        settled(result.body.progress);
      });
    });
  }

  /* ----------------------------------------------------------------------- start */

  input.addEventListener('input', onInput);
  input.addEventListener('keydown', onKeyDown);
  swapButton.addEventListener('keydown', function (event) {
    if (event.key === 'Escape') { hideConflict(); input.focus(); }
  });
  root.addEventListener(COPIES_CHANGED, function (event) {
    var detail = event.detail || {};
    if (detail.source === SOURCE) { return; }
    showProgress(detail.progress);
    loadQueue();
  });
  call('roster_search', {q: ''}, 'GET').then(function (result) {
    if (result.ok) { showProgress(result.body.progress); }
    return loadQueue();
  });
}
