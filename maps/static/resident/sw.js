/* Service worker of the resident page: after the first visit the page, its assets, the vector tiles and the
 * answer files of the areas the resident viewed keep working without the network.
 *
 * Every same-origin GET goes to the network first (fresh data when the service answers; a slow network is given
 * NETWORK_TIMEOUT_MS) and its answer is kept in the cache; without the network the cached answer is used.
 * /nearest answers are kept too (an identical tap offline gets the same answer; other taps are answered by the
 * page from the cached area files). */
"use strict";
var CACHE = "resident-v1";
var NETWORK_TIMEOUT_MS = 4000;

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k.indexOf("resident-") === 0 && k !== CACHE; })
      .map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

function fromCache(request) {
  return caches.open(CACHE).then(function (cache) {
    return cache.match(request).then(function (hit) {
      if (hit) return hit;
      return request.mode === "navigate" ? cache.match(request.url.split("?")[0]) : undefined;
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET" || new URL(request.url).origin !== self.location.origin) return;
  event.respondWith(new Promise(function (resolve) {
    var settled = false;
    function useCache() {
      if (settled) return;
      fromCache(request).then(function (hit) {
        if (settled) return;
        if (hit) { settled = true; resolve(hit); }
      });
    }
    var timer = setTimeout(useCache, NETWORK_TIMEOUT_MS);
    fetch(request).then(function (response) {
      clearTimeout(timer);
      if (response && (response.ok || response.status === 204) && response.type === "basic") {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { return cache.put(request, copy); }).catch(function () {});
      }
      if (!settled) { settled = true; resolve(response); }
    }).catch(function () {
      clearTimeout(timer);
      fromCache(request).then(function (hit) {
        if (settled) return;
        settled = true;
        resolve(hit || Response.error());
      });
    });
  }));
});
