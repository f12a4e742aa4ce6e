// Staff pages: upload a layer (column mapping, CRS, per-row report), audit and coverage results as tables.
import * as api from "./api.js";
import { esc, fmt, sortable } from "./dom.js";

const CRS = [
  ["", "按文件自带（或经纬度）"],
  ["EPSG:4326", "WGS84 经纬度（EPSG:4326）"],
  ["EPSG:4490", "CGCS2000 经纬度（EPSG:4490）"],
  ["gcj02", "GCJ-02（高德、腾讯坐标）"],
  ["bd09", "BD-09（百度坐标）"],
  ["EPSG:4523", "CGCS2000 3 度带 35 带（EPSG:4523）"],
  ["EPSG:4545", "CGCS2000 3 度带 CM 105°（EPSG:4545）"],
  ["EPSG:3857", "Web 墨卡托（EPSG:3857）"],
];

// Column names of a CSV or GeoJSON file, read in the browser (other formats: the service maps Chinese headers).
async function columnsOf(file) {
  const name = file.name.toLowerCase();
  if (name.endsWith(".csv")) {
    const text = await file.slice(0, 65536).text();
    const line = text.replace(/^\ufeff/, "").split(/\r?\n/)[0] || "";
    return line.split(",").map((s) => s.trim().replace(/^"|"$/g, "")).filter(Boolean);
  }
  if (name.endsWith(".geojson") || name.endsWith(".json")) {
    try {
      const doc = JSON.parse(await file.text());
      const keys = new Set();
      for (const f of (doc.features || []).slice(0, 50)) Object.keys(f.properties || {}).forEach((k) => keys.add(k));
      return [...keys];
    } catch {
      return [];
    }
  }
  return [];
}

export class Upload {
  constructor(wb, root) {
    this.wb = wb;
    this.root = root;
    root.innerHTML = `
      <h2>上传图层</h2>
      <p class="hint">支持 GeoJSON、GeoPackage、Shapefile（zip）、CSV、XLSX。任何一行有问题时整个文件不写入，并列出问题行。</p>
      <div class="grid2">
        <label>图层 <select id="u-layer"></select></label>
        <label>坐标系 <select id="u-crs">${CRS.map(([v, t]) => `<option value="${v}">${t}</option>`).join("")}</select></label>
        <label class="span2">文件 <input type="file" id="u-file" accept=".geojson,.json,.gpkg,.zip,.csv,.xlsx"></label>
      </div>
      <div id="u-map"></div>
      <div class="row"><button type="button" id="u-check">只检查</button><button type="button" id="u-go" class="primary">导入</button></div>
      <div id="u-out"></div>`;
    this.$ = (id) => root.querySelector(`#${id}`);
    this.$("u-layer").addEventListener("change", () => this.mapping());
    this.$("u-file").addEventListener("change", () => this.mapping());
    this.$("u-check").addEventListener("click", () => this.send(true));
    this.$("u-go").addEventListener("click", () => this.send(false));
    this.load();
  }

  async load() {
    const r = await api.get("/layers");
    if (!r.ok) return;
    this.layers = r.body.filter((l) => l.importable);
    this.roleChanged();
  }

  roleChanged() {
    if (!this.layers) return;
    const mine = new Set(this.wb.user ? this.wb.user.layers : []);
    const keep = this.$("u-layer").value;
    const sorted = [...this.layers].sort((a, b) => mine.has(b.name) - mine.has(a.name));
    this.$("u-layer").innerHTML = sorted
      .map((l) => `<option value="${l.name}" ${mine.has(l.name) ? "" : "disabled"}>${esc(l.label_zh)}（${l.name}）${mine.has(l.name) ? "" : " — 无权限"}</option>`)
      .join("");
    const first = sorted.find((l) => mine.has(l.name));
    this.$("u-layer").value = keep && mine.has(keep) ? keep : first ? first.name : "";
    const can = !!first;
    this.$("u-check").disabled = this.$("u-go").disabled = !can;
    if (!can) this.$("u-out").innerHTML = `<p class="hint">${this.wb.user ? "当前角色不能上传图层" : "请先登录（设施管理人员或规划人员）"}</p>`;
    else if (this.$("u-out").querySelector(".hint")) this.$("u-out").innerHTML = "";
    this.mapping();
  }

  async mapping() {
    const layer = (this.layers || []).find((l) => l.name === this.$("u-layer").value);
    const file = this.$("u-file").files[0];
    const box = this.$("u-map");
    if (!layer || !file) return (box.innerHTML = "");
    const cols = await columnsOf(file);
    const opts = (sel) => `<option value="">自动识别</option>${cols.map((c) => `<option ${c === sel ? "selected" : ""}>${esc(c)}</option>`).join("")}`;
    box.innerHTML = `<h3>字段对应 <small class="meta">${cols.length ? `文件中有 ${cols.length} 列` : "该格式的列名由服务识别（常见中文表头无需对应）"}</small></h3>
      <table class="mapping"><thead><tr><th>图层字段</th><th>文件中的列</th></tr></thead><tbody>${layer.fields
        .map((f) => `<tr><td>${esc(f.label_zh)}${f.required ? " *" : ""}<br><small>${esc(f.name)}${f.unit ? `（${esc(f.unit)}）` : ""}</small></td>
          <td>${cols.length ? `<select data-field="${f.name}">${opts(cols.includes(f.label_zh) ? f.label_zh : "")}</select>` : `<input data-field="${f.name}" placeholder="自动识别">`}</td></tr>`)
        .join("")}</tbody></table>`;
  }

  form(check, report) {
    const fd = new FormData();
    fd.append("file", this.$("u-file").files[0]);
    if (this.$("u-crs").value) fd.append("crs", this.$("u-crs").value);
    for (const s of this.root.querySelectorAll("[data-field]")) if (s.value) fd.append("map", `${s.dataset.field}=${s.value}`);
    if (check) fd.append("check", "true");
    if (report) fd.append("report", report);
    return fd;
  }

  async send(check) {
    const layer = this.$("u-layer").value;
    if (!this.$("u-file").files[0]) return this.wb.say("请选择文件", "error");
    this.$("u-out").innerHTML = '<p class="hint">处理中…</p>';
    const r = await api.post(`/layers/${layer}/import`, this.form(check));
    const rep = r.body && (r.body.report || (r.body.detail === undefined ? null : null));
    const out = this.$("u-out");
    if (r.ok) {
      const b = r.body;
      const warn = (b.warnings || []).map((w) => `<li>${esc(w.message_zh)}</li>`).join("");
      out.innerHTML = `<p class="ok" id="u-summary">${check ? "检查通过（未写入）" : "已导入"}：读取 ${b.rows_read} 行，新增 ${b.inserted} 行，更新 ${b.updated} 行</p>${warn ? `<ul class="warn">${warn}</ul>` : ""}`;
      if (!check) this.wb.say(`图层「${layer}」已导入`);
      return;
    }
    out.innerHTML = `<p class="bad" id="u-summary">${esc(api.messageOf(r))}</p>`;
    if (!rep) return;
    const rows = rep.problems.map((p) => ({ row: p.row > 0 ? p.row : "文件", column: p.file_column || p.column || "", problem: p.problem_zh, value: p.value ?? "" }));
    out.insertAdjacentHTML("beforeend", `<p>共 ${rep.rows} 行，其中 ${rep.bad_rows} 行有问题；未写入任何数据。
      <button type="button" id="u-xlsx">下载问题报告（XLSX）</button> <a id="u-download" hidden></a></p><div id="u-table" class="report"></div>`);
    sortable(out.querySelector("#u-table"), [
      { key: "row", label: "行", num: true },
      { key: "column", label: "列" },
      { key: "problem", label: "问题" },
      { key: "value", label: "值" },
    ], rows);
    out.querySelector("#u-xlsx").addEventListener("click", () => this.download(layer, check));
  }

  async download(layer, check) {
    const r = await api.post(`/layers/${layer}/import`, this.form(true, "xlsx"));
    if (!(r.body instanceof Blob)) return this.wb.say(api.messageOf(r), "error");
    const a = this.$("u-download");
    a.href = URL.createObjectURL(r.body);
    a.download = `导入问题报告-${layer}.xlsx`;
    a.textContent = a.download;
    a.hidden = false;
    a.click();
  }
}

const VIEWS = {
  audit_communities: {
    label: "审计：社区",
    url: "/audit/communities",
    cols: [
      { key: "name", label: "社区" },
      { key: "community_code", label: "代码" },
      { key: "households", label: "户数", num: true },
      { key: "service_floor_m2", label: "综合服务面积 m²", num: true, fmt: (v) => fmt(v, 0) },
      { key: "service_floor_gap_m2", label: "面积缺口 m²", num: true, fmt: (v) => fmt(v, 0) },
      { key: "emergency_unplaced", label: "无法安置居民", num: true },
      { key: "issues_zh", label: "问题" },
    ],
    filters: { lacking_space: ["缺少综合服务面积的社区", (p) => p.service_floor_gap_m2 > 0] },
  },
  audit_shelters: {
    label: "审计：避难场所",
    url: "/audit/shelters",
    cols: [
      { key: "name", label: "名称" },
      { key: "shelter_class_zh", label: "类别" },
      { key: "capacity_persons", label: "容量（人）", num: true, fmt: (v) => fmt(v, 0) },
      { key: "emergency_nearest_first_load", label: "就近分配人数", num: true },
      { key: "emergency_assigned", label: "优化分配人数", num: true },
      { key: "emergency_utilisation", label: "利用率", num: true, fmt: (v) => (v == null ? "—" : `${fmt(100 * v, 0)}%`) },
    ],
    filters: {
      over_capacity: ["超出容量的避难场所", (p) => p.emergency_over_capacity_nearest_first === true || p.emergency_utilisation > 1],
    },
  },
  audit_units: {
    label: "审计：居住单元",
    url: "/audit/units",
    cols: [
      { key: "name", label: "单元" },
      { key: "community_code", label: "社区" },
      { key: "residents", label: "居民", num: true },
      { key: "emergency_unplaced", label: "无法安置", num: true },
      { key: "emergency_nearest_walk_m", label: "最近避难场所步行 m", num: true, fmt: (v) => fmt(v, 0) },
      { key: "emergency_unplaced_reason", label: "原因" },
    ],
    filters: { unplaced: ["有无法安置居民的单元", (p) => p.emergency_unplaced > 0] },
  },
  coverage_communities: {
    label: "覆盖：社区",
    url: "/coverage/communities",
    cols: [
      { key: "name", label: "社区" },
      { key: "community_code", label: "代码" },
      { key: "community_service_station_rate", label: "服务站覆盖", num: true, fmt: (v) => (v == null ? "—" : `${fmt(100 * v, 0)}%`) },
      { key: "kindergarten_rate", label: "幼儿园覆盖", num: true, fmt: (v) => (v == null ? "—" : `${fmt(100 * v, 0)}%`) },
      { key: "elderly_day_care_rate", label: "日间照料覆盖", num: true, fmt: (v) => (v == null ? "—" : `${fmt(100 * v, 0)}%`) },
      { key: "health_station_rate", label: "卫生站覆盖", num: true, fmt: (v) => (v == null ? "—" : `${fmt(100 * v, 0)}%`) },
    ],
    filters: {},
  },
};

export class Results {
  constructor(wb, root) {
    this.wb = wb;
    this.root = root;
    const filters = Object.entries(VIEWS).flatMap(([v, d]) => Object.entries(d.filters).map(([k, [label]]) => `<option value="${v}:${k}">${label}</option>`));
    root.innerHTML = `
      <h2>审计与覆盖结果</h2>
      <div class="grid2"><label>结果 <select id="r-view">${Object.entries(VIEWS).map(([k, v]) => `<option value="${k}">${v.label}</option>`).join("")}</select></label>
      <label>筛选 <select id="r-filter"><option value="">全部</option>${filters.join("")}</select></label></div>
      <p class="hint">点击表头排序；点击一行在地图上定位。</p>
      <p id="r-count" class="meta"></p><div id="r-table" class="results"></div>`;
    this.$ = (id) => root.querySelector(`#${id}`);
    this.$("r-view").addEventListener("change", () => ((this.$("r-filter").value = ""), this.load()));
    this.$("r-filter").addEventListener("change", () => {
      const f = this.$("r-filter").value;
      if (f && f.split(":")[0] !== this.$("r-view").value) this.$("r-view").value = f.split(":")[0];
      this.load();
    });
    this.cache = {};
  }

  addLayers() {
    const map = this.wb.map;
    if (map.getSource("res")) return;
    map.addSource("res", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
    map.addLayer({ id: "res-fill", type: "fill", source: "res", filter: ["in", ["geometry-type"], ["literal", ["Polygon", "MultiPolygon"]]], paint: { "fill-color": "#f03e3e", "fill-opacity": 0.25 } });
    map.addLayer({ id: "res-line", type: "line", source: "res", filter: ["in", ["geometry-type"], ["literal", ["Polygon", "MultiPolygon"]]], paint: { "line-color": "#c92a2a", "line-width": 1 } });
    map.addLayer({ id: "res-pt", type: "circle", source: "res", filter: ["in", ["geometry-type"], ["literal", ["Point", "MultiPoint"]]], paint: { "circle-radius": 5, "circle-color": "#c92a2a", "circle-stroke-color": "#fff", "circle-stroke-width": 1 } });
    map.addSource("res-hit", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
    map.addLayer({ id: "res-hit-line", type: "line", source: "res-hit", paint: { "line-color": "#1971c2", "line-width": 4 } });
    map.addLayer({ id: "res-hit-pt", type: "circle", source: "res-hit", filter: ["in", ["geometry-type"], ["literal", ["Point", "MultiPoint"]]], paint: { "circle-radius": 10, "circle-color": "rgba(0,0,0,0)", "circle-stroke-color": "#1971c2", "circle-stroke-width": 3 } });
  }

  show() {
    this.addLayers();
    for (const l of ["res-fill", "res-line", "res-pt", "res-hit-line", "res-hit-pt"]) this.wb.map.setLayoutProperty(l, "visibility", "visible");
    for (const l of ["units-fill", "comms-bad"]) this.wb.map.getLayer(l) && this.wb.map.setLayoutProperty(l, "visibility", "none");
    this.load();
  }

  hide() {
    if (!this.wb.map.getSource("res")) return;
    for (const l of ["res-fill", "res-line", "res-pt", "res-hit-line", "res-hit-pt"]) this.wb.map.setLayoutProperty(l, "visibility", "none");
    for (const l of ["units-fill", "comms-bad"]) this.wb.map.getLayer(l) && this.wb.map.setLayoutProperty(l, "visibility", "visible");
  }

  async load() {
    const view = this.$("r-view").value;
    const spec = VIEWS[view];
    const seq = (this.seq = (this.seq || 0) + 1);
    if (!this.cache[view]) {
      this.$("r-count").textContent = "加载中…";
      const r = await api.get(`${spec.url}?limit=10000`);
      if (!r.ok) return (this.$("r-count").textContent = api.messageOf(r));
      this.cache[view] = r.body.features;
    }
    if (seq !== this.seq || view !== this.$("r-view").value) return; // a later choice is being shown
    const fkey = this.$("r-filter").value.split(":")[1];
    const test = fkey ? spec.filters[fkey][1] : () => true;
    const feats = this.cache[view].filter((f) => test(f.properties));
    this.$("r-count").textContent = `${feats.length} 条${fkey ? `（${spec.filters[fkey][0]}）` : ""}`;
    this.wb.map.getSource("res").setData({ type: "FeatureCollection", features: feats.filter((f) => f.geometry) });
    this.wb.map.getSource("res-hit").setData({ type: "FeatureCollection", features: [] });
    const rows = feats.map((f) => ({ ...f.properties, _f: f }));
    sortable(this.$("r-table"), spec.cols, rows, (row) => this.zoom(row._f));
  }

  zoom(f) {
    if (!f.geometry) return this.wb.say("该条结果没有位置", "error");
    const b = new maplibregl.LngLatBounds();
    const walk = (a) => (typeof a[0] === "number" ? b.extend(a) : a.forEach(walk));
    walk(f.geometry.coordinates);
    this.wb.map.getSource("res-hit").setData({ type: "FeatureCollection", features: [f] });
    if (f.geometry.type === "Point") this.wb.map.jumpTo({ center: f.geometry.coordinates, zoom: 16 });
    else this.wb.map.fitBounds(b, { padding: 80, maxZoom: 16, duration: 0 });
    this.wb.lastZoom = f.properties;
  }
}
