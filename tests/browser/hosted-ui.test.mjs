// The local hosted UI has no dead ends, like the real one: the password
// rules are on the form, a new confirmation code can be asked for, a
// sign-up left at the code step is finished from the sign-in form, a
// forgotten password is reset with a code, and the messages are onboard's
// own. Whether an email has an account is told where the real hosted UI
// tells it (the sign-up) and nowhere else (the sign-in, the forgotten
// password).
//
// Run by cli/tests/browser.rs, with the same PAGE_URL, SERVE_LOG and
// CHROMIUM as sign-up.test.mjs.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { chromium } from "playwright-core";

const { PAGE_URL, SERVE_LOG, CHROMIUM } = process.env;
const PASSWORD = "Correct-Horse-9-battery";
const NEW_PASSWORD = "Another-Horse-8-battery";

let browser;
before(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});
after(async () => browser?.close());

const logLines = async () => (await readFile(SERVE_LOG, "utf8")).split("\n").length - 1;

/// The newest code of `kind` ("confirmation", "password reset") printed
/// after `seen` lines.
async function printedCode(kind, seen) {
  const pattern = new RegExp(`${kind} code for user \\S+: (\\d{6})$`);
  for (let i = 0; i < 100; i++) {
    const lines = (await readFile(SERVE_LOG, "utf8")).split("\n").slice(seen);
    const found = lines.map((l) => l.match(pattern)).filter(Boolean);
    if (found.length) return found.at(-1)[1];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`onboard serve printed no ${kind} code`);
}

async function hostedForm(link) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(PAGE_URL);
  await page.getByRole("link", { name: link }).click();
  await page.waitForSelector("#submit");
  return page;
}

const greeted = (page, name) =>
  page.waitForFunction((n) => document.getElementById("greeting").textContent === `Hello, ${n}`, name);

describe("the local hosted UI", () => {
  const email = `eva.${Date.now()}@example.com`;

  it("shows the pool's password rules and says so when a password breaks them", async () => {
    const page = await hostedForm("Sign up");
    assert.equal(
      await page.textContent("#rules"),
      "At least 12 characters, with an upper-case letter, a lower-case letter, a number and a symbol.",
    );
    await page.fill("#email", email);
    await page.fill("#name", "Eva");
    await page.fill("#password", "short");
    await page.click("#submit");
    await page.waitForSelector("#error");
    assert.equal(await page.textContent("#error"), "The password does not meet the rules below.");
    await page.context().close();
  });

  it("sends a new code, and finishes a sign-up left at the code step from the sign-in form", async () => {
    const page = await hostedForm("Sign up");
    await page.fill("#email", email);
    await page.fill("#name", "Eva");
    await page.fill("#password", PASSWORD);
    let seen = await logLines();
    await page.click("#submit");
    await page.waitForSelector("#code");
    const first = await printedCode("confirmation", seen);
    seen = await logLines();
    await page.click("#resend");
    await page.waitForSelector("#note");
    assert.equal(await page.textContent("#note"), "We sent a new code.");
    const second = await printedCode("confirmation", seen);
    if (first !== second) {
      await page.fill("#code", first);
      await page.click("#submit");
      await page.waitForSelector("#error");
      assert.match(await page.textContent("#error"), /not the one we sent/);
    }
    // The person leaves here, and comes back to sign in another day.
    await page.context().close();

    const again = await hostedForm("Sign in");
    await again.fill("#email", email);
    await again.fill("#password", PASSWORD);
    seen = await logLines();
    await again.click("#submit");
    await again.waitForSelector("#code");
    assert.match(await again.textContent("#note"), /not confirmed yet/);
    await again.fill("#code", await printedCode("confirmation", seen));
    await again.click("#submit");
    await greeted(again, "Eva");
    await again.context().close();
  });

  it("says that an email has an account on sign-up, and nowhere else", async () => {
    const signUp = await hostedForm("Sign up");
    await signUp.fill("#email", email);
    await signUp.fill("#name", "Someone");
    await signUp.fill("#password", PASSWORD);
    await signUp.click("#submit");
    await signUp.waitForSelector("#error");
    assert.match(await signUp.textContent("#error"), /already exists/);
    await signUp.context().close();

    const messages = [];
    for (const who of [email, `nobody.${Date.now()}@example.com`]) {
      const page = await hostedForm("Sign in");
      await page.fill("#email", who);
      await page.fill("#password", "Wrong-Horse-9-battery");
      await page.click("#submit");
      await page.waitForSelector("#error");
      messages.push(await page.textContent("#error"));
      await page.context().close();
    }
    assert.deepEqual(messages, ["Incorrect email or password.", "Incorrect email or password."]);
  });

  it("resets a forgotten password with a code, the same answer for an unknown email", async () => {
    const unknown = await hostedForm("Sign in");
    await unknown.click("#forgot");
    await unknown.fill("#email", `nobody.${Date.now()}@example.com`);
    await unknown.click("#submit");
    await unknown.waitForSelector("#note");
    const unknownNote = await unknown.textContent("#note");
    await unknown.fill("#code", "123456");
    await unknown.fill("#password", NEW_PASSWORD);
    await unknown.click("#submit");
    await unknown.waitForSelector("#error");
    assert.match(await unknown.textContent("#error"), /not the one we sent/);
    await unknown.context().close();

    const page = await hostedForm("Sign in");
    await page.click("#forgot");
    await page.fill("#email", email);
    const seen = await logLines();
    await page.click("#submit");
    await page.waitForSelector("#note");
    assert.equal(await page.textContent("#note"), unknownNote);
    assert.match(await page.textContent("#rules"), /At least 12 characters/);
    await page.fill("#code", await printedCode("password reset", seen));
    await page.fill("#password", NEW_PASSWORD);
    await page.click("#submit");
    await greeted(page, "Eva");
    await page.context().close();

    // The old password no longer works; the new one does.
    const old = await hostedForm("Sign in");
    await old.fill("#email", email);
    await old.fill("#password", PASSWORD);
    await old.click("#submit");
    await old.waitForSelector("#error");
    await old.fill("#password", NEW_PASSWORD);
    await old.click("#submit");
    await greeted(old, "Eva");
    await old.context().close();
  });
});
