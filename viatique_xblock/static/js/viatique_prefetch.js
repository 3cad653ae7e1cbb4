/* Viatique: page images fetched ahead, so the next page or the next copy shows at once.
 *
 * Page images are private (Cache-Control: no-store), so the browser's cache cannot hold them: the images
 * wanted next are fetched into memory (blobs) and shown from there (object URLs). ViatiquePrefetch.create(
 * limit) keeps at most ``limit`` images, the least recently used going first. want(urls) fetches those not
 * held yet (two at a time); show(img, url) shows ``url`` in ``img`` from memory when held, else from the
 * network as usual. Nothing is written to disk. */
(function (global) {
  'use strict';

  function create(limit) {
    var held = {};     // url -> {objectUrl, used}
    var pending = {};  // url -> true while fetching
    var queue = [];
    var running = 0;
    var PARALLEL = 2;
    var clock = 0;

    function evict() {
      var urls = Object.keys(held);
      while (urls.length > limit) {
        urls.sort(function (a, b) { return held[a].used - held[b].used; });
        var oldest = urls.shift();
        global.URL.revokeObjectURL(held[oldest].objectUrl);
        delete held[oldest];
      }
    }

    function pump() {
      while (running < PARALLEL && queue.length) {
        var url = queue.shift();
        if (held[url] || pending[url]) { continue; }
        pending[url] = true;
        running += 1;
        fetchOne(url);
      }
    }

    function fetchOne(url) {
      global.fetch(url, {credentials: 'same-origin'}).then(function (response) {
        return response.ok ? response.blob() : null;
      }).catch(function () { return null; }).then(function (blob) {
        delete pending[url];
        running -= 1;
        if (blob) {
          held[url] = {objectUrl: global.URL.createObjectURL(blob), used: ++clock};
          evict();
        }
        pump();
      });
    }

    return {
      want: function (urls) {
        urls.forEach(function (url) { if (url && !held[url] && !pending[url]) { queue.push(url); } });
        pump();
      },
      has: function (url) { return !!held[url]; },
      show: function (img, url) {
        var entry = held[url];
        if (entry) { entry.used = ++clock; }
        var source = entry ? entry.objectUrl : url;
        img.setAttribute('data-src', url);
        if (img.getAttribute('src') !== source) { img.setAttribute('src', source); }
      }
    };
  }

  global.ViatiquePrefetch = {create: create};
})(window);
