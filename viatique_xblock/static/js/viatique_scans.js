/* Viatique scans: upload scan PDFs in resumable chunks, follow their processing, place the pages
 * the pipeline could not place (the anomaly queue), attach extra sheets and second booklets, move and
 * discard (with an undo) the pages of a copy, and act on copies with missing pages.
 *
 * Called by ViatiqueStaffDashboard with the same (runtime, element, args). Everything lives under
 * the block's root element; the only global is this constructor. An interrupted upload is
 * remembered in localStorage (keyed by the block and the file's name, size and date), so choosing
 * the same file again sends only the chunks the server does not have yet. The file is read once, in
 * order, and its whole SHA-256 (ViatiqueScans.Sha256, computed chunk after chunk) goes with "finish",
 * so that the server refuses an assembled file that is not the one chosen. When a batch finishes,
 * the block root receives a "viatique:copies-changed" event (detail.progress: the copy counters),
 * which the copy list listens to.
 */
function ViatiqueScans(runtime, element, args) {
  'use strict';
  var common = window.ViatiqueCommon;
  args = common.startupArgs(element, args);
  var root = common.rootElement(element);
  var _ = common.makeGettext(args.i18n);
  var fmt = common.format;
  var el = common.el;
  var scansRegion = root.querySelector('[data-region="scans"]');
  if (!scansRegion) { return; }
  var anomaliesRegion = root.querySelector('[data-region="anomalies"]');
  var canUpload = args.role === 'instructor';
  var idPrefix = scansRegion.getAttribute('data-id-prefix') || 'viatique-scans';
  var POLL_MS = 2000;
  var RETRY_DELAYS_MS = [1000, 2000, 4000];
  var STORAGE_PREFIX = 'viatique-upload|' + runtime.handlerUrl(element, 'upload_status') + '|';
  var BUSY_BATCH = {queued: true, processing: true, assembling: true};
  var COPIES_CHANGED = 'viatique:copies-changed';

  var BATCH_STATES = {
    queued: _('Waiting to be processed'), processing: _('Processing the pages'),
    assembling: _('Putting the pages into copies'), done: _('Processed'), failed: _('Processing failed')
  };
  var ANOMALIES = {
    no_code: _('No readable QR code on this page.'),
    duplicate: _('This page was scanned twice: its copy already has it.'),
    other_exam: _('This page belongs to another exam.'),
    loose: _('A loose page, uploaded to be attached by hand.')
  };

  function url(name, suffix) { return runtime.handlerUrl(element, name, suffix); }

  function wait(ms) { return new Promise(function (resolve) { window.setTimeout(resolve, ms); }); }

  function number(value) {
    return Number(value).toLocaleString(document.documentElement.lang || undefined, {maximumFractionDigits: 1});
  }

  function fileSize(bytes) {
    if (bytes < 1048576) { return fmt(_('{size} KB'), {size: number(Math.ceil(bytes / 1024))}); }
    return fmt(_('{size} MB'), {size: number(bytes / 1048576)});
  }

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : '';
  }

  /* The message of a failed call: the server's translated text, else one for the status. */
  function failure(result) {
    var body = result.body || {};
    if (body.message) { return body.message; }
    if (body.error === 'locked_out') {
      return fmt(_('Too many refused requests: try again in {minutes} minutes.'),
        {minutes: Math.ceil((body.retry_after || 60) / 60)});
    }
    if (!result.status) { return _('The connection to the server was lost.'); }
    if (result.status === 403) { return _('You are not allowed to do this.'); }
    return fmt(_('The server answered with an error ({status}).'), {status: result.status});
  }

  function call(name, data, method, suffix) {
    return common.callHandler(url(name, suffix), data, method).catch(function () {
      return {status: 0, ok: false, body: {}};
    });
  }

  function copiesChanged(progress) {
    root.dispatchEvent(new CustomEvent(COPIES_CHANGED, {detail: {progress: progress || null}}));
  }

  /* A live region that keeps the last few messages (a replaced text may never be read out). */
  function liveRegion(name) {
    return el('div', {'class': 'viatique-messages', role: 'status', 'aria-live': 'polite', 'data-region': name});
  }

  function announce(region, text, isError) {
    region.appendChild(el('p', {'class': isError ? 'viatique-message viatique-error' : 'viatique-message', text: text}));
    while (region.childNodes.length > 4) { region.removeChild(region.firstChild); }
  }

  /* --------------------------------------------------------------- the scans section */

  var scanMessages = liveRegion('scan-messages');
  var uploadList = el('ul', {'class': 'viatique-uploads', 'data-region': 'uploads'});
  var batchList = el('ul', {'class': 'viatique-batches', 'data-region': 'batches'});
  var batchesEmpty = el('p', {'class': 'viatique-hint', 'data-region': 'batches-empty', text: _('No scan yet.')});
  var fileInput = null;
  var uploadButton = null;

  function buildScans() {
    var titleId = idPrefix + '-scans';
    scansRegion.setAttribute('aria-labelledby', titleId);
    scansRegion.appendChild(el('h3', {id: titleId, text: _('Scans')}));
    if (canUpload) { scansRegion.appendChild(buildUploadForm()); }
    scansRegion.appendChild(scanMessages);
    scansRegion.appendChild(el('h4', {text: _('Uploads')}));
    scansRegion.appendChild(uploadList);
    scansRegion.appendChild(el('h4', {text: _('Processing')}));
    scansRegion.appendChild(batchesEmpty);
    scansRegion.appendChild(batchList);
  }

  function buildUploadForm() {
    fileInput = el('input', {type: 'file', multiple: true, accept: 'application/pdf,.pdf', 'data-field': 'scan-files'});
    var modeName = idPrefix + '-split-mode';
    function mode(value, text, checked) {
      return el('label', {'class': 'viatique-choice'}, [
        el('input', {type: 'radio', name: modeName, value: value, checked: checked, 'data-field': 'split-mode'}),
        ' ' + text
      ]);
    }
    uploadButton = el('button', {type: 'submit', 'class': 'viatique-button', 'data-action': 'upload', text: _('Upload')});
    var form = el('form', {'class': 'viatique-upload-form', 'data-region': 'upload-form', onsubmit: function (event) {
      event.preventDefault();
      queueChosenFiles();
    }}, [
      el('label', {'class': 'viatique-field'}, [_('Scan files (PDF)') + ' ', fileInput]),
      el('fieldset', {'class': 'viatique-fieldset'}, [
        el('legend', {text: _('What is in each file')}),
        mode('auto', fmt(_('Many copies: split them by their QR codes, or else every {count} pages'),
          {count: args.pages_per_copy || 4}), true),
        mode('per_file', _("One learner's copy"), false),
        mode('loose', _('Loose pages to attach by hand (an extra sheet, a missing page)'), false)
      ]),
      uploadButton
    ]);
    return form;
  }

  /* ------------------------------------------------------------------ uploading */

  var queue = [];
  var running = false;
  var sending = {};  // upload id -> true while this page sends its chunks
  var stoppedHere = {};  // upload id -> true once this page gave up on it (its row says why)

  function storageKey(file) { return STORAGE_PREFIX + [file.name, file.size, file.lastModified].join('|'); }

  function remembered(file) {
    try { return window.localStorage.getItem(storageKey(file)); } catch (e) { return null; }
  }

  function remember(file, uploadId) {
    try {
      if (uploadId) { window.localStorage.setItem(storageKey(file), uploadId); }
      else { window.localStorage.removeItem(storageKey(file)); }
    } catch (e) { /* storage disabled: uploads still work, they just cannot resume */ }
  }

  function queueChosenFiles() {
    var files = Array.prototype.slice.call(fileInput.files || []);
    if (!files.length) {
      announce(scanMessages, _('Choose one or more PDF files first.'), true);
      fileInput.focus();
      return;
    }
    var checked = root.querySelector('[data-field="split-mode"]:checked');
    var splitMode = checked ? checked.value : 'auto';
    files.forEach(function (file) { queue.push({file: file, splitMode: splitMode, row: uploadRow(file.name, null)}); });
    fileInput.value = '';
    if (!running) { runQueue(); }
  }

  function runQueue() {
    var job = queue.shift();
    if (!job) {
      running = false;
      startPolling();
      return;
    }
    running = true;
    upload(job).catch(function (error) {
      // a bug of ours, not the server's: say so, keep the queue going, and let the error show
      showOutcome(job.row, 'stopped', String(error && error.message || error));
      window.setTimeout(function () { throw error; });
    }).then(runQueue);
  }

  /* One row per upload: name, a progress bar of the bytes sent, and the outcome. */
  function uploadRow(name, uploadId) {
    var bar = el('progress', {max: 1, value: 0, 'aria-label': fmt(_('Upload of {name}'), {name: name})});
    var row = el('li', {'class': 'viatique-upload', 'data-upload-id': uploadId}, [
      el('span', {'class': 'viatique-file-name', text: name}), ' ',
      bar, ' ',
      el('span', {'data-field': 'sent'}), ' ',
      el('span', {'class': 'viatique-outcome', 'data-field': 'outcome'})
    ]);
    row.bar = bar;
    uploadList.insertBefore(row, uploadList.firstChild);
    return row;
  }

  function bindRow(row, uploadId) {
    Array.prototype.forEach.call(uploadList.querySelectorAll('[data-upload-id]'), function (other) {
      if (other !== row && other.getAttribute('data-upload-id') === uploadId) { other.parentNode.removeChild(other); }
    });
    row.setAttribute('data-upload-id', uploadId);
  }

  function showSent(row, sent, size) {
    row.bar.max = size || 1;
    row.bar.value = Math.min(sent, size);
    row.querySelector('[data-field="sent"]').textContent =
      fmt(_('{sent} of {size} sent'), {sent: fileSize(sent), size: fileSize(size)});
  }

  var OUTCOMES = {
    open: function () { return _('Not finished: choose the file again to resume.'); },
    assembling: function () { return _('Checking the file…'); },
    accepted: function () { return _('Accepted'); },
    duplicate: function () { return _('Already uploaded: nothing was added.'); },
    refused: function (message) { return fmt(_('Refused: {message}'), {message: message || ''}); },
    sending: function () { return _('Sending…'); },
    stopped: function (message) { return fmt(_('Stopped: {message}'), {message: message}); }
  };

  function showOutcome(row, state, message) {
    var outcome = row.querySelector('[data-field="outcome"]');
    outcome.textContent = (OUTCOMES[state] || OUTCOMES.open)(message);
    outcome.setAttribute('data-state', state);
    row.classList.toggle('viatique-failed', state === 'refused' || state === 'stopped');
  }

  /* Upload one file: resume a remembered upload, else start one; send the missing chunks; finish. */
  function upload(job) {
    var file = job.file;
    var row = job.row;
    announce(scanMessages, fmt(_('Uploading {name}…'), {name: file.name}));
    showOutcome(row, 'sending');
    showSent(row, 0, file.size);
    return resumeOrStart(job).then(function (result) {
      if (!result.ok) {
        showOutcome(row, 'refused', failure(result));
        announce(scanMessages, fmt(_('{name} was refused: {message}'), {name: file.name, message: failure(result)}), true);
        return null;
      }
      var status = result.body;
      bindRow(row, status.upload_id);
      if (status.state !== 'open' && status.state !== 'assembling') {  // this very file went up before
        remember(file, null);
        return finished(file, row, status);
      }
      remember(file, status.upload_id);
      sending[status.upload_id] = true;
      delete stoppedHere[status.upload_id];
      // an upload left assembling (the server could not queue its check) is finished again: the server
      // has the file and its SHA-256 already
      var sent = status.state === 'assembling' ? Promise.resolve({ok: true}) : sendMissing(file, row, status);
      return sent.then(function (outcome) {
        if (!outcome.ok) { return stopped(file, row, outcome); }
        var body = {upload_id: status.upload_id};
        if (outcome.sha256) { body.sha256 = outcome.sha256; }
        return retrying(function () { return call('upload_finish', body); })
          .then(function (done) {
            if (!done.ok) { return stopped(file, row, done); }
            remember(file, null);
            return finished(file, row, done.body);
          });
      }).then(function (value) {
        delete sending[status.upload_id];
        return value;
      });
    });
  }

  function resumeOrStart(job) {
    var file = job.file;
    var start = function () {
      return call('upload_start', {file_name: file.name, size: file.size, split_mode: job.splitMode});
    };
    var known = remembered(file);
    if (!known) { return start(); }
    return call('upload_status', null, 'GET', known).then(function (result) {
      var status = result.body;
      if (result.ok && status.size === file.size && status.state !== 'refused') {
        if (status.state === 'open' && status.received.length) {
          announce(scanMessages, fmt(_('Resuming the upload of {name}: {count} of {total} parts are already there.'),
            {name: file.name, count: status.received.length, total: status.chunks}));
        }
        return result;
      }
      remember(file, null);
      return start();
    });
  }

  /* Read the file chunk after chunk, in order, hashing every byte (the whole file's SHA-256, which the
   * server checks the assembled file against) and sending each chunk the server lacks; resolves
   * {ok, sha256} or the failed call. Only one chunk is in memory at a time, whatever the file's size. */
  function sendMissing(file, row, status) {
    var have = {};
    status.received.forEach(function (index) { have[index] = true; });
    var size = status.chunk_bytes;
    var done = 0;
    status.received.forEach(function (index) { done += Math.min(size, file.size - index * size); });
    showSent(row, done, file.size);
    var whole = new ViatiqueScans.Sha256();
    var index = 0;
    function next() {
      if (index >= status.chunks) { return Promise.resolve({ok: true, sha256: whole.hex()}); }
      var current = index;
      index += 1;
      var blob = file.slice(current * size, Math.min(file.size, (current + 1) * size));
      return blob.arrayBuffer().then(function (buffer) {
        whole.update(new Uint8Array(buffer));
        if (have[current]) { return next(); }
        return retrying(function () {
          return sendChunk(status.upload_id, current, buffer, function (loaded) { showSent(row, done + loaded, file.size); });
        }).then(function (result) {
          if (!result.ok) { return result; }
          done += blob.size;
          have[current] = true;
          showSent(row, done, file.size);
          return next();
        });
      });
    }
    return next();
  }

  /* Transient failures (no connection, server errors, a chunk damaged on the way) are tried again. */
  function retrying(attempt) {
    var tries = 0;
    function once() {
      return attempt().then(function (result) {
        var transient = !result.ok && (result.status === 0 || result.status >= 500 || result.status === 408 ||
          (result.body && result.body.error === 'chunk_corrupted'));
        if (!transient || tries >= RETRY_DELAYS_MS.length) { return result; }
        tries += 1;
        return wait(RETRY_DELAYS_MS[tries - 1]).then(once);
      });
    }
    return once();
  }

  function sha256(buffer) {
    if (!(window.crypto && window.crypto.subtle)) { return Promise.resolve(''); }  // not a secure context
    return window.crypto.subtle.digest('SHA-256', buffer).then(function (hash) {
      return Array.prototype.map.call(new Uint8Array(hash), function (byte) {
        return ('0' + byte.toString(16)).slice(-2);
      }).join('');
    }, function () { return ''; });
  }

  /* POST one chunk's bytes (XMLHttpRequest, for the bytes-sent progress); resolves {status, ok, body}. */
  function sendChunk(uploadId, index, buffer, onProgress) {
    return sha256(buffer).then(function (hex) {
      return new Promise(function (resolve) {
        var xhr = new XMLHttpRequest();
        xhr.open('POST', url('upload_chunk', uploadId + '/' + index));
        xhr.setRequestHeader('Content-Type', 'application/octet-stream');
        xhr.setRequestHeader('Accept', 'application/json');
        xhr.setRequestHeader('X-Requested-With', 'XMLHttpRequest');
        xhr.setRequestHeader('X-CSRFToken', csrfToken());
        if (hex) { xhr.setRequestHeader('X-Chunk-SHA256', hex); }
        xhr.upload.onprogress = function (event) { onProgress(event.loaded); };
        xhr.onload = function () {
          var body = {};
          try { body = JSON.parse(xhr.responseText) || {}; } catch (e) { body = {}; }
          resolve({status: xhr.status, ok: xhr.status >= 200 && xhr.status < 300, body: body});
        };
        xhr.onerror = xhr.onabort = xhr.ontimeout = function () { resolve({status: 0, ok: false, body: {}}); };
        xhr.send(buffer);
      });
    });
  }

  function stopped(file, row, result) {
    var message = failure(result);
    stoppedHere[row.getAttribute('data-upload-id')] = true;
    showOutcome(row, 'stopped', message);
    announce(scanMessages, fmt(_('The upload of {name} stopped: {message} It will resume where it stopped when you choose the file again and press Upload.'),
      {name: file.name, message: message}), true);
    return null;
  }

  function finished(file, row, status) {
    showSent(row, file.size, file.size);
    showOutcome(row, status.state, status.message);
    if (status.state === 'refused') {
      announce(scanMessages, fmt(_('{name} was refused: {message}'), {name: file.name, message: status.message || ''}), true);
    } else if (status.state === 'duplicate') {
      announce(scanMessages, fmt(_('{name} was uploaded before: nothing was added.'), {name: file.name}));
    } else {
      announce(scanMessages, fmt(_('{name} is uploaded; it is being processed.'), {name: file.name}));
    }
    startPolling();
    return status;
  }

  /* ------------------------------------------------------------ processing progress */

  var batchNames = {};  // batch id -> file name, to name the pages of the anomaly queue
  var pollTimer = null;
  var polling = false;
  var pollAgain = false;  // asked for while a poll was on its way: its answer may predate the change
  var batchStates = null;  // batch id -> state seen at the last poll (null before the first)

  function startPolling() {
    if (pollTimer) { window.clearTimeout(pollTimer); pollTimer = null; }
    if (polling) { pollAgain = true; } else { poll(); }
  }

  function poll() {
    polling = true;
    pollAgain = false;
    return call('scan_progress', null, 'GET').then(function (result) {
      polling = false;
      if (!document.body.contains(root)) { return; }  // the block was rendered again without us
      var next = null;
      if (!result.ok) {
        announce(scanMessages, failure(result), true);
        next = running || pollAgain ? POLL_MS * 2 : null;
      } else {
        var uploads = result.body.uploads || [];
        renderUploads(uploads);
        var busy = renderBatches(result.body.batches || [], result.body.progress) ||
          uploads.some(function (item) { return item.state === 'assembling'; });
        next = pollAgain ? 0 : (busy || running ? POLL_MS : null);
      }
      pollTimer = next === null ? null : window.setTimeout(poll, next);
    });
  }

  function renderUploads(uploads) {
    uploads.slice().reverse().forEach(function (item) {
      var row = uploadList.querySelector('[data-upload-id="' + item.upload_id + '"]');
      if (!row) {
        row = uploadRow(item.file_name, item.upload_id);
        row.bar.hidden = item.state === 'open';
        showSent(row, item.state === 'open' ? 0 : item.size, item.size);
        if (item.state === 'open') { row.querySelector('[data-field="sent"]').textContent = ''; }
      }
      if (!sending[item.upload_id] && !(stoppedHere[item.upload_id] && item.state === 'open')) {
        showOutcome(row, item.state, item.message);
      }
    });
  }

  function batchRow(batch) {
    var row = batchList.querySelector('[data-batch-id="' + batch.id + '"]');
    if (row) { return row; }
    row = el('li', {'class': 'viatique-batch', 'data-batch-id': batch.id}, [
      el('span', {'class': 'viatique-file-name', text: batch.file_name}), ' ',
      el('progress', {max: 1, value: 0, 'aria-label': fmt(_('Processing of {name}'), {name: batch.file_name})}), ' ',
      el('span', {'data-field': 'pages'}), ' ',
      el('span', {'class': 'viatique-outcome', 'data-field': 'state'})
    ]);
    batchList.insertBefore(row, batchList.firstChild);
    return row;
  }

  /* Show the batches; announce and tell the copy list when one has finished. True while any is busy. */
  function renderBatches(batches, progress) {
    var first = batchStates === null;
    var seen = batchStates || {};
    var now = {};
    var finishedNow = [];
    batches.slice().reverse().forEach(function (batch) {
      now[batch.id] = batch.state;
      batchNames[batch.id] = batch.file_name;
      var row = batchRow(batch);
      var bar = row.querySelector('progress');
      bar.max = batch.pages || 1;
      bar.value = Math.min(batch.pages_done, batch.pages);
      row.querySelector('[data-field="pages"]').textContent =
        fmt(_('{done} of {total} pages'), {done: batch.pages_done, total: batch.pages});
      var state = row.querySelector('[data-field="state"]');
      state.textContent = batch.state === 'failed' && batch.error
        ? fmt(_('Processing failed ({error}).'), {error: batch.error})
        : (BATCH_STATES[batch.state] || batch.state);
      state.setAttribute('data-state', batch.state);
      row.classList.toggle('viatique-failed', batch.state === 'failed');
      if (!first && seen[batch.id] !== batch.state && !BUSY_BATCH[batch.state]) { finishedNow.push(batch); }
    });
    batchStates = now;
    batchesEmpty.hidden = batches.length > 0;
    finishedNow.forEach(function (batch) {
      announce(scanMessages, batch.state === 'done'
        ? fmt(_('{name} is processed: {count} pages.'), {name: batch.file_name, count: batch.pages})
        : fmt(_('Processing of {name} failed.'), {name: batch.file_name}), batch.state !== 'done');
    });
    if (finishedNow.length) {
      copiesChanged(progress);
      if (anomaliesRegion) { loadAnomalies(); }
    }
    return batches.some(function (batch) { return BUSY_BATCH[batch.state]; });
  }

  /* ------------------------------------------------------------------ anomalies */

  /* Every control that can be refused has its own error paragraph next to it: the message is shown
   * there (not at the top of the section), the control is marked invalid, described by it, and focused. */
  var errorSeq = 0;

  function errorSlot() {
    errorSeq += 1;
    return el('p', {'class': 'viatique-field-error', id: idPrefix + '-error-' + errorSeq, 'data-region': 'field-error'});
  }

  function showError(slotNode, control, message) {
    slotNode.textContent = message;
    control.setAttribute('aria-invalid', 'true');
    control.setAttribute('aria-describedby', slotNode.id);
    control.focus();
  }

  function clearErrors(slotNode, controls) {
    slotNode.textContent = '';
    controls.forEach(function (control) {
      control.removeAttribute('aria-invalid');
      if (control.getAttribute('aria-describedby') === slotNode.id) { control.removeAttribute('aria-describedby'); }
    });
  }

  /* The control a refusal points at: the page number for a taken number, else the copy. */
  function culprit(result, copyControl, positionControl) {
    return result.body && result.body.error === 'position_taken' && positionControl ? positionControl : copyControl;
  }

  var anomalyMessages = liveRegion('anomaly-messages');
  var undoText = el('span', {'data-region': 'undo-text'});
  var undoButton = el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'undo', text: _('Undo')});
  var undoError = errorSlot();
  var undoBox = el('p', {'class': 'viatique-last-match', 'data-region': 'undo'}, [undoText, ' ', undoButton, undoError]);
  // out of use, the Undo box is out of the page (not only hidden): no unnamed control is left behind
  var undoAnchor = document.createComment('undo');
  var undoAction = null;
  var pageList = el('ul', {'class': 'viatique-anomaly-pages', 'data-region': 'anomaly-pages'});
  var pagesEmpty = el('p', {'class': 'viatique-hint', 'data-region': 'anomaly-pages-empty',
    text: _('No page is waiting to be placed.')});
  var incompleteList = el('ul', {'class': 'viatique-incomplete', 'data-region': 'incomplete-copies'});
  var incompleteEmpty = el('p', {'class': 'viatique-hint', text: _('Every copy has all its pages.')});
  var pagesTitle = null;
  var mergeSource = null;
  var mergeTarget = null;
  var mergeError = errorSlot();
  var pagesOfSelect = null;
  var pagesOfButton = null;
  var pagesOfError = errorSlot();
  var copyPageList = el('ul', {'class': 'viatique-copy-pages', 'data-region': 'copy-pages'});
  var shownCopy = null;  // the copy whose pages are listed under "Pages of a copy"
  var copies = [];  // every copy of the exam, for the selects
  var queueData = {pages: [], incomplete_copies: []};

  function buildAnomalies() {
    var titleId = idPrefix + '-anomalies';
    anomaliesRegion.setAttribute('aria-labelledby', titleId);
    pagesTitle = el('h4', {tabindex: '-1', text: _('Pages to place')});
    mergeSource = el('select', {'data-field': 'merge-source'});
    mergeTarget = el('select', {'data-field': 'merge-target'});
    pagesOfSelect = el('select', {'data-field': 'pages-of'});
    pagesOfButton = el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'show-pages',
      text: _('Show its pages'), onclick: function () { showCopyPages(pagesOfSelect.value, true); }});
    undoButton.addEventListener('click', function () { if (undoAction) { undoAction(); } });
    [
      el('h3', {id: titleId, text: _('Anomalies')}),
      anomalyMessages, undoAnchor,
      pagesTitle,
      el('p', {'class': 'viatique-hint',
        text: _("Leave the page number empty to add the page after the copy's last page (an extra sheet).")}),
      pagesEmpty, pageList,
      el('h4', {text: _('Copies with missing pages')}), incompleteEmpty, incompleteList,
      el('h4', {text: _('Merge two copies')}),
      el('p', {'class': 'viatique-hint',
        text: _("When one learner's pages ended up in two copies (a second booklet, an extra sheet), move the pages of one copy into the other; the emptied copy is removed. When page numbers overlap, the moved pages go after the last page of the copy that receives them.")}),
      el('div', {'class': 'viatique-merge'}, [
        el('label', {}, [_('Copy whose pages move') + ' ', mergeSource]), ' ',
        el('label', {}, [_('Copy that receives them') + ' ', mergeTarget]), ' ',
        el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'merge', text: _('Merge'), onclick: merge}),
        mergeError
      ]),
      el('h4', {text: _('Pages of a copy')}),
      el('p', {'class': 'viatique-hint', text: _('Move a page to another copy, or discard it.')}),
      el('div', {'class': 'viatique-merge'}, [
        el('label', {}, [_('Copy whose pages to show') + ' ', pagesOfSelect]), ' ', pagesOfButton, pagesOfError
      ]),
      copyPageList
    ].forEach(function (node) { anomaliesRegion.appendChild(node); });
  }

  function copyLabel(copy) {
    var name = copy.name || copy.username;
    return name ? fmt(_('{code} — {name}'), {code: copy.code, name: name}) : copy.code;
  }

  function copyById(id) { return copies.filter(function (copy) { return String(copy.id) === String(id); })[0] || null; }

  function loadAnomalies() {
    return call('anomaly_queue', null, 'GET').then(function (result) {
      if (!result.ok) { throw result; }
      renderQueue(result.body);
    }).catch(function (result) {
      if (!(result && typeof result.status === 'number')) { throw result; }  // a bug: let it show
      announce(anomalyMessages, fmt(_('The anomaly queue could not be loaded: {message}'),
        {message: failure(result)}), true);
    });
  }

  function options(select, groups, placeholder) {
    var previous = select.value;
    select.textContent = '';
    select.appendChild(el('option', {value: '', text: placeholder}));
    groups.forEach(function (group) {
      if (!group.items.length) { return; }
      select.appendChild(el('optgroup', {label: group.label}, group.items.map(function (item) {
        return el('option', {value: item.id, text: item.text});
      })));
    });
    select.value = previous;
    if (select.value !== previous) { select.value = ''; }
  }

  function copyGroups() {
    var missing = {};
    queueData.incomplete_copies.forEach(function (copy) { missing[copy.id] = copy.missing; });
    return [
      {label: _('Copies missing pages'), items: queueData.incomplete_copies.map(function (copy) {
        return {id: copy.id, text: fmt(_('{copy} (missing page(s) {pages})'),
          {copy: copyById(copy.id) ? copyLabel(copyById(copy.id)) : copy.code, pages: copy.missing.join(', ')})};
      })},
      {label: _('Complete copies'), items: copies.filter(function (copy) { return !missing[copy.id]; })
        .map(function (copy) { return {id: copy.id, text: copyLabel(copy)}; })}
    ];
  }

  /* Where a page is in its scan file: {number, file}, for the messages about it. */
  function where(page) {
    return {number: page.source_index + 1, file: batchNames[page.batch] || page.batch};
  }

  function renderQueue(data) {
    queueData = data;
    copies = data.copies;  // every copy of the exam, in the queue's answer (one request, however many)
    // keep what was typed in the rows that stay
    var typed = {};
    Array.prototype.forEach.call(pageList.querySelectorAll('[data-page-id]'), function (row) {
      var copy = row.querySelector('[data-field="copy"]');  // none while a discard is being confirmed
      if (!copy) { return; }
      typed[row.getAttribute('data-page-id')] = {copy: copy.value, position: row.querySelector('[data-field="position"]').value};
    });
    pageList.textContent = '';
    var groups = copyGroups();
    data.pages.forEach(function (page) { pageList.appendChild(pageRow(page, groups, typed[page.id])); });
    pagesEmpty.hidden = data.pages.length > 0;

    incompleteList.textContent = '';
    data.incomplete_copies.forEach(function (copy) { incompleteList.appendChild(incompleteRow(copy)); });
    incompleteEmpty.hidden = data.incomplete_copies.length > 0;

    var all = [{label: _('Copies'), items: copies.map(function (copy) { return {id: copy.id, text: copyLabel(copy)}; })}];
    options(mergeSource, all, _('Choose a copy'));
    options(mergeTarget, all, _('Choose a copy'));
    options(pagesOfSelect, all, _('Choose a copy'));
    if (shownCopy && !copyById(shownCopy)) { shownCopy = null; copyPageList.textContent = ''; }
  }

  function positionInput(extra) {
    return el('input', Object.assign({type: 'number', min: '1', step: '1', inputmode: 'numeric',
      'class': 'viatique-number', 'data-field': 'position'}, extra || {}));
  }

  /* A page number typed (a whole number of 1 or more), '' when empty (after the last page), or null. */
  function typedPosition(input) {
    var text = input.value.trim();
    if (!text) { return ''; }
    var number = parseInt(text, 10);
    return number >= 1 && String(number) === text ? number : null;
  }

  function pageRow(page, groups, typed) {
    var name = fmt(_('Page {number} of {file}'), where(page));
    var select = el('select', {'data-field': 'copy'});
    options(select, groups, _('Choose a copy'));
    var position = positionInput();
    if (typed) {
      select.value = typed.copy;
      position.value = typed.position;
    }
    var error = errorSlot();
    var full = url('page_image', String(page.id));
    var details = [el('p', {'class': 'viatique-anomaly-reason', text: ANOMALIES[page.anomaly] || _('This page could not be placed.')})];
    if (page.code) { details.push(el('p', {'class': 'viatique-hint', text: fmt(_('Code read: {code}'), {code: page.code})})); }
    var discardButton = el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'discard', text: _('Discard'),
      'aria-label': fmt(_('Discard page {number} of {file}'), where(page))});
    var controls = el('div', {'class': 'viatique-anomaly-controls'}, [
      el('label', {}, [_('Copy') + ' ', select]), ' ',
      el('label', {}, [_('Page number') + ' ', position]), ' ',
      el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'assign', text: _('Assign'),
        'aria-label': fmt(_('Assign page {number} of {file}'), where(page)), onclick: function () {
          assign(page, select, position, error);
        }}),
      ' ', discardButton, error
    ]);
    discardButton.addEventListener('click', function () {
      confirmDiscard(controls, discardButton, error, fmt(_('Discard page {number} of {file}?'), where(page)), function () {
        return discard(page.id, fmt(_('Page {number} of {file} was discarded.'), where(page)),
          fmt(_('Page {number} of {file} is back.'), where(page)));
      });
    });
    return el('li', {'class': 'viatique-anomaly-page', 'data-page-id': page.id}, [el('div', {role: 'group', 'aria-label': name}, [
      el('a', {href: full, target: '_blank', rel: 'noopener', 'class': 'viatique-thumb'}, [
        el('img', {src: url('page_image', page.id + '/thumb'), loading: 'lazy',
          alt: fmt(_('Thumbnail of page {number} of {file} (opens the full page)'), where(page))})
      ]),
      el('div', {'class': 'viatique-anomaly-body'}, details.concat([controls]))
    ])]);
  }

  /* "Discard" asks first, in place: the controls give way to the question, "Discard" and "Cancel". */
  function confirmDiscard(controls, opener, error, question, action) {
    var box = null;
    function cancel() {
      if (box.parentNode) { box.parentNode.replaceChild(controls, box); }
      opener.focus();
    }
    var yes = el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'confirm-discard',
      text: _('Yes, discard it')});
    var no = el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'cancel-discard', text: _('Cancel'),
      onclick: cancel});
    box = el('div', {'class': 'viatique-confirm', role: 'group', 'aria-label': question},
      [el('span', {text: question}), ' ', yes, ' ', no]);
    box.addEventListener('keydown', function (event) { if (event.key === 'Escape') { cancel(); } });
    yes.addEventListener('click', function () {
      action().then(function (result) {
        if (result.ok) { return; }
        cancel();
        showError(error, opener, failure(result));
      });
    });
    controls.parentNode.replaceChild(box, controls);
    yes.focus();
  }

  function incompleteRow(copy) {
    var label = copyById(copy.id) ? copyLabel(copyById(copy.id)) : copy.code;
    var error = errorSlot();
    var pageSelect = el('select', {'data-field': 'queue-page'});
    options(pageSelect, [{label: _('Pages to place'), items: queueData.pages.map(function (page) {
      return {id: page.id, text: fmt(_('Page {number} of {file}'), where(page))};
    })}], _('Choose a page'));
    var position = positionInput({value: String(copy.missing[0])});
    return el('li', {'data-copy-id': copy.id, 'class': 'viatique-incomplete-copy'}, [
      el('div', {role: 'group', 'aria-label': fmt(_('Copy {code}'), {code: copy.code})}, [
        el('p', {'data-field': 'missing-text', title: label,
          text: fmt(_('{code}: page(s) {pages} missing'), {code: copy.code, pages: copy.missing.join(', ')})}),
        el('div', {'class': 'viatique-anomaly-controls'}, [
          el('label', {}, [_('Page from the queue') + ' ', pageSelect]), ' ',
          el('label', {}, [_('Page number') + ' ', position]), ' ',
          el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'attach-missing', text: _('Attach'),
            'aria-label': fmt(_('Attach the page to copy {code}'), {code: copy.code}), onclick: function () {
              attachMissing(copy, pageSelect, position, error);
            }}), ' ',
          el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'scan-missing', text: _('Add its scan'),
            'aria-label': fmt(_('Add its scan: copy {code}, page(s) {pages}'), {code: copy.code, pages: copy.missing.join(', ')}),
            onclick: uploadMissing}), ' ',
          el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'accept-missing',
            text: _('Accept without it'), 'aria-label': fmt(_('Accept without it: copy {code}, page(s) {pages}'),
              {code: copy.code, pages: copy.missing.join(', ')}), onclick: function (event) {
              acceptMissing(copy, event.currentTarget, error);
            }}),
          error
        ])
      ])
    ]);
  }

  /* After a change: the queue, the listed copy's pages and the counters are refreshed. */
  function afterChange(body, message) {
    renderQueue(body);
    announce(anomalyMessages, message);
    if (shownCopy) { showCopyPages(shownCopy, false); }
    refreshCounters();
  }

  /* After a page left the list, focus the next page's first control (else the list's title). */
  function afterFix(pageId, data, message) {
    var rows = Array.prototype.slice.call(pageList.querySelectorAll('[data-page-id]'));
    var index = rows.map(function (row) { return row.getAttribute('data-page-id'); }).indexOf(String(pageId));
    afterChange(data, message);
    var after = pageList.querySelectorAll('[data-page-id]');
    var target = after[Math.min(Math.max(index, 0), after.length - 1)];
    (target ? target.querySelector('select') : pagesTitle).focus();
  }

  function refreshCounters() {
    call('scan_progress', null, 'GET').then(function (result) {
      copiesChanged(result.ok ? result.body.progress : null);
    });
  }

  function offerUndo(text, action) {
    undoText.textContent = text;
    clearErrors(undoError, [undoButton]);
    undoAction = action;
    if (!undoBox.parentNode) { undoAnchor.parentNode.insertBefore(undoBox, undoAnchor); }
  }

  function dropUndo() {
    undoAction = null;
    if (undoBox.parentNode) { undoBox.parentNode.removeChild(undoBox); }
  }

  function assign(page, select, position, error) {
    clearErrors(error, [select, position]);
    if (!select.value) { return showError(error, select, fmt(_('Choose the copy that page {number} of {file} belongs to.'), where(page))); }
    var number = typedPosition(position);
    if (number === null) { return showError(error, position, _('Enter the page number in the copy (1 or more), or leave it empty.')); }
    var chosen = copyById(select.value);
    var params = where(page);
    params.copy = chosen ? copyLabel(chosen) : select.options[select.selectedIndex].text;
    call('fix_page', {page_id: page.id, action: 'assign', copy_id: select.value, position: number}).then(function (result) {
      if (!result.ok) { return showError(error, culprit(result, select, position), failure(result)); }
      afterFix(page.id, result.body, number === '' ? fmt(_('Page {number} of {file} is now the last page of copy {copy}.'), params)
        : fmt(_('Page {number} of {file} is now page {position} of copy {copy}.'), Object.assign(params, {position: number})));
    });
  }

  /* Discard a page; the answer offers to undo it. Resolves with the call's result. From the queue, the
   * focus goes to the next page to place; from a copy's pages, to Undo. */
  function discard(pageId, message, undoneMessage, fromCopy) {
    return call('fix_page', {page_id: pageId, action: 'discard'}).then(function (result) {
      if (!result.ok) { return result; }
      if (fromCopy) { afterChange(result.body, message); } else { afterFix(pageId, result.body, message); }
      offerUndo(message, function () {
        call('fix_page', {page_id: pageId, action: 'restore'}).then(function (restored) {
          if (!restored.ok) { return showError(undoError, undoButton, failure(restored)); }
          dropUndo();
          afterChange(restored.body, undoneMessage);
          pagesTitle.focus();
        });
      });
      if (fromCopy) { undoButton.focus(); }
      return result;
    });
  }

  function attachMissing(copy, pageSelect, position, error) {
    clearErrors(error, [pageSelect, position]);
    if (!pageSelect.value) { return showError(error, pageSelect, _('Choose a page of the queue.')); }
    var number = typedPosition(position);
    if (number === null) { return showError(error, position, _('Enter the page number in the copy (1 or more), or leave it empty.')); }
    call('fix_page', {page_id: pageSelect.value, action: 'assign', copy_id: copy.id, position: number}).then(function (result) {
      if (!result.ok) { return showError(error, culprit(result, pageSelect, position), failure(result)); }
      afterChange(result.body, fmt(_('The page is attached to copy {code}.'), {code: copy.code}));
      pagesTitle.focus();
    });
  }

  /* The missing page is scanned on its own: the upload form, set to loose pages, takes it. */
  function uploadMissing() {
    var loose = root.querySelector('[data-field="split-mode"][value="loose"]');
    if (loose) { loose.checked = true; }
    announce(anomalyMessages, _('Choose the scan of the page and upload it: it comes into "Pages to place", to attach to its copy.'));
    if (fileInput) { fileInput.focus(); }
  }

  function acceptMissing(copy, button, error) {
    clearErrors(error, [button]);
    call('accept_missing', {copy_id: copy.id, accepted: true}).then(function (result) {
      if (!result.ok) { return showError(error, button, failure(result)); }
      var message = fmt(_('Copy {code} is accepted without page(s) {pages}.'), {code: copy.code, pages: copy.missing.join(', ')});
      afterChange(result.body, message);
      offerUndo(message, function () {
        call('accept_missing', {copy_id: copy.id, accepted: false}).then(function (undone) {
          if (!undone.ok) { return showError(undoError, undoButton, failure(undone)); }
          dropUndo();
          afterChange(undone.body, fmt(_('Copy {code} is listed with its missing pages again.'), {code: copy.code}));
          pagesTitle.focus();
        });
      });
      undoButton.focus();
    });
  }

  function merge() {
    clearErrors(mergeError, [mergeSource, mergeTarget]);
    if (!mergeSource.value) { return showError(mergeError, mergeSource, _('Choose the copy whose pages move.')); }
    if (!mergeTarget.value) { return showError(mergeError, mergeTarget, _('Choose the copy that receives the pages.')); }
    if (mergeSource.value === mergeTarget.value) { return showError(mergeError, mergeTarget, _('Choose two different copies.')); }
    var source = mergeSource.options[mergeSource.selectedIndex].text;
    var target = mergeTarget.options[mergeTarget.selectedIndex].text;
    call('merge_copies', {source_copy_id: mergeSource.value, target_copy_id: mergeTarget.value})
      .then(function (result) {
        if (!result.ok) { return showError(mergeError, mergeTarget, failure(result)); }
        mergeSource.value = '';
        mergeTarget.value = '';
        afterChange(result.body, fmt(_('The pages of {source} are now in {target}.'), {source: source, target: target}));
      });
  }

  /* ------------------------------------------------------ the pages of one copy */

  function showCopyPages(copyId, focus) {
    clearErrors(pagesOfError, [pagesOfSelect]);
    if (!copyId) { return showError(pagesOfError, pagesOfSelect, _('Choose a copy.')); }
    return call('copy_pages', null, 'GET', String(copyId)).then(function (result) {
      if (!result.ok) { return showError(pagesOfError, pagesOfSelect, failure(result)); }
      shownCopy = copyId;
      renderCopyPages(result.body);
      var first = copyPageList.querySelector('select, button');
      if (focus && first) { first.focus(); }
    });
  }

  function renderCopyPages(body) {
    copyPageList.textContent = '';
    var copy = body.copy;
    if (!copy.editable) {
      copyPageList.appendChild(el('li', {'class': 'viatique-hint',
        text: fmt(_('Copy {code} is submitted or graded: reopen it before its pages change.'), {code: copy.code})}));
    }
    var others = [{label: _('Copies'), items: copies.filter(function (item) { return String(item.id) !== String(copy.id); })
      .map(function (item) { return {id: item.id, text: copyLabel(item)}; })}];
    body.pages.forEach(function (page) {
      var name = fmt(_('Page {position} of copy {code}'), {position: page.position, code: copy.code});
      var select = el('select', {'data-field': 'move-to'});
      options(select, others, _('Choose a copy'));
      var position = positionInput();
      var error = errorSlot();
      var locked = !copy.editable || page.annotated;
      var discardButton = el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'discard-page',
        text: _('Discard'), 'aria-label': fmt(_('Discard page {position} of copy {code}'), {position: page.position, code: copy.code}),
        disabled: locked});
      var controls = el('div', {'class': 'viatique-anomaly-controls'}, [
        el('label', {}, [_('Move to copy') + ' ', select]), ' ',
        el('label', {}, [_('Page number') + ' ', position]), ' ',
        el('button', {type: 'button', 'class': 'viatique-button', 'data-action': 'move-page', text: _('Move'),
          'aria-label': fmt(_('Move page {position} of copy {code}'), {position: page.position, code: copy.code}),
          disabled: locked, onclick: function () { movePage(copy, page, select, position, error); }}),
        ' ', discardButton, error
      ]);
      discardButton.addEventListener('click', function () {
        confirmDiscard(controls, discardButton, error, fmt(_('Discard page {position} of copy {code}?'),
          {position: page.position, code: copy.code}), function () {
          return discard(page.id, fmt(_('Page {position} of copy {code} was discarded.'), {position: page.position, code: copy.code}),
            fmt(_('Page {position} of copy {code} is back.'), {position: page.position, code: copy.code}), true);
        });
      });
      var details = [el('p', {'class': 'viatique-anomaly-reason', text: name})];
      if (page.annotated) {
        details.push(el('p', {'class': 'viatique-hint', text: _('It carries annotations: it stays in this copy.')}));
      }
      copyPageList.appendChild(el('li', {'class': 'viatique-copy-page', 'data-page-id': page.id}, [
        el('div', {role: 'group', 'aria-label': name}, [
          el('a', {href: url('page_image', String(page.id)), target: '_blank', rel: 'noopener', 'class': 'viatique-thumb'}, [
            el('img', {src: url('page_image', page.id + '/thumb'), loading: 'lazy',
              alt: fmt(_('Thumbnail of page {position} of copy {code} (opens the full page)'), {position: page.position, code: copy.code})})
          ]),
          el('div', {'class': 'viatique-anomaly-body'}, details.concat([controls]))
        ])
      ]));
    });
    if (copy.missing.length) {
      copyPageList.appendChild(el('li', {'class': 'viatique-hint',
        text: fmt(_('{code}: page(s) {pages} missing'), {code: copy.code, pages: copy.missing.join(', ')})}));
    }
  }

  function movePage(copy, page, select, position, error) {
    clearErrors(error, [select, position]);
    if (!select.value) { return showError(error, select, _('Choose the copy the page moves to.')); }
    var number = typedPosition(position);
    if (number === null) { return showError(error, position, _('Enter the page number in the copy (1 or more), or leave it empty.')); }
    var target = copyById(select.value);
    call('fix_page', {page_id: page.id, action: 'assign', copy_id: select.value, position: number}).then(function (result) {
      if (!result.ok) { return showError(error, culprit(result, select, position), failure(result)); }
      afterChange(result.body, fmt(_('Page {position} of copy {code} moved to copy {target}.'),
        {position: page.position, code: copy.code, target: target ? copyLabel(target) : select.value}));
      pagesOfSelect.focus();
    });
  }

  /* ----------------------------------------------------------------------- start */

  buildScans();
  if (anomaliesRegion) { buildAnomalies(); }
  poll().then(function () {  // the batches first: the queue names its pages after their files
    if (anomaliesRegion) { loadAnomalies(); }
  });
}

/* SHA-256 (FIPS 180-4) over data given in pieces: `new ViatiqueScans.Sha256()`, `.update(Uint8Array)` as many
 * times as needed, then `.hex()` once. The upload hashes the whole file with it, chunk after chunk:
 * crypto.subtle.digest takes its whole input at once, and a scan can be 1 GiB. */
ViatiqueScans.Sha256 = (function () {
  'use strict';
  var K = new Int32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ]);

  function Sha256() {
    this.state = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
      0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    this.words = new Int32Array(64);
    this.pending = new Uint8Array(64);  // the bytes of an incomplete block, until the next update
    this.pendingLength = 0;
    this.length = 0;  // bytes hashed so far (a Number: exact far beyond 1 GiB)
  }

  /* Hash the 64-byte blocks of `bytes` from `offset` to `end` (a multiple of 64 bytes). */
  Sha256.prototype.blocks = function (bytes, offset, end) {
    var w = this.words;
    var h = this.state;
    var a, b, c, d, e, f, g, hh, i, x, y, t1, t2;
    for (; offset < end; offset += 64) {
      for (i = 0; i < 16; i += 1) {
        x = offset + 4 * i;
        w[i] = (bytes[x] << 24) | (bytes[x + 1] << 16) | (bytes[x + 2] << 8) | bytes[x + 3];
      }
      for (i = 16; i < 64; i += 1) {
        x = w[i - 15];
        y = w[i - 2];
        w[i] = (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)) + w[i - 7] +
          (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + w[i - 16] | 0;
      }
      a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4]; f = h[5]; g = h[6]; hh = h[7];
      for (i = 0; i < 64; i += 1) {
        t1 = hh + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
          ((e & f) ^ (~e & g)) + K[i] + w[i] | 0;
        t2 = (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
          ((a & b) ^ (a & c) ^ (b & c)) | 0;
        hh = g; g = f; f = e; e = d + t1 | 0; d = c; c = b; b = a; a = t1 + t2 | 0;
      }
      h[0] = h[0] + a | 0; h[1] = h[1] + b | 0; h[2] = h[2] + c | 0; h[3] = h[3] + d | 0;
      h[4] = h[4] + e | 0; h[5] = h[5] + f | 0; h[6] = h[6] + g | 0; h[7] = h[7] + hh | 0;
    }
  };

  Sha256.prototype.update = function (bytes) {
    var offset = 0;
    this.length += bytes.length;
    if (this.pendingLength) {
      offset = Math.min(64 - this.pendingLength, bytes.length);
      this.pending.set(bytes.subarray(0, offset), this.pendingLength);
      this.pendingLength += offset;
      if (this.pendingLength < 64) { return this; }
      this.blocks(this.pending, 0, 64);
      this.pendingLength = 0;
    }
    var end = offset + Math.floor((bytes.length - offset) / 64) * 64;
    this.blocks(bytes, offset, end);
    if (end < bytes.length) {
      this.pending.set(bytes.subarray(end), 0);
      this.pendingLength = bytes.length - end;
    }
    return this;
  };

  /* The digest in hexadecimal; the hasher is spent afterwards. */
  Sha256.prototype.hex = function () {
    var bits = this.length * 8;
    var padding = new Uint8Array((this.pendingLength < 56 ? 64 : 128) - this.pendingLength);
    var last = padding.length;
    padding[0] = 0x80;
    var high = Math.floor(bits / 0x100000000);
    padding[last - 8] = high >>> 24; padding[last - 7] = high >>> 16; padding[last - 6] = high >>> 8; padding[last - 5] = high;
    padding[last - 4] = bits >>> 24; padding[last - 3] = bits >>> 16; padding[last - 2] = bits >>> 8; padding[last - 1] = bits;
    this.update(padding);
    var hex = '';
    for (var i = 0; i < 8; i += 1) { hex += ('0000000' + (this.state[i] >>> 0).toString(16)).slice(-8); }
    return hex;
  };

  return Sha256;
}());
