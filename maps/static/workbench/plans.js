// Propose (delineation as a background job), compare two plans, adopt with a city-wide preview.
import * as api from "./api.js";
import { esc, fmt, sortable, table } from "./dom.js";

const STATUS = { draft: "草案", adopted: "已采纳", superseded: "已被替代" };
const planOptions = (plans) => plans.map((p) => `<option value="${p.id}">${esc(p.name)}（${STATUS[p.status] || p.status}）</option>`).join("");

export class Propose {
  constructor(wb, root) {
    this.wb = wb;
    this.root = root;
    const streets = wb.cfg.streets
      .map((s) => `<label class="check"><input type="checkbox" name="street" value="${esc(s.code)}"> ${esc(s.name)} <small>${esc(s.code)}</small></label>`)
      .join("");
    root.innerHTML = `
      <h2>自动划分社区</h2>
      <p class="hint">选择街道和户数范围，在后台运行划分；完成后结果作为草案打开。</p>
      <fieldset><legend>街道</legend><div class="streets">${streets || '<p class="hint">尚无街道数据</p>'}</div></fieldset>
      <div class="grid2">
        <label>户数下限 <input type="number" id="p-min" min="1" placeholder="按规范"></label>
        <label>户数上限 <input type="number" id="p-max" min="1" placeholder="按规范"></label>
        <label>社区数量 k <input type="number" id="p-k" min="1" placeholder="自动（仅单个街道可指定）"></label>
        <label>方式 <select id="p-mode"><option value="fresh">重新划分</option><option value="closest">重新划分并尽量接近现状</option>
          <option value="minimal_change">最小调整（仅改有问题的社区）</option></select></label>
        <label class="span2">现状方案（接近现状、最小调整时使用） <select id="p-from"></select></label>
        <label class="span2">草案名称 <input type="text" id="p-name" placeholder="默认：划分草案 时间"></label>
      </div>
      <button type="button" id="p-run" class="primary">开始划分</button>
      <div id="p-progress" class="progress" hidden><div class="bar"><span></span></div><p class="stage"></p></div>
      <div id="p-result"></div>`;
    this.$ = (id) => root.querySelector(`#${id}`);
    this.$("p-run").addEventListener("click", () => this.run());
  }

  plansChanged(plans) {
    this.$("p-from").innerHTML = `<option value="">（无）</option>${planOptions(plans)}`;
  }

  roleChanged() {
    this.$("p-run").disabled = !this.wb.may("plan_edit");
    this.$("p-run").title = this.wb.may("plan_edit") ? "" : "需要规划人员登录";
  }

  async run() {
    const streets = [...this.root.querySelectorAll("input[name=street]:checked")].map((i) => i.value);
    if (!streets.length) return this.wb.say("请至少选择一个街道", "error");
    const num = (id) => (this.$(id).value ? Number(this.$(id).value) : null);
    const mode = this.$("p-mode").value;
    const body = {
      streets,
      households_min: num("p-min"),
      households_max: num("p-max"),
      k: num("p-k"),
      mode,
      from_plan: this.$("p-from").value || null,
      name: this.$("p-name").value.trim() || null,
      background: true,
    };
    if (mode !== "fresh" && !body.from_plan) return this.wb.say("「接近现状」和「最小调整」须选择现状方案", "error");
    const r = await api.post("/plans/delineate", body);
    if (r.status !== 202) return this.wb.say(`划分未开始：${api.messageOf(r)}`, "error");
    this.$("p-run").disabled = true;
    this.$("p-progress").hidden = false;
    this.$("p-result").innerHTML = "";
    const url = new URL(r.headers.get("Location") || r.body.status_url).pathname;
    for (;;) {
      const s = await api.get(url);
      if (!s.ok) {
        this.wb.say(api.messageOf(s), "error");
        break;
      }
      const res = s.body.result || {};
      this.progress(res.progress || 0, res.stage_zh || { queued: "排队中", running: "运行中" }[s.body.status] || "");
      if (s.body.status === "done") {
        const t = res.totals || {};
        this.$("p-result").innerHTML = `<p class="ok">已生成草案「${esc(res.name)}」：${t.communities} 个社区，户数达标 ${t.in_band} 个，用时 ${fmt(res.seconds, 1)} 秒</p>` +
          (res.problems || []).map((p) => `<p class="warn">${esc(p.code || p.street_code)}：${esc(p.reason_zh)}</p>`).join("");
        await this.wb.panes.edit.loadPlanList(res.plan_id);
        this.wb.showTab("edit");
        await this.wb.panes.edit.open(res.plan_id);
        break;
      }
      if (s.body.status === "failed") {
        this.$("p-result").innerHTML = `<p class="bad">划分失败：${esc(s.body.error)}</p>`;
        break;
      }
      await new Promise((ok) => setTimeout(ok, 400));
    }
    this.$("p-run").disabled = !this.wb.may("plan_edit");
  }

  progress(share, stage) {
    this.$("p-progress").querySelector(".bar span").style.width = `${Math.round(share * 100)}%`;
    this.$("p-progress").querySelector(".stage").textContent = `${Math.round(share * 100)}% · ${stage}`;
  }
}

const TOTALS = [
  ["communities", "社区数", 0],
  ["in_band", "户数达标的社区", 0],
  ["contiguous", "连续的社区", 0],
  ["communities_flagged", "有问题的社区", 0],
  ["households_min", "最少户数", 0],
  ["households_max", "最多户数", 0],
  ["polsby_popper_mean", "平均紧凑度（Polsby-Popper）", 3],
  ["convex_hull_ratio_mean", "平均凸包比", 3],
];

export class Compare {
  constructor(wb, root) {
    this.wb = wb;
    this.root = root;
    root.innerHTML = `
      <h2>方案对比</h2>
      <div class="grid2"><label>方案 A <select id="c-a"></select></label><label>方案 B <select id="c-b"></select></label></div>
      <button type="button" id="c-run" class="primary">对比</button>
      <p class="hint">地图上紫色为在两个方案间改变社区的人口单元。</p>
      <div id="c-out"></div>`;
    this.$ = (id) => root.querySelector(`#${id}`);
    this.$("c-run").addEventListener("click", () => this.run());
  }

  plansChanged(plans) {
    const a = this.$("c-a").value, b = this.$("c-b").value;
    this.$("c-a").innerHTML = planOptions(plans);
    this.$("c-b").innerHTML = planOptions(plans);
    const adopted = plans.find((p) => p.status === "adopted");
    this.$("c-a").value = a || (adopted ? adopted.id : plans[0] && plans[0].id);
    this.$("c-b").value = b || (plans.length ? plans[plans.length - 1].id : "");
  }

  async run() {
    const a = this.$("c-a").value, b = this.$("c-b").value;
    const [d, ea, eb] = await Promise.all([
      api.get(`/plans/${b}/diff?other=${a}&limit=100000`),
      api.get(`/plans/${a}/evaluation`),
      api.get(`/plans/${b}/evaluation`),
    ]);
    if (!d.ok || !ea.ok || !eb.ok) return this.wb.say(api.messageOf([d, ea, eb].find((x) => !x.ok)), "error");
    const body = d.body;
    this.moved = body.moves.map((m) => Number(m.unit_id));
    this.paint();
    const totals = TOTALS.map(([k, label, dg]) => [label, fmt(ea.body.totals[k], dg), fmt(eb.body.totals[k], dg)]);
    const names = this.wb.cfg.streets.reduce((o, s) => ((o[s.code] = s.name), o), {});
    this.$("c-out").innerHTML = `
      <p><b>${body.units_moved}</b> 个人口单元改变社区，涉及居民 <b>${body.residents_moved}</b> 人、${body.households_moved} 户。</p>
      <h3>两个方案的指标</h3>${table(["指标", `A：${body.from.name}`, `B：${body.to.name}`], totals, 'class="fig"')}
      <h3>各街道调整的居民</h3><div id="c-streets"></div>
      <h3>社区之间的调整</h3><div id="c-flows"></div>`;
    sortable(this.$("c-streets"), [
      { key: "street", label: "街道" },
      { key: "units", label: "单元", num: true },
      { key: "residents", label: "居民", num: true },
      { key: "households", label: "户数", num: true },
    ], body.streets.map((s) => ({ ...s, street: `${names[s.street_code] || ""} ${s.street_code}` })));
    sortable(this.$("c-flows"), [
      { key: "from_code", label: "A 中社区" },
      { key: "to_code", label: "B 中社区" },
      { key: "units", label: "单元", num: true },
      { key: "residents", label: "居民", num: true },
    ], body.flows, (f) => this.wb.panes.edit.zoomTo(f.to_code) || this.wb.panes.edit.zoomTo(f.from_code));
  }

  paint() {
    const map = this.wb.map;
    for (const id of this.wb.panes.edit.assignment.keys())
      map.setFeatureState({ source: "units", sourceLayer: "population_units", id }, { moved: false, dim: !!this.moved });
    for (const id of this.moved || []) map.setFeatureState({ source: "units", sourceLayer: "population_units", id }, { moved: true, dim: false });
  }

  show() {
    if (this.moved) this.paint();
  }

  hide() {
    const map = this.wb.map;
    if (!this.moved) return;
    for (const id of this.wb.panes.edit.assignment.keys()) map.setFeatureState({ source: "units", sourceLayer: "population_units", id }, { moved: false, dim: false });
  }
}

export class Adopt {
  constructor(wb, root) {
    this.wb = wb;
    this.root = root;
    root.innerHTML = `
      <h2>采纳方案</h2>
      <p class="hint">草案只替换其覆盖街道的社区，其他街道沿用现行方案。采纳前请核对全市的变化。</p>
      <div class="row"><label>方案 <select id="a-plan"></select></label><button type="button" id="a-preview">预览变化</button></div>
      <div id="a-out"></div>
      <h3>采纳历史</h3><div id="a-history"></div>`;
    this.$ = (id) => root.querySelector(`#${id}`);
    this.$("a-preview").addEventListener("click", () => this.preview());
  }

  plansChanged(plans) {
    const keep = this.$("a-plan").value;
    this.$("a-plan").innerHTML = planOptions(plans);
    const cur = this.wb.panes.edit && this.wb.panes.edit.plan;
    this.$("a-plan").value = keep || (cur ? cur.id : plans[0] && plans[0].id);
  }

  show() {
    const cur = this.wb.panes.edit.plan;
    if (cur) this.$("a-plan").value = String(cur.id);
    this.history();
  }

  async history() {
    const r = await api.get("/plans/adoptions");
    if (!r.ok) return;
    this.$("a-history").innerHTML = r.body.length
      ? table(["时间", "方案", "版本", "采纳人", "状态"], r.body.map((a) => [
          a.adopted_at ? a.adopted_at.replace("T", " ").slice(0, 16) : "未记录", a.name, { html: `<a href="?plan=${a.plan_id}" data-plan="${a.plan_id}" data-version="${a.version}">v${a.version}</a>` },
          a.adopted_by || "", a.current ? "现行" : "已被替代",
        ]))
      : '<p class="hint">尚无采纳记录</p>';
  }

  async preview() {
    const id = this.$("a-plan").value;
    const r = await api.get(`/plans/${id}/adoption-preview`);
    if (!r.ok) return this.wb.say(api.messageOf(r), "error");
    const p = r.body;
    const list = (rows) => rows.length ? table(["代码", "名称", "户数", "居民"], rows.map((c) => [c.code, c.name || "", c.households, c.residents])) : '<p class="hint">无</p>';
    const names = this.wb.cfg.streets.reduce((o, s) => ((o[s.code] = s.name), o), {});
    const refused = p.refused_zh ? `<p class="bad" id="a-refused">不能采纳：${esc(p.refused_zh)}</p>` : "";
    this.$("a-out").innerHTML = `
      <div class="box preview">
      <p>方案「${esc(p.plan.name)}」版本 ${p.plan.version} 覆盖街道：${p.streets.map((s) => esc(names[s] || s)).join("、") || "无"}</p>
      <p>全市社区 <b>${p.communities_before}</b> 个 → <b id="a-after">${p.communities_after}</b> 个${p.adopted && p.communities_kept ? `（沿用现行方案「${esc(p.adopted.name)}」其他街道的 ${p.communities_kept} 个社区）` : ""}</p>
      <p>调整人口单元 ${p.units_moved} 个，居民 <b>${p.residents_moved}</b> 人，${p.households_moved} 户</p>
      <h4>新增社区（${p.added.length}）</h4>${list(p.added)}
      <h4>撤销社区（${p.removed.length}）</h4>${list(p.removed)}
      <h4>范围调整的社区（${p.changed.length}）</h4>${list(p.changed)}
      <h4>各街道调整的居民</h4>${p.moved_by_street.length ? table(["街道", "单元", "居民"], p.moved_by_street.map((s) => [names[s.street_code] || s.street_code, s.units, s.residents])) : '<p class="hint">无</p>'}
      ${refused}
      <div class="row"><label>采纳人 <input type="text" id="a-by" placeholder="姓名或单位"></label>
      <button type="button" id="a-confirm" class="primary">确认采纳</button></div></div>`;
    const btn = this.$("a-confirm");
    btn.disabled = !!p.refused_zh || !this.wb.may("plan_adopt");
    if (!this.wb.may("plan_adopt")) btn.title = "需要规划人员登录";
    btn.addEventListener("click", () => this.adopt(p));
  }

  async adopt(p) {
    const by = this.$("a-by").value.trim();
    if (!by) return this.wb.say("请填写采纳人", "error");
    const r = await api.post(`/plans/${p.plan.id}/adopt`, { adopted_by: by }, { "If-Match": api.etag(p.plan.version) });
    if (!r.ok) return this.wb.say(`未采纳：${api.messageOf(r)}`, "error");
    const merged = r.body.merged_from ? `，其余街道沿用「${r.body.merged_from.name}」的 ${r.body.merged_from.communities_kept} 个社区` : "";
    this.$("a-out").innerHTML = `<p class="ok" id="a-done">方案「${esc(p.plan.name)}」版本 ${r.body.version} 已由 ${esc(r.body.adopted_by)} 采纳${esc(merged)}。</p>`;
    this.wb.say("已采纳");
    await this.wb.panes.edit.loadPlanList();
    this.history();
  }
}
