// VS Code adapter: starts the server with vscode-languageclient over stdio and maps the core's
// CodexUi onto a status-bar item, an output channel, modal approvals and the four commands.

import * as vscode from "vscode";
import { LanguageClient, type LanguageClientOptions, type ServerOptions, TransportKind } from "vscode-languageclient/node";

import type { CommandExecutionRequestApprovalParams } from "./protocol";
import { describeError } from "./core/rpc";
import { type ApprovalDecision, type ApprovalPolicy, type CodexUi, CodexSession, initializationOptions } from "./core/session";
import { type AccountView, statusText } from "./core/state";
import { JsonFileTokenProvider, type TokenProvider } from "./core/tokens";

let client: LanguageClient | undefined;

/** Used when `codex.tokens.file` is empty: explains how to plug in a real provider. */
const missingTokenProvider: TokenProvider = {
  getTokens: async () => {
    throw new Error("no token provider: set codex.tokens.file, or replace the TokenProvider in extension.ts");
  },
};

function tokenProvider(config: vscode.WorkspaceConfiguration): TokenProvider {
  const file = config.get<string>("tokens.file", "");
  return file ? new JsonFileTokenProvider(file) : missingTokenProvider;
}

async function askApprovalModal(request: CommandExecutionRequestApprovalParams): Promise<ApprovalDecision> {
  const choices: Record<string, ApprovalDecision> = {
    Accept: "accept",
    "Accept for session": "acceptForSession",
    Decline: "decline",
  };
  const detail = [`$ ${request.command}`, `in ${request.cwd}`, request.reason ?? ""].filter(Boolean).join("\n");
  const picked = await vscode.window.showWarningMessage(
    "Codex wants to run a command.",
    { modal: true, detail },
    ...Object.keys(choices),
  );
  // The modal's own Cancel button (or Escape) interrupts the turn.
  return picked ? choices[picked] : "cancel";
}

function makeUi(statusBar: vscode.StatusBarItem, turns: vscode.OutputChannel): CodexUi {
  return {
    showAccount(view: AccountView) {
      statusBar.text = `$(hubot) ${statusText(view)}`;
      statusBar.tooltip = view.email ? `Signed in as ${view.email}` : "Codex: click for status";
      statusBar.show();
    },
    appendOutput(text: string) {
      turns.append(text);
    },
    askApproval: askApprovalModal,
    showError(message: string) {
      void vscode.window.showErrorMessage(message);
    },
  };
}

function command(name: string, run: () => Promise<unknown>): vscode.Disposable {
  return vscode.commands.registerCommand(name, async () => {
    try {
      await run();
    } catch (error) {
      void vscode.window.showErrorMessage(`Codex: ${describeError(name, error)}`);
    }
  });
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const config = vscode.workspace.getConfiguration("codex");
  const serverOptions: ServerOptions = {
    command: config.get<string>("server.command", "codex-lsp"),
    args: config.get<string[]>("server.args", []),
    transport: TransportKind.stdio, // VS Code appends --stdio; the server accepts it
    options: { env: { ...process.env, ...config.get<Record<string, string>>("server.env", {}) } },
  };
  const serverLog = vscode.window.createOutputChannel("Codex Server");
  const clientOptions: LanguageClientOptions = {
    documentSelector: [],
    outputChannel: serverLog,
    initializationOptions: initializationOptions(),
  };
  client = new LanguageClient("codex", "Codex", serverOptions, clientOptions);

  const statusBar = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 100);
  statusBar.command = "codex.status";
  const turns = vscode.window.createOutputChannel("Codex");
  const ui = makeUi(statusBar, turns);
  const session = new CodexSession(client, tokenProvider(config), ui, {
    approvalPolicy: config.get<ApprovalPolicy>("approvals.policy", "on-request"),
    cwd: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
  });
  context.subscriptions.push(serverLog, statusBar, turns, session.attach());

  context.subscriptions.push(
    command("codex.signIn", async () => {
      const { account } = await session.signIn();
      const who = account?.type === "chatgpt" ? (account.email ?? "ChatGPT account") : "API key";
      void vscode.window.showInformationMessage(`Codex: signed in (${who}).`);
    }),
    command("codex.signOut", async () => {
      await session.signOut();
      void vscode.window.showInformationMessage("Codex: signed out.");
    }),
    command("codex.status", async () => {
      const status = await session.status();
      turns.appendLine(status.lines.join("\n"));
      turns.show(true);
    }),
    command("codex.resume", async () => {
      const threads = await session.listThreads();
      if (threads.length === 0) {
        void vscode.window.showInformationMessage("Codex: no stored conversations yet.");
        return;
      }
      const picked = await vscode.window.showQuickPick(
        threads.map((t) => ({
          label: t.name ?? (t.preview || "(no message yet)"),
          description: `${new Date(t.updatedAt * 1000).toLocaleString()} · ${t.cwd}`,
          detail: t.name ? t.preview : undefined,
          id: t.id,
        })),
        { placeHolder: "Resume a conversation", matchOnDescription: true, matchOnDetail: true },
      );
      if (!picked) return;
      const { thread } = await session.resume(picked.id);
      void vscode.window.showInformationMessage(`Codex: resumed "${thread.name ?? thread.preview}". Ask to continue it.`);
    }),
    command("codex.ask", async () => {
      const prompt = await vscode.window.showInputBox({ prompt: "Ask Codex", ignoreFocusOut: true });
      if (!prompt) return;
      turns.show(true);
      const { turn } = await session.ask(prompt);
      if (turn.status === "failed") ui.showError(`Codex: the turn failed: ${turn.error?.message ?? "unknown error"}`);
    }),
  );

  await client.start();
  ui.showAccount(session.view);
  await session.readAccount().catch((error) => serverLog.appendLine(describeError("account/read", error)));
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}
