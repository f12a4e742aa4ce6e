// 情景: list the stored what-if scenarios, pick two (or 现状) and compare: summary table and difference map.
import * as api from "./api.js";

const SRC = "whatif-units";
const COLORS = { gained: "#1a9850", lost: "#d73027", mixed: "#984ea3" };
const fmt = (v) => (v === null || v === undefined ? "—" : typeof v === "number" ? v.toLocaleString("zh-CN") : String(v));
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

export class Scenarios {
  constructor(wb, el) {
    this.wb = wb;
    this.el = el;
    el.innerHTML = `
      <h2>情景方案比较</h2>
      <p class="hint">情景方案在现状图层上叠加新增、迁移、关闭设施，新建小区，调整社区划分或规范；现状数据不变。</p>
      <label>方案甲 <select id="whatif-a"></select></label>
      <label>方案乙 <select id="whatif-b"></select></label>
      <button type="button" id="whatif-run">比较</button>
      <a id="whatif-xlsx" hidden>下载比较表（XLSX）</a>
      <p class="hint" id="whatif-empty" hidden>还没有情景方案：在下方上传变更文件新建，或用命令行
        <code>geo-service scenario create --name 名称 --changes 变更.json</code>。</p>
      <div id="whatif-summary"></div>
      <table class="grid" id="whatif-categories"></table>
      <form id="whatif-new" hidden>
        <h3>新建情景方案</h3>
        <label>名称 <input id="whatif-name" required maxlength="100"></label>
        <label>变更文件（JSON） <input type="file" id="whatif-file" accept=".json,application/json" required></label>
        <button type="submit">新建</button>
        <p class="hint">文件内容：facilities/shelters 的 add、move、close，developments（新建小区及户数），plan（社区划分方案），
          norms（改动的规范值），cost_inputs（费用）。格式见接口文档 POST /scenarios。</p>
        <p id="whatif-new-out"></p>
      </form>`;
    el.querySelector("#whatif-run").addEventListener("click", () => this.compare());
    el.querySelector("#whatif-new").addEventListener("submit", (e) => {
      e.preventDefault();
      this.create();
    });
  }

  roleChanged() {
    this.el.querySelector("#whatif-new").hidden = !this.wb.may("recompute");
  }

  // A scenario from an uploaded changes file; the service checks it and says what is wrong, naming the ids.
  async create() {
    const out = this.el.querySelector("#whatif-new-out");
    const name = this.el.querySelector("#whatif-name").value.trim();
    const file = this.el.querySelector("#whatif-file").files[0];
    if (!name || !file) return;
    let changes;
    try {
      changes = JSON.parse(await file.text());
    } catch (err) {
      out.className = "warn";
      out.textContent = `变更文件不是有效的 JSON：${err.message}`;
      return;
    }
    const r = await api.post("/scenarios", { name, changes });
    if (!r.ok) {
      out.className = "warn";
      out.textContent = `未能新建：${api.messageOf(r)}`;
      return;
    }
    out.className = "";
    out.textContent = `已新建情景方案「${r.body.name}」（编号 ${r.body.id}）`;
    await this.show();
    this.el.querySelector("#whatif-b").value = String(r.body.id);
  }

  async show() {
    const r = await api.get("/scenarios");
    if (!r.ok) return this.wb.say(`情景方案读取失败：${api.messageOf(r)}`, "error");
    const opts = [`<option value="baseline">现状</option>`].concat(
      r.body.map((s) => `<option value="${s.id}">${esc(s.name)}</option>`)
    );
    for (const id of ["whatif-a", "whatif-b"]) {
      const sel = this.el.querySelector(`#${id}`);
      const keep = sel.value;
      sel.innerHTML = opts.join("");
      if (keep) sel.value = keep;
    }
    const b = this.el.querySelector("#whatif-b");
    if (!b.value || b.value === "baseline") b.value = r.body.length ? String(r.body[0].id) : "baseline";
    this.el.querySelector("#whatif-empty").hidden = r.body.length > 0;
    this.roleChanged();
    this.scenarios = r.body;
  }

  hide() {
    const map = this.wb.map;
    for (const id of ["whatif-fill", "whatif-line"]) if (map.getLayer(id)) map.setLayoutProperty(id, "visibility", "none");
  }

  async compare() {
    const a = this.el.querySelector("#whatif-a").value;
    const b = this.el.querySelector("#whatif-b").value;
    if (a === b) return this.wb.say("请选择两个不同的方案进行比较（例如 现状 与 一个情景方案）", "error");
    const q = `a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`;
    this.wb.say("正在计算情景比较…", "info", true);
    const [s, g] = await Promise.all([api.get(`/scenarios/compare?${q}`), api.get(`/scenarios/compare.geojson?${q}&layer=units`)]);
    if (!s.ok) return this.wb.say(`比较失败：${api.messageOf(s)}`, "error");
    const x = this.el.querySelector("#whatif-xlsx");
    x.href = `/scenarios/compare.xlsx?${q}`;
    x.hidden = false;
    this.render(s.body);
    this.draw(typeof g.body === "string" ? JSON.parse(g.body) : g.body);
    this.wb.say(`已比较：${s.body.a} → ${s.body.b}`);
    this.last = s.body;
  }

  render(sm) {
    const rows = [
      ["常住人口（人）", sm.residents_a, sm.residents_b],
      ["新增覆盖（人次）", "", sm.newly_covered],
      ["失去覆盖（人次）", "", sm.newly_uncovered],
      ["综合服务设施面积缺口（m²）", sm.service_gap_m2_a, sm.service_gap_m2_b],
      ["缺口缩小（m²）", "", sm.service_gap_closed_m2],
      ["未安置避难人数（人）", sm.unplaced_a, sm.unplaced_b],
      ["费用合计（元）", sm.cost_total_yuan_a, sm.cost_total_yuan_b],
    ];
    this.el.querySelector("#whatif-summary").innerHTML =
      `<table class="grid" id="whatif-table"><thead><tr><th>项目</th><th>${esc(sm.a)}</th><th>${esc(sm.b)}</th></tr></thead><tbody>` +
      rows.map(([k, va, vb]) => `<tr><th>${k}</th><td>${fmt(va)}</td><td>${fmt(vb)}</td></tr>`).join("") +
      "</tbody></table>" +
      (sm.notes || []).map((n) => `<p class="warn whatif-note">注：${esc(n)}</p>`).join("");
    const cats = sm.categories.filter((c) => c.newly_covered || c.newly_uncovered);
    this.el.querySelector("#whatif-categories").innerHTML =
      "<thead><tr><th>设施类别</th><th>新增覆盖（人）</th><th>失去覆盖（人）</th></tr></thead><tbody>" +
      cats.map((c) => `<tr><td>${esc(c.category_zh)}</td><td>${fmt(c.newly_covered)}</td><td>${fmt(c.newly_uncovered)}</td></tr>`).join("") +
      "</tbody>";
  }

  draw(fc) {
    const map = this.wb.map;
    fc = { type: "FeatureCollection", features: (fc.features || []).filter((f) => f.properties.change !== "same") };
    if (map.getSource(SRC)) map.getSource(SRC).setData(fc);
    else {
      map.addSource(SRC, { type: "geojson", data: fc });
      const color = ["match", ["get", "change"], "gained", COLORS.gained, "lost", COLORS.lost, COLORS.mixed];
      map.addLayer({ id: "whatif-fill", type: "fill", source: SRC, paint: { "fill-color": color, "fill-opacity": 0.6 } });
      map.addLayer({ id: "whatif-line", type: "line", source: SRC, paint: { "line-color": color, "line-width": 1 } });
    }
    for (const id of ["whatif-fill", "whatif-line"]) map.setLayoutProperty(id, "visibility", "visible");
    this.features = fc.features.length;
  }
}
