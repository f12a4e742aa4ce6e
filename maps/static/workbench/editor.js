// The plan editor: units from the vector tiles painted with feature-state, edits as server-side versions.
import * as api from "./api.js";
import { el, esc, fmt, table } from "./dom.js";

const PALETTE = ["#a5d8ff", "#b2f2bb", "#ffec99", "#fcc2d7", "#d0bfff", "#99e9f2", "#ffd8a8", "#c0eb75", "#eebefa", "#bac8ff"];
const TOOLS = [
  ["pick", "选择社区"],
  ["click", "点选"],
  ["brush", "刷选"],
  ["lasso", "套索"],
  ["split", "分割线"],
  ["merge", "合并"],
];
const TOOL_HINT = {
  pick: "点击地图上的单元，选中其所在社区。",
  click: "点击单元，将其划入所选社区。",
  brush: "按住鼠标拖动，经过的单元划入所选社区。",
  lasso: "按住鼠标圈出范围，圈内单元划入所选社区。",
  split: "在所选社区内依次点击画出分割线，双击或点「完成分割」；户数较少的一侧成为新社区。",
  merge: "点击相邻社区的单元，将该社区并入所选社区。",
};

export class Editor {
  constructor(wb, root) {
    this.wb = wb;
    this.map = wb.map;
    this.root = root;
    this.plan = null; // {id, name, status, version}
    this.assignment = new Map(); // unit id -> community code
    this.units = new Map(); // unit id -> {households, residents, street_code, name}
    this.comms = new Map(); // code -> {code, name, ci, fig (figures), feature}
    this.nextCi = 0;
    this.selected = null;
    this.tool = "pick";
    this.history = []; // versions whose assignment the undo/redo steps return to
    this.pos = -1;
    this.touched = [];
    this.locks = new Set();
    this.splitPts = [];
    this.busy = false;
    this.timings = []; // ms from sending an edit to the figures shown
    this.build();
  }

  // ------------------------------------------------------------------ layout
  build() {
    this.root.innerHTML = `
      <div class="row"><label for="plan-select">方案</label><select id="plan-select"></select>
        <span id="plan-meta" class="meta"></span></div>
      <div class="row edit-only"><button type="button" id="copy-plan">复制为草案</button>
        <button type="button" id="undo" title="撤销（Ctrl+Z）">↶ 撤销</button>
        <button type="button" id="redo" title="重做（Ctrl+Y）">↷ 重做</button></div>
      <div class="tools edit-only" role="radiogroup" aria-label="工具">${TOOLS.map(
        ([k, v]) => `<button type="button" data-tool="${k}" role="radio">${v}</button>`,
      ).join("")}</div>
      <p id="tool-hint" class="hint"></p>
      <div class="row edit-only" id="split-row" hidden><button type="button" id="split-done">完成分割</button>
        <button type="button" id="split-cancel">取消</button></div>
      <div id="selected" class="box"></div>
      <h3>涉及社区的指标 <span id="timing" class="meta"></span></h3>
      <div id="figures" class="box figures"><p class="hint">编辑后在此显示所涉及社区的指标。</p></div>
      <h3>问题清单 <span id="problem-count" class="meta"></span></h3>
      <div id="problems" class="box problems"></div>
      <h3>版本</h3>
      <div id="versions" class="box versions"></div>`;
    this.$ = (id) => this.root.querySelector(`#${id}`);
    this.$("plan-select").addEventListener("change", (e) => this.open(e.target.value));
    this.$("copy-plan").addEventListener("click", () => this.copyPlan());
    this.$("undo").addEventListener("click", () => this.undo());
    this.$("redo").addEventListener("click", () => this.redo());
    this.$("split-done").addEventListener("click", () => this.finishSplit());
    this.$("split-cancel").addEventListener("click", () => this.clearSplit());
    for (const b of this.root.querySelectorAll("[data-tool]")) b.addEventListener("click", () => this.setTool(b.dataset.tool));
    document.addEventListener("keydown", (e) => {
      if (this.wb.tab !== "edit" || !(e.ctrlKey || e.metaKey)) return;
      if (e.key === "z") (e.preventDefault(), this.undo());
      if (e.key === "y") (e.preventDefault(), this.redo());
    });
    this.setTool("pick");
  }

  roleChanged() {
    this.updateButtons();
  }

  canEdit() {
    return this.wb.may("plan_edit") && this.plan && this.plan.status === "draft";
  }

  updateButtons() {
    const edit = this.canEdit();
    for (const b of this.root.querySelectorAll(".tools button")) b.disabled = !edit && b.dataset.tool !== "pick";
    this.$("undo").disabled = !edit || this.pos <= 0 || this.busy;
    this.$("redo").disabled = !edit || this.pos >= this.history.length - 1 || this.busy;
    this.$("copy-plan").disabled = !this.wb.may("plan_edit") || !this.plan;
    const meta = this.plan
      ? `版本 ${this.plan.version} · ${{ draft: "草案", adopted: "已采纳", superseded: "已被替代" }[this.plan.status] || this.plan.status}`
      : "";
    this.$("plan-meta").textContent = meta;
    let hint = TOOL_HINT[this.tool];
    if (!this.wb.user) hint = "未登录：只能查看。登录后规划人员可编辑草案。";
    else if (!this.wb.may("plan_edit")) hint = `当前角色（${this.wb.user.role_zh}）只能查看方案。`;
    else if (this.plan && this.plan.status !== "draft") hint = "已采纳或已被替代的方案不能直接修改：请先「复制为草案」。";
    this.$("tool-hint").textContent = hint;
    if (!edit && this.tool !== "pick") this.setTool("pick");
  }

  setTool(tool) {
    this.tool = tool;
    for (const b of this.root.querySelectorAll("[data-tool]")) b.setAttribute("aria-checked", b.dataset.tool === tool);
    this.$("split-row").hidden = tool !== "split";
    if (tool !== "split") this.clearSplit();
    this.map.getCanvas().style.cursor = tool === "pick" ? "" : "crosshair";
    this.updateButtons?.call(this);
  }

  // ------------------------------------------------------------------ map layers
  addLayers() {
    const map = this.map;
    const origin = location.origin;
    map.addSource("units", {
      type: "vector",
      tiles: [`${origin}/tiles/population_units/{z}/{x}/{y}.mvt`],
      minzoom: 10,
      maxzoom: 16,
    });
    const ci = ["to-number", ["coalesce", ["feature-state", "ci"], -1]];
    const palette = ["match", ["%", ci, PALETTE.length]];
    PALETTE.forEach((c, i) => palette.push(i, c));
    palette.push("#dee2e6");
    map.addLayer({
      id: "units-fill",
      type: "fill",
      source: "units",
      "source-layer": "population_units",
      paint: {
        "fill-color": [
          "case",
          ["boolean", ["feature-state", "pending"], false], "#f76707",
          ["boolean", ["feature-state", "moved"], false], "#7048e8",
          ["<", ci, 0], "#e9ecef",
          palette,
        ],
        "fill-opacity": ["case", ["boolean", ["feature-state", "sel"], false], 0.95, ["boolean", ["feature-state", "dim"], false], 0.25, 0.7],
      },
    });
    map.addLayer({
      id: "units-line",
      type: "line",
      source: "units",
      "source-layer": "population_units",
      paint: {
        "line-color": ["case", ["boolean", ["feature-state", "other"], false], "#e67700", "#ffffff"],
        "line-width": ["case", ["boolean", ["feature-state", "other"], false], 3, 0.6],
      },
    });
    map.addSource("comms", { type: "geojson", data: { type: "FeatureCollection", features: [] }, promoteId: "code" });
    map.addLayer({ id: "comms-line", type: "line", source: "comms", paint: { "line-color": "#343a40", "line-width": 1.4 } });
    map.addLayer({
      id: "comms-bad",
      type: "line",
      source: "comms",
      filter: ["==", ["get", "bad"], true],
      paint: { "line-color": "#e03131", "line-width": 2.5, "line-dasharray": [2, 1] },
    });
    map.addLayer({
      id: "comms-sel",
      type: "line",
      source: "comms",
      filter: ["==", ["get", "code"], ""],
      paint: { "line-color": "#d9480f", "line-width": 4 },
    });
    map.addSource("draw", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
    map.addLayer({ id: "draw-line", type: "line", source: "draw", paint: { "line-color": "#1c7ed6", "line-width": 2.5 } });
    map.addLayer({ id: "draw-pts", type: "circle", source: "draw", filter: ["in", ["geometry-type"], ["literal", ["Point", "MultiPoint"]]], paint: { "circle-radius": 4, "circle-color": "#1c7ed6" } });
    this.tip = new maplibregl.Popup({ closeButton: false, closeOnClick: false, className: "tip" });
    map.on("mousemove", "units-fill", (e) => this.hover(e));
    map.on("mouseleave", "units-fill", () => this.tip.remove());
    this.bindPointer();
  }

  hover(e) {
    const f = e.features && e.features[0];
    if (!f || this.dragging || this.busy) return this.tip.remove();
    const code = this.assignment.get(Number(f.id));
    const c = code && this.comms.get(code);
    const u = this.units.get(Number(f.id));
    this.tip
      .setLngLat(e.lngLat)
      .setHTML(`${esc(u ? u.name || "" : "")} <small>单元 ${f.id}</small><br>${c ? esc(`${c.name}（${c.code}）`) : "未划入社区"}`)
      .addTo(this.map);
  }

  unitAt(point, pad = 0) {
    const box = pad ? [[point.x - pad, point.y - pad], [point.x + pad, point.y + pad]] : point;
    return this.map.queryRenderedFeatures(box, { layers: ["units-fill"] }).map((f) => Number(f.id));
  }

  bindPointer() {
    const map = this.map;
    const down = (e) => {
      if (!this.canEdit() || !["brush", "lasso"].includes(this.tool) || !this.selected) return;
      if (e.originalEvent.button) return;
      e.preventDefault();
      this.dragging = { ids: new Set(), path: [e.point] };
      map.dragPan.disable();
      this.tip.remove();
      this.stroke(e.point);
    };
    const move = (e) => this.dragging && this.stroke(e.point);
    const up = () => this.dragging && this.endStroke();
    map.on("mousedown", down);
    map.on("touchstart", down);
    map.on("mousemove", move);
    map.on("touchmove", move);
    map.on("mouseup", up);
    map.on("touchend", up);
    map.on("click", (e) => this.clicked(e));
    map.on("dblclick", (e) => {
      if (this.tool === "split") (e.preventDefault(), this.finishSplit());
    });
  }

  stroke(point) {
    const d = this.dragging;
    d.path.push(point);
    if (this.tool === "brush") {
      for (const id of this.unitAt(point, 6)) {
        if (this.assignment.get(id) === this.selected || d.ids.has(id)) continue;
        d.ids.add(id);
        this.map.setFeatureState({ source: "units", sourceLayer: "population_units", id }, { pending: true });
      }
    } else {
      const ring = d.path.map((p) => this.map.unproject(p).toArray());
      this.drawing([{ type: "Feature", geometry: { type: "LineString", coordinates: ring }, properties: {} }]);
    }
  }

  endStroke() {
    const d = this.dragging;
    this.dragging = null;
    this.map.dragPan.enable();
    let ids = [...d.ids];
    if (this.tool === "lasso") {
      this.drawing([]);
      ids = this.inLasso(d.path).filter((id) => this.assignment.get(id) !== this.selected);
    }
    for (const id of d.ids) this.map.setFeatureState({ source: "units", sourceLayer: "population_units", id }, { pending: false });
    if (ids.length) this.move(ids, this.tool === "brush" ? "刷选" : "套索");
  }

  inLasso(path) {
    if (path.length < 3) return [];
    const xs = path.map((p) => p.x), ys = path.map((p) => p.y);
    const box = [[Math.min(...xs), Math.min(...ys)], [Math.max(...xs), Math.max(...ys)]];
    const inside = (x, y) => {
      let c = false;
      for (let i = 0, j = path.length - 1; i < path.length; j = i++) {
        const a = path[i], b = path[j];
        if (a.y > y !== b.y > y && x < ((b.x - a.x) * (y - a.y)) / (b.y - a.y) + a.x) c = !c;
      }
      return c;
    };
    const hits = new Set();
    for (const f of this.map.queryRenderedFeatures(box, { layers: ["units-fill"] })) {
      const ring = f.geometry.type === "Polygon" ? f.geometry.coordinates[0] : f.geometry.coordinates[0][0];
      let sx = 0, sy = 0;
      for (const c of ring) {
        const p = this.map.project(c);
        sx += p.x;
        sy += p.y;
      }
      if (inside(sx / ring.length, sy / ring.length)) hits.add(Number(f.id));
    }
    return [...hits];
  }

  drawing(features) {
    this.map.getSource("draw").setData({ type: "FeatureCollection", features });
  }

  clicked(e) {
    if (this.wb.tab === "results" || this.wb.tab === "compare") return;
    const [id] = this.unitAt(e.point);
    if (this.tool === "split") {
      if (!this.canEdit() || !this.selected) return this.wb.say("请先选择要分割的社区", "error");
      this.splitPts.push(e.lngLat.toArray());
      const f = this.splitPts.map((c) => ({ type: "Feature", geometry: { type: "Point", coordinates: c }, properties: {} }));
      if (this.splitPts.length > 1) f.push({ type: "Feature", geometry: { type: "LineString", coordinates: this.splitPts }, properties: {} });
      return this.drawing(f);
    }
    if (id === undefined) return;
    const code = this.assignment.get(id);
    if (this.tool === "pick" || !this.selected) return this.select(code);
    if (this.tool === "click" && code !== this.selected) return this.move([id], "点选");
    if (this.tool === "merge" && code && code !== this.selected) {
      const a = this.comms.get(this.selected), b = this.comms.get(code);
      if (confirm(`将社区「${b.name}」（${b.code}）并入「${a.name}」（${a.code}）？`))
        return this.send({ action: "merge", from: code, into: this.selected }, "合并");
    }
  }

  clearSplit() {
    this.splitPts = [];
    if (this.map.getSource("draw")) this.drawing([]);
  }

  finishSplit() {
    const pts = this.splitPts;
    if (pts.length < 2) return this.wb.say("分割线至少需要两个点", "error");
    this.clearSplit();
    return this.send({ action: "split", code: this.selected, line: pts }, "分割");
  }

  // ------------------------------------------------------------------ plans
  async init() {
    this.addLayers();
    await this.loadPlanList();
    const want = new URLSearchParams(location.search).get("plan");
    const list = this.planList || [];
    const adopted = list.find((p) => p.status === "adopted");
    const first = want || (adopted ? adopted.id : list[0] && list[0].id);
    if (first !== undefined) await this.open(first);
  }

  async loadPlanList(selectId) {
    const r = await api.get("/plans");
    if (!r.ok) return this.wb.say(api.messageOf(r), "error");
    this.planList = r.body;
    const st = { draft: "草案", adopted: "已采纳", superseded: "已被替代" };
    const sel = this.$("plan-select");
    sel.innerHTML = r.body.map((p) => `<option value="${p.id}">${esc(p.name)}（${st[p.status] || p.status}，${p.communities} 个社区）</option>`).join("");
    if (selectId !== undefined) sel.value = String(selectId);
    else if (this.plan) sel.value = String(this.plan.id);
    for (const p of Object.values(this.wb.panes)) p.plansChanged && p.plansChanged(r.body);
  }

  // Load a plan: its units' communities, the communities' polygons and figures. Returns the old assignment.
  async open(planId, { quiet = false } = {}) {
    const [ru, rp] = await Promise.all([api.get(`/plans/${planId}/units`), api.get(`/plans/${planId}`)]);
    if (!ru.ok || !rp.ok) return this.wb.say(api.messageOf(ru.ok ? rp : ru), "error");
    const old = this.assignment;
    const samePlan = this.plan && String(this.plan.id) === String(ru.body.plan_id);
    this.plan = { id: ru.body.plan_id, name: ru.body.name, status: ru.body.status, version: ru.body.current_version };
    this.$("plan-select").value = String(this.plan.id);
    this.assignment = new Map();
    this.units = new Map();
    for (const u of ru.body.units) {
      this.assignment.set(u.unit_id, u.community_code);
      this.units.set(u.unit_id, u);
    }
    this.comms = new Map();
    this.nextCi = 0;
    for (const f of rp.body.features) this.addComm(f.properties, f);
    for (const c of this.comms.values()) c.ci = -1;
    for (const c of this.comms.values()) c.ci = this.freeColour(c);
    const clear = { moved: false, other: false, pending: false, dim: false };
    for (const [id, code] of this.assignment) this.paintUnit(id, code, clear);
    this.refreshComms();
    if (!samePlan) {
      this.history = [this.plan.version];
      this.pos = 0;
      this.selected = null;
      this.locks = new Set(JSON.parse(sessionStorage.getItem(`geoLocks:${this.plan.id}`) || "[]"));
      this.$("figures").innerHTML = '<p class="hint">编辑后在此显示所涉及社区的指标。</p>';
    }
    this.select(this.selected && this.comms.has(this.selected) ? this.selected : null);
    this.renderProblems();
    this.loadVersions();
    this.updateButtons();
    if (!quiet) this.wb.say(`已打开方案「${this.plan.name}」版本 ${this.plan.version}`);
    return old;
  }

  addComm(fig, feature) {
    const c = { code: fig.code, name: fig.name, ci: this.nextCi++, fig, feature: feature || null };
    this.comms.set(fig.code, c);
    return c;
  }

  // A palette colour no community whose outline's box touches this one's uses (neighbours differ), else the rarest.
  freeColour(c) {
    const box = (x) => {
      if (!x.feature) return null;
      if (!x.box) {
        const b = [Infinity, Infinity, -Infinity, -Infinity];
        const walk = (a) => (typeof a[0] === "number" ? ((b[0] = Math.min(b[0], a[0])), (b[1] = Math.min(b[1], a[1])), (b[2] = Math.max(b[2], a[0])), (b[3] = Math.max(b[3], a[1]))) : a.forEach(walk));
        walk(x.feature.geometry.coordinates);
        x.box = b;
      }
      return x.box;
    };
    const mine = box(c);
    const used = new Array(PALETTE.length).fill(0);
    const near = new Set();
    for (const o of this.comms.values()) {
      if (o === c || o.ci < 0) continue;
      used[o.ci % PALETTE.length] += 1;
      const b = box(o);
      if (mine && b && b[0] <= mine[2] && mine[0] <= b[2] && b[1] <= mine[3] && mine[1] <= b[3]) near.add(o.ci % PALETTE.length);
    }
    let best = -1;
    for (let k = 0; k < PALETTE.length; k++) if (!near.has(k) && (best < 0 || used[k] < used[best])) best = k;
    return best >= 0 ? best : used.indexOf(Math.min(...used));
  }

  paintUnit(id, code, extra) {
    const c = code ? this.comms.get(code) : null;
    this.map.setFeatureState(
      { source: "units", sourceLayer: "population_units", id },
      { ci: c ? c.ci : -1, sel: !!code && code === this.selected, ...(extra || {}) },
    );
  }

  bad(fig) {
    return (fig.flags || []).some((f) => f.severity === "error");
  }

  commFeature(c) {
    return { type: "Feature", id: c.code, geometry: c.feature.geometry, properties: { code: c.code, name: c.name, bad: this.bad(c.fig) } };
  }

  // Community outlines: all of them (a plan opened), or only the touched and removed ones (an edit: a diff, so the
  // map does not re-send every polygon to its worker).
  refreshComms(touched, removed) {
    const src = this.map.getSource("comms");
    if (touched && src.updateData) {
      const add = touched.map((code) => this.comms.get(code)).filter((c) => c && c.feature).map((c) => this.commFeature(c));
      src.updateData({ remove: [...touched, ...(removed || [])], add });
      return;
    }
    const feats = [...this.comms.values()].filter((c) => c.feature).map((c) => this.commFeature(c));
    src.setData({ type: "FeatureCollection", features: feats });
  }

  select(code) {
    const prev = this.selected;
    this.selected = code || null;
    if (prev !== this.selected) {
      for (const [id, c] of this.assignment) if (c === prev || c === this.selected) this.paintUnit(id, c);
    }
    this.map.setFilter("comms-sel", ["==", ["get", "code"], this.selected || ""]);
    const c = this.selected && this.comms.get(this.selected);
    const box = this.$("selected");
    if (!c) {
      box.innerHTML = '<p class="hint">未选择社区：用「选择社区」点击地图，或点问题清单中的社区。</p>';
      return;
    }
    const locked = this.locks.has(c.code);
    box.innerHTML = `<div class="sel-head"><span class="swatch" style="background:${PALETTE[c.ci % PALETTE.length]}"></span>
      <b>${esc(c.name)}</b> <small>${esc(c.code)}</small> ${locked ? '<span class="lock">🔒 已锁定</span>' : ""}</div>
      <div class="row edit-only"><button type="button" id="lock-btn">${locked ? "解锁" : "锁定"}社区</button>
      <button type="button" id="rename-btn">改名</button></div>${this.figureTable([c.fig])}`;
    box.querySelector("#lock-btn").addEventListener("click", () => this.toggleLock(c.code));
    box.querySelector("#rename-btn").addEventListener("click", () => {
      const name = prompt("新的社区名称", c.name);
      if (name && name.trim() && name.trim() !== c.name) this.send({ action: "rename", code: c.code, name: name.trim() }, "改名");
    });
    for (const b of box.querySelectorAll("button")) b.disabled = !this.canEdit();
  }

  toggleLock(code) {
    if (this.locks.has(code)) this.locks.delete(code);
    else this.locks.add(code);
    sessionStorage.setItem(`geoLocks:${this.plan.id}`, JSON.stringify([...this.locks]));
    this.select(code);
    this.wb.say(this.locks.has(code) ? `社区 ${code} 已锁定：涉及它的编辑将被拒绝` : `社区 ${code} 已解锁`);
  }

  zoomTo(code) {
    const c = this.comms.get(code);
    if (!c || !c.feature) return;
    const b = new maplibregl.LngLatBounds();
    const walk = (a) => (typeof a[0] === "number" ? b.extend(a) : a.forEach(walk));
    walk(c.feature.geometry.coordinates);
    this.map.fitBounds(b, { padding: 60, maxZoom: 16, duration: 0 });
  }

  // ------------------------------------------------------------------ figures
  figureTable(figs) {
    const rows = figs.map((f) => {
      const band = f.in_band
        ? `<span class="ok">达标</span>`
        : `<span class="bad">${f.deviation_households > 0 ? "超出" : "不足"} ${Math.abs(f.deviation_households)} 户</span>`;
      const walk = f.station_min_walk_m == null ? "无服务站" : `${fmt(f.station_min_walk_m, 0)} 米`;
      const reach = f.station_reach_share == null ? "" : `（5 分钟覆盖 ${fmt(100 * f.station_reach_share, 0)}%）`;
      const flags = (f.flags || []).map((x) => `<li class="${x.severity}">${esc(x.label_zh)}${x.detail_zh ? `：${esc(x.detail_zh)}` : ""}</li>`).join("");
      return `<tr data-code="${esc(f.code)}"><td><b>${esc(f.name)}</b><br><small>${esc(f.code)}</small></td>
        <td>${f.households}<br><small>${f.band_min}–${f.band_max}</small><br>${band}</td>
        <td>${f.residents}</td><td>${f.workers_needed}</td><td>${fmt(f.polsby_popper, 2)}</td>
        <td>${f.arterial_edges_crossed} / ${f.barrier_crossings_used}</td><td>${walk}${reach}</td></tr>
        ${flags ? `<tr class="flags"><td colspan="7"><ul>${flags}</ul></td></tr>` : ""}`;
    });
    return `<table class="fig"><thead><tr><th>社区</th><th>户数（范围）</th><th>常住人口</th><th>应配工作者</th>
      <th>紧凑度</th><th title="跨越主干路路段 / 使用的河流铁路通道">跨越障碍</th><th>到服务站步行</th></tr></thead>
      <tbody>${rows.join("")}</tbody></table>`;
  }

  renderFigures(codes) {
    const figs = codes.map((c) => this.comms.get(c)).filter(Boolean).map((c) => c.fig);
    this.$("figures").innerHTML = figs.length ? this.figureTable(figs) : '<p class="hint">无</p>';
    for (const tr of this.$("figures").querySelectorAll("tr[data-code]")) tr.addEventListener("click", () => (this.select(tr.dataset.code), this.zoomTo(tr.dataset.code)));
  }

  renderProblems() {
    const bad = [...this.comms.values()].filter((c) => (c.fig.flags || []).length);
    bad.sort((a, b) => this.bad(b.fig) - this.bad(a.fig) || a.code.localeCompare(b.code));
    const errors = bad.filter((c) => this.bad(c.fig)).length;
    this.$("problem-count").textContent = `${errors} 个社区违反规则，${bad.length - errors} 个有提示`;
    this.$("problems").innerHTML = bad.length
      ? `<ul>${bad
          .map((c) => `<li data-code="${esc(c.code)}" class="${this.bad(c.fig) ? "error" : "warning"}"><b>${esc(c.name)}</b> <small>${esc(c.code)}</small>：${c.fig.flags.map((f) => esc(f.label_zh)).join("；")}</li>`)
          .join("")}</ul>`
      : '<p class="ok">所有社区均符合规则</p>';
    for (const li of this.$("problems").querySelectorAll("li")) li.addEventListener("click", () => (this.select(li.dataset.code), this.zoomTo(li.dataset.code)));
  }

  async loadVersions() {
    const r = await api.get(`/plans/${this.plan.id}/versions`);
    if (!r.ok) return;
    const act = { delineate: "自动划分", copy: "复制", import: "导入", merge_adopted: "与现行方案合并", "edit:move": "移动单元", "edit:merge": "合并", "edit:split": "拆分", "edit:rename": "改名", "edit:restore": "撤销/重做" };
    const rows = r.body.slice(-12).reverse().map((v) => [
      `v${v.version}`,
      act[v.action] || v.action,
      v.created_by || "",
      (v.created_at || "").replace("T", " ").slice(0, 19),
      v.adopted_at ? `采纳：${v.adopted_by}` : "",
    ]);
    this.$("versions").innerHTML = table(["版本", "操作", "操作人", "时间", ""], rows);
  }

  // ------------------------------------------------------------------ edits
  move(ids, how) {
    if (!this.selected) return this.wb.say("请先选择社区", "error");
    return this.send({ action: "move", units: ids, to: this.selected }, how);
  }

  // Send one edit on the current version. Returns the answer (ok or not); handles 409 with the conflict flow.
  async send(edit, how, { history = false, replay = false } = {}) {
    if (!this.canEdit()) return this.wb.say("当前方案不能编辑", "error");
    if (this.busy) return this.wb.say("上一个操作尚未完成", "error");
    this.busy = true;
    this.updateButtons();
    const t0 = performance.now();
    const body = { ...edit, locked: [...this.locks] };
    const r = await api.post(`/plans/${this.plan.id}/edits`, body, { "If-Match": api.etag(this.plan.version) });
    this.busy = false;
    if (r.status === 409 && !replay) {
      this.updateButtons();
      return this.conflict(edit, how);
    }
    if (!r.ok) {
      this.updateButtons();
      if (!replay) this.wb.say(`${how}未执行：${api.messageOf(r)}`, "error");
      return r;
    }
    this.apply(r.body);
    const ms = performance.now() - t0;
    this.timings.push(ms);
    this.$("timing").textContent = `更新用时 ${fmt(ms, 0)} 毫秒（服务器计算 ${fmt(r.body.compute_ms, 0)} 毫秒）`;
    if (!history) {
      this.history = this.history.slice(0, this.pos + 1);
      this.history.push(r.body.version);
      this.pos = this.history.length - 1;
    }
    this.updateButtons();
    clearTimeout(this.versionsTimer); // the version list follows once the edits pause (off the edit's path)
    this.versionsTimer = setTimeout(() => this.loadVersions(), 800);
    if (!replay) this.wb.say(`${how}已保存为版本 ${r.body.version}`);
    return r;
  }

  apply(res) {
    this.plan.version = res.version;
    for (const code of res.removed) this.comms.delete(code);
    const feats = new Map((res.features.features || []).map((f) => [f.id, f]));
    for (const fig of res.communities) {
      const fresh = !this.comms.has(fig.code);
      const c = this.comms.get(fig.code) || this.addComm(fig);
      c.fig = fig;
      c.name = fig.name;
      if (feats.has(fig.code)) (c.feature = feats.get(fig.code)), (c.box = null);
      if (fresh) (c.ci = -1), (c.ci = this.freeColour(c));
    }
    for (const u of res.units) {
      this.assignment.set(u.unit_id, u.community_code);
      this.paintUnit(u.unit_id, u.community_code);
    }
    if (this.selected && !this.comms.has(this.selected)) this.selected = null;
    this.tip.remove();
    this.touched = res.communities.map((f) => f.code);
    this.renderFigures(this.touched);
    this.refreshComms(this.touched, res.removed);
    this.renderProblems();
    this.select(this.selected);
    window.dispatchEvent(new CustomEvent("workbench:edited", { detail: res }));
  }

  async undo() {
    if (this.pos <= 0) return;
    const r = await this.send({ action: "restore", version: this.history[this.pos - 1] }, "撤销", { history: true });
    if (r && r.ok) {
      this.pos -= 1;
      this.updateButtons();
    }
  }

  async redo() {
    if (this.pos >= this.history.length - 1) return;
    const r = await this.send({ action: "restore", version: this.history[this.pos + 1] }, "重做", { history: true });
    if (r && r.ok) {
      this.pos += 1;
      this.updateButtons();
    }
  }

  // 409: reload the plan, show what the other user changed, re-apply the pending edit where it still validates.
  async conflict(edit, how) {
    const old = await this.open(this.plan.id, { quiet: true });
    const changed = [];
    for (const [id, code] of this.assignment) if (old.get(id) !== code) changed.push(id);
    for (const id of changed) this.map.setFeatureState({ source: "units", sourceLayer: "population_units", id }, { other: true });
    setTimeout(() => {
      for (const id of changed) this.map.setFeatureState({ source: "units", sourceLayer: "population_units", id }, { other: false });
    }, 15000);
    const comms = new Set(changed.map((id) => this.assignment.get(id) || "（未分配）"));
    let text = `方案已被其他用户修改（现为版本 ${this.plan.version}）：${changed.length} 个人口单元改变了社区` +
      (comms.size ? `（涉及 ${[...comms].slice(0, 6).join("、")}${comms.size > 6 ? " 等" : ""}），已用橙色框出。` : "。");
    let units = edit.units ? edit.units.filter((id) => this.assignment.get(id) !== edit.to) : null;
    if (edit.action === "restore") {
      this.wb.say(`${text}撤销/重做记录已清空。`, "warn", true);
      return null;
    }
    if (edit.action === "move" && (!units.length || !this.comms.has(edit.to))) {
      this.wb.say(`${text}您的${how}无需或无法重新应用。`, "warn", true);
      return null;
    }
    const first = await this.send(units ? { ...edit, units } : edit, how, { replay: true });
    if (first && first.ok) {
      this.wb.say(`${text}您的${how}已在新版本上重新应用（${units ? units.length : 1} 项）。`, "warn", true);
      return first;
    }
    if (edit.action !== "move") {
      this.wb.say(`${text}您的${how}在新版本上不再成立，未应用：${api.messageOf(first)}`, "warn", true);
      return first;
    }
    const done = [], refused = [];
    for (const id of units) {
      const r = await this.send({ ...edit, units: [id] }, how, { replay: true });
      (r && r.ok ? done : refused).push(id);
    }
    this.wb.say(`${text}您的${how}已重新应用 ${done.length} 个单元；${refused.length} 个单元在新版本上不再成立（如破坏连续性），未应用。`, "warn", true);
    return null;
  }

  async copyPlan() {
    const name = prompt("新草案名称", `${this.plan.name} 草案 ${new Date().toLocaleString("zh-CN", { hour12: false })}`);
    if (!name) return;
    const r = await api.post(`/plans/${this.plan.id}/copy`, { name });
    if (!r.ok) return this.wb.say(api.messageOf(r), "error");
    await this.loadPlanList(r.body.plan_id);
    await this.open(r.body.plan_id);
  }

  show() {
    if (this.map.getLayer("units-fill")) this.map.setLayoutProperty("units-fill", "visibility", "visible");
  }
}

// Screen point (pixels in the map canvas) inside a drawn unit, or null when it is not drawn: tests and the benchmark.
Editor.prototype.screenPointOf = function (unitId) {
  const feats = this.map.queryRenderedFeatures({ layers: ["units-fill"] }).filter((f) => Number(f.id) === Number(unitId));
  let best = null;
  for (const f of feats) {
    const polys = f.geometry.type === "Polygon" ? [f.geometry.coordinates] : f.geometry.coordinates;
    for (const poly of polys) {
      const pts = poly[0].map((c) => this.map.project(c));
      const xs = pts.map((p) => p.x), ys = pts.map((p) => p.y);
      const area = (Math.max(...xs) - Math.min(...xs)) * (Math.max(...ys) - Math.min(...ys));
      const c = { x: xs.reduce((a, b) => a + b, 0) / xs.length, y: ys.reduce((a, b) => a + b, 0) / ys.length, area };
      if (!best || c.area > best.area) best = c;
    }
  }
  return best;
};
