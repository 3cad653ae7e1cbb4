/* Viatique: the full-window grading workspace, a page of its own (the block's ``workspace`` handler).
 *
 * The page has no XBlock runtime: the server wrote, in the startup data, the URL of a handler with the
 * handler's name and suffix as placeholders (compat.handler_url_template), built by the platform's own
 * runtime (the LMS: /courses/.../xblock/<usage>/handler/<name>/<suffix>; the workbench: /handler/<usage>/
 * <name>/<suffix>?student=<id>), so every call goes through the platform's login and the block's
 * permission checks exactly as from the dashboard. This script gives ViatiqueGrading the one runtime
 * method it uses (handlerUrl) and opens what the address names: a copy (?copy=), or else the first copy
 * the grader may grade. An exam graded by question gets ViatiqueQuestionGrading instead (the question named
 * by ?question=, or the list of questions), unless a copy is named (an instructor looking at one copy).
 */
(function () {
  'use strict';
  var common = window.ViatiqueCommon;
  var root = document.querySelector('.viatique-focus');
  if (!root) { return; }
  var args = common.startupArgs(root, {});
  var placeholders = args.placeholders;

  var runtime = {
    handlerUrl: function (element, name, suffix, query) {
      var url = args.handler_url.replace(placeholders[0], encodeURIComponent(name))
        .replace(placeholders[1], suffix || '');
      if (query) { url += (url.indexOf('?') === -1 ? '?' : '&') + query; }
      return url;
    }
  };

  var target = args.target || {};
  if (args.grading_mode === 'by_question' && !target.copy_id) {
    // by question: the question named (?question=), or the list of questions to choose from
    window.ViatiqueQuestionGrading(runtime, root, args);
    return;
  }
  window.ViatiqueGrading(runtime, root, args);

  function open(copyId) {
    root.dispatchEvent(new CustomEvent('viatique:open-copy', {detail: {copyId: copyId}}));
  }

  if (target.copy_id) { open(target.copy_id); return; }
  // no copy named: the first of the grader's own copies still to grade (the list puts them first)
  common.callHandler(runtime.handlerUrl(root, 'list_copies'), {limit: 200}, 'GET').then(function (result) {
    var rows = (result.ok && result.body.copies) || [];
    var todo = rows.filter(function (row) {
      return ['ready', 'in_progress', 'reopened'].indexOf(row.state) !== -1 &&
        (!row.grader || row.grader === args.username || args.role === 'instructor');
    })[0] || rows[0];
    if (todo) { open(todo.id); return; }
    root.querySelector('[data-region="grading"]').appendChild(common.el('p', {'class': 'viatique-message',
      'data-region': 'nothing-to-grade', text: common.makeGettext(args.i18n)('No copy to grade.')}));
  });
})();
