/* Viatique: helpers shared by the block's scripts (translations, JSON calls, DOM).
 * Everything is scoped to one block's element; nothing is global but the
 * ViatiqueCommon namespace, so two blocks on one page never collide. */
(function (global) {
  'use strict';

  function rootElement(element) {
    // Runtimes hand either a DOM element or a jQuery object.
    return element && element.jquery ? element[0] : element;
  }

  /* The block's startup data (translations, role, settings...): a <script type="application/json"
   * data-viatique-startup> element the server wrote into the block's own HTML, escaped by Django's
   * json_script (block.py), so no title, label or username can end it. The runtime's init arguments
   * carry nothing: some hosts (the xblock-sdk workbench) write them into a <script> element unescaped.
   * Read under this block's element only, so two blocks on one page each get their own; every init
   * function starts with args = ViatiqueCommon.startupArgs(element, args). */
  var startupCache = typeof WeakMap === 'function' ? new WeakMap() : null;

  function startupArgs(element, args) {
    var root = rootElement(element);
    var script = root ? root.querySelector('script[type="application/json"][data-viatique-startup]') : null;
    var data = {};
    if (script) {
      data = startupCache && startupCache.get(script);
      if (!data) {
        data = JSON.parse(script.textContent || '{}');
        if (startupCache) { startupCache.set(script, data); }
      }
    }
    var merged = {};
    [args || {}, data].forEach(function (source) {
      Object.keys(source).forEach(function (key) { merged[key] = source[key]; });
    });
    return merged;
  }

  /* gettext over the catalogue the server handed to this block (empty for English). */
  function makeGettext(catalog) {
    catalog = catalog || {};
    return function gettext(message) {
      return Object.prototype.hasOwnProperty.call(catalog, message) ? catalog[message] : message;
    };
  }

  /* ngettext over the same catalogue: plural entries come as {singular: [form, form...]} (i18n.js_catalog);
   * the form is chosen by the language's plural rule (Intl.PluralRules: 'one' is the first form). */
  function makeNgettext(catalog, lang) {
    catalog = catalog || {};
    var rules = typeof Intl !== 'undefined' && Intl.PluralRules ? new Intl.PluralRules(lang || 'en') : null;
    return function ngettext(singular, plural, count) {
      var one = rules ? rules.select(Number(count)) === 'one' : Number(count) === 1;
      var forms = catalog[singular];
      if (Object.prototype.hasOwnProperty.call(catalog, singular) && Array.isArray(forms) && forms.length) {
        return forms[one ? 0 : Math.min(1, forms.length - 1)];
      }
      return one ? singular : plural;
    };
  }

  /* Numbers in the user's language: numbers(lang).format('20.75') is "20,75" in French, "20.75" in English
   * (a JSON number or the decimal string the server sends; anything else is shown as it is), and
   * parse("20,75") or parse("20.75") is the number 20.75 (NaN when the text is no number). */
  var formatters = {};

  function numbers(lang) {
    var key = lang || '';
    if (!formatters[key]) {
      // no grouping: the same text goes back into inputs, and points are seldom in the thousands
      formatters[key] = new Intl.NumberFormat(lang || undefined, {maximumFractionDigits: 4, useGrouping: false});
    }
    var formatter = formatters[key];
    return {
      format: function (value) {
        if (value === null || value === undefined || value === '') { return ''; }
        var number = typeof value === 'number' ? value : parseNumber(value);
        return isNaN(number) ? String(value) : formatter.format(number);
      },
      parse: parseNumber
    };
  }

  function parseNumber(text) {
    var clean = String(text === null || text === undefined ? '' : text).replace(/[\s\u00a0\u202f]/g, '').replace(',', '.');
    return /^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(clean) ? parseFloat(clean) : NaN;
  }

  /* Fill {name} placeholders of an already translated string: fmt(_('{count} copies'), {count: 3}). */
  function format(template, params) {
    return template.replace(/\{(\w+)\}/g, function (match, name) {
      return Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : match;
    });
  }

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : '';
  }

  /* POST (or GET) JSON to a handler; resolves with {status, ok, body}. */
  function callHandler(url, data, method) {
    method = method || 'POST';
    var options = {
      method: method,
      credentials: 'same-origin',
      headers: {'Accept': 'application/json', 'X-Requested-With': 'XMLHttpRequest'}
    };
    if (method === 'POST') {
      options.headers['Content-Type'] = 'application/json';
      options.headers['X-CSRFToken'] = csrfToken();
      options.body = JSON.stringify(data || {});
    } else if (data) {
      var query = Object.keys(data).map(function (key) {
        return encodeURIComponent(key) + '=' + encodeURIComponent(data[key]);
      }).join('&');
      if (query) { url += (url.indexOf('?') === -1 ? '?' : '&') + query; }
    }
    return fetch(url, options).then(answered);
  }

  /* {status, ok, body} of a handler's response (body: its JSON, or {}). */
  function answered(response) {
    return response.json().catch(function () { return {}; }).then(function (body) {
      return {status: response.status, ok: response.ok, body: body};
    });
  }

  /* POST a file (a File or Blob) as the raw body of a handler's request, ``query`` ({name: value}) added to
   * its URL; resolves {status, ok, body}, {status: 0, ok: false, body: {}} when the connection failed. */
  function postFile(url, file, contentType, query) {
    var pairs = Object.keys(query || {}).map(function (key) {
      return encodeURIComponent(key) + '=' + encodeURIComponent(query[key]);
    });
    if (pairs.length) { url += (/[?&]$/.test(url) ? '' : (url.indexOf('?') === -1 ? '?' : '&')) + pairs.join('&'); }
    return fetch(url, {
      method: 'POST', credentials: 'same-origin', body: file,
      headers: {'Accept': 'application/json', 'Content-Type': contentType,
        'X-Requested-With': 'XMLHttpRequest', 'X-CSRFToken': csrfToken()}
    }).then(answered).catch(function () { return {status: 0, ok: false, body: {}}; });
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === 'text') { node.textContent = attrs[name]; }
      else if (name.indexOf('on') === 0) { node.addEventListener(name.slice(2), attrs[name]); }
      else if (attrs[name] !== null && attrs[name] !== undefined && attrs[name] !== false) {
        node.setAttribute(name, attrs[name] === true ? '' : attrs[name]);
      }
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return node;
  }

  /* The handler calls of one section of a block: call(name, data, method) resolves with {status, ok, body}
   * (status 0 when the connection was lost), failure(result) is the message to show for a refused call. */
  function sectionCalls(runtime, element, gettext) {
    function call(name, data, method) {
      return callHandler(runtime.handlerUrl(element, name), data, method)
        .catch(function () { return {status: 0, ok: false, body: {}}; });
    }
    function failure(result) {
      if (result.body && result.body.message) { return result.body.message; }
      return result.status ? format(gettext('The server answered with an error ({status}).'), {status: result.status})
        : gettext('The connection to the server was lost.');
    }
    return {call: call, failure: failure};
  }

  /* The dashboard section ``name`` of one block, claimed once (a second call finds it built):
   * {root, region, idPrefix}, or null when the block has no such section or ``allowed`` is false. */
  function claimSection(element, name, allowed) {
    var root = rootElement(element);
    var region = root.querySelector('[data-region="' + name + '"]');
    if (!region || allowed === false || region.hasAttribute('data-built')) { return null; }
    region.setAttribute('data-built', '');
    return {root: root, region: region,
            idPrefix: (region.getAttribute('data-id-prefix') || 'viatique') + '-' + name};
  }

  global.ViatiqueCommon = {
    claimSection: claimSection,
    startupArgs: startupArgs,
    sectionCalls: sectionCalls,
    rootElement: rootElement,
    makeGettext: makeGettext,
    makeNgettext: makeNgettext,
    numbers: numbers,
    parseNumber: parseNumber,
    format: format,
    callHandler: callHandler,
    postFile: postFile,
    csrfToken: csrfToken,
    el: el
  };
})(window);
