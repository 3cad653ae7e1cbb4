/* Viatique: what a screen reader hears, said on purpose (the grading workspace's live regions).
 *
 * ViatiqueAnnounce.create(container) puts two regions in ``container`` (which must already be in the page,
 * so the regions exist before they speak): one polite status (role=status) and one assertive (role=alert).
 * say(text) fills the status and empties the alert; warn(text) the other way round, so a message is heard
 * once, at the politeness it deserves, and stays on screen. later(text, ms) warns after a pause, replacing a
 * pending one (errors found while typing are told once the typing stops, not at every key); cancel() drops
 * it. The same text said twice is said again (the region is emptied first).
 * toolChange(tools, kind, gettext, format): what is said when the annotation tool ``kind`` (one of ``tools``,
 * {kind, label}; null: none) is picked: "Tool: Tick." or "Tool put down.". */
(function (global) {
  'use strict';

  function create(container, el) {
    var status = el('p', {'class': 'viatique-message', role: 'status', 'data-region': 'announce-status'});
    var alert = el('p', {'class': 'viatique-message viatique-error', role: 'alert', 'data-region': 'announce-alert'});
    container.appendChild(status);
    container.appendChild(alert);
    var timer = null;

    function put(node, other, text) {
      other.textContent = '';
      if (node.textContent === text && text) {
        node.textContent = '';
        global.setTimeout(function () { node.textContent = text; }, 50);
        return;
      }
      node.textContent = text || '';
    }

    function cancel() { global.clearTimeout(timer); timer = null; }

    return {
      status: status,
      alert: alert,
      say: function (text) { cancel(); put(status, alert, text); },
      warn: function (text) { cancel(); put(alert, status, text); },
      later: function (text, delay) {
        cancel();
        timer = global.setTimeout(function () { timer = null; put(alert, status, text); }, delay);
      },
      cancel: cancel,
      clear: function () { cancel(); status.textContent = ''; alert.textContent = ''; }
    };
  }

  function toolChange(tools, kind, gettext, format) {
    var chosen = tools.filter(function (item) { return item.kind === kind; })[0];
    return chosen ? format(gettext('Tool: {tool}.'), {tool: chosen.label}) : gettext('Tool put down.');
  }

  global.ViatiqueAnnounce = {create: create, toolChange: toolChange};
})(window);
