// 客户360 console: a page of the public API (infra/openapi.yaml) and nothing else. No build
// step: an ES module served as it is, Chart.js from npm (console/package-lock.json) beside it.
//
// State lives in the URL hash (#/c/<customer_ref>, a sealed handle that never shows the
// identifier: ADR 0011) and the bearer token in sessionStorage (gone with the tab), or in
// localStorage only when the person ticks 记住我.
//
// Sign-in: config.json says how. With an OIDC provider (AWS: the JWT authorizer's issuer),
// authorization code with PKCE through oidc-client-ts; locally, the identities the dev
// server signed (dev-identities.json), or a pasted token. ADR 0012.

const API = "/api/v1/customer360";
const TOKEN_KEY = "c360.token";
// The provider's ID token, kept beside the bearer only to end the provider's session at sign-out
// (`id_token_hint`); the same storage as the bearer, so it goes when the bearer goes.
const ID_TOKEN_KEY = "c360.id_token";
const PAGE = 20;

// ---------- sign-in ----------

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || localStorage.getItem(TOKEN_KEY);
}

function signIn(t, remember, idToken) {
  signOut();
  const store = remember ? localStorage : sessionStorage;
  store.setItem(TOKEN_KEY, t);
  if (idToken) store.setItem(ID_TOKEN_KEY, idToken);
}

function signOut() {
  for (const store of [sessionStorage, localStorage]) {
    store.removeItem(TOKEN_KEY);
    store.removeItem(ID_TOKEN_KEY);
  }
}

/**
 * The sign-out button. The console forgets its token; after an OIDC sign-in it also ends the
 * provider's session (RP-initiated logout, when the provider publishes an
 * `end_session_endpoint`), so the next person at a shared workstation signs in as themselves
 * rather than straight back as the one before. A provider without one (Cognito) keeps its
 * session, and the sign-in screen says so.
 */
async function leave() {
  const idToken = sessionStorage.getItem(ID_TOKEN_KEY) || localStorage.getItem(ID_TOKEN_KEY);
  signOut();
  history.replaceState(null, "", location.pathname);
  const oidc = idToken ? await userManager().catch(() => null) : null;
  if (!oidc) return showSignIn();
  try {
    if (await oidc.manager.metadataService.getEndSessionEndpoint()) {
      // `state` brings the provider back with `?state=`, which finishOidcSignIn() recognises.
      await oidc.manager.signoutRedirect({ id_token_hint: idToken, state: {} });
      return;
    }
  } catch (e) {
    console.warn("OIDC sign-out:", e);
  }
  return showSignIn("已退出控制台，但企业账号仍在身份提供方保持登录；在共用电脑上请关闭浏览器。");
}

/** The token's claims, for display only: the API verifies the token, not this page. */
function claims(t) {
  try {
    const part = t.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0)));
    return JSON.parse(json);
  } catch {
    return {};
  }
}

// ---------- sign-in through the organisation's OIDC provider ----------

/**
 * How to sign in: `{"oidc": null}` (dev identities or a pasted token) or `{"oidc": {"authority",
 * "client_id", "scope", "token"}}`. A missing or unreadable config.json gives `broken: true`:
 * the sign-in screen says so rather than quietly offering no way in.
 */
const config = fetch("config.json")
  .then(async (r) => {
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    const c = await r.json();
    if (!c || typeof c !== "object" || !("oidc" in c)) throw new Error("no `oidc` key");
    if (c.oidc && !(c.oidc.authority && c.oidc.client_id)) throw new Error("`oidc` without authority or client_id");
    return c;
  })
  .catch((e) => {
    console.error("config.json:", e);
    return { oidc: null, broken: true };
  });

/** What a person should read when the sign-in with the provider failed (details: the browser console). */
function oidcProblem(e) {
  console.error("OIDC sign-in:", e);
  const message = String(e?.message ?? "");
  if (e?.error === "access_denied") return "登录已取消，或被身份提供方拒绝。";
  if (e?.error) return `身份提供方没有完成登录（${e.error}），请重试；问题持续时请联系技术支持。`;
  if (/state/i.test(message)) return "这次登录已过期，请重新登录。";
  if (e instanceof TypeError || /fetch|network|timeout|load/i.test(message)) return "连接不上身份提供方，请检查网络后重试。";
  return "登录未完成，请重试；问题持续时请联系技术支持。";
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = el("script", { src });
    s.onload = resolve;
    s.onerror = () => reject(new Error(`${src} did not load`));
    document.head.append(s);
  });
}

let manager = null;
/** oidc-client-ts's UserManager for the configured provider, or null without one. */
async function userManager() {
  const { oidc: conf } = await config;
  if (!conf) return null;
  if (!manager) {
    await loadScript("vendor/oidc-client-ts.js");
    const { UserManager, WebStorageStateStore, InMemoryWebStorage } = window.oidc;
    // The console's directory, whatever file the page was opened as (/console/index.html): the
    // callback URL registered with the provider.
    const here = new URL("./", location.href).href;
    manager = new UserManager({
      authority: conf.authority,
      client_id: conf.client_id,
      redirect_uri: here,
      post_logout_redirect_uri: here,
      response_type: "code", // with PKCE (S256), the library's default for code
      scope: conf.scope || "openid",
      // The PKCE verifier and state live for one sign-in in this tab; the tokens are not kept
      // by the library: the bearer goes where signIn() puts it (记住我 or not).
      stateStore: new WebStorageStateStore({ store: sessionStorage }),
      userStore: new WebStorageStateStore({ store: new InMemoryWebStorage() }),
      // No background renewal (Cognito has no prompt=none, and a refresh token in the page's
      // storage outlives what 记住我 promises): a 401 goes back through the provider (expired()).
      automaticSilentRenew: false,
      monitorSession: false,
      loadUserInfo: false,
    });
  }
  return { manager, conf };
}

async function startOidcSignIn(remember) {
  const oidc = await userManager();
  // Where the person was (a guest card's #/c/... link) comes back with the state.
  await oidc.manager.signinRedirect({ state: { remember, hash: location.hash } });
}

/**
 * The provider's redirect back here (`?code=&state=`, or `?error=&state=`): exchange the code
 * (with the PKCE verifier) for tokens, keep the bearer, and take the code out of the address.
 * Returns a message for the sign-in screen when it failed, else null.
 */
async function finishOidcSignIn() {
  const params = new URLSearchParams(location.search);
  const clean = (hash) => history.replaceState(null, "", location.pathname + (hash || ""));
  if (params.has("state") && !params.has("code") && !params.has("error")) {
    // Back from the provider's sign-out (leave()): its state is spent, and so is the session.
    try {
      await (await userManager())?.manager.signoutRedirectCallback();
    } catch (e) {
      console.warn("OIDC sign-out callback:", e);
    }
    clean();
    return token() ? null : "已退出登录，企业账号也已退出。";
  }
  if (!params.has("state") || !(params.has("code") || params.has("error"))) return null;
  try {
    const oidc = await userManager();
    if (!oidc) {
      clean(location.hash);
      return token() ? null : "此控制台未配置企业账号登录。";
    }
    const user = await oidc.manager.signinRedirectCallback();
    const bearer = oidc.conf.token === "access_token" ? user.access_token : user.id_token;
    if (!bearer) throw new Error(`no ${oidc.conf.token} in the provider's answer`);
    signIn(bearer, Boolean(user.state?.remember), user.id_token);
    clean(user.state?.hash);
    return null;
  } catch (e) {
    clean(location.hash);
    // A stale or replayed redirect (Back into the provider, a reload of the callback) while
    // signed in: the person is still signed in, so carry on.
    if (token()) {
      console.warn("OIDC callback ignored, already signed in:", e);
      return null;
    }
    return oidcProblem(e);
  }
}

const ROLE = { super_admin: "总部管理员", store_admin: "门店管理员", staff: "门店员工" };

// ---------- the API ----------

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** A GET of the API with the bearer token; an answer that is not 2xx is an ApiError. */
async function request(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  let resp;
  try {
    resp = await fetch(`${API}/${path}?${q}`, { headers: { Authorization: `Bearer ${token()}` } });
  } catch {
    throw new ApiError(0, "NETWORK", "连接不上服务");
  }
  if (!resp.ok) {
    let body = null;
    try {
      body = await resp.json();
    } catch {
      /* a gateway page, not our JSON: the status says enough */
    }
    throw new ApiError(resp.status, body?.error?.code ?? "", body?.error?.message ?? body?.message ?? "");
  }
  return resp;
}

/** A JSON read of the API: its `data`. */
async function api(path, params = {}) {
  const resp = await request(path, params);
  let body = null;
  try {
    body = await resp.json();
  } catch {
    /* not our JSON */
  }
  if (!body || body.success === false) {
    throw new ApiError(resp.status, body?.error?.code ?? "", body?.error?.message ?? "");
  }
  return body.data;
}

/** What a person at the counter should read for an error, never raw JSON. */
function explain(err) {
  switch (err.status) {
    case 400:
      return ["输入有误", err.message || "请检查输入后重试。"];
    case 401:
      return ["请重新登录", "登录已失效或未登录。"];
    case 403:
      return ["没有权限", "您的账号不能查看这个门店或这项功能。"];
    case 404:
      return ["未找到该客户", "在当前门店范围内没有这位客户的记录。"];
    case 429:
      return ["请求过于频繁", "请稍后再试。"];
    case 503:
      return ["服务暂时不可用", "请稍后重试；问题持续时请联系技术支持。"];
    case 0:
      return ["网络异常", "连接不上服务，请检查网络。"];
    default:
      return ["出错了", "服务出现问题，已记录。请稍后重试。"];
  }
}

// ---------- small DOM helpers ----------

function el(tag, attrs = {}, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") n.className = v;
    else if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
    else n.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) n.append(c instanceof Node ? c : String(c));
  return n;
}

const yuan = (v) => (v === null || v === undefined ? "—" : `¥${Number(v).toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`);
const pct = (v) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)}%`);
const day = (t) => (t ? t.slice(0, 10) : "—");
const when = (t) => (t ? t.slice(0, 16).replace("T", " ") : "—");

function errorScreen(err) {
  const [title, text] = explain(err);
  return el("section", { class: `error status-${err.status}`, role: "alert", "data-status": err.status },
    el("h2", {}, title), el("p", {}, text));
}

// ---------- scope ----------

const scopeInput = () => document.getElementById("scope");

/** The store the console asks about: the caller's own for store roles, else the picker's. */
function store() {
  const c = claims(token() ?? "");
  if (c.role !== "super_admin") return undefined;
  return scopeInput().value.trim() || undefined;
}

function rememberStores(ids) {
  const list = document.getElementById("stores");
  const known = new Set([...list.options].map((o) => o.value));
  for (const id of ids) if (id && !known.has(id)) list.append(el("option", { value: id }));
}

// ---------- screens ----------

const app = () => document.getElementById("app");

async function showSignIn(message) {
  document.querySelector(".scope").hidden = true;
  document.getElementById("sign-out").hidden = true;
  document.getElementById("who").textContent = "";
  document.getElementById("nav").replaceChildren();
  const remember = el("input", { type: "checkbox" });
  const form = el("form", { class: "sign-in", onsubmit: (e) => {
    e.preventDefault();
    const t = form.querySelector("textarea").value.trim();
    if (!t) return;
    signIn(t, remember.checked);
    route();
  } },
  el("h2", {}, "登录"),
  message ? el("p", { class: "notice", id: "sign-in-message" }, message) : null,
  el("div", { class: "providers" }),
  el("div", { class: "identities" }),
  el("label", { class: "remember" }, remember, " 记住我 (关闭浏览器后仍保持登录)"),
  el("details", { class: "paste" }, el("summary", {}, "使用访问令牌"),
    el("label", {}, "访问令牌 (Bearer token)", el("textarea", { rows: 3, spellcheck: "false", autocomplete: "off" })),
    el("button", { type: "submit" }, "登录")));
  app().replaceChildren(form);
  const { oidc, broken } = await config;
  if (broken) {
    form.querySelector(".providers").append(el("p", { class: "notice", id: "config-problem" },
      "控制台的登录配置 (config.json) 缺失或有误，无法使用企业账号登录；请联系技术支持。"));
  }
  if (oidc) {
    const button = el("button", { type: "button", id: "oidc-sign-in", class: "primary" }, "使用企业账号登录");
    const problem = el("p", { class: "notice", id: "oidc-problem", hidden: true });
    button.onclick = async () => {
      button.disabled = true;
      problem.hidden = true;
      try {
        await startOidcSignIn(remember.checked);
      } catch (e) {
        button.disabled = false;
        problem.textContent = oidcProblem(e);
        problem.hidden = false;
      }
    };
    form.querySelector(".providers").append(button, problem);
  }
  // Locally, scripts/dev serves the identities it printed; in AWS there is no such file.
  try {
    const resp = await fetch("dev-identities.json");
    if (!resp.ok) return;
    const { identities } = await resp.json();
    const box = form.querySelector(".identities");
    box.append(el("p", {}, "本地开发身份:"));
    for (const id of identities) {
      box.append(el("button", { type: "button", class: "identity", "data-role": id.role, "data-store": id.store_id ?? "",
        onclick: () => { signIn(id.token, remember.checked); route(); } }, id.label));
    }
  } catch {
    /* no dev identities */
  }
}

// When the console last went back to the provider for a fresh token (sessionStorage, ms).
const RENEWED_AT_KEY = "c360.renewed_at";
// A second refusal within this long of a renewal means the API refuses the provider's fresh
// tokens too (a wrong audience or issuer, a clock far off): ask the person rather than loop.
const RENEWAL_GUARD_MS = 60_000;

/**
 * A 401: the stored token is no good (usually expired: Cognito's ID tokens live an hour), so it
 * goes. After an OIDC sign-in the console goes back through the provider at once, to the page
 * it was on: while the provider's session lives the provider answers without a login page, so a
 * store manager mid-shift sees the page reload rather than the sign-in screen. Once a minute at
 * most; a pasted or dev token, or a refusal right after a renewal, asks the person.
 */
async function expired() {
  const viaOidc = Boolean(sessionStorage.getItem(ID_TOKEN_KEY) || localStorage.getItem(ID_TOKEN_KEY));
  const remember = Boolean(localStorage.getItem(TOKEN_KEY));
  signOut();
  const last = Number(sessionStorage.getItem(RENEWED_AT_KEY)) || 0;
  if (viaOidc && Date.now() - last > RENEWAL_GUARD_MS) {
    sessionStorage.setItem(RENEWED_AT_KEY, String(Date.now()));
    try {
      await startOidcSignIn(remember);
      return;
    } catch (e) {
      console.warn("OIDC renewal:", e);
    }
  }
  if (viaOidc) return showSignIn("登录已失效，自动续期未成功，请重新登录；问题持续时请联系技术支持。");
  return showSignIn("登录已失效，请重新登录。");
}

function header() {
  const c = claims(token());
  document.getElementById("who").textContent =
    `${ROLE[c.role] ?? c.role ?? ""}${c.store_id ? ` · ${c.store_id}` : ""}${c.sub ? ` · ${c.sub}` : ""}`;
  const signOutButton = document.getElementById("sign-out");
  signOutButton.hidden = false;
  signOutButton.onclick = () => leave();
  const scope = document.querySelector(".scope");
  scope.hidden = c.role !== "super_admin";
  const nav = document.getElementById("nav");
  nav.replaceChildren(...[link("#/", "查找客户"),
    c.role === "staff" ? null : link("#/segments", "客户分群", { id: "nav-segments" })].filter(Boolean));
}

function searchScreen() {
  const box = el("input", { id: "search", type: "search", placeholder: "手机号 / 尾号 / 会员号 / 邮箱 / 姓名 / 拼音首字母",
    autocomplete: "off", spellcheck: "false", "aria-label": "查找客户" });
  const results = el("ol", { id: "results", class: "results", role: "listbox" });
  const status = el("p", { class: "search-status" });
  let selected = -1;
  let asked = 0;
  let hits = [];
  let hitsFor = null; // the text the shown hits answer

  const mark = () => [...results.children].forEach((li, i) => li.setAttribute("aria-selected", i === selected));
  const open = (hit) => { location.hash = `#/c/${encodeURIComponent(hit.customer_ref)}`; };

  async function run() {
    const text = box.value.trim();
    const mine = ++asked;
    if (!text) { results.replaceChildren(); status.textContent = ""; hits = []; hitsFor = null; return; }
    try {
      const data = await api("search", { query: text, store_id: store(), limit: 20 });
      if (mine !== asked) return; // a newer keystroke's answer wins
      if (hitsFor !== text) selected = data.results.length ? 0 : -1;
      selected = Math.min(selected, data.results.length - 1);
      hits = data.results;
      hitsFor = text;
      // Search has no pages: when more match, say so rather than let the list look complete.
      status.textContent = !hits.length ? "没有匹配的客户"
        : data.has_more ? `前 ${hits.length} 位客户（还有更多，请输入更多字缩小范围）` : `${hits.length} 位客户`;
      results.replaceChildren(...hits.map((h, i) => el("li", { role: "option", class: "hit", "data-ref": h.customer_ref,
        onclick: () => open(h), onmousemove: () => { selected = i; mark(); } },
      el("span", { class: "name" }, h.name ?? "(未留名)"),
      el("span", { class: "phone" }, h.phone ?? h.customer_identifier),
      // An empty cell keeps the columns aligned for a guest who is not a member.
      h.member_level ? el("span", { class: "chip" }, h.member_level) : el("span", {}),
      el("span", { class: "tier" }, h.customer_tier),
      el("span", { class: "spent" }, `${h.total_orders} 单 · ${yuan(h.total_spent)}`))));
      mark();
    } catch (err) {
      if (mine !== asked) return;
      hits = [];
      hitsFor = null;
      results.replaceChildren();
      if (err.status === 401) return expired();
      status.textContent = explain(err).join("：");
    }
  }

  let timer = null;
  box.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => { timer = null; run(); }, 150); });
  box.addEventListener("keydown", async (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      if (!hits.length) return;
      selected = (selected + (e.key === "ArrowDown" ? 1 : hits.length - 1)) % hits.length;
      mark();
    } else if (e.key === "Enter" && !e.isComposing) {
      // (Enter while an input method is composing picks the characters, not a customer.)
      e.preventDefault();
      const pending = timer !== null;
      clearTimeout(timer);
      timer = null;
      const direct = wholeIdentifier(box.value);
      if (direct) {
        // Opened in place: the number goes to the API, never into the URL or the history.
        showCustomer({ customer_identifier: direct.value, identifier_type: direct.type }, true);
        return;
      }
      // Only search again when the shown hits are not this text's: the one selected with
      // the arrow keys or the mouse is the one opened.
      if (pending || hitsFor !== box.value.trim()) await run();
      if (hits[selected]) open(hits[selected]);
    }
  });
  return { node: el("section", { class: "search" }, box, status, results), focus: () => box.focus() };
}

/** A whole phone number (any spelling the API accepts) or email: opened without a search. */
function wholeIdentifier(text) {
  const t = text.trim();
  if (/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(t)) return { type: "email", value: t };
  const digits = t.replace(/[\s\-()（）]/g, "").replace(/^(\+86|0086|86)(?=1\d{10}$)/, "");
  if (/^1\d{10}$/.test(digits)) return { type: "phone", value: digits };
  return null;
}

// ---------- the guest card ----------

/** The guest card of a customer (`idParams`: customer_identifier and identifier_type). The
 * URL then names the customer by ref: a new history entry when `push` (opened from the
 * search box), else in place of the one that named them by identifier. */
async function showCustomer(idParams, push = false) {
  const root = el("section", { class: "card", "aria-busy": "true" }, el("p", {}, "加载中…"));
  app().replaceChildren(backLink(), root);
  const scoped = { ...idParams, store_id: store() };
  let profile;
  try {
    profile = await api("profile", scoped);
  } catch (err) {
    if (!root.isConnected) return; // the person moved on meanwhile
    if (err.status === 401) return expired();
    root.replaceWith(errorScreen(err));
    return;
  }
  if (!root.isConnected) return;
  // From here on the customer is asked about by their ref alone.
  const byRef = { customer_identifier: profile.customer_ref, identifier_type: "customer_ref", store_id: store() };
  if (idParams.identifier_type !== "customer_ref") {
    history[push ? "pushState" : "replaceState"](null, "", `#/c/${encodeURIComponent(profile.customer_ref)}`);
  }
  rememberStores([profile.member_info?.store_id, profile.guest_insights?.favorite_store,
    ...profile.recent_orders.map((o) => o.store_id)]);
  root.removeAttribute("aria-busy");
  root.replaceChildren(
    identity(profile),
    el("div", { class: "grid" },
      valuePanel(profile), predictionsPanel(profile), insightsPanel(profile),
      chartPanel(profile), recommendationsPanel(byRef)),
    timelinePanel(byRef));
  performance.mark("c360-card-painted");
}

/** A link to `hash` that also works when the address is already there (after a direct open
 * that failed, the address is still `#/`: a plain link would change nothing). */
function link(hash, text, attrs = {}) {
  return el("a", { ...attrs, href: hash, onclick: (e) => {
    if (location.hash === hash || (hash === "#/" && location.hash === "")) { e.preventDefault(); route(); }
  } }, text);
}

function backLink() {
  return link("#/", "← 查找客户", { class: "back" });
}

function identity(p) {
  const m = p.member_info ?? {};
  return el("div", { class: "identity-row" },
    el("h2", { class: "customer-name" }, m.name ?? "(未留名)"),
    el("span", { class: "customer-phone", "data-field": "phone" }, m.phone ?? (p.identifier_type === "phone" ? p.customer_identifier : "")),
    m.member_id ? el("span", { class: "member-id" }, `会员 ${m.member_id}`) : null,
    m.level ? el("span", { class: "chip level" }, m.level) : null,
    el("span", { class: "tier", "data-field": "tier" }, p.customer_value.customer_tier),
    el("span", { class: "rfm" }, `RFM ${p.customer_value.rfm_score}`),
    el("ul", { class: "tags" }, p.customer_tags.map((t) => el("li", { class: "chip tag" }, t))),
    m.points !== undefined ? el("span", { class: "points" }, `积分 ${m.points ?? "—"} · 余额 ${yuan(m.balance)}`) : null);
}

function panel(title, ...children) {
  return el("section", { class: "panel" }, el("h3", {}, title), ...children);
}

function facts(rows) {
  return el("dl", { class: "facts" }, rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

function valuePanel(p) {
  const v = p.customer_value;
  return panel("客户价值", facts([
    ["累计消费", yuan(v.total_spent)], ["有效订单", v.total_orders], ["客单价", yuan(v.avg_order_value)],
    ["月均频次", v.order_frequency_per_month], ["客户生命周期", `${v.customer_lifetime_days} 天`],
    ["订单 / 预订 / POS / 活动", `${p.statistics.total_orders} / ${p.statistics.total_reservations} / ${p.statistics.total_pos_transactions} / ${p.statistics.total_activities}`]]));
}

/** The API's `predictions_unavailable_reason` (English, for integrators) as an agent reads it. */
function predictionGap(reason) {
  if (!reason) return "";
  if (reason.startsWith("no model")) return "本范围还没有拟合模型（每周校准一次）";
  if (reason.includes("no paid or completed order")) return "该客户还没有已支付或已完成的订单";
  if (reason.includes("outside what the fitted model")) return "该客户的历史超出模型可评估的范围";
  if (reason.includes("order days were recorded")) return "部分订单早于订单日期记录，需要重建数据";
  return "原因见技术详情";
}

function predictionsPanel(p) {
  const pr = p.predictions;
  if (!pr) {
    const reason = predictionGap(p.predictions_unavailable_reason);
    return panel("预测", el("p", { class: "muted", title: p.predictions_unavailable_reason ?? "" }, `暂无预测${reason ? `：${reason}` : ""}`));
  }
  return panel("预测", facts([
    ["流失概率", pct(pr.churn_probability)], ["未来12个月价值 (CLV)", yuan(pr.predicted_clv_12m)],
    ["90天预计订单", pr.expected_orders_90d?.toFixed(1) ?? "—"], ["模型日期", day(pr.model_fitted_at)]]));
}

const DAYPART = { breakfast: "早餐", lunch: "午餐", afternoon: "下午茶", dinner: "晚餐", late_night: "夜宵" };
const ORDER_TYPE = { dine_in: "堂食", delivery: "外卖", pickup: "自提" };

function insightsPanel(p) {
  const g = p.guest_insights ?? {};
  const dishes = (g.favorite_dishes ?? []).map((d) => el("li", {}, `${d.name ?? d.dish_id} × ${d.count}`));
  return panel("客户洞察",
    el("ol", { class: "favorites" }, dishes.length ? dishes : el("li", { class: "muted empty" }, "暂无")),
    facts([["常来时段", DAYPART[g.preferred_daypart] ?? "—"], ["常用方式", ORDER_TYPE[g.preferred_order_type] ?? "—"],
      ["爽约率", pct(g.no_show_rate)], ["取消率", pct(g.cancellation_rate)], ["常来门店", g.favorite_store ?? "—"],
      ["到店次数", g.visits ?? "—"]]));
}

function chartPanel(p) {
  const spend = el("canvas", { id: "spend-chart", role: "img", "aria-label": "近12个月消费" });
  const mix = el("canvas", { id: "mix-chart", role: "img", "aria-label": "订单、预订、POS 与活动构成" });
  const node = panel("近12个月消费", el("div", { class: "chart" }, spend),
    el("h3", {}, "订单、预订、POS 与活动构成"), el("div", { class: "chart" }, mix));
  requestAnimationFrame(() => {
    if (!window.Chart) {
      node.append(el("p", { class: "muted" }, "图表库未加载，请联系技术支持。"));
      return;
    }
    new window.Chart(spend, {
      type: "bar",
      data: { labels: p.monthly_spend.map((m) => m.month), datasets: [{ label: "消费 (元)", data: p.monthly_spend.map((m) => m.spent) }] },
      options: { animation: false, maintainAspectRatio: false, plugins: { legend: { display: false } } },
    });
    const s = p.statistics;
    new window.Chart(mix, {
      type: "doughnut",
      data: { labels: ["订单", "预订", "POS交易", "活动"], datasets: [{ data: [s.total_orders, s.total_reservations, s.total_pos_transactions, s.total_activities] }] },
      options: { animation: false, maintainAspectRatio: false, plugins: { legend: { position: "right" } } },
    });
  });
  return node;
}

function recommendationsPanel(byRef) {
  const dishes = el("ol", { class: "recommend dishes" }, el("li", { class: "muted" }, "加载中…"));
  const coupons = el("ol", { class: "recommend coupons" }, el("li", { class: "muted" }, "加载中…"));
  const why = { repeat: "常点", paired_with: "常一起点", popular: "本店热门" };
  api("recommendations", { ...byRef, kind: "dishes", limit: 5 }).then((d) => {
    dishes.replaceChildren(...d.recommendations.map((r) => el("li", { class: "dish", "data-reason": r.reason },
      el("span", { class: "name" }, r.name ?? r.dish_id),
      el("span", { class: "why" }, r.reason === "paired_with" && r.paired_with ? `和「${r.paired_with.name ?? r.paired_with.dish_id}」${why.paired_with}` : why[r.reason] ?? r.reason))));
    if (!d.recommendations.length) dishes.replaceChildren(el("li", { class: "muted empty" }, "暂无推荐"));
  }, (err) => dishes.replaceChildren(el("li", { class: "muted" }, explain(err)[0])));
  api("recommendations", { ...byRef, kind: "coupons" }).then((d) => {
    coupons.replaceChildren(...d.recommendations.map((r) => el("li", { class: "coupon" },
      el("details", {}, el("summary", {}, r.title), el("p", {}, offerTerms(r)),
        el("p", { class: "muted" }, "匹配条件：", el("code", { class: "rule" }, r.reason))))));
    if (!d.recommendations.length) coupons.replaceChildren(el("li", { class: "muted empty" }, "暂无适用优惠"));
  }, (err) => coupons.replaceChildren(el("li", { class: "muted" }, explain(err)[0])));
  return panel("推荐", el("h4", {}, "菜品"), dishes, el("h4", {}, "优惠券"), coupons);
}

/** A coupon's terms in words: 立减 ¥20 · 满 ¥100 可用 · 7 天内有效. */
function offerTerms(r) {
  const what = { amount_off: r.value != null ? `立减 ${yuan(r.value)}` : "立减", percent_off: r.percent != null ? `${r.percent}% 折扣` : "折扣",
    free_item: "赠送菜品", perk: "会员礼遇" }[r.kind] ?? r.kind;
  return [what, r.min_spend != null ? `满 ${yuan(r.min_spend)} 可用` : null, r.valid_days != null ? `${r.valid_days} 天内有效` : null]
    .filter(Boolean).join(" · ");
}

const EVENT = { order: "订单", reservation: "预订", pos_transaction: "POS交易", activity: "活动", member: "会员" };
// The sources' statuses (docs/spec/sources.md); the ones an agent must not miss are marked.
const STATUS = {
  pending: "待处理", paid: "已支付", completed: "已完成", cancelled: "已取消", refunded: "已退款",
  confirmed: "已确认", arrived: "已到店", no_show: "爽约", success: "成功", voided: "已作废",
};
const ALERT_STATUS = new Set(["cancelled", "refunded", "no_show", "voided"]);
/** A timeline description with the status words in Chinese (`状态: confirmed`, `微信支付 - success`). */
function localDescription(text) {
  return String(text ?? "").replace(/\b(pending|paid|completed|cancelled|refunded|confirmed|arrived|no_show|success|voided)\b/g,
    (w) => STATUS[w]);
}

function timelinePanel(byRef) {
  const filter = el("select", { id: "event-filter", "aria-label": "事件类型" },
    el("option", { value: "" }, "全部事件"), Object.entries(EVENT).map(([v, t]) => el("option", { value: v }, t)));
  const list = el("ol", { id: "timeline", class: "timeline" });
  const sentinel = el("li", { class: "sentinel muted" }, "加载中…");
  list.append(sentinel);
  let cursor;
  let done = false;
  let loading = false;

  const shown = (e) => !filter.value || e.event_type === filter.value;
  /** The footer once everything is loaded: the rows shown, and of how many with a filter on. */
  const total = () => {
    const all = list.querySelectorAll(".event").length;
    const visible = [...list.querySelectorAll(".event")].filter((li) => !li.hidden).length;
    return filter.value ? `共 ${visible} 条（全部 ${all} 条）` : `共 ${all} 条`;
  };
  const apply = () => {
    [...list.querySelectorAll(".event")].forEach((li) => { li.hidden = !shown({ event_type: li.dataset.type }); });
    if (done) sentinel.textContent = total();
  };

  let observer;
  async function more() {
    // The card was left: stop (each page would be another audited look at this customer).
    if (!sentinel.isConnected) { observer?.disconnect(); return; }
    if (loading || done) return;
    loading = true;
    try {
      const page = await api("timeline", { ...byRef, limit: PAGE, cursor });
      for (const e of page.timeline) {
        const li = el("li", { class: "event", "data-type": e.event_type },
          el("time", { datetime: e.event_time }, when(e.event_time)),
          el("span", { class: "chip" }, EVENT[e.event_type] ?? e.event_type),
          el("span", { class: "title" }, e.title,
            e.status && ALERT_STATUS.has(e.status) ? el("span", { class: "status-alert", "data-status": e.status }, STATUS[e.status]) : null),
          el("span", { class: "muted" }, localDescription(e.description)));
        li.hidden = !shown(e);
        sentinel.before(li);
      }
      cursor = page.next_cursor;
      done = !cursor;
      sentinel.textContent = done ? total() : "加载中…";
    } catch (err) {
      done = true;
      sentinel.textContent = explain(err)[0];
    } finally {
      loading = false;
    }
    // Still in view (a short page, or a filter hiding most of it): keep going.
    const r = sentinel.getBoundingClientRect();
    if (!done && sentinel.isConnected && r.top < window.innerHeight + 200) more();
  }
  // The first page at once; the next ones as the end of the list scrolls into view.
  observer = new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) more(); }, { rootMargin: "200px" });
  observer.observe(sentinel);
  // The first page once the panel is in the page (it is built before it is attached).
  requestAnimationFrame(() => more());
  filter.addEventListener("change", () => { apply(); more(); });
  return el("section", { class: "panel timeline-panel" }, el("div", { class: "panel-head" }, el("h3", {}, "时间线"), filter), list);
}

// ---------- segments (admins) ----------

async function showSegments() {
  const root = el("section", { class: "segments" }, el("h2", {}, "客户分群"), el("p", { class: "muted" }, "加载中…"));
  app().replaceChildren(root);
  let list;
  try {
    list = await api("segments");
  } catch (err) {
    if (err.status === 401) return expired();
    root.replaceChildren(errorScreen(err));
    return;
  }
  // The seed's two example segments first: one click from the marketer's usual lists.
  const seed = (s) => s.segment_id.startsWith("seg_demo_");
  const ordered = [...list.segments].sort((a, b) => seed(b) - seed(a));
  const rows = ordered.map((seg) => {
    const count = el("td", { class: "count" }, "…");
    api(`segments/${seg.segment_id}/count`, { store_id: store() })
      .then((c) => { count.textContent = c.count.toLocaleString("zh-CN"); },
        (err) => { count.textContent = explain(err)[0]; });
    return el("tr", { class: "segment", "data-id": seg.segment_id },
      el("td", {}, el("a", { href: `#/segments/${seg.segment_id}` }, seg.name), seed(seg) ? el("span", { class: "chip" }, "示例") : null),
      el("td", { class: "muted" }, seg.description ?? ""), count);
  });
  root.replaceChildren(el("h2", {}, "客户分群"),
    rows.length
      ? el("table", { class: "list" }, el("thead", {}, el("tr", {}, el("th", {}, "名称"), el("th", {}, "说明"), el("th", {}, "人数"))), el("tbody", {}, rows))
      : el("p", { class: "muted" }, "还没有保存的分群。"));
}

async function showSegment(id) {
  const root = el("section", { class: "segment-detail" }, el("p", { class: "muted" }, "加载中…"));
  app().replaceChildren(el("a", { href: "#/segments", class: "back" }, "← 客户分群"), root);
  let seg;
  try {
    seg = await api(`segments/${id}`);
  } catch (err) {
    if (err.status === 401) return expired();
    const screen = errorScreen(err);
    if (err.status === 404) screen.querySelector("h2").textContent = "未找到该分群";
    root.replaceChildren(screen);
    return;
  }
  const body = el("tbody", {});
  const count = el("span", { class: "count" }, "…");
  const more = el("button", { type: "button", id: "more-members", hidden: true }, "加载更多");
  const exportButton = el("button", { type: "button", id: "export" }, "导出 CSV");
  let cursor;

  async function page() {
    more.disabled = true;
    try {
      const p = await api(`segments/${id}/members`, { store_id: store(), limit: 50, cursor });
      for (const m of p.members) {
        body.append(el("tr", { class: "member", onclick: () => { location.hash = `#/c/${encodeURIComponent(m.customer_ref)}`; } },
          el("td", {}, m.name ?? "(未留名)"), el("td", {}, m.phone ?? m.customer_identifier), el("td", {}, m.member_level ?? ""),
          el("td", {}, m.customer_tier), el("td", {}, m.rfm_score), el("td", {}, m.total_orders), el("td", {}, yuan(m.total_spent)),
          el("td", {}, day(m.last_activity_at))));
      }
      cursor = p.next_cursor;
      more.hidden = !cursor;
    } catch (err) {
      body.append(el("tr", {}, el("td", { colspan: 8 }, explain(err).join("：")))); 
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener("click", page);
  // The head count of the whole segment (a members page's `count` is that page's).
  api(`segments/${id}/count`, { store_id: store() }).then(
    (c) => { count.textContent = `${c.count.toLocaleString("zh-CN")} 人`; },
    () => { count.textContent = ""; });
  exportButton.addEventListener("click", async () => {
    // A link cannot carry the bearer token: fetch the CSV, then hand it over as a file.
    exportButton.disabled = true;
    try {
      const resp = await request(`segments/${id}/export`, { store_id: store() });
      // The API's CSV starts with a UTF-8 byte order mark already: Excel on a Chinese Windows
      // reads UTF-8 without one as GBK.
      const url = URL.createObjectURL(new Blob([await resp.blob()], { type: "text/csv;charset=utf-8" }));
      const a = el("a", { href: url, download: `${id}.csv` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      exportButton.after(el("span", { class: "notice" }, ` ${explain(err)[0]}`));
    } finally {
      exportButton.disabled = false;
    }
  });
  root.replaceChildren(
    el("div", { class: "identity-row" }, el("h2", {}, seg.name), count, exportButton),
    seg.description ? el("p", { class: "muted" }, seg.description) : null,
    el("details", {}, el("summary", {}, "筛选条件"), el("pre", {}, JSON.stringify(seg.filter, null, 2))),
    el("table", { class: "list members" },
      el("thead", {}, el("tr", {}, ["姓名", "手机", "会员等级", "价值层级", "RFM", "订单", "消费", "最近活动"].map((h) => el("th", {}, h)))), body),
    more);
  await page();
}

// ---------- routing ----------

async function route() {
  if (!token()) return showSignIn();
  header();
  let hash = "";
  try {
    hash = decodeURIComponent(location.hash.slice(1));
  } catch {
    /* not percent-encoding: the search screen */
  }
  const ref = hash.match(/^\/c\/(.+)$/);
  const segment = hash.match(/^\/segments\/(seg_[0-9a-z_-]+)$/);
  // Segments are for admins (issue 15); the API lets staff list them, but not export.
  if ((hash === "/segments" || segment) && claims(token()).role === "staff") {
    return app().replaceChildren(errorScreen(new ApiError(403, "FORBIDDEN", "")));
  }
  if (hash === "/segments") return showSegments();
  if (segment) return showSegment(segment[1]);
  if (ref) return showCustomer({ customer_identifier: ref[1], identifier_type: "customer_ref" });
  const s = searchScreen();
  app().replaceChildren(s.node);
  s.focus();
}

window.addEventListener("hashchange", route);
scopeInput().addEventListener("change", route);
finishOidcSignIn().then((failed) => (failed ? showSignIn(failed) : route()));
