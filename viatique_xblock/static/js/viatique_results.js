/* Viatique staff dashboard section: release of results and regrade requests.
 * Called by viatique_staff.js with the block's runtime, element and arguments. */
function ViatiqueResults(runtime, element, args) {
  'use strict';
}
