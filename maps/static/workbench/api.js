// Requests to the service's own API with the signed-in user's token (kept in sessionStorage only).
const KEY = "geoWorkbenchToken";

export function token() {
  return sessionStorage.getItem(KEY) || "";
}

export function setToken(value) {
  if (value) sessionStorage.setItem(KEY, value);
  else sessionStorage.removeItem(KEY);
}

function headersOf(extra) {
  const h = { ...(extra || {}) };
  if (token()) h.Authorization = `Bearer ${token()}`;
  return h;
}

// One answer: { ok, status, body, headers } — body parsed as JSON when it is JSON; never throws on HTTP errors.
async function answer(resp) {
  const type = resp.headers.get("content-type") || "";
  let body = null;
  if (type.includes("json")) body = await resp.json().catch(() => null);
  else if (type.includes("spreadsheet") || type.includes("octet")) body = await resp.blob();
  else body = await resp.text();
  return { ok: resp.ok, status: resp.status, body, headers: resp.headers };
}

async function send(method, url, body, extra) {
  let resp;
  try {
    const init = { method, headers: headersOf(extra) };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
    resp = await fetch(url, init);
  } catch (err) {
    return { ok: false, status: 0, body: { message_zh: `无法连接服务：${err}` }, headers: new Headers() };
  }
  return answer(resp);
}

export const get = (url, extra) => send("GET", url, undefined, extra);
export const post = (url, body, extra) => send("POST", url, body, extra);

// The Chinese message of a failed answer.
export function messageOf(res) {
  const b = res.body;
  if (b && typeof b === "object" && b.message_zh) return b.message_zh;
  if (res.status === 0) return "无法连接服务";
  return `请求失败（HTTP ${res.status}）`;
}

export const etag = (version) => `"v${version}"`;
