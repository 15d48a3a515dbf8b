// The greeting page that ships, in headless Chromium, through the local
// hosted UI of `onboard serve`: a person signs up, types the emailed code,
// comes back to the page and is greeted by name; a returning person signs
// in; a tampered state and a code used twice are refused with the page's
// error; a request for another callback is refused by the hosted UI. Then
// the page as the person's own app: a rename (a refused one says why), the
// new name shown, their data downloaded and their name found in it, a
// reload that keeps them signed in, sign-out (a reload then stays signed
// out), sign-in again, and the account deleted, after which signing in
// fails; the hosted UI's ?error= is shown; a long name wraps.
//
// Run by cli/tests/browser.rs, which starts the emulator, `onboard dev` and
// `onboard serve`, and passes:
//   PAGE_URL    the greeting page (`onboard serve`'s GET /)
//   SERVE_LOG   the file `onboard serve` prints to (the confirmation codes)
//   CHROMIUM    the browser to drive
//   SCREENSHOT  where to keep a picture of the signed-in page
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { chromium } from "playwright-core";

const { PAGE_URL, SERVE_LOG, CHROMIUM, SCREENSHOT } = process.env;
const NAME = "Zoë <img src=x onerror=alert(1)> & Co";
const EMAIL = `zoe.${Date.now()}@example.com`;
const PASSWORD = "Correct-Horse-9-battery";

let browser;
before(async () => {
  assert.ok(PAGE_URL && SERVE_LOG && CHROMIUM, "PAGE_URL, SERVE_LOG and CHROMIUM are needed");
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});
after(async () => browser?.close());

/// A fresh tab that fails the test on any script dialog (an injected alert).
async function tab() {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.dialogs = [];
  page.on("dialog", async (dialog) => {
    page.dialogs.push(dialog.message());
    await dialog.dismiss();
  });
  page.authorizationCodes = [];
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.href.startsWith(PAGE_URL) && url.searchParams.has("code")) {
      page.authorizationCodes.push(url.searchParams.get("code"));
    }
  });
  return page;
}

/// The newest confirmation code `onboard serve` printed after `seen` lines.
async function confirmationCode(seen) {
  for (let i = 0; i < 100; i++) {
    const lines = (await readFile(SERVE_LOG, "utf8")).split("\n").slice(seen);
    const found = lines.map((l) => l.match(/confirmation code for user \S+: (\d{6})$/)).filter(Boolean);
    if (found.length) return found.at(-1)[1];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("onboard serve printed no confirmation code");
}

/// A fresh tab on the hosted UI's sign-in form, reached from the page, with
/// the person's email and `password` typed in.
async function signInForm(password) {
  const page = await tab();
  await page.goto(PAGE_URL);
  await page.getByRole("link", { name: "Sign in" }).click();
  await page.waitForURL((url) => url.pathname === "/login");
  await page.fill("#email", EMAIL);
  await page.fill("#password", password);
  return page;
}

const logLines = async () => (await readFile(SERVE_LOG, "utf8")).split("\n").length - 1;

describe("the greeting page through the local hosted UI", () => {
  let usedCode;

  it("signs a person up with the emailed code and greets them by name, as text", async () => {
    const page = await tab();
    await page.goto(PAGE_URL);
    await page.getByRole("link", { name: "Sign up" }).click();
    await page.waitForURL((url) => url.pathname === "/signup");
    const seen = await logLines();
    await page.fill("#email", EMAIL);
    await page.fill("#name", NAME);
    await page.fill("#password", PASSWORD);
    await page.click("#submit");
    await page.waitForSelector("#code");
    const code = await confirmationCode(seen);

    // A wrong code is refused on the form, and the right one still works.
    await page.fill("#code", code === "000000" ? "111111" : "000000");
    await page.click("#submit");
    await page.waitForSelector("#error");
    assert.match(await page.textContent("#error"), /not the one we sent/);
    await page.fill("#code", code);
    await page.click("#submit");

    await page.waitForURL((url) => url.href.startsWith(PAGE_URL));
    await page.waitForFunction(() => document.getElementById("greeting").textContent.startsWith("Hello"));
    assert.equal(await page.textContent("#greeting"), `Hello, ${NAME}`);
    assert.equal(await page.locator("#greeting img").count(), 0, "the name was parsed as HTML");
    assert.deepEqual(page.dialogs, []);
    assert.equal(await page.textContent("#error"), "");
    // The code and state are gone from the address bar.
    assert.equal(page.url(), PAGE_URL);
    assert.equal(page.authorizationCodes.length, 1);
    usedCode = page.authorizationCodes[0];
    if (SCREENSHOT) await page.screenshot({ path: SCREENSHOT });
    await page.context().close();
  });

  it("signs a returning person in and greets them", async () => {
    const page = await signInForm("Wrong-Horse-9-battery");
    await page.click("#submit");
    await page.waitForSelector("#error");
    await page.fill("#password", PASSWORD);
    await page.click("#submit");
    await page.waitForFunction(() => document.getElementById("greeting").textContent.startsWith("Hello"));
    assert.equal(await page.textContent("#greeting"), `Hello, ${NAME}`);
    await page.context().close();
  });

  it("refuses a sign-in whose state was tampered with", async () => {
    const page = await signInForm(PASSWORD);
    // The state that comes back is not the one this tab sent.
    await page.$eval("input[name=state]", (input) => { input.value = "forged-state"; });
    await page.click("#submit");
    await page.waitForURL((url) => url.href.startsWith(PAGE_URL));
    await page.waitForFunction(() => document.getElementById("error").textContent !== "");
    assert.match(await page.textContent("#error"), /not started on this page/);
    assert.equal(await page.textContent("#greeting"), "onboard");
    await page.context().close();
  });

  it("sends /oauth2/authorize on to sign-in, and refuses another callback or the admin scope without going there", async () => {
    const page = await tab();
    await page.goto(PAGE_URL);
    const { authUrl, clientId } = await page.$eval("#onboard", (element) => ({ ...element.dataset }));
    const request = (redirectUri, scope = "openid") => new URLSearchParams({
      client_id: clientId,
      response_type: "code",
      redirect_uri: redirectUri,
      state: "s",
      code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
      code_challenge_method: "S256",
      scope,
    });
    await page.goto(`${authUrl}/oauth2/authorize?${request(PAGE_URL)}`);
    assert.equal(new URL(page.url()).pathname, "/login");
    const refused = await page.goto(`${authUrl}/oauth2/authorize?${request("https://evil.example/")}`);
    assert.equal(refused.status(), 400);
    assert.match(await page.textContent("#error"), /redirect_mismatch/);
    assert.equal(new URL(page.url()).origin, new URL(authUrl).origin);
    // The scope that would let a token change the user's own attributes is
    // not the client's to grant.
    const admin = await page.goto(
      `${authUrl}/oauth2/authorize?${request(PAGE_URL, "openid aws.cognito.signin.user.admin")}`,
    );
    assert.equal(admin.status(), 400);
    assert.match(await page.textContent("#error"), /invalid_scope/);
    await page.context().close();
  });

  it("refuses a code used twice", async () => {
    assert.ok(usedCode, "the sign-up test captured its code");
    const page = await tab();
    // This tab did start a sign-in (its verifier and state are kept), but
    // the code that comes back was already traded.
    await page.goto(PAGE_URL);
    await page.evaluate(() => {
      sessionStorage.setItem("onboard.pkce", JSON.stringify({ verifier: "v".repeat(43), state: "s" }));
    });
    await page.goto(`${PAGE_URL}?code=${encodeURIComponent(usedCode)}&state=s`);
    await page.waitForFunction(() => document.getElementById("error").textContent !== "");
    assert.match(await page.textContent("#error"), /refused the code \(400\)/);
    assert.equal(await page.textContent("#greeting"), "onboard");
    await page.context().close();
  });
});

describe("the page as the person's own app", () => {
  const email = `ana.${Date.now()}@example.com`;
  let context;
  let page;

  before(async () => {
    context = await browser.newContext({ acceptDownloads: true });
    page = await context.newPage();
    page.on("dialog", (dialog) => dialog.dismiss());
    // Sign up, as the first test does.
    await page.goto(PAGE_URL);
    await page.getByRole("link", { name: "Sign up" }).click();
    await page.waitForURL((url) => url.pathname === "/signup");
    const seen = await logLines();
    await page.fill("#email", email);
    await page.fill("#name", "Ana");
    await page.fill("#password", PASSWORD);
    await page.click("#submit");
    await page.waitForSelector("#code");
    await page.fill("#code", await confirmationCode(seen));
    await page.click("#submit");
    await page.waitForFunction(() => document.getElementById("greeting").textContent === "Hello, Ana");
  });
  after(async () => context?.close());

  const greeting = () => page.textContent("#greeting");
  const signedInApp = () => page.waitForSelector("#app:not([hidden])");

  it("renames the person, saying why a name is refused, and shows the new name", async () => {
    await signedInApp();
    await page.fill("#new-name", " Ana ");
    await page.click("#rename-submit");
    await page.waitForFunction(() => document.getElementById("rename-error").textContent !== "");
    assert.match(await page.textContent("#rename-error"), /Invalid request body: `name` must not hold control/);
    assert.equal(await greeting(), "Hello, Ana");
    await page.fill("#new-name", "Ana Lima");
    await page.click("#rename-submit");
    await page.waitForFunction(() => document.getElementById("greeting").textContent === "Hello, Ana Lima");
    assert.equal(await page.textContent("#rename-error"), "");
  });

  it("downloads everything onboard holds about the person, with the new name in it", async () => {
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
    const data = JSON.parse(await readFile(await download.path(), "utf8"));
    assert.equal(data.table.row.name, "Ana Lima");
    assert.equal(data.table.row.email, email);
    assert.equal(data.table.row.version, 2);
  });

  it("downloads the archived data straight from S3 with the person's own credentials", async () => {
    assert.equal(await page.isVisible("#download-own"), true);
    // The archive consumer catches up with the rename in the background.
    for (let attempt = 1; ; attempt++) {
      const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download-own")]);
      assert.equal(download.suggestedFilename(), "onboard-archive.json");
      const archived = await readFile(await download.path(), "utf8");
      if (archived.includes('"Ana Lima"')) break;
      assert.ok(attempt < 20, `the archive never held the new name: ${archived}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assert.equal(await page.textContent("#error"), "");
  });

  it("wraps a long name instead of widening the page", async () => {
    await page.fill("#new-name", "W".repeat(128));
    await page.click("#rename-submit");
    await page.waitForFunction(() => document.getElementById("greeting").textContent.startsWith("Hello, WWW"));
    const { scroll, width } = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      width: window.innerWidth,
    }));
    assert.ok(scroll <= width, `the page is ${scroll} px wide in a ${width} px window`);
    await page.fill("#new-name", "Ana Lima");
    await page.click("#rename-submit");
    await page.waitForFunction(() => document.getElementById("greeting").textContent === "Hello, Ana Lima");
  });

  it("keeps the person signed in across a reload, with no token in storage", async () => {
    await page.reload();
    await page.waitForFunction(() => document.getElementById("greeting").textContent === "Hello, Ana Lima");
    await signedInApp();
    const stored = await page.evaluate(() => JSON.stringify({ ...sessionStorage, ...localStorage }));
    assert.doesNotMatch(stored, /eyJ/, "a token is in storage");
  });

  it("signs out through the hosted UI: a reload stays signed out, and signing in asks again", async () => {
    await page.click("#sign-out");
    await page.waitForURL((url) => url.href === PAGE_URL);
    await page.waitForSelector("#actions:not([hidden])");
    assert.equal(await greeting(), "onboard");
    await page.reload();
    assert.equal(await greeting(), "onboard");
    assert.equal(await page.isHidden("#app"), true);
    await page.getByRole("link", { name: "Sign in" }).click();
    await page.waitForURL((url) => url.pathname === "/login");
    await page.fill("#email", email);
    await page.fill("#password", PASSWORD);
    await page.click("#submit");
    await page.waitForFunction(() => document.getElementById("greeting").textContent === "Hello, Ana Lima");
  });

  it("deletes the account after a confirmation, signs out, and the person can no longer sign in", async () => {
    await signedInApp();
    await page.click("#delete");
    await page.click("#delete-cancelled");
    assert.equal(await greeting(), "Hello, Ana Lima");
    await page.click("#delete");
    await page.click("#delete-confirmed");
    await page.waitForSelector("#actions:not([hidden])");
    assert.equal(await greeting(), "onboard");
    await page.getByRole("link", { name: "Sign in" }).click();
    await page.waitForURL((url) => url.pathname === "/login");
    await page.fill("#email", email);
    await page.fill("#password", PASSWORD);
    await page.click("#submit");
    await page.waitForSelector("#error");
    assert.match(await page.textContent("#error"), /Incorrect email or password/);
  });

  it("shows an error the hosted UI sends back", async () => {
    await page.goto(`${PAGE_URL}?error=access_denied&error_description=${encodeURIComponent("The user cancelled")}`);
    await page.waitForFunction(() => document.getElementById("error").textContent !== "");
    assert.match(await page.textContent("#error"), /The user cancelled/);
    assert.equal(page.url(), PAGE_URL);
  });
});
