// Live reload for `sahifa serve`. Injected only by the development server, never built.
// Server-Sent Events from /__sahifa/events:
//   hello {server, build, error}   on (re)connect
//   build {build, written, removed}   after a good build (site-relative files)
//   broken {build, error}   after a failed build; the last good site stays served
(function () {
  "use strict";
  window.SAHIFA_PREVIEW = true; // sahifa.js then registers no service worker
  var me = document.currentScript;
  var page = me.dataset.page || "";
  var missing = me.dataset.status === "404";
  var server = me.dataset.server;
  var served = Number(me.dataset.build || 0);
  var base = me.dataset.base || "/";
  var SCROLL_KEY = "sahifa-serve-scroll";
  var OVERLAY_ID = "sahifa-error-overlay";

  function restoreScroll() {
    var saved;
    try {
      saved = JSON.parse(sessionStorage.getItem(SCROLL_KEY) || "null");
    } catch (e) {
      saved = null;
    }
    if (saved && saved.href === location.href) {
      window.scrollTo(saved.x, saved.y);
    }
  }

  function reload() {
    try {
      sessionStorage.setItem(
        SCROLL_KEY,
        JSON.stringify({ href: location.href, x: window.scrollX, y: window.scrollY })
      );
    } catch (e) {
      /* storage disabled: reload anyway */
    }
    location.reload();
  }

  function showError(message) {
    var box = document.getElementById(OVERLAY_ID);
    if (!box) {
      box = document.createElement("div");
      box.id = OVERLAY_ID;
      box.setAttribute("role", "alert");
      box.dir = "ltr";
      box.style.cssText =
        "position:fixed;inset:auto 0 0 0;z-index:2147483647;max-height:60vh;overflow:auto;" +
        "margin:0;padding:1rem 1.25rem;background:#2b0d0d;color:#ffe4e4;" +
        "border-top:4px solid #e5484d;font:14px/1.5 ui-monospace,monospace;text-align:left;" +
        "box-shadow:0 -4px 24px rgba(0,0,0,.4)";
      var title = document.createElement("strong");
      title.textContent = "Build failed \u2014 showing the last good version";
      var close = document.createElement("button");
      close.type = "button";
      close.textContent = "\u00d7";
      close.setAttribute("aria-label", "hide");
      close.style.cssText =
        "float:right;background:none;border:0;color:inherit;font-size:1.4rem;cursor:pointer";
      close.onclick = function () {
        box.hidden = true;
      };
      var pre = document.createElement("pre");
      pre.style.cssText = "white-space:pre-wrap;margin:.5rem 0 0;font:inherit";
      box.append(close, title, pre);
      document.body.append(box);
    }
    box.hidden = false;
    box.querySelector("pre").textContent = message;
  }

  function clearError() {
    var box = document.getElementById(OVERLAY_ID);
    if (box) box.remove();
  }

  function pathOf(href) {
    try {
      return decodeURIComponent(new URL(href, location.href).pathname);
    } catch (e) {
      return "";
    }
  }

  function swapStyles(files, build) {
    var links = document.querySelectorAll('link[rel~="stylesheet"]');
    links.forEach(function (link) {
      var path = pathOf(link.href);
      var match =
        !files ||
        files.some(function (f) {
          return path === base + f;
        });
      if (!match) return;
      var url = new URL(link.href, location.href);
      url.searchParams.set("sahifa", String(build));
      var fresh = link.cloneNode();
      fresh.href = url.href;
      fresh.onload = fresh.onerror = function () {
        link.remove();
      };
      link.after(fresh);
    });
  }

  function loaded(file) {
    // true when this page loaded that file: a script, image, font, icon...
    var want = base + file;
    return performance.getEntriesByType("resource").some(function (entry) {
      return pathOf(entry.name) === want;
    });
  }

  function needsReload(msg) {
    if (!msg.written) return true; // too many files to list: anything may have changed
    var touched = msg.written.concat(msg.removed || []);
    if (missing) {
      return touched.some(function (f) {
        return /\.html$/.test(f);
      });
    }
    return touched.some(function (f) {
      return f === page || (!/\.css$/.test(f) && loaded(f));
    });
  }

  function onBuild(msg) {
    served = msg.build;
    clearError();
    if (needsReload(msg)) {
      reload();
      return;
    }
    var css = (msg.written || []).filter(function (f) {
      return /\.css$/.test(f);
    });
    if (css.length) swapStyles(css, msg.build);
  }

  if (me.dataset.error) showError(me.dataset.error);
  restoreScroll();
  window.addEventListener("load", function () {
    restoreScroll();
    try {
      sessionStorage.removeItem(SCROLL_KEY);
    } catch (e) {
      /* storage disabled */
    }
  });

  if (!window.EventSource) return;
  var source = new EventSource(me.dataset.events || "/__sahifa/events");
  source.addEventListener("hello", function (event) {
    var msg = JSON.parse(event.data);
    if (msg.server !== server || msg.build > served) {
      // the server restarted or built while this page was loading
      reload();
      return;
    }
    if (msg.error) showError(msg.error);
    else clearError();
    document.documentElement.setAttribute("data-sahifa-live", String(msg.build));
  });
  source.addEventListener("build", function (event) {
    onBuild(JSON.parse(event.data));
  });
  source.addEventListener("broken", function (event) {
    showError(JSON.parse(event.data).error);
  });
  window.addEventListener("pagehide", function () {
    source.close();
  });
})();
