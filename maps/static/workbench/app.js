// The workbench: sign-in, tabs, the shared map, and the panes (editor, propose, compare, adopt, staff pages).
import * as api from "./api.js";
import { Editor } from "./editor.js";
import { Propose, Compare, Adopt } from "./plans.js";
import { Upload, Results } from "./staff.js";
import { Scenarios } from "./scenarios.js";

const cfg = JSON.parse(document.getElementById("workbench-config").textContent);
const ROLE_ZH = { planner: "规划人员", facilities: "设施管理人员", admin: "管理员" };

export const wb = { cfg, user: null, panes: {}, map: null };
window.workbench = wb; // for tests and the benchmark

let msgTimer = null;
export function say(text, kind = "info", sticky = false) {
  const el = document.getElementById("msg");
  el.textContent = text;
  el.className = `msg ${kind}`;
  el.hidden = !text;
  clearTimeout(msgTimer);
  if (text && !sticky && kind !== "error") msgTimer = setTimeout(() => (el.hidden = true), 6000);
}
wb.say = say;

export function may(permission) {
  const u = wb.user;
  return !!u && (u.role === "admin" || u.may.includes(permission));
}
wb.may = may;

function showRole() {
  const el = document.getElementById("role");
  const u = wb.user;
  el.textContent = u ? `${u.name}（${u.role_zh || ROLE_ZH[u.role] || u.role}）` : "未登录（只读）";
  el.dataset.role = u ? u.role : "reader";
  document.getElementById("signin").hidden = !!u;
  document.getElementById("signout").hidden = !u;
  document.body.dataset.role = u ? u.role : "reader";
  for (const p of Object.values(wb.panes)) p.roleChanged && p.roleChanged();
}

async function signIn(value) {
  api.setToken(value);
  const r = await api.get("/workbench/me");
  if (!r.ok) {
    api.setToken("");
    wb.user = null;
    showRole();
    say(`登录失败：${api.messageOf(r)}`, "error");
    return false;
  }
  wb.user = r.body;
  showRole();
  say(`已登录：${r.body.name}（${r.body.role_zh}）`);
  return true;
}

function showTab(name) {
  for (const b of document.querySelectorAll(".tabs button")) b.setAttribute("aria-selected", b.dataset.tab === name);
  for (const s of document.querySelectorAll(".pane")) s.hidden = s.dataset.pane !== name;
  wb.tab = name;
  for (const [k, p] of Object.entries(wb.panes)) (k === name ? p.show : p.hide)?.call(p);
}
wb.showTab = showTab;

function makeMap() {
  const [x0, y0, x1, y1] = cfg.bounds;
  const map = new maplibregl.Map({
    container: "map",
    style: { version: 8, sources: {}, layers: [{ id: "bg", type: "background", paint: { "background-color": "#f3f1ec" } }] },
    bounds: [[x0, y0], [x1, y1]],
    fitBoundsOptions: { padding: 20 },
    attributionControl: false,
    dragRotate: false,
    pitchWithRotate: false,
  });
  map.touchZoomRotate.disableRotation();
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-left");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
  return map;
}

async function start() {
  wb.map = makeMap();
  await new Promise((ok) => (wb.map.loaded() ? ok() : wb.map.once("load", ok)));
  wb.panes.edit = new Editor(wb, document.getElementById("pane-edit"));
  wb.panes.propose = new Propose(wb, document.getElementById("pane-propose"));
  wb.panes.compare = new Compare(wb, document.getElementById("pane-compare"));
  wb.panes.adopt = new Adopt(wb, document.getElementById("pane-adopt"));
  wb.panes.upload = new Upload(wb, document.getElementById("pane-upload"));
  wb.panes.results = new Results(wb, document.getElementById("pane-results"));
  wb.panes.scenarios = new Scenarios(wb, document.getElementById("pane-scenarios"));
  for (const b of document.querySelectorAll(".tabs button")) b.addEventListener("click", () => showTab(b.dataset.tab));
  document.getElementById("signin").addEventListener("submit", (e) => {
    e.preventDefault();
    const v = document.getElementById("token").value.trim();
    document.getElementById("token").value = "";
    if (v) signIn(v);
  });
  document.getElementById("signout").addEventListener("click", () => {
    api.setToken("");
    wb.user = null;
    showRole();
    say("已退出登录");
  });
  if (api.token()) await signIn(api.token());
  else showRole();
  showTab("edit");
  await wb.panes.edit.init();
  wb.ready = true;
}

start().catch((err) => say(`工作台启动失败：${err}`, "error", true));
