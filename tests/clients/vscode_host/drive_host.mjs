// Drives the Codex extension inside a real VS Code (code-server on 127.0.0.1) through headless
// Debian chromium with playwright-core, the way a person would: command palette, input box, modal
// dialog, status bar, Output panel. Writes what it saw as JSON and saves screenshots.
// Started by tests/clients/test_vscode_host.py with Node 24.
//
// Env: CODEX_HOST_URL, CODEX_WORKSPACE, CODEX_CHROMIUM, CODEX_ARTIFACTS (screenshot dir + prefix),
// CODEX_RESULT_FILE, CODEX_PROMPT, CODEX_PROMPTS (JSON list, one per `ask` step), CODEX_STEPS (comma
// list), CODEX_DEADLINE_MS.

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

const prompts = JSON.parse(env.CODEX_PROMPTS || "[]");

/** Codex: Ask with `prompt` typed into its input box. */
async function ask(page, prompt) {
  await runCommand(page, "Codex: Ask");
  // The extension's input box (its prompt shows under the input), not the palette it replaces.
  await page.locator(".quick-input-widget", { hasText: "Ask Codex" }).waitFor({ state: "visible", timeout: 10000 });
  const input = page.locator(".quick-input-widget input");
  await input.fill(prompt);
  await input.press("Enter");
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
  // A question without approvals; waits for the answer in the Output panel.
  async ask(page) {
    const prompt = prompts.shift() ?? "hello";
    await ask(page, prompt);
    const output = await waitForOutput(page, "turn completed", 60000);
    await shot(page, "asked");
    return { output };
  },
  // Developer: Reload Window restarts the extension host, and with it the server.
  async reload(page) {
    await runCommand(page, "Developer: Reload Window");
    await page.waitForTimeout(1000);
    await page.locator(".monaco-workbench").waitFor({ state: "visible", timeout: 90000 });
    const text = await statusText(page, "Codex: signed out", 60000);
    await shot(page, "reloaded");
    return { status: text };
  },
  // Codex: Resume a past conversation → pick the first entry; the transcript fills the output.
  async resume(page) {
    await runCommand(page, "Codex: Resume a past conversation");
    // The command palette's rows stay until the extension's own quick pick replaces them.
    const input = page.locator(".quick-input-widget input");
    const started = Date.now();
    while ((await input.getAttribute("placeholder").catch(() => null)) !== "Resume which conversation?") {
      if (Date.now() - started > 20000) throw new Error("the resume picker did not open");
      await page.waitForTimeout(100);
    }
    const rows = page.locator(".quick-input-widget .monaco-list-row");
    await rows.first().waitFor({ state: "visible", timeout: 20000 });
    const offered = (await rows.allInnerTexts()).map((t) => t.replace(/\s+/g, " ").trim());
    await shot(page, "resume-picker");
    await input.press("Enter");
    const message = await toast(page, "resumed");
    const output = await waitForOutput(page, env.CODEX_RESUMED_TEXT || "#", 20000);
    await shot(page, "resumed");
    return { offered, message, output };
  },
  // Ask, and once the answer is streaming, Codex: Stop the running answer.
  async askInterrupt(page) {
    await ask(page, prompts.shift() ?? "tell me a long story");
    const streaming = await waitForOutput(page, "Hello", 60000);
    await runCommand(page, "Codex: Stop the running answer");
    const output = await waitForOutput(page, "turn interrupted", 30000);
    await shot(page, "interrupted");
    return { streaming, output };
  },
  // Ask; the agent's apply_patch opens a diff editor and a review notification; answer it with
  // CODEX_FILE_DECISION's button ("Accept" or "Decline").
  async askWithFileChange(page) {
    await ask(page, prompts.shift() ?? "change the greeting");
    const tab = page.locator(".tabs-container .tab", { hasText: "Codex: " }).first();
    await tab.waitFor({ state: "visible", timeout: 60000 });
    const tabTitle = (await tab.innerText()).trim();
    const diffEditor = page.locator(".monaco-diff-editor").first();
    await diffEditor.waitFor({ state: "visible", timeout: 20000 });
    await page.waitForTimeout(500); // let both sides render
    const side = async (which) =>
      (await diffEditor.locator(`.editor.${which} .view-lines:not(.line-delete)`).first().innerText()).replace(/\u00a0/g, " ");
    const original = await side("original");
    const modified = await side("modified");
    const review = page.locator(".notification-toast", { hasText: "Codex wants to change" }).first();
    await review.waitFor({ state: "visible", timeout: 20000 });
    const message = (await review.innerText()).trim();
    await shot(page, "file-change-review");
    const button = env.CODEX_FILE_DECISION || "Accept";
    await review.getByRole("button", { name: button, exact: true }).click();
    const output = await waitForOutput(page, "turn completed", 60000);
    await shot(page, "file-change-answered");
    return { tabTitle, original, modified, message, output };
  },
  // Ask; the agent's update_plan shows in the status bar while the turn runs and in the output.
  async askWithPlan(page) {
    await ask(page, prompts.shift() ?? "plan the change");
    const during = await statusText(page, /plan \d+\/\d+/, 60000);
    await shot(page, "plan-running");
    const output = await waitForOutput(page, "turn completed", 60000);
    const after = await statusText(page, "Codex:");
    await shot(page, "plan-done");
    return { during, after, output };
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
