// Sahifa service worker: pages the reader opened stay readable offline.
// Pages: network first (always fresh online), the cached copy when the network fails.
// Theme files (static/): cache first, refreshed in the background; a new build changes VERSION.
"use strict";
const VERSION = {{ version|tojson }};
const SCOPE = {{ url('/')|tojson }};
const STATIC = "sahifa-static-" + VERSION;
const PAGES = "sahifa-pages";
const MAX_PAGES = 60;
const PRECACHE = [SCOPE + "static/style.css", SCOPE + "static/sahifa.js"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(STATIC).then((c) => c.addAll(PRECACHE)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("sahifa-static-") && k !== STATIC).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

function keepPage(request, response) {
  if (!response || !response.ok || response.type !== "basic") return;
  const copy = response.clone();
  caches.open(PAGES).then(async (cache) => {
    await cache.put(request, copy);
    const keys = await cache.keys();
    for (const old of keys.slice(0, Math.max(0, keys.length - MAX_PAGES))) await cache.delete(old);
  });
}

function pageKey(url) {
  const u = new URL(url);
  u.search = "";
  u.hash = "";
  return u.href;
}

self.addEventListener("message", (event) => {
  // The page asks to keep itself: the first visit happens before this worker controls it.
  const url = event.data && event.data.keep;
  if (typeof url !== "string" || !url.startsWith(self.location.origin + SCOPE)) return;
  event.waitUntil(fetch(url, { credentials: "same-origin" }).then((r) => keepPage(pageKey(url), r)).catch(() => {}));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || !url.pathname.startsWith(SCOPE)) return;
  if (request.mode === "navigate") {
    event.respondWith(
      fetch(request)
        .then((response) => { keepPage(pageKey(request.url), response); return response; })
        .catch(() => caches.match(pageKey(request.url), { ignoreSearch: true })
          .then((hit) => hit || new Response(
            "<!doctype html><html lang=\"ar\" dir=\"rtl\"><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>غير متصل</title><p style=\"font:1.25rem/1.8 sans-serif;padding:1rem\">لا يوجد اتصال بالإنترنت، وهذه الصفحة لم تُحفظ للقراءة دون اتصال.</p>",
            { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } })))
    );
    return;
  }
  if (url.pathname.startsWith(SCOPE + "static/")) {
    event.respondWith(
      caches.open(STATIC).then(async (cache) => {
        const hit = await cache.match(request);
        const fresh = fetch(request).then((r) => { if (r.ok) cache.put(request, r.clone()); return r; });
        if (hit) { event.waitUntil(fresh.catch(() => {})); return hit; }
        return fresh;
      })
    );
  }
});
