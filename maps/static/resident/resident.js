/* Resident page: tap the map (or use the phone's location) to see the nearest shelter and service points
 * with their walking routes.  Calls GET /nearest?lon=&lat=&category=&k=; everything is served locally. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("resident-config").textContent);
  var map = L.map("map", { zoomControl: true, tap: true }).fitBounds([[cfg.bounds[1], cfg.bounds[0]], [cfg.bounds[3], cfg.bounds[2]]]);
  window.geoMap = map;
  cfg.basemap.forEach(function (b) {
    L.tileLayer(b.tiles, { attribution: b.attr, subdomains: b.subdomains || "abc", maxZoom: b.max_zoom || 19 }).addTo(map);
  });
  if (!cfg.basemap.length) document.getElementById("map").style.background = "#f2efe9";
  if (cfg.context) {
    L.geoJSON(cfg.context, { style: { color: "#888", weight: 1, fill: false, interactive: false } }).addTo(map);
  }
  var drawn = L.featureGroup().addTo(map);
  var select = document.getElementById("category");
  var results = document.getElementById("results");
  var errorBox = document.getElementById("error");
  var last = null;

  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function fillCategories(list) {
    select.innerHTML = "";
    list.forEach(function (c) {
      var o = document.createElement("option");
      o.value = c.code; o.textContent = c.label;
      select.appendChild(o);
    });
    select.value = cfg.default_category;
    if (!select.value && list.length) select.value = list[0].code;
  }

  function normalise(data) {
    // /nearest/categories may answer a list of codes, a list of objects or a {code: label} object
    var items = Array.isArray(data) ? data : (data && (data.categories || data.items)) || data;
    var out = [];
    if (Array.isArray(items)) {
      items.forEach(function (c) {
        if (typeof c === "string") out.push({ code: c, label: cfg.labels[c] || c });
        else if (c && (c.code || c.category)) {
          var code = c.code || c.category;
          out.push({ code: code, label: c.label_zh || c.category_zh || c.name_zh || cfg.labels[code] || code });
        }
      });
    } else if (items && typeof items === "object") {
      Object.keys(items).forEach(function (k) {
        out.push({ code: k, label: typeof items[k] === "string" ? items[k] : (cfg.labels[k] || k) });
      });
    }
    if (!out.some(function (c) { return c.code === "shelter"; })) out.unshift({ code: "shelter", label: cfg.labels.shelter });
    return out;
  }

  fillCategories(cfg.categories);
  if (cfg.categories_url) fetch(cfg.categories_url).then(function (r) { return r.ok ? r.json() : null; }).then(function (d) {
    if (!d) return;
    var list = normalise(d);
    if (list.length > 1) fillCategories(list);
  }).catch(function () { /* keep the embedded list */ });

  function showError(msg) { errorBox.textContent = msg; errorBox.hidden = !msg; }

  function query(lon, lat, category, k) {
    var url = "/nearest?lon=" + lon.toFixed(6) + "&lat=" + lat.toFixed(6) + "&category=" + encodeURIComponent(category) + "&k=" + k;
    return fetch(url).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) throw new Error(body.message_zh || body.message || ("查询失败（" + r.status + "）"));
        return body;
      });
    });
  }

  function card(res, isShelter) {
    var cap = res.capacity !== null && res.capacity !== undefined ? (isShelter ? "可容纳 " : "服务容量 ") + Number(res.capacity).toLocaleString("zh-CN") + " 人" : "";
    var minutes = res.walk_min !== null && res.walk_min !== undefined ? Math.max(1, Math.round(res.walk_min)) : null;
    return '<div class="card' + (isShelter ? " shelter" : "") + '">' +
      '<div class="name">' + esc(res.rank) + ". " + esc(res.name || "（未命名）") + "</div>" +
      '<div class="walk">步行 ' + Math.round(res.walk_m).toLocaleString("zh-CN") + " 米" + (minutes !== null ? "，约 " + minutes + " 分钟" : "") + "</div>" +
      '<div class="meta">' + esc(res.category_zh || "") + (cap ? " · " + cap : "") + (res.opening_hours ? " · 开放时间 " + esc(res.opening_hours) : "") + "</div>" +
      '<div class="meta">地址：' + esc(res.address || "—") + "</div></div>";
  }

  function draw(body, color, isShelter) {
    (body.results || []).forEach(function (res, i) {
      if (res.route) {
        L.geoJSON(res.route, { style: { color: color, weight: i === 0 ? 6 : 4, opacity: i === 0 ? 0.9 : 0.55, className: "route" } })
          .bindTooltip(esc(res.name) + "：步行 " + Math.round(res.walk_m) + " 米").addTo(drawn);
        var coords = res.route.type === "LineString" ? res.route.coordinates : null;
        if (coords && coords.length) {
          var end = coords[coords.length - 1];
          L.circleMarker([end[1], end[0]], { radius: 8, color: "#fff", weight: 2, fillColor: color, fillOpacity: 1 })
            .bindPopup(card(res, isShelter)).addTo(drawn);
        }
      }
    });
    if (body.snap && last) {
      L.polyline([[last[1], last[0]], [body.snap.lat, body.snap.lon]], { color: "#555", dashArray: "4 4", weight: 2 }).addTo(drawn);
    }
  }

  function run(lon, lat) {
    last = [lon, lat];
    drawn.clearLayers();
    showError("");
    L.circleMarker([lat, lon], { radius: 7, color: "#1565c0", fillColor: "#fff", fillOpacity: 1, weight: 3 })
      .bindTooltip("我的位置").addTo(drawn);
    results.innerHTML = '<p class="hint">正在查询……</p>';
    var category = select.value;
    var jobs = [query(lon, lat, "shelter", category === "shelter" ? 3 : 1)];
    if (category !== "shelter") jobs.push(query(lon, lat, category, 3));
    Promise.allSettled(jobs).then(function (outs) {
      var html = "";
      var errors = [];
      outs.forEach(function (o, i) {
        var isShelter = i === 0;
        if (o.status === "rejected") { errors.push(o.reason.message); return; }
        draw(o.value, isShelter ? "#c62828" : "#1565c0", isShelter);
        var title = isShelter ? "最近的应急避难场所" : "最近的" + (select.options[select.selectedIndex] || {}).text;
        html += "<h2>" + esc(title) + "</h2>";
        html += (o.value.results || []).map(function (r) { return card(r, isShelter); }).join("") || '<p class="hint">附近没有找到。</p>';
      });
      results.innerHTML = html;
      if (errors.length) showError(errors.join("；"));
      if (drawn.getLayers().length > 1) map.fitBounds(drawn.getBounds(), { padding: [20, 20], maxZoom: 17 });
    });
  }

  map.on("click", function (e) { run(e.latlng.lng, e.latlng.lat); });
  select.addEventListener("change", function () { if (last) run(last[0], last[1]); });
  document.getElementById("locate").addEventListener("click", function () {
    if (!navigator.geolocation) { showError("此浏览器不支持定位，请在地图上点击您的位置。"); return; }
    navigator.geolocation.getCurrentPosition(function (p) {
      map.setView([p.coords.latitude, p.coords.longitude], 16);
      run(p.coords.longitude, p.coords.latitude);
    }, function () { showError("无法获取位置（可能未授权定位），请在地图上点击您的位置。"); }, { enableHighAccuracy: true, timeout: 10000 });
  });
  window.residentQuery = run;
})();
