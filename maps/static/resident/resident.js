/* Resident page: tap the map (or use the phone's location, or search) to see the nearest shelter and service point
 * with their walking routes and turn-by-turn steps.  MapLibre GL JS over the service's own vector tiles; no glyph
 * server (labels drawn on the phone from its own fonts); nothing leaves the service.
 *
 * Answers: mode "service" asks GET /nearest (profile, steps) and falls back to the per-area answer files when the
 * service cannot be reached (cached by the service worker); mode "static" (exported site) uses the files only.
 * The local answer is /nearest's with k=1 and the standard profile: the tap is snapped to the nearest street edge,
 * the labels of the edge's two ends (nearest source, distance, predecessor) give the source and the walking
 * distance, and the route is rebuilt hop by hop along the predecessors. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("resident-config").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var select = $("category"), results = $("results"), errorBox = $("error"), offlineBox = $("offline");
  var last = null;
  var SHELTER_COLOR = "#c62828", SERVICE_COLOR = "#1565c0";

  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function abs(url) { return new URL(url, document.baseURI).href.replace(/%7B/g, "{").replace(/%7D/g, "}"); }
  function showError(msg) { errorBox.textContent = msg || ""; errorBox.hidden = !msg; }
  function showOffline(msg) { offlineBox.textContent = msg || ""; offlineBox.hidden = !msg; }

  // ------------------------------------------------------------------ the map
  function tileSource(layer) {
    return {
      type: "vector", tiles: [abs(cfg.tile_url.replace("{layer}", layer))], minzoom: cfg.tile_minzoom,
      maxzoom: cfg.tile_maxzoom, bounds: [cfg.bounds[0] - 0.01, cfg.bounds[1] - 0.01, cfg.bounds[2] + 0.01, cfg.bounds[3] + 0.01]
    };
  }
  var has = {};
  cfg.tile_layers.forEach(function (l) { has[l] = true; });
  var FONT = cfg.fonts;
  function label(extra) {
    var l = { "text-field": ["coalesce", ["get", "name"], ""], "text-font": FONT, "text-size": 12, "text-max-width": 8 };
    Object.keys(extra || {}).forEach(function (k) { l[k] = extra[k]; });
    return l;
  }
  var halo = { "text-halo-color": "#ffffff", "text-halo-width": 1.6 };
  function paint(p) { var o = {}; Object.keys(halo).forEach(function (k) { o[k] = halo[k]; }); Object.keys(p).forEach(function (k) { o[k] = p[k]; }); return o; }
  var MAJOR = ["in", ["get", "road_class"], ["literal", ["arterial", "primary", "secondary", "trunk", "tertiary", "motorway"]]];
  var POINT = ["==", ["geometry-type"], "Point"], AREA = ["==", ["geometry-type"], "Polygon"];

  function buildStyle() {
    var sources = {}, layers = [{ id: "background", type: "background", paint: { "background-color": "#f3f0e8" } }];
    cfg.basemap.forEach(function (b, i) {
      var tiles = (b.subdomains ? b.subdomains.split("") : [null]).map(function (s) { return s ? b.tiles.replace("{s}", s) : b.tiles.replace("{s}", "a"); });
      sources["basemap" + i] = { type: "raster", tiles: tiles, tileSize: 256, attribution: b.attr, maxzoom: b.max_zoom || 19 };
      layers.push({ id: "basemap" + i, type: "raster", source: "basemap" + i });
    });
    cfg.tile_layers.forEach(function (l) { sources[l] = tileSource(l); });
    function add(layer, def) { if (has[layer]) { def.source = layer; def["source-layer"] = layer; layers.push(def); } }
    add("admin_areas", { id: "admin-line", type: "line", filter: ["==", ["get", "level"], "street"], paint: { "line-color": "#9e9e9e", "line-width": 1, "line-dasharray": [3, 2] } });
    ["population_units", "residential_areas"].forEach(function (l) {
      add(l, { id: l + "-fill", type: "fill", paint: { "fill-color": "#eadbc0", "fill-opacity": 0.55 } });
      add(l, { id: l + "-line", type: "line", minzoom: 14, paint: { "line-color": "#c2a878", "line-width": 0.8 } });
    });
    add("facilities", { id: "facility-areas", type: "fill", filter: AREA, minzoom: 14, paint: { "fill-color": "#7e57c2", "fill-opacity": 0.18 } });
    add("shelters", { id: "shelter-areas", type: "fill", filter: AREA, paint: { "fill-color": "#43a047", "fill-opacity": 0.35, "fill-outline-color": "#1b5e20" } });
    add("network_edges", { id: "net-casing", type: "line", layout: { "line-cap": "round", "line-join": "round" }, paint: { "line-color": "#b8b2a6", "line-width": ["interpolate", ["linear"], ["zoom"], 12, ["case", MAJOR, 2.5, 1.2], 17, ["case", MAJOR, 11, 6]] } });
    add("network_edges", { id: "net", type: "line", layout: { "line-cap": "round", "line-join": "round" }, paint: { "line-color": ["case", MAJOR, "#fff4c2", "#ffffff"], "line-width": ["interpolate", ["linear"], ["zoom"], 12, ["case", MAJOR, 1.5, 0.6], 17, ["case", MAJOR, 9, 4.5]] } });
    // road names: the roads layer, else the names of the walking network's edges (an OSM import)
    add(has.roads ? "roads" : "network_edges", { id: "road-names", type: "symbol", minzoom: 14, filter: ["has", "name"], layout: label({ "symbol-placement": "line", "text-size": ["interpolate", ["linear"], ["zoom"], 14, 11, 17, 14], "symbol-spacing": 300 }), paint: paint({ "text-color": "#4e4e4e" }) });
    ["population_units", "residential_areas"].forEach(function (l) {
      add(l, { id: l + "-names", type: "symbol", minzoom: 15, layout: label({ "text-size": 12 }), paint: paint({ "text-color": "#7a5c2e" }) });
    });
    add("facilities", { id: "facilities", type: "circle", filter: POINT, minzoom: 14, paint: { "circle-radius": ["interpolate", ["linear"], ["zoom"], 14, 2.5, 18, 6], "circle-color": "#7e57c2", "circle-stroke-color": "#fff", "circle-stroke-width": 1 } });
    add("facilities", { id: "facility-names", type: "symbol", minzoom: 16, layout: label({ "text-size": 12, "text-offset": [0, 1.1], "text-anchor": "top" }), paint: paint({ "text-color": "#4527a0" }) });
    add("shelters", { id: "shelters", type: "circle", filter: POINT, paint: { "circle-radius": ["interpolate", ["linear"], ["zoom"], 12, 3, 17, 8], "circle-color": "#2e7d32", "circle-stroke-color": "#fff", "circle-stroke-width": 1.5 } });
    add("shelters", { id: "shelter-names", type: "symbol", minzoom: 14, layout: label({ "text-size": 13, "text-offset": [0, 1.1], "text-anchor": "top" }), paint: paint({ "text-color": "#1b5e20" }) });
    // routes: the service route under the shelter route; the shelter route has a white casing
    sources.routes = { type: "geojson", data: { type: "FeatureCollection", features: [] } };
    sources.marks = { type: "geojson", data: { type: "FeatureCollection", features: [] } };
    layers.push({ id: "route-service", type: "line", source: "routes", filter: ["==", ["get", "kind"], "service"], layout: { "line-join": "round" }, paint: { "line-color": SERVICE_COLOR, "line-width": 4, "line-dasharray": [2, 1.2], "line-opacity": 0.95 } });
    layers.push({ id: "route-shelter-casing", type: "line", source: "routes", filter: ["==", ["get", "kind"], "shelter"], layout: { "line-join": "round", "line-cap": "round" }, paint: { "line-color": "#ffffff", "line-width": 10 } });
    layers.push({ id: "route-shelter", type: "line", source: "routes", filter: ["==", ["get", "kind"], "shelter"], layout: { "line-join": "round", "line-cap": "round" }, paint: { "line-color": SHELTER_COLOR, "line-width": 6 } });
    layers.push({ id: "marks", type: "circle", source: "marks", paint: { "circle-radius": ["match", ["get", "kind"], "me", 8, "step", 5, 9], "circle-color": ["match", ["get", "kind"], "me", "#ffffff", "step", "#ffeb3b", "shelter", SHELTER_COLOR, SERVICE_COLOR], "circle-stroke-color": ["match", ["get", "kind"], "me", SERVICE_COLOR, "#ffffff"], "circle-stroke-width": 3 } });
    layers.push({ id: "mark-names", type: "symbol", source: "marks", filter: ["has", "name"], layout: label({ "text-size": 14, "text-offset": [0, 1.3], "text-anchor": "top" }), paint: paint({ "text-color": "#212121" }) });
    return { version: 8, sources: sources, layers: layers };
  }

  var map = new maplibregl.Map({
    container: "map", style: buildStyle(), bounds: [[cfg.bounds[0], cfg.bounds[1]], [cfg.bounds[2], cfg.bounds[3]]],
    fitBoundsOptions: { padding: 10 }, maxZoom: 19, attributionControl: false, localIdeographFontFamily: FONT.join(","), dragRotate: false
  });
  map.touchZoomRotate.disableRotation();
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
  window.geoMap = map;
  var mapReady = new Promise(function (resolve) { map.on("load", resolve); });

  // ------------------------------------------------------------------ categories and profile
  function fillCategories(list) {
    var keep = select.value;
    select.innerHTML = "";
    list.forEach(function (c) {
      var o = document.createElement("option");
      o.value = c.code; o.textContent = c.label;
      select.appendChild(o);
    });
    select.value = keep || cfg.default_category;
    if (!select.value && list.length) select.value = list[0].code;
  }
  function normalise(data) {
    var items = Array.isArray(data) ? data : (data && (data.categories || data.items)) || [];
    var out = [];
    items.forEach(function (c) {
      if (typeof c === "string") out.push({ code: c, label: cfg.labels[c] || c });
      else if (c && (c.code || c.category)) {
        var code = c.code || c.category;
        out.push({ code: code, label: c.label_zh || c.category_zh || cfg.labels[code] || code });
      }
    });
    if (!out.some(function (c) { return c.code === "shelter"; })) out.unshift({ code: "shelter", label: cfg.labels.shelter });
    return out;
  }
  fillCategories(cfg.categories);
  if (cfg.categories_url) fetch(cfg.categories_url).then(function (r) { return r.ok ? r.json() : null; }).then(function (d) {
    if (d) { var list = normalise(d); if (list.length > 1) fillCategories(list); }
  }).catch(function () { /* offline: keep the embedded list */ });
  function profile() { var p = document.querySelector('input[name="profile"]:checked'); return p ? p.value : "standard"; }

  // ------------------------------------------------------------------ local answers (per-area files)
  var Z = cfg.area_z, files = {};
  function getJSON(url, decode) {
    if (!files[url]) {
      files[url] = fetch(url).then(function (r) {
        if (!r.ok) { var e = new Error("数据文件读取失败（" + r.status + "）"); e.status = r.status; throw e; }
        return r.json();
      }).then(decode || function (o) { return o; });
      files[url].catch(function () { delete files[url]; });
    }
    return files[url];
  }
  function tileOf(lon, lat) {
    var n = Math.pow(2, Z), r = lat * Math.PI / 180;
    var x = Math.floor((lon + 180) / 360 * n);
    var y = Math.floor((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2 * n);
    return [Math.min(Math.max(x, 0), n - 1), Math.min(Math.max(y, 0), n - 1)];
  }
  function decodeNet(A) {
    // vertices: centimetres, the first vertex then steps -> metres
    A.coords = A.coords.map(function (c) {
      var out = new Array(c.length), x = 0, y = 0;
      for (var j = 0; j < c.length; j += 2) { x += c[j]; y += c[j + 1]; out[j] = x / 100; out[j + 1] = y / 100; }
      return out;
    });
    return A;
  }
  function decodeLabels(L) {
    // node ids as steps, walk in centimetres, predecessor as a step from its node (0: next to the source)
    var nodes = {}, node = 0;
    for (var i = 0; i < L.dn.length; i++) {
      node += L.dn[i];
      nodes[node] = [L.d_cm[i] / 100, L.s[i], L.dp[i] ? node + L.dp[i] : -1, L.e[i]];
    }
    L.nodes = nodes;
    return L;
  }
  function netArea(t) { return getJSON(cfg.areas_url + "net/" + t[0] + "/" + t[1] + ".json", decodeNet); }
  function labelArea(cat, t) { return getJSON(cfg.areas_url + encodeURIComponent(cat) + "/" + t[0] + "/" + t[1] + ".json", decodeLabels); }
  function sourcesOf(cat) { return getJSON(cfg.areas_url + encodeURIComponent(cat) + "/sources.json"); }
  function quad(c, a, b) { return c[0] + c[1] * a + c[2] * b + c[3] * a * a + c[4] * a * b + c[5] * b * b; }
  function toMetric(A, lon, lat) { var a = lon - A.lon0, b = lat - A.lat0; return [quad(A.fwd[0], a, b), quad(A.fwd[1], a, b)]; }
  function toLonLat(A, x, y) { return [A.lon0 + quad(A.inv[0], x, y), A.lat0 + quad(A.inv[1], x, y)]; }
  function edgeIndex(A, e) {
    if (!A._index) { A._index = {}; A.edge.forEach(function (id, i) { A._index[id] = i; }); }
    return A._index[e];
  }

  function snapIn(A, px, py) {
    // nearest point on any edge of the area (the area holds every edge within max_snap_m of it)
    var best = { d: Infinity };
    for (var i = 0; i < A.coords.length; i++) {
      var c = A.coords[i], along = 0, bi = -1, bAlong = 0, bd = Infinity, bq = null;
      for (var j = 0; j + 3 < c.length; j += 2) {
        var ax = c[j], ay = c[j + 1], dx = c[j + 2] - ax, dy = c[j + 3] - ay, L2 = dx * dx + dy * dy, len = Math.sqrt(L2);
        var t = L2 > 0 ? Math.min(1, Math.max(0, ((px - ax) * dx + (py - ay) * dy) / L2)) : 0;
        var qx = ax + dx * t, qy = ay + dy * t, d = Math.hypot(px - qx, py - qy);
        if (d < bd) { bd = d; bi = j; bAlong = along + len * t; bq = [qx, qy]; }
        along += len;
      }
      if (bi >= 0 && bd < best.d) best = { d: bd, i: i, frac: along > 0 ? Math.min(1, Math.max(0, bAlong / along)) : 0, q: bq };
    }
    return best;
  }
  function piece(A, i, f0, f1) {
    // vertices (lon/lat) along edge i of area A from fraction f0 to f1, either direction (as the service does)
    var c = A.coords[i], pts = [], cum = [0];
    for (var j = 0; j < c.length; j += 2) pts.push([c[j], c[j + 1]]);
    for (var k = 1; k < pts.length; k++) cum.push(cum[k - 1] + Math.hypot(pts[k][0] - pts[k - 1][0], pts[k][1] - pts[k - 1][1]));
    var total = cum[cum.length - 1];
    function at(d) {
      var m = 0;
      while (m < cum.length - 2 && cum[m + 1] <= d) m++;
      var seg = cum[m + 1] - cum[m], f = seg === 0 ? 0 : (d - cum[m]) / seg;
      return [pts[m][0] + f * (pts[m + 1][0] - pts[m][0]), pts[m][1] + f * (pts[m + 1][1] - pts[m][1])];
    }
    var a = Math.min(f0, f1) * total, b = Math.max(f0, f1) * total, out = [at(a)];
    pts.forEach(function (p, m) { if (cum[m] > a && cum[m] < b) out.push(p); });
    out.push(at(b));
    if (f0 > f1) out.reverse();
    return out.map(function (p) { return toLonLat(A, p[0], p[1]); });
  }
  function nodeLabel(cat, node, t) {
    return labelArea(cat, t).then(function (L) { return L.nodes[String(node)] || null; });
  }

  function localNearest(lon, lat, cat) {
    var t0 = tileOf(lon, lat), A, S, s, item, best;
    return Promise.all([netArea(t0).catch(function (e) {
      if (e.status === 404) { var u = new Error("该位置不在本地图的数据范围内"); u.user = true; throw u; }
      throw e;
    }), sourcesOf(cat)]).then(function (got) {
      A = got[0]; S = got[1];
      var p = toMetric(A, lon, lat);
      s = snapIn(A, p[0], p[1]);
      if (!(s.d <= A.max_snap_m)) {
        var e = new Error("该位置距离步行道路超过 " + Math.round(A.max_snap_m) + " 米，无法规划步行路线");
        e.user = true; throw e;
      }
      var u = A.u[s.i], v = A.v[s.i];
      return Promise.all([nodeLabel(cat, u, A.node_area[u]), nodeLabel(cat, v, A.node_area[v])]);
    }).then(function (lv) {
      var e = A.edge[s.i], L = A.length_m[s.i], t = s.frac, cands = [];
      if (lv[0]) cands.push([lv[0][1], lv[0][0] + t * L, A.u[s.i]]);
      if (lv[1]) cands.push([lv[1][1], lv[1][0] + (1 - t) * L, A.v[s.i]]);
      S.items.forEach(function (it, k) { if (it.edge === e) cands.push([k, it.offset_m + Math.abs(it.frac - t) * L, -1]); });
      cands = cands.filter(function (c) { return c[1] <= S.radius_m; });
      cands.sort(function (a, b) { return a[1] - b[1] || a[0] - b[0]; });
      var snapLL = toLonLat(A, s.q[0], s.q[1]);
      var out = {
        query: { lon: lon, lat: lat, category: cat, category_zh: S.category_zh, k: 1 },
        snap: { lon: snapLL[0], lat: snapLL[1], offset_m: Math.round(s.d * 10) / 10 }, results: [], local: true
      };
      if (!cands.length) { out.message_zh = "步行 " + Math.round(S.radius_m / 1000) + " 公里内没有「" + S.category_zh + "」"; return out; }
      best = cands[0]; item = S.items[best[0]];
      var walk = best[1] + s.d, speed = cfg.speeds_mps[profile()] || cfg.speeds_mps.standard;
      var res = {};
      Object.keys(item).forEach(function (k) { res[k] = item[k]; });
      res.rank = 1; res.walk_m = Math.round(walk * 10) / 10; res.walk_min = Math.round(walk / speed / 6) / 10;
      out.results.push(res);
      return localRoute(A, s, best, item, cat, lon, lat).then(function (coords) {
        res.route = { type: "LineString", coordinates: coords };
        return out;
      });
    });
  }
  window.residentLocal = localNearest;

  function localRoute(A, s, best, item, cat, lon, lat) {
    var coords = [[lon, lat]], via = best[2], src = best[0];
    function finish() { coords.push([item.lon, item.lat]); return coords; }
    if (via === -1) { Array.prototype.push.apply(coords, piece(A, s.i, s.frac, item.frac)); return Promise.resolve(finish()); }
    Array.prototype.push.apply(coords, piece(A, s.i, s.frac, via === A.u[s.i] ? 0 : 1));
    var node = via, area = A.node_area[via], hops = 0;
    function step() {
      return Promise.all([nodeLabel(cat, node, area), netArea(area)]).then(function (got) {
        var lab = got[0], N = got[1];
        if (!lab || lab[1] !== src || hops++ > 100000) return finish();  // labels disagree: end the line here
        if (lab[2] < 0) {  // next to the source: the piece of its edge
          var i = edgeIndex(N, item.edge);
          if (i !== undefined) Array.prototype.push.apply(coords, piece(N, i, N.u[i] === node ? 0 : 1, item.frac));
          return finish();
        }
        var j = edgeIndex(N, lab[3]);
        if (j !== undefined) Array.prototype.push.apply(coords, piece(N, j, N.u[j] === node ? 0 : 1, N.u[j] === node ? 1 : 0));
        area = N.node_area[lab[2]]; node = lab[2];
        return step();
      });
    }
    return step();
  }

  // the answer files of the areas in view (the service worker keeps them for offline use)
  function viewAreas() {
    if (map.getZoom() < 12.5) return [];
    var b = map.getBounds(), a = tileOf(b.getWest(), b.getNorth()), c = tileOf(b.getEast(), b.getSouth()), out = [];
    if ((c[0] - a[0] + 1) * (c[1] - a[1] + 1) > 16) return [];
    for (var x = a[0]; x <= c[0]; x++) for (var y = a[1]; y <= c[1]; y++) out.push([x, y]);
    return out;
  }
  function viewCategories() { var cats = cfg.has_shelters === false ? [] : ["shelter"]; if (select.value && select.value !== "shelter") cats.push(select.value); return cats; }
  function prefetchView() {
    var cats = viewCategories(), jobs = cats.map(sourcesOf);
    viewAreas().forEach(function (t) {
      jobs.push(netArea(t));
      cats.forEach(function (cat) { jobs.push(labelArea(cat, t)); });
    });
    return Promise.all(jobs.map(function (j) { return j.catch(function () { return null; }); }));
  }
  function viewUrls() {
    // answer files and vector tiles of the view, for the cache of the service worker
    var cats = viewCategories(), urls = cats.map(function (c) { return cfg.areas_url + encodeURIComponent(c) + "/sources.json"; });
    viewAreas().forEach(function (t) {
      urls.push(cfg.areas_url + "net/" + t[0] + "/" + t[1] + ".json");
      cats.forEach(function (c) { urls.push(cfg.areas_url + encodeURIComponent(c) + "/" + t[0] + "/" + t[1] + ".json"); });
    });
    var z = Math.max(cfg.tile_minzoom, Math.min(cfg.tile_maxzoom, Math.floor(map.getZoom()))), n = Math.pow(2, z);
    var b = map.getBounds();
    function tx(lon) { return Math.floor((lon + 180) / 360 * n); }
    function ty(lat) { var r = lat * Math.PI / 180; return Math.floor((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2 * n); }
    var x0 = tx(b.getWest()), x1 = tx(b.getEast()), y0 = ty(b.getNorth()), y1 = ty(b.getSouth());
    if ((x1 - x0 + 1) * (y1 - y0 + 1) <= 64) {
      cfg.tile_layers.forEach(function (l) {
        for (var x = x0; x <= x1; x++) for (var y = y0; y <= y1; y++) {
          urls.push(abs(cfg.tile_url.replace("{layer}", l).replace("{z}", z).replace("{x}", x).replace("{y}", y)));
        }
      });
    }
    return urls;
  }

  // ------------------------------------------------------------------ answers from the service
  function serviceNearest(lon, lat, cat) {
    var url = cfg.nearest_url + "?lon=" + lon.toFixed(6) + "&lat=" + lat.toFixed(6) + "&category=" + encodeURIComponent(cat) + "&k=1&profile=" + profile();
    return fetch(url).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (r.ok) return body;
        var e = new Error(body.message_zh || body.message || ("查询失败（" + r.status + "）"));
        e.user = r.status < 500 && r.status !== 429 && r.status !== 408; throw e;
      });
    });
  }
  function noData(e) {
    if (e.user) throw e;
    throw new Error(cfg.nearest_url ? "无法连接服务，本机也没有这里的离线数据：请在联网时先浏览这一带的地图。" : "这里的数据读取失败，请稍后再试。");
  }
  function nearest(lon, lat, cat) {
    if (cat === "shelter" && cfg.has_shelters === false) {  // as the service says it; no file or request to try
      var none = new Error("当前没有「" + cfg.labels.shelter + "」的现状数据"); none.user = true;
      return Promise.reject(none);
    }
    if (!cfg.nearest_url) return localNearest(lon, lat, cat).catch(noData);
    return serviceNearest(lon, lat, cat).catch(function (e) {
      if (e.user) throw e;
      return localNearest(lon, lat, cat).then(function (out) { out.fallback = true; return out; }).catch(noData);
    });
  }

  // ------------------------------------------------------------------ drawing and the panel
  function fmtM(m) { return m >= 1000 ? (m / 1000).toFixed(1) + " 公里" : Math.round(m) + " 米"; }
  function card(res, isShelter) {
    var cap = res.capacity !== null && res.capacity !== undefined ? (isShelter ? "可容纳 " : "服务容量 ") + Number(res.capacity).toLocaleString("zh-CN") + " 人" : "";
    var minutes = res.walk_min !== null && res.walk_min !== undefined ? Math.max(1, Math.round(res.walk_min)) : null;
    var steps = (res.route && res.route.steps) || res.steps;
    var html = '<div class="card' + (isShelter ? " shelter" : "") + '">' +
      '<div class="name">' + esc(res.name || "（未命名）") + "</div>" +
      '<div class="walk">步行 ' + fmtM(res.walk_m) + (minutes !== null ? "，约 " + minutes + " 分钟" : "") + "</div>" +
      '<div class="meta">' + esc(res.category_zh || "") + (cap ? " · " + cap : "") + (res.opening_hours ? " · 开放时间 " + esc(res.opening_hours) : "") + "</div>" +
      '<div class="meta">地址：' + esc(res.address || "—") + "</div>";
    if (Array.isArray(steps) && steps.length) {
      html += '<ol class="steps">' + steps.map(function (st) {
        return '<li tabindex="0" role="button" data-lon="' + st.lon + '" data-lat="' + st.lat + '"><span class="mv mv-' + esc(st.maneuver) + '"></span>' +
          esc(st.instruction_zh) + "</li>";
      }).join("") + "</ol>";
    } else {
      html += '<p class="meta nosteps">全程步行 ' + fmtM(res.walk_m) + "，请沿地图上的路线行走。</p>";
    }
    return html + "</div>";
  }
  function setData(routes, marks) {
    map.getSource("routes").setData({ type: "FeatureCollection", features: routes });
    map.getSource("marks").setData({ type: "FeatureCollection", features: marks });
  }

  var seq = 0;
  function run(lon, lat) {
    var my = ++seq;
    last = [lon, lat];
    showError("");
    results.innerHTML = '<p class="hint">正在查询……</p>';
    var cat = select.value, cats = cat === "shelter" ? ["shelter"] : ["shelter", cat];
    return Promise.allSettled(cats.map(function (c) { return nearest(lon, lat, c); })).then(function (outs) {
      if (my !== seq) return;
      var html = "", errors = [], routes = [], marks = [{ type: "Feature", properties: { kind: "me" }, geometry: { type: "Point", coordinates: [lon, lat] } }];
      var bounds = new maplibregl.LngLatBounds([lon, lat], [lon, lat]), fallback = false;
      outs.forEach(function (o, i) {
        var isShelter = cats[i] === "shelter", kind = isShelter ? "shelter" : "service";
        if (o.status === "rejected") { errors.push(o.reason.message); return; }
        var body = o.value;
        fallback = fallback || body.fallback || body.local;
        (body.results || []).slice(0, 1).forEach(function (res) {
          if (!res.route || !res.route.coordinates) return;
          routes.push({ type: "Feature", properties: { kind: kind, name: res.name }, geometry: { type: "LineString", coordinates: res.route.coordinates } });
          res.route.coordinates.forEach(function (c) { bounds.extend(c); });
          var end = res.route.coordinates[res.route.coordinates.length - 1];
          marks.push({ type: "Feature", properties: { kind: kind, name: res.name || "" }, geometry: { type: "Point", coordinates: end } });
        });
        var title = isShelter ? "最近的应急避难场所" : "最近的" + ((select.options[select.selectedIndex] || {}).text || "");
        html += '<h2 class="' + kind + '">' + esc(title) + "</h2>";
        html += (body.results || []).slice(0, 1).map(function (r) { return card(r, isShelter); }).join("") ||
          '<p class="hint">' + esc(body.message_zh || "附近没有找到。") + "</p>";
      });
      setData(routes.reverse(), marks);  // shelter last: drawn on top within the source
      if (fallback && cfg.nearest_url) showOffline("暂时无法连接服务，以下结果来自本机已保存的数据（按标准步行路网计算，轮椅无障碍路线与逐段指引需联网）。");
      else showOffline("");
      results.innerHTML = html;
      if (errors.length) showError(errors.join("；"));
      if (routes.length) map.fitBounds(bounds, { padding: 40, maxZoom: 17, duration: 400 });
    });
  }

  results.addEventListener("click", function (ev) {
    var li = ev.target.closest && ev.target.closest("li[data-lon]");
    if (!li) return;
    var lon = +li.getAttribute("data-lon"), lat = +li.getAttribute("data-lat");
    Array.prototype.forEach.call(results.querySelectorAll("li.active"), function (n) { n.classList.remove("active"); });
    li.classList.add("active");
    map.flyTo({ center: [lon, lat], zoom: 17.5 });
    var src = map.getSource("marks"), data = src._data || null;
    var feats = (data && data.features ? data.features : []).filter(function (f) { return f.properties.kind !== "step"; });
    feats.push({ type: "Feature", properties: { kind: "step" }, geometry: { type: "Point", coordinates: [lon, lat] } });
    src.setData({ type: "FeatureCollection", features: feats });
    document.getElementById("map").scrollIntoView({ behavior: "smooth", block: "center" });
  });
  results.addEventListener("keydown", function (ev) { if (ev.key === "Enter" && ev.target.matches("li[data-lon]")) ev.target.click(); });

  map.on("click", function (e) { run(e.lngLat.lng, e.lngLat.lat); });
  map.on("moveend", function () { prefetchView(); });
  select.addEventListener("change", function () { prefetchView(); if (last) run(last[0], last[1]); });
  Array.prototype.forEach.call(document.querySelectorAll('input[name="profile"]'), function (r) {
    r.addEventListener("change", function () { if (last) run(last[0], last[1]); });
  });
  $("locate").addEventListener("click", function () {
    if (!navigator.geolocation) { showError("此浏览器不支持定位，请在地图上点击您的位置。"); return; }
    navigator.geolocation.getCurrentPosition(function (p) {
      map.jumpTo({ center: [p.coords.longitude, p.coords.latitude], zoom: 16 });
      run(p.coords.longitude, p.coords.latitude);
    }, function () { showError("无法获取位置（可能未授权定位），请在地图上点击您的位置。"); }, { enableHighAccuracy: true, timeout: 10000 });
  });

  // ------------------------------------------------------------------ search
  var searchList = $("search-results");
  function localSearch(q) {
    // the exported site has no search service: names of shelters and the chosen category's places
    var cats = ["shelter"]; if (select.value !== "shelter") cats.push(select.value);
    return Promise.all(cats.map(function (c) { return sourcesOf(c).catch(function () { return { items: [] }; }); })).then(function (all) {
      var hits = [];
      all.forEach(function (S) { (S.items || []).forEach(function (it) {
        var hay = (it.name || "") + " " + (it.address || "");
        if (hay.indexOf(q) >= 0) hits.push({ name: it.name, kind_zh: it.category_zh, address: it.address, lon: it.lon, lat: it.lat, exact: it.name === q });
      }); });
      hits.sort(function (a, b) { return (b.exact - a.exact) || (a.name || "").length - (b.name || "").length; });
      return hits.slice(0, 10);
    });
  }
  function search(q) {
    if (!cfg.search_url) return localSearch(q);
    return fetch(cfg.search_url + "?q=" + encodeURIComponent(q) + "&limit=10").then(function (r) {
      return r.json().then(function (b) { if (!r.ok) throw new Error(b.message_zh || "搜索失败"); return b.results || []; });
    }).catch(function (e) { if (e instanceof TypeError) return localSearch(q); throw e; });
  }
  $("search-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var q = $("search").value.trim();
    if (!q) { searchList.hidden = true; return; }
    search(q).then(function (hits) {
      searchList.innerHTML = hits.length ? hits.map(function (h, i) {
        return '<li><button type="button" data-i="' + i + '"><b>' + esc(h.name) + '</b> <span class="kind">' + esc(h.kind_zh || "") + "</span>" +
          (h.address ? '<br><span class="addr">' + esc(h.address) + "</span>" : "") + "</button></li>";
      }).join("") : '<li class="none">没有找到「' + esc(q) + "」，请换个名称或地址再试。</li>";
      searchList.hidden = false;
      searchList._hits = hits;
    }).catch(function (e) { showError(e.message); });
  });
  searchList.addEventListener("click", function (ev) {
    var b = ev.target.closest && ev.target.closest("button[data-i]");
    if (!b) return;
    var h = searchList._hits[+b.getAttribute("data-i")];
    searchList.hidden = true;
    map.jumpTo({ center: [h.lon, h.lat], zoom: 16 });
    run(h.lon, h.lat);
  });

  // ------------------------------------------------------------------ offline: the service worker
  window.residentReady = mapReady.then(function () {
    if (!("serviceWorker" in navigator) || !window.isSecureContext) return "no-sw";
    return navigator.serviceWorker.register(cfg.sw_url, { scope: cfg.sw_scope }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function () {
      if (navigator.serviceWorker.controller) return null;
      return new Promise(function (resolve) { navigator.serviceWorker.addEventListener("controllerchange", resolve); setTimeout(resolve, 5000); });
    }).then(function () {
      // what loaded before the worker took control: the page, its assets and the files of the view
      return caches.open("resident-v1").then(function (c) {
        var urls = [location.href.split("#")[0]].concat(cfg.precache, viewUrls());
        return Promise.all(urls.map(function (u) {
          return c.match(u).then(function (hit) { return hit || c.add(u); }).catch(function () { return null; });
        }));
      });
    }).then(function () { return prefetchView(); }).then(function () { return "cached"; })
      .catch(function () { return "sw-failed"; });
  });
  // keep the current view for offline use now (also done after every move, for the answer files)
  window.residentCacheView = function () {
    return caches.open("resident-v1").then(function (c) {
      return Promise.all(viewUrls().map(function (u) { return c.add(u).catch(function () { return null; }); }));
    }).then(prefetchView);
  };
  window.residentQuery = run;
  // a link to a place (the QR code of a printed community shelter map): ?lat=..&lon=..[&category=..][&profile=..]
  (function fromLink() {
    var q = new URLSearchParams(location.search);
    var lat = parseFloat(q.get("lat")), lon = parseFloat(q.get("lon"));
    if (!isFinite(lat) || !isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) return;
    var cat = q.get("category"), prof = q.get("profile");
    mapReady.then(function () {
      if (cat && Array.prototype.some.call(select.options, function (o) { return o.value === cat; })) select.value = cat;
      var radio = prof && document.querySelector('input[name="profile"][value="' + prof.replace(/[^a-z]/g, "") + '"]');
      if (radio) radio.checked = true;
      map.jumpTo({ center: [lon, lat], zoom: 16 });
      window.residentLinked = run(lon, lat);
    });
  })();
  window.addEventListener("offline", function () { showOffline("当前处于离线状态：将使用本机已保存的数据查询。"); });
  window.addEventListener("online", function () { showOffline(""); });
})();
