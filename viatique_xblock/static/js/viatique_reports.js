/* Viatique staff dashboard section: statistics, exports and the audit log.
 * Called by viatique_staff.js with the block's runtime, element and arguments. */
function ViatiqueReports(runtime, element, args) {
  'use strict';
}
