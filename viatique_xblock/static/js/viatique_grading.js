/* Viatique staff dashboard section: the grading workspace: page viewer, annotation tools, points panel, comment bank, leases and autosave.
 * Called by viatique_staff.js with the block's runtime, element and arguments. */
function ViatiqueGrading(runtime, element, args) {
  'use strict';
}
