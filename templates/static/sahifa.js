// Progressive enhancements only: every link works without this file.
(function () {
  "use strict";
  var root = document.documentElement;

  function store(key, value) {
    try {
      if (value === null) localStorage.removeItem(key);
      else localStorage.setItem(key, value);
    } catch (e) { /* private mode: the choice lasts for this page only */ }
  }

  // Light / dark. Without a stored choice the system decides (CSS prefers-color-scheme).
  var dark = window.matchMedia("(prefers-color-scheme: dark)");
  var toggle = document.querySelector("[data-theme-toggle]");
  function isDark() {
    return root.dataset.theme ? root.dataset.theme === "dark" : dark.matches;
  }
  function showTheme() {
    if (toggle) toggle.setAttribute("aria-pressed", String(isDark()));
  }
  if (toggle) {
    toggle.addEventListener("click", function () {
      var next = isDark() ? "light" : "dark";
      // Back to "follow the system" when the choice equals what the system shows.
      if ((next === "dark") === dark.matches) {
        delete root.dataset.theme;
        store("sahifa-theme", null);
      } else {
        root.dataset.theme = next;
        store("sahifa-theme", next);
      }
      showTheme();
    });
    if (dark.addEventListener) dark.addEventListener("change", showTheme);
    showTheme();
  }

  // Text size of the article body: steps -1 .. 3, 0 = the theme's size.
  var MIN = -1, MAX = 3;
  var sizeButtons = document.querySelectorAll("[data-size-step]");
  function currentSize() {
    var n = parseInt(root.dataset.size || "0", 10);
    return isNaN(n) ? 0 : Math.min(MAX, Math.max(MIN, n));
  }
  function showSize() {
    var n = currentSize();
    sizeButtons.forEach(function (b) {
      var step = parseInt(b.dataset.sizeStep, 10);
      b.disabled = (step < 0 && n <= MIN) || (step > 0 && n >= MAX) || (step === 0 && n === 0);
    });
  }
  sizeButtons.forEach(function (button) {
    button.addEventListener("click", function () {
      var step = parseInt(button.dataset.sizeStep, 10);
      var n = step === 0 ? 0 : Math.min(MAX, Math.max(MIN, currentSize() + step));
      if (n === 0) delete root.dataset.size;
      else root.dataset.size = String(n);
      store("sahifa-size", n === 0 ? null : String(n));
      showSize();
    });
  });
  if (sizeButtons.length) showSize();

  // Share: copy the link, and the system share sheet where there is one.
  document.querySelectorAll(".share a[data-copy]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      if (!navigator.clipboard) return;
      event.preventDefault();
      navigator.clipboard.writeText(link.dataset.copy).then(function () {
        link.textContent = "نُسخ الرابط";
      });
    });
  });
  var native = document.querySelector(".share-native");
  if (native && navigator.share) {
    native.hidden = false;
    native.addEventListener("click", function () {
      navigator.share({ title: native.dataset.title, url: native.dataset.url }).catch(function () {});
    });
  }

  // Offline reading. The build sets data-sw on <html> unless site.toml says offline = false.
  // Never on the preview server (`build.py serve`), recognised by the live-reload script it
  // injects (src under /__sahifa/), by <meta name="sahifa-preview"> or window.SAHIFA_PREVIEW.
  // There, and when offline is off, any worker left from an earlier visit is removed.
  if (!("serviceWorker" in navigator)) return;
  var sw = navigator.serviceWorker;
  var scope = root.dataset.scope;
  var preview = window.SAHIFA_PREVIEW ||
    document.querySelector('meta[name="sahifa-preview"], script[src*="/__sahifa/"]');
  if (!root.dataset.sw || preview) {
    sw.getRegistrations().then(function (regs) {
      regs.forEach(function (reg) { reg.unregister(); });
    }).catch(function () {});
    return;
  }
  window.addEventListener("load", function () {
    sw.register(root.dataset.sw, { scope: scope }).then(function () {
      return sw.ready;
    }).then(function (reg) {
      // This page was fetched before the worker controlled it, so it is not cached yet: ask
      // for it. Always ask: clients.claim() may already have made the worker our controller.
      if (reg.active) reg.active.postMessage({ keep: location.href.split("#")[0] });
    }).catch(function () {});
  });
})();
