/* Viatique: the grading workspace's keyboard shortcuts, where they act and how they are listed.
 *
 * Single-key shortcuts (a letter, a digit, "?", "+"...) act only when the focus is on the page being
 * graded (the element marked data-single-keys) or on nothing that takes keys (the page's background, a
 * heading): never while a button, a link or a field has the focus, so pressing "x" on "Next copy" does
 * not choose the cross. They can also be turned off (WCAG 2.1.4), a choice kept in this browser.
 * Shortcuts with Ctrl or Alt act wherever the focus is. */
(function (global) {
  'use strict';

  var STORE_KEY = 'viatique-single-keys';
  var CONTROLS = 'a[href], button, input, select, textarea, summary, [role="button"], [role="link"], ' +
    '[role="option"], [role="combobox"], [role="listbox"], [role="checkbox"], [contenteditable="true"]';

  function isTextField(node) {
    return !!node && (node.tagName === 'TEXTAREA' || node.tagName === 'SELECT' || node.isContentEditable ||
      (node.tagName === 'INPUT' && ['button', 'checkbox', 'radio', 'submit', 'reset'].indexOf(node.type) === -1));
  }

  function singleKeysOn() {
    try { return global.localStorage.getItem(STORE_KEY) !== 'off'; } catch (error) { return true; }
  }

  function setSingleKeys(on) {
    try {
      if (on) { global.localStorage.removeItem(STORE_KEY); } else { global.localStorage.setItem(STORE_KEY, 'off'); }
    } catch (error) { /* not kept: the choice holds for this page only */ }
  }

  /* Whether a key without Ctrl, Alt or Meta may act as a shortcut for ``event``. */
  function singleKeyAllowed(event) {
    if (event.ctrlKey || event.altKey || event.metaKey || !singleKeysOn()) { return false; }
    var target = event.target;
    if (!target || !target.closest) { return true; }
    if (target.closest('[data-single-keys]')) { return true; }
    return !target.closest(CONTROLS);
  }

  /* The list of shortcuts as a <dl> (rows: [keys, what they do]). */
  function list(el, rows) {
    return el('dl', {}, rows.reduce(function (nodes, pair) {
      return nodes.concat([el('dt', {}, [el('kbd', {text: pair[0]})]), el('dd', {text: pair[1]})]);
    }, []));
  }

  global.ViatiqueKeys = {
    isTextField: isTextField,
    singleKeyAllowed: singleKeyAllowed,
    singleKeysOn: singleKeysOn,
    setSingleKeys: setSingleKeys,
    list: list
  };
})(window);
