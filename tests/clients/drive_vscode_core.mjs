// Drives the VS Code extension's protocol core (compiled JS in client-stub/vscode/out) against the
// real codex-lsp server over stdio with vscode-jsonrpc, the way the extension would, and writes
// what the client side saw as JSON. Started by tests/clients/test_vscode_client.py.
//
// Env: CODEX_VSCODE_OUT (the compiled extension), CODEX_SERVER_CMD (JSON argv), CODEX_SERVER_ENV (JSON),
// CODEX_WORKSPACE, CODEX_TOKENS_FILE (read by the sample JsonFileTokenProvider),
// CODEX_ROTATED_TOKENS (JSON written to the token file after sign-in: the host rotates tokens),
// CODEX_APPROVAL_DECISION, CODEX_STEPS (comma list), CODEX_RESULT_FILE, CODEX_DEADLINE_MS.

import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const env = process.env;
const require = createRequire(join(env.CODEX_VSCODE_OUT, "index.js"));
const { CodexSession, initializationOptions } = require("./core/session.js");
const { JsonFileTokenProvider } = require("./core/tokens.js");
const { statusText } = require("./core/state.js");
const { initialize, startServer, stopServer } = require("./node/serverProcess.js");
const protocol = require("./protocol.js");

const record = { steps: {}, tokenCalls: [], approvals: [], accountViews: [], output: "", errors: [], activities: [] };
const save = () => writeFileSync(env.CODEX_RESULT_FILE, JSON.stringify(record, null, 2));

// Every wait is bounded: past the deadline, record it and exit on our own.
const deadline = setTimeout(() => {
  record.fatal = `deadline of ${env.CODEX_DEADLINE_MS} ms reached`;
  save();
  process.exit(3);
}, Number(env.CODEX_DEADLINE_MS || 60000));

const ui = {
  showAccount: (view) => record.accountViews.push({ ...view, text: statusText(view) }),
  appendOutput: (text) => (record.output += text),
  askApproval: async (request) => {
    const decision = env.CODEX_APPROVAL_DECISION || "accept";
    record.approvals.push({ command: request.command, cwd: request.cwd, decision });
    return decision;
  },
  showError: (message) => record.errors.push(message),
  showActivity: (activity) => record.activities.push(activity),
};

// The sample provider, wrapped to record the calls (never the tokens).
const fileProvider = new JsonFileTokenProvider(env.CODEX_TOKENS_FILE);
const tokens = {
  getTokens: async (reason, previousAccountId) => {
    record.tokenCalls.push({ reason, previousAccountId });
    return fileProvider.getTokens(reason, previousAccountId);
  },
};

function errorInfo(error) {
  return { code: error?.code ?? null, message: String(error?.message ?? error) };
}

async function main() {
  const server = startServer({
    command: JSON.parse(env.CODEX_SERVER_CMD)[0],
    args: JSON.parse(env.CODEX_SERVER_CMD).slice(1),
    env: JSON.parse(env.CODEX_SERVER_ENV),
    cwd: env.CODEX_WORKSPACE,
    stderr: "inherit",
  });
  const session = new CodexSession(server.connection, tokens, ui, { turnTimeoutMs: 30000, approvalPolicy: env.CODEX_APPROVAL_POLICY || undefined });
  session.attach();
  const steps = {
    init: () => initialize(server.connection, initializationOptions(), env.CODEX_WORKSPACE),
    models: async () => (await server.connection.sendRequest(protocol.MODEL_LIST, {})).data.map((m) => m.model),
    // Test hook: makes the server send account/chatgptAuthTokens/refresh to this client now.
    refreshHook: async () =>
      (await server.connection.sendRequest("codexTest/clientRequest", {
        method: protocol.MethodNames.ACCOUNT_CHATGPT_AUTH_TOKENS_REFRESH,
        params: { reason: "unauthorized", previousAccountId: "acct-hook" },
        timeout: 5,
      })).answer,
    signIn: () => session.signIn(),
    rotate: async () => {
      if (env.CODEX_ROTATED_TOKENS) writeFileSync(env.CODEX_TOKENS_FILE, env.CODEX_ROTATED_TOKENS);
      return true;
    },
    ask: async () => {
      const { turn, text } = await session.ask(env.CODEX_PROMPT || "hello");
      return { status: turn.status, error: turn.error, text, threadId: session.threadId };
    },
    // Ask, and stop the answer once its first words arrived (turn/interrupt).
    askInterrupt: async () => {
      const asked = session.ask(env.CODEX_PROMPT || "hello");
      const started = Date.now();
      while (!record.output.includes("Hello") && Date.now() - started < 20000) await new Promise((r) => setTimeout(r, 20));
      const interrupted = await session.interrupt();
      const { turn } = await asked;
      return { interrupted, status: turn.status, runningAfter: session.runningTurnId, activities: record.activities };
    },
    status: () => session.status(),
    rateLimits: () => session.readRateLimits(),
    signOut: () => session.signOut(),
    accountAfter: () => session.readAccount(),
  };
  const order = (env.CODEX_STEPS || Object.keys(steps).join(",")).split(",");
  for (const name of order) {
    try {
      record.steps[name] = { ok: true, result: (await steps[name]()) ?? null };
    } catch (error) {
      record.steps[name] = { ok: false, error: errorInfo(error) };
      if (name === "init") break;
    }
  }
  record.finalView = { ...session.view, text: statusText(session.view) };
  record.refreshCount = session.refreshCount;
  record.serverExitCode = await stopServer(server, 5000);
}

main()
  .catch((error) => (record.fatal = { ...errorInfo(error), stack: String(error?.stack) }))
  .finally(() => {
    save();
    clearTimeout(deadline);
    process.exit(record.fatal ? 2 : 0);
  });
