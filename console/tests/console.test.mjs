// The console in a real browser: Debian's chromium, headless, driven over the DevTools
// protocol by playwright-core, against the dev stack scripts/test-console starts (the emulator,
// the stream pollers, the API with the console, demo data with 张三). Run by
// scripts/test-console; C360_CONSOLE_URL is the console's address.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";

const BASE = process.env.C360_CONSOLE_URL ?? "http://127.0.0.1:8000/console/";
const SHOTS = process.env.C360_SCREENSHOTS; // a folder, or unset for no screenshots

let browser;
let page;
const requests = [];

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    // Without the background-networking flags chromium keeps trying Google's hosts, which
    // this machine's closed network refuses.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: "zh-CN" });
  page.on("request", (r) => requests.push(r.url()));
});

after(async () => {
  await browser?.close();
});

async function signInAs(label) {
  await page.goto(BASE);
  await page.evaluate(() => { sessionStorage.clear(); localStorage.clear(); });
  await page.goto(BASE);
  await page.getByRole("button", { name: label }).click();
  await page.locator("#search").waitFor();
}

/** Types a whole phone number and Enter: the card opens without a search. */
async function openByPhone(phone) {
  await page.goto(BASE);
  await page.locator("#search").fill(phone);
  await page.locator("#search").press("Enter");
}

async function find(text) {
  await page.locator("#search").fill(text);
  await page.locator(".hit").first().waitFor();
  return page.locator(".hit").allInnerTexts();
}

test("staff find 张三 by pinyin initials, by 尾号 and by her phone in any spelling, and see her masked card", async () => {
  await signInAs("门店员工 · store_sh_001");
  const byInitials = await find("zs");
  assert.ok(byInitials.some((t) => t.includes("张*") && t.includes("138****8000")), byInitials.join("\n"));
  const byLast4 = await find("8000");
  assert.ok(byLast4.some((t) => t.includes("138****8000")), byLast4.join("\n"));
  assert.match(await page.locator(".search-status").innerText(), /^\d+ 位客户$/);
  // Search has no pages: when the API says more customers match than it returned, the status
  // says so rather than the list looking complete (the small demo has no such query, so the
  // API's answer is the one real answer with `has_more` set).
  await page.route(/\/api\/v1\/customer360\/search\?/, async (route) => {
    const response = await route.fetch();
    const body = await response.json();
    body.data.has_more = true;
    await route.fulfill({ response, json: body });
  });
  await find("zs");
  await page.waitForFunction(() => document.querySelector(".search-status")?.textContent.includes("还有更多"));
  await page.unroute(/\/api\/v1\/customer360\/search\?/);

  // Arrow keys and Enter open the selected hit.
  await find("zs");
  await page.locator("#search").press("ArrowDown");
  await page.locator("#search").press("ArrowUp");
  await page.locator("#search").press("Enter");
  await page.locator(".customer-name").waitFor();
  assert.match(page.url(), /#\/c\//, "the card's URL carries the customer_ref, not the phone");
  assert.ok(!page.url().includes("13800138000"));

  // A whole phone number opens directly.
  await page.goto(BASE);
  await page.locator("#search").fill("+86 138 0013 8000");
  await page.locator("#search").press("Enter");
  await page.locator(".customer-name").waitFor();
  assert.equal(await page.locator(".customer-phone").innerText(), "138****8000");
  assert.equal(await page.locator(".customer-name").innerText(), "张*");
  assert.equal(await page.locator("[data-field=tier]").innerText(), "高价值");
  const tags = await page.locator(".tags .tag").allInnerTexts();
  assert.ok(tags.includes("会员等级:金卡"), tags.join(","));
  assert.ok(!(await page.content()).includes("13800138000"), "the clear phone never reaches staff");
  assert.equal(await page.locator("#nav").innerText(), "查找客户", "staff get the search, nothing else in the menu");

  // The timeline scrolls past its first page (20 events).
  await page.locator("#timeline .event").first().waitFor();
  for (let i = 0; i < 10 && (await page.locator("#timeline .event").count()) <= 20; i++) {
    await page.locator("#timeline .sentinel").scrollIntoViewIfNeeded();
    await page.waitForTimeout(300);
  }
  assert.ok((await page.locator("#timeline .event").count()) > 20, "a second page was loaded");
  // Filtered to reservations: only reservations are shown.
  await page.locator("#event-filter").selectOption("reservation");
  const visible = await page.locator("#timeline .event:visible").evaluateAll((els) => els.map((e) => e.dataset.type));
  assert.ok(visible.length > 0 && visible.every((t) => t === "reservation"), visible.join(","));
  // Her scripted cancelled booking is marked, and statuses read in Chinese.
  assert.equal(await page.locator('#timeline .event:visible .status-alert[data-status="cancelled"]').first().innerText(), "已取消");
  const descriptions = (await page.locator("#timeline .event:visible").allInnerTexts()).join("\n");
  assert.ok(!/confirmed|completed|cancelled|arrived/.test(descriptions), descriptions);

  // A recommendation opens to its reason.
  await page.locator(".recommend.dishes .dish").first().waitFor();
  const coupon = page.locator(".recommend.coupons .coupon summary").first();
  await coupon.waitFor();
  await coupon.click();
  assert.ok((await page.locator(".recommend.coupons .coupon details[open] p").first().innerText()).length > 0);
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/console-guest-card.png`, fullPage: true });

  // Leaving the card stops its timeline: no more pages (each one an audited look at her).
  await page.locator(".back").click();
  await page.locator("#search").waitFor();
  const timelineRequests = () => requests.filter((u) => u.includes("/api/v1/customer360/timeline")).length;
  const left = timelineRequests();
  await page.waitForTimeout(1500);
  assert.equal(timelineRequests(), left);

  // The segments page is for admins, even typed into the address bar.
  await page.goto(`${BASE}#/segments`);
  await page.locator("section.error").waitFor();
  assert.equal(await page.locator("section.error").getAttribute("data-status"), "403");
});

test("a super_admin sees the clear phone; another store's admin gets the not-found screen", async () => {
  await signInAs("总部管理员");
  await openByPhone("13800138000");
  await page.locator(".customer-name").waitFor();
  assert.equal(await page.locator(".customer-phone").innerText(), "13800138000");
  assert.equal(await page.locator(".customer-name").innerText(), "张三");

  await signInAs("门店管理员 · store_bj_001");
  await openByPhone("13800138000");
  await page.locator(".error").waitFor();
  assert.equal(await page.locator(".error").getAttribute("data-status"), "404");
  assert.equal(await page.locator(".error h2").innerText(), "未找到该客户");
  assert.ok(!(await page.locator(".error").innerText()).includes("{"), "no raw JSON");
  assert.ok(!page.url().includes("13800138000"), "the number typed never reaches the URL");
  // The way back works although the address never changed.
  await page.locator(".back").click();
  await page.locator("#search").waitFor();
});

test("a store admin finds the seed's two segments one click away, pages their members and exports them", async () => {
  await signInAs("门店管理员 · store_sh_001");
  await page.locator("#nav-segments").click();
  const rows = page.locator("tr.segment");
  await rows.first().waitFor();
  const ids = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.id));
  assert.deepEqual(ids.slice(0, 2).sort(), ["seg_demo_churn_risk", "seg_demo_high_value_active"]);
  // Every count arrives as a number.
  await page.waitForFunction(() => [...document.querySelectorAll("tr.segment .count")].every((td) => /^[\d,]+$/.test(td.textContent)));
  const listed = await page.locator('tr.segment[data-id="seg_demo_high_value_active"] .count').innerText();

  await page.locator('tr.segment[data-id="seg_demo_high_value_active"] a').click();
  await page.locator("tr.member").first().waitFor();
  const members = await page.locator("tr.member").allInnerTexts();
  // Admins see clear values (docs/spec/api.md, Masking).
  assert.ok(members.some((m) => m.includes("张三") && m.includes("13800138000")), members.join("\n"));
  // The whole segment's head count, as the list said (not the first page's rows).
  await page.waitForFunction(() => /^[\d,]+ 人$/.test(document.querySelector(".segment-detail .count")?.textContent ?? ""));
  assert.equal(await page.locator(".segment-detail .count").innerText(), `${listed} 人`);
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/console-segments.png`, fullPage: true });

  const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#export").click()]);
  const csv = await (await download.createReadStream()).toArray();
  const raw = Buffer.concat(csv).toString("utf8");
  assert.ok(raw.startsWith("\ufeff"), "a byte order mark, for Excel");
  const text = raw.slice(1);
  assert.ok(text.startsWith("customer_identifier,identifier_type,name,phone"), text.slice(0, 80));
  assert.ok(text.includes("13800138000,phone,张三"), "exported as the admin sees the members");

  // A member opens as a guest card.
  await page.locator("tr.member", { hasText: "13800138000" }).first().click();
  await page.locator(".customer-name").waitFor();
  assert.equal(await page.locator(".customer-name").innerText(), "张三");
});

test("a guest card's first meaningful paint with a warm cache, and no request leaves the origin", async () => {
  await signInAs("门店员工 · store_sh_001");
  await openByPhone("13800138000");
  await page.locator(".customer-name").waitFor();
  const url = page.url(); // the card by its customer_ref
  const times = [];
  for (let i = 0; i < 5; i++) {
    await page.goto("about:blank");
    await page.goto(url);
    await page.locator(".customer-name").waitFor();
    times.push(await page.evaluate(() => performance.getEntriesByName("c360-card-painted")[0]?.startTime));
  }
  assert.ok(times.every((t) => typeof t === "number"), JSON.stringify(times));
  times.sort((a, b) => a - b);
  console.log(`guest card first meaningful paint, warm cache, 5 loads: median ${times[2].toFixed(0)} ms, max ${times[4].toFixed(0)} ms`);
  const origin = new URL(BASE).origin;
  const outside = requests.filter((u) => !u.startsWith(origin) && !u.startsWith("about:") && !u.startsWith("data:") && !u.startsWith("blob:"));
  assert.deepEqual(outside, [], "every request stays on the service's origin");
  // Every API request of every test is an operation of infra/openapi.yaml: nothing a
  // third-party client could not send.
  const spec = readFileSync(new URL("../../infra/openapi.yaml", import.meta.url), "utf8");
  const paths = [...spec.matchAll(/^  (\/api\/v1\/customer360\/[^:]*):$/gm)]
    .map((m) => new RegExp(`^${m[1].replace(/\{[a-z_]+\}/g, "[^/]+")}$`));
  const api = requests.map((u) => new URL(u)).filter((u) => u.pathname.startsWith("/api/"));
  assert.ok(api.length > 10, `${api.length} API requests seen`);
  const undocumented = api.filter((u) => !paths.some((p) => p.test(u.pathname))).map((u) => u.pathname);
  assert.deepEqual(undocumented, [], "API paths the OpenAPI document does not have");
});
