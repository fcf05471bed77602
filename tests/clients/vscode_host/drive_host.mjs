// Drives the Codex extension inside a real VS Code (code-server on 127.0.0.1) through headless
// Debian chromium with playwright-core, the way a person would: command palette, input box, modal
// dialog, status bar, Output panel. Writes what it saw as JSON and saves screenshots.
// Started by tests/clients/test_vscode_host.py with Node 24.
//
// Env: CODEX_HOST_URL, CODEX_WORKSPACE, CODEX_CHROMIUM, CODEX_ARTIFACTS (screenshot dir + prefix),
// CODEX_RESULT_FILE, CODEX_PROMPT, CODEX_STEPS (comma list), CODEX_DEADLINE_MS.

import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

import { chromium } from "playwright-core";

const env = process.env;
const record = { steps: {}, screenshots: [], statusTexts: [] };
const save = () => writeFileSync(env.CODEX_RESULT_FILE, JSON.stringify(record, null, 2));
const deadline = setTimeout(() => {
  record.fatal = `deadline of ${env.CODEX_DEADLINE_MS} ms reached`;
  save();
  process.exit(3);
}, Number(env.CODEX_DEADLINE_MS || 240000));

const STATUS_ITEM = "#workbench\\.parts\\.statusbar .statusbar-item";
let shots = 0;

async function shot(page, label) {
  const path = `${env.CODEX_ARTIFACTS}-${String(++shots).padStart(2, "0")}-${label}.png`;
  mkdirSync(dirname(path), { recursive: true });
  await page.screenshot({ path });
  record.screenshots.push(path);
}

/** The Codex status-bar item's text, once it matches `pattern`. */
async function statusText(page, pattern, timeout = 30000) {
  const item = page.locator(STATUS_ITEM, { hasText: pattern }).first();
  await item.waitFor({ state: "visible", timeout });
  const text = (await item.innerText()).trim();
  record.statusTexts.push(text);
  return text;
}

async function runCommand(page, title) {
  const input = page.locator(".quick-input-widget input");
  for (const keys of ["F1", "Control+Shift+P", "F1"]) {
    await page.keyboard.press(keys);
    if (await input.waitFor({ state: "visible", timeout: 4000 }).then(() => true, () => false)) break;
    await page.keyboard.press("Escape");
  }
  await input.waitFor({ state: "visible", timeout: 4000 });
  await input.fill(`>${title}`);
  const row = page.locator(".quick-input-widget .monaco-list-row", { hasText: title }).first();
  await row.waitFor({ state: "visible", timeout: 10000 });
  await input.press("Enter");
}

/** Text of the Output panel's editor (the visible lines). */
async function outputText(page) {
  return (await page.locator(".panel .monaco-editor .view-lines").first().innerText().catch(() => "")).replace(/\u00a0/g, " ");
}

async function waitForOutput(page, needle, timeout = 30000) {
  const started = Date.now();
  while (Date.now() - started < timeout) {
    const text = await outputText(page);
    if (text.includes(needle)) return text;
    await page.waitForTimeout(250);
  }
  throw new Error(`the Output panel never showed ${JSON.stringify(needle)}; it shows:\n${await outputText(page)}`);
}

async function toast(page, pattern, timeout = 20000) {
  const t = page.locator(".notification-toast", { hasText: pattern }).first();
  await t.waitFor({ state: "visible", timeout });
  return (await t.innerText()).trim();
}

const steps = {
  async open(page) {
    await page.goto(`${env.CODEX_HOST_URL}/?folder=${encodeURIComponent(env.CODEX_WORKSPACE)}`);
    await page.locator(".monaco-workbench").waitFor({ state: "visible", timeout: 90000 });
    const text = await statusText(page, "Codex:", 60000);
    await shot(page, "activated");
    return { status: text };
  },
  async signIn(page) {
    await runCommand(page, "Codex: Sign in");
    const message = await toast(page, "signed in");
    const text = await statusText(page, /Codex: pro · 5h \d+%/);
    await shot(page, "signed-in");
    return { status: text, message };
  },
  async status(page) {
    await runCommand(page, "Codex: Status");
    const output = await waitForOutput(page, "me@example.com");
    await shot(page, "status");
    return { output };
  },
  async askWithApproval(page) {
    await runCommand(page, "Codex: Ask");
    const input = page.locator(".quick-input-widget input");
    await input.waitFor({ state: "visible", timeout: 10000 });
    await input.fill(env.CODEX_PROMPT || "make a file");
    await input.press("Enter");
    const dialog = page.locator(".monaco-dialog-box");
    await dialog.waitFor({ state: "visible", timeout: 60000 });
    const dialogText = (await dialog.innerText()).trim();
    await shot(page, "approval");
    await dialog.getByRole("button", { name: "Accept", exact: true }).click();
    const output = await waitForOutput(page, "turn completed", 60000);
    await shot(page, "answered");
    return { dialog: dialogText, output };
  },
  // The server command setting is wrong: the status bar and an error point to the setting.
  async badCommand(page) {
    await page.goto(`${env.CODEX_HOST_URL}/?folder=${encodeURIComponent(env.CODEX_WORKSPACE)}`);
    await page.locator(".monaco-workbench").waitFor({ state: "visible", timeout: 90000 });
    const text = await statusText(page, "Codex: server not found", 60000);
    const message = await toast(page, "codex.server.command");
    await runCommand(page, "Codex: Sign in");
    await page.waitForTimeout(500);
    await shot(page, "bad-command");
    return { status: text, message };
  },
  // Fix the settings while VS Code runs, in its settings.json editor: the server starts and the
  // new codex.tokens.file is used by the next sign-in, without a reload.
  async fixSettings(page) {
    await runCommand(page, "Preferences: Open User Settings (JSON)");
    const editor = page.locator(".editor-instance .monaco-editor").first();
    await editor.waitFor({ state: "visible", timeout: 20000 });
    await editor.click();
    await page.keyboard.press("Control+A");
    await page.keyboard.press("Delete");
    await page.keyboard.insertText(env.CODEX_FIXED_SETTINGS);
    await page.keyboard.press("Control+S");
    await page.waitForTimeout(500);
    const text = await statusText(page, "Codex: signed out", 60000);
    await shot(page, "settings-fixed");
    return { status: text };
  },
  async signOut(page) {
    await runCommand(page, "Codex: Sign out");
    const text = await statusText(page, "Codex: signed out");
    await shot(page, "signed-out");
    return { status: text };
  },
};

async function main() {
  const browser = await chromium.launch({
    executablePath: env.CODEX_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    for (const name of (env.CODEX_STEPS || Object.keys(steps).join(",")).split(",")) {
      try {
        record.steps[name] = { ok: true, result: await steps[name](page) };
      } catch (error) {
        record.steps[name] = { ok: false, error: String(error?.message ?? error) };
        await shot(page, `failed-${name}`).catch(() => undefined);
        break;
      }
    }
  } finally {
    await browser.close();
  }
}

main()
  .catch((error) => (record.fatal = String(error?.stack ?? error)))
  .finally(() => {
    save();
    clearTimeout(deadline);
    process.exit(record.fatal ? 2 : 0);
  });
