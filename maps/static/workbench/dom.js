// Small DOM helpers: escaping, numbers in Chinese style, tables (sortable by clicking a header).
export function esc(v) {
  return String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export function fmt(v, digits = 0) {
  if (v === null || v === undefined || Number.isNaN(Number(v))) return "—";
  return Number(v).toLocaleString("zh-CN", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function el(html) {
  const t = document.createElement("template");
  t.innerHTML = html.trim();
  return t.content.firstElementChild;
}

// A plain table's HTML; cells are escaped unless given as {html}.
export function table(heads, rows, attrs = "") {
  const cell = (c) => (c && typeof c === "object" && "html" in c ? c.html : esc(c));
  return `<table ${attrs}><thead><tr>${heads.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${cell(c)}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`;
}

// A sortable table in `root`: columns [{key, label, num, fmt}], rows (objects); onRow(row) on click.
export function sortable(root, columns, rows, onRow) {
  let key = null, dir = 1;
  const draw = () => {
    const sorted = key === null ? rows : [...rows].sort((a, b) => {
      const x = a[key], y = b[key];
      if (x === y) return 0;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return (typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y), "zh-CN")) * dir;
    });
    root.innerHTML = `<table class="sortable"><thead><tr>${columns
      .map((c) => `<th data-key="${c.key}" class="${c.num ? "num" : ""}" aria-sort="${key === c.key ? (dir > 0 ? "ascending" : "descending") : "none"}">${esc(c.label)}${key === c.key ? (dir > 0 ? " ▲" : " ▼") : ""}</th>`)
      .join("")}</tr></thead><tbody>${sorted
      .map((r, i) => `<tr data-i="${rows.indexOf(r)}" tabindex="0">${columns.map((c) => `<td class="${c.num ? "num" : ""}">${esc(c.fmt ? c.fmt(r[c.key], r) : r[c.key] ?? "")}</td>`).join("")}</tr>`)
      .join("")}</tbody></table>`;
    for (const th of root.querySelectorAll("th")) th.addEventListener("click", () => {
      dir = key === th.dataset.key ? -dir : 1;
      key = th.dataset.key;
      draw();
    });
    for (const tr of root.querySelectorAll("tbody tr")) {
      const go = () => {
        for (const t of root.querySelectorAll("tr.active")) t.classList.remove("active");
        tr.classList.add("active");
        onRow && onRow(rows[Number(tr.dataset.i)]);
      };
      tr.addEventListener("click", go);
      tr.addEventListener("keydown", (e) => e.key === "Enter" && go());
    }
  };
  draw();
}
