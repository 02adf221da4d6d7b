// Sign-in through an OIDC provider, as in AWS: authorization code with PKCE, in Debian's
// chromium. The provider is a real one, node-oidc-provider (an OpenID-certified
// implementation), with its development login and consent pages and RS256 keys made here; a
// second API server on the demo's tables (`c360-dev serve --no-streams`) verifies its ID
// tokens against its JWKS, issuer and audience, as API Gateway's JWT authorizer does, and
// serves the console as it is deployed: scripts/console-site's files and config.json.
// Run by scripts/test-console: C360_DEV_BIN, AWS_ENDPOINT_URL and C360_REDIS_URL name the
// stack it started.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { createServer } from "node:net";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import Provider from "oidc-provider";
import { generateKeyPair, exportJWK, SignJWT } from "jose";

const CLIENT_ID = "c360-console";
// The provider's accounts: a login name is the subject, with the claims c360 reads.
const ACCOUNTS = {
  "staff-1": { role: "staff", store_id: "store_sh_001" },
  "hq-admin": { role: "super_admin" },
};

let browser;
let provider;
let providerServer;
let api;
let consoleUrl;
let issuer;
let site;
// The provider's signing key: the expiry test signs an expired token with it.
let signingPrivateKey;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

before(async () => {
  const bin = process.env.C360_DEV_BIN;
  assert.ok(bin, "C360_DEV_BIN: the c360-dev binary (scripts/test-console sets it)");
  const [providerPort, apiPort] = [await freePort(), await freePort()];
  issuer = `http://127.0.0.1:${providerPort}`;
  consoleUrl = `http://127.0.0.1:${apiPort}/console/`;

  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  signingPrivateKey = privateKey;
  const signingKey = { ...(await exportJWK(privateKey)), kid: "c360-test-oidc", alg: "RS256", use: "sig" };
  provider = new Provider(issuer, {
    clients: [{
      client_id: CLIENT_ID,
      token_endpoint_auth_method: "none", // a public client: the browser holds no secret
      redirect_uris: [consoleUrl],
      post_logout_redirect_uris: [consoleUrl],
      grant_types: ["authorization_code"],
      response_types: ["code"],
    }],
    jwks: { keys: [signingKey] },
    cookies: { keys: ["c360-console-test-cookie-key"] },
    scopes: ["openid", "c360"],
    claims: { openid: ["sub"], c360: ["role", "store_id"] },
    // Scope claims in the ID token, the bearer the console sends (as Cognito's ID tokens carry
    // custom attributes).
    conformIdTokenClaims: false,
    async findAccount(_ctx, sub) {
      const account = ACCOUNTS[sub];
      if (!account) return undefined;
      return { accountId: sub, claims: async () => ({ sub, ...account }) };
    },
  });
  providerServer = provider.listen(providerPort, "127.0.0.1");
  await new Promise((resolve) => providerServer.once("listening", resolve));
  const jwks = await (await fetch(`${issuer}/jwks`)).text();

  // The console as scripts/deploy-console uploads it, with the config the stack would write.
  site = mkdtempSync(join(tmpdir(), "c360-console-site-"));
  const config = { oidc: { authority: issuer, client_id: CLIENT_ID, scope: "openid c360", token: "id_token" } };
  execFileSync(new URL("../../scripts/console-site", import.meta.url).pathname, [site, JSON.stringify(config)],
    { stdio: ["ignore", "ignore", "inherit"] });

  api = spawn(bin, ["serve", "--no-streams"], {
    env: {
      ...process.env,
      C360_DEV_ADDR: `127.0.0.1:${apiPort}`,
      C360_DEAD_LETTER_DIR: mkdtempSync(join(tmpdir(), "c360-oidc-")),
      C360_AUTH: "rs256",
      C360_JWKS: jwks,
      C360_JWT_ISSUER: issuer,
      C360_JWT_AUDIENCE: CLIENT_ID,
      C360_CONSOLE_DIR: site,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  await new Promise((resolve, reject) => {
    api.stdout.on("data", (d) => {
      out += d;
      if (out.includes("Serving.")) resolve();
    });
    api.once("exit", (code) => reject(new Error(`c360-dev serve exited (${code}):\n${out}`)));
  });

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  api?.kill();
  providerServer?.close();
  if (site) rmSync(site, { recursive: true, force: true });
});

/** A fresh browser (no provider session), on `url`. */
async function freshPage(url = consoleUrl) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "zh-CN" });
  const page = await context.newPage();
  const urls = [];
  page.on("framenavigated", (f) => f === page.mainFrame() && urls.push(f.url()));
  page.on("request", (r) => urls.push(r.url()));
  await page.goto(url);
  return { page, urls };
}

/** Through the provider's login and consent pages, back to the console. */
async function signInAtProvider(page, login, { remember = false } = {}) {
  if (remember) await page.locator(".remember input").check();
  await page.locator("#oidc-sign-in").click();
  await page.waitForURL((u) => u.origin === issuer);
  await page.locator("input[name=login]").fill(login);
  await page.locator("input[name=password]").fill("any");
  await page.locator("button[type=submit]").click();
  // The consent page (first sign-in of this account to this client).
  await page.waitForURL((u) => u.origin !== issuer || u.pathname.includes("/interaction/"));
  if (new URL(page.url()).origin === issuer) {
    await page.locator("button[type=submit]").click();
  }
  await page.waitForURL((u) => u.href.startsWith(consoleUrl));
}

test("staff sign in through the OIDC provider with PKCE; no token in the address or across sessions", async () => {
  const { page, urls } = await freshPage();
  await page.locator("#oidc-sign-in").waitFor();
  assert.equal(await page.locator(".identity").count(), 0, "no dev identities where the API verifies the provider's tokens");
  assert.deepEqual(urls.filter((u) => u.startsWith(issuer)), [], "nothing goes to the provider before the person asks");
  if (process.env.C360_SCREENSHOTS) {
    await page.screenshot({ path: join(process.env.C360_SCREENSHOTS, "console-sign-in-oidc.png") });
  }
  await signInAtProvider(page, "staff-1");
  await page.locator("#search").waitFor();
  assert.match(await page.locator("#who").innerText(), /门店员工 · store_sh_001 · staff-1/);

  // The API accepted the provider's token: a search, masked for staff.
  await page.locator("#search").fill("zs");
  await page.locator(".hit").first().waitFor();
  const hits = await page.locator(".hit").allInnerTexts();
  assert.ok(hits.some((t) => t.includes("138****8000")), hits.join("\n"));

  // The authorization request carried a PKCE S256 challenge; the code left the address.
  const authorize = urls.find((u) => u.startsWith(`${issuer}/auth?`));
  assert.ok(authorize, urls.join("\n"));
  const q = new URL(authorize).searchParams;
  assert.equal(q.get("code_challenge_method"), "S256");
  assert.match(q.get("code_challenge"), /^[A-Za-z0-9_-]{43}$/);
  assert.equal(q.get("response_type"), "code");
  assert.ok(!page.url().includes("code="), page.url());
  const stored = await page.evaluate(() => ({
    session: sessionStorage.getItem("c360.token"),
    local: Object.keys(localStorage),
  }));
  assert.ok(stored.session?.split(".").length === 3, "the ID token is the bearer, for this tab only");
  assert.deepEqual(stored.local, [], "nothing in localStorage unless 记住我 is ticked");
  for (const u of urls) assert.ok(!u.includes(stored.session), `a token in a URL: ${u}`);

  // Back into the provider, which sends the old code and state again (or a reload of the
  // callback): still signed in, on the page the address names.
  await page.goto(`${consoleUrl}?code=stale&state=stale#/`);
  await page.locator("#search").waitFor();
  assert.equal(await page.locator(".sign-in").count(), 0);
  assert.equal(new URL(page.url()).search, "", "the stale code left the address");
  await page.context().close();
});

test("a guest card's link survives the sign-in, and 记住我 keeps a super_admin signed in", async () => {
  // The card's address (a customer_ref), taken as staff would share it.
  const { page: staff } = await freshPage();
  await signInAtProvider(staff, "staff-1");
  await staff.locator("#search").fill("+86 138 0013 8000");
  await staff.locator("#search").press("Enter");
  await staff.locator(".customer-name").waitFor();
  const cardUrl = staff.url();
  assert.match(cardUrl, /#\/c\//);
  await staff.context().close();

  const { page } = await freshPage(cardUrl);
  await signInAtProvider(page, "hq-admin", { remember: true });
  await page.locator(".customer-name").waitFor();
  assert.equal(page.url(), cardUrl, "back on the card after the provider");
  assert.equal(await page.locator(".customer-phone").innerText(), "13800138000", "super_admin sees the clear phone");
  assert.ok((await page.evaluate(() => localStorage.getItem("c360.token")))?.length > 0, "记住我 keeps the token");
  await page.context().close();
});

test("signing out ends the provider's session: the next person at a shared workstation signs in as themselves", async () => {
  // Field report: 退出 cleared the console's token only, and the next 使用企业账号登录 on the
  // same browser came straight back as the person before.
  const { page } = await freshPage();
  await signInAtProvider(page, "staff-1");
  await page.locator("#search").waitFor();
  assert.ok(await page.evaluate(() => sessionStorage.getItem("c360.id_token")), "the ID token is kept for the sign-out");

  await page.locator("#sign-out").click();
  // The provider's own confirmation (node-oidc-provider's end-session page), then back.
  await page.waitForURL((u) => u.origin === issuer);
  await page.locator("button[value=yes]").click();
  await page.waitForURL((u) => u.href.startsWith(consoleUrl));
  await page.locator("#oidc-sign-in").waitFor();
  assert.equal(await page.locator("#sign-in-message").innerText(), "已退出登录，企业账号也已退出。");
  assert.equal(new URL(page.url()).search, "", "the sign-out's state left the address");
  assert.deepEqual(await page.evaluate(() => [sessionStorage.getItem("c360.token"), sessionStorage.getItem("c360.id_token")]),
    [null, null]);

  // The next person: the provider shows its login page (signInAtProvider fills it in; with
  // the session still alive it would have come straight back as staff-1 and found no form).
  await signInAtProvider(page, "hq-admin");
  await page.locator("#search").waitFor();
  assert.match(await page.locator("#who").innerText(), /hq-admin/);
  await page.context().close();
});

test("an expired token goes back through the provider and returns to the same card, without a login page", async () => {
  // Field report: the console dropped a store manager to the sign-in screen every hour
  // (Cognito's ID token lifetime), losing the card on screen.
  const { page, urls } = await freshPage();
  await signInAtProvider(page, "staff-1");
  await page.locator("#search").fill("+86 138 0013 8000");
  await page.locator("#search").press("Enter");
  await page.locator(".customer-name").waitFor();
  const cardUrl = page.url();

  // The same person's token as the provider signs it, but an hour past its expiry: the API
  // answers 401 as it does for any expired token.
  const now = Math.floor(Date.now() / 1000);
  const stale = await new SignJWT({ role: "staff", store_id: "store_sh_001" })
    .setProtectedHeader({ alg: "RS256", kid: "c360-test-oidc" })
    .setIssuer(issuer).setAudience(CLIENT_ID).setSubject("staff-1")
    .setIssuedAt(now - 7200).setExpirationTime(now - 3600)
    .sign(signingPrivateKey);
  await page.evaluate((t) => sessionStorage.setItem("c360.token", t), stale);
  const from = urls.length;
  await page.reload();
  await page.locator(".customer-name").waitFor();
  const after = urls.slice(from);
  assert.ok(after.some((u) => u.startsWith(`${issuer}/auth?`)), `back through the provider:\n${after.join("\n")}`);
  assert.ok(!after.some((u) => u.includes("/interaction/")), `no login page while the provider's session lives:\n${after.join("\n")}`);
  assert.equal(page.url(), cardUrl, "on the same card");
  const renewed = await page.evaluate(() => sessionStorage.getItem("c360.token"));
  assert.ok(renewed && renewed !== stale, "a fresh token");
  assert.equal(await page.locator(".customer-phone").innerText(), "138****8000");

  // Refused again right after a renewal (here: the stale token put back): the console asks the
  // person instead of going round the provider in a loop.
  await page.evaluate((t) => sessionStorage.setItem("c360.token", t), stale);
  const again = urls.length;
  await page.reload();
  await page.locator("#sign-in-message").waitFor();
  assert.match(await page.locator("#sign-in-message").innerText(), /自动续期未成功/);
  assert.ok(!urls.slice(again).some((u) => u.startsWith(issuer)), "no second trip to the provider");
  assert.equal(await page.evaluate(() => sessionStorage.getItem("c360.token")), null, "the refused token is gone");
  await page.context().close();
});

test("a sign-in refused at the provider comes back as a message, not a broken page", async () => {
  // Opened as index.html: the callback is still the console's registered address.
  const { page, urls } = await freshPage(`${consoleUrl}index.html`);
  await page.locator("#oidc-sign-in").click();
  await page.waitForURL((u) => u.origin === issuer);
  const authorize = urls.find((u) => u.startsWith(`${issuer}/auth?`));
  assert.equal(new URL(authorize).searchParams.get("redirect_uri"), consoleUrl);
  // The development login page's "Cancel": the provider answers error=access_denied.
  await page.getByText("Cancel").click();
  await page.locator("#sign-in-message").waitFor();
  assert.equal(await page.locator("#sign-in-message").innerText(), "登录已取消，或被身份提供方拒绝。");
  assert.ok(!page.url().includes("error="), page.url());
  assert.equal(await page.evaluate(() => sessionStorage.getItem("c360.token")), null);
  await page.context().close();
});

test("a console whose config.json is missing or broken says so at the sign-in", async () => {
  const good = readFileSync(join(site, "config.json"), "utf8");
  try {
    for (const bad of ["null", "{not json", '{"oidc": {"client_id": "c360-console"}}']) {
      writeFileSync(join(site, "config.json"), bad);
      const { page } = await freshPage();
      await page.locator("#config-problem").waitFor();
      assert.match(await page.locator("#config-problem").innerText(), /config\.json/);
      assert.equal(await page.locator("#oidc-sign-in").count(), 0);
      await page.context().close();
    }
  } finally {
    writeFileSync(join(site, "config.json"), good);
  }
});
