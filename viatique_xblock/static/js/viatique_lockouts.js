/* Viatique staff dashboard section: lockouts, seen and lifted by instructors.
 * Called by viatique_staff.js with the block's runtime, element and arguments. */
function ViatiqueLockouts(runtime, element, args) {
  'use strict';
}
