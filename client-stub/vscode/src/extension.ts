// VS Code adapter: starts the server with vscode-languageclient over stdio and maps the core's
// CodexUi onto a status-bar item, output channels, modal approvals, diff editors for file changes,
// progress notifications and the commands. Settings are read when used, and a change to
// `codex.server.*` restarts the server.

import { accessSync, constants as fsConstants } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";

import * as vscode from "vscode";
import { LanguageClient, type LanguageClientOptions, type ServerOptions, TransportKind } from "vscode-languageclient/node";

import type {
  CommandExecutionRequestApprovalParams,
  FileChangeItem,
  FileChangeRequestApprovalParams,
  TurnPlanUpdated,
} from "./protocol";
import { renderThread } from "./core/render";
import { describeError } from "./core/rpc";
import {
  type ApprovalDecision,
  type ApprovalPolicy,
  type CodexUi,
  CodexSession,
  type FileChangeApprovalDecision,
  initializationOptions,
} from "./core/session";
import { type AccountView, statusText } from "./core/state";
import { JsonFileTokenProvider, type TokenProvider } from "./core/tokens";
import { applyUnifiedDiff } from "./core/diff";

const config = () => vscode.workspace.getConfiguration("codex");

/** Reads `codex.tokens.file` on every call, so a changed setting applies to the next sign-in. */
const settingsTokenProvider: TokenProvider = {
  getTokens: async (reason, previousAccountId) => {
    const file = config().get<string>("tokens.file", "");
    if (!file) throw new Error("no token provider: set codex.tokens.file, or replace the TokenProvider in extension.ts");
    return new JsonFileTokenProvider(file).getTokens(reason, previousAccountId);
  },
};

/** Why `command` cannot run (not found / not executable), or null when it can. */
export function serverCommandProblem(command: string): string | null {
  const runnable = (path: string) => {
    try {
      accessSync(path, fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (!command.trim()) return "codex.server.command is empty";
  if (isAbsolute(command) || command.includes("/")) {
    return runnable(command) ? null : `the server command ${command} does not exist or is not executable`;
  }
  const dirs = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
  return dirs.some((dir) => runnable(join(dir, command))) ? null : `the server command "${command}" is not on PATH`;
}

async function pointToSetting(problem: string): Promise<void> {
  const open = "Open Settings";
  const picked = await vscode.window.showErrorMessage(`Codex: ${problem}. Set codex.server.command (and codex.server.args).`, open);
  if (picked === open) await vscode.commands.executeCommand("workbench.action.openSettings", "codex.server");
}

async function askApprovalModal(request: CommandExecutionRequestApprovalParams): Promise<ApprovalDecision> {
  const choices: Record<string, ApprovalDecision> = {
    Accept: "accept",
    "Accept for session": "acceptForSession",
    Decline: "decline",
  };
  const detail = [`$ ${request.command}`, `in ${request.cwd}`, request.reason ?? ""].filter(Boolean).join("\n");
  const picked = await vscode.window.showWarningMessage("Codex wants to run a command.", { modal: true, detail }, ...Object.keys(choices));
  // The modal's own Cancel button (or Escape) interrupts the turn.
  return picked ? choices[picked] : "cancel";
}

/** Proposed file contents shown on the right side of diff editors (`codex-proposed:` documents). */
class ProposedFiles implements vscode.TextDocumentContentProvider {
  static readonly scheme = "codex-proposed";
  private readonly contents = new Map<string, string>();
  private serial = 0;

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.contents.get(uri.query) ?? "";
  }

  add(path: string, text: string): vscode.Uri {
    const key = String(++this.serial);
    this.contents.set(key, text);
    return vscode.Uri.from({ scheme: ProposedFiles.scheme, path, query: key });
  }
}

async function readText(uri: vscode.Uri): Promise<string | null> {
  try {
    return new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
  } catch {
    return null;
  }
}

/** Show each change as a diff editor, then ask accept/decline in a (non-modal) notification. */
async function reviewFileChanges(
  proposed: ProposedFiles,
  request: FileChangeRequestApprovalParams,
  item: FileChangeItem | undefined,
): Promise<FileChangeApprovalDecision> {
  for (const change of item?.changes ?? []) {
    const file = vscode.Uri.file(change.path);
    const kind = change.kind.type;
    const before = kind === "add" ? "" : ((await readText(file)) ?? "");
    const after = kind === "add" ? change.diff : kind === "delete" ? "" : applyUnifiedDiff(before, change.diff);
    const left = proposed.add(change.path, before);
    const right = proposed.add(change.path, after ?? change.diff);
    const title = `Codex: ${vscode.workspace.asRelativePath(file)} (${kind === "update" && after === null ? "raw diff" : kind})`;
    await vscode.commands.executeCommand("vscode.diff", left, right, title, { preview: false });
  }
  const files = (item?.changes ?? []).map((c) => vscode.workspace.asRelativePath(c.path)).join(", ") || "unknown files";
  const reason = request.reason ? ` (${request.reason})` : "";
  const choices: Record<string, FileChangeApprovalDecision> = {
    Accept: "accept",
    "Accept for session": "acceptForSession",
    Decline: "decline",
  };
  const picked = await vscode.window.showWarningMessage(`Codex wants to change ${files}${reason}.`, ...Object.keys(choices));
  return picked ? choices[picked] : "decline";
}

function planText(p: TurnPlanUpdated): string {
  const mark = { completed: "[x]", inProgress: "[>]", pending: "[ ]" } as const;
  const lines = ["Plan:", ...(p.explanation ? [`  ${p.explanation}`] : []), ...p.plan.map((s) => `  ${mark[s.status] ?? "[?]"} ${s.step}`)];
  return lines.join("\n") + "\n";
}

let stopServer: (() => Promise<void>) | undefined;

interface Running {
  client: LanguageClient;
  session: CodexSession;
  subscription: vscode.Disposable;
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const serverLog = vscode.window.createOutputChannel("Codex Server");
  const turns = vscode.window.createOutputChannel("Codex");
  const statusBar = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 100);
  const proposed = new ProposedFiles();
  context.subscriptions.push(serverLog, turns, statusBar,
    vscode.workspace.registerTextDocumentContentProvider(ProposedFiles.scheme, proposed));

  let running: Running | undefined;
  let startProblem: string | null = null;
  let activity: ((message: string | null) => void) | undefined;
  let plan: TurnPlanUpdated | null = null;

  let lastView: AccountView | undefined;
  // Account and limits; while a turn runs, its plan's progress ("plan 1/3", the steps in the tooltip).
  const showAccount = (view: AccountView) => {
    lastView = view;
    const current = plan && running?.session.runningTurnId === plan.turnId ? plan : null;
    const done = current ? current.plan.filter((s) => s.status === "completed").length : 0;
    statusBar.text = `$(hubot) ${statusText(view)}` + (current ? ` · plan ${done}/${current.plan.length}` : "");
    statusBar.tooltip = (view.email ? `Signed in as ${view.email}` : "Codex: click for status") + (current ? `\n${planText(current)}` : "");
    statusBar.command = "codex.status";
    statusBar.show();
  };
  const refreshStatus = () => {
    if (lastView) showAccount(lastView);
  };

  const ui: CodexUi = {
    showAccount,
    appendOutput: (text) => turns.append(text),
    askApproval: askApprovalModal,
    showError: (message) => void vscode.window.showErrorMessage(message),
    askFileChange: (request, item) => reviewFileChanges(proposed, request, item),
    showPlan: (p) => {
      plan = p;
      turns.append(planText(p));
      refreshStatus();
    },
    showActivity: (message) => {
      activity?.(message);
      if (message === null) refreshStatus(); // the turn ended: its plan leaves the status bar
    },
  };

  const showStartProblem = (problem: string) => {
    startProblem = problem;
    statusBar.text = "$(warning) Codex: server not found";
    statusBar.tooltip = `${problem}. Click to open the codex.server settings.`;
    statusBar.command = { title: "Open Settings", command: "workbench.action.openSettings", arguments: ["codex.server"] };
    statusBar.show();
    void pointToSetting(problem);
  };

  const start = async (): Promise<void> => {
    const cfg = config();
    const command = cfg.get<string>("server.command", "codex-lsp");
    const problem = serverCommandProblem(command);
    if (problem) {
      showStartProblem(problem);
      return;
    }
    startProblem = null;
    const serverOptions: ServerOptions = {
      command,
      args: cfg.get<string[]>("server.args", []),
      transport: TransportKind.stdio, // VS Code appends --stdio; the server accepts it
      options: { env: { ...process.env, ...cfg.get<Record<string, string>>("server.env", {}) } },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [],
      outputChannel: serverLog,
      initializationOptions: initializationOptions(),
    };
    const client = new LanguageClient("codex", "Codex", serverOptions, clientOptions);
    const session = new CodexSession(client, settingsTokenProvider, ui, {
      // Getters: read the settings when a thread starts, not once at activation.
      get approvalPolicy() {
        return config().get<ApprovalPolicy>("approvals.policy", "on-request");
      },
      get cwd() {
        return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
      },
    });
    const subscription = session.attach();
    running = { client, session, subscription };
    try {
      await client.start();
    } catch (error) {
      void vscode.window.showErrorMessage(`Codex: the server did not start: ${describeError("start", error)}. See the "Codex Server" output.`);
      return;
    }
    // Each server stderr line already reaches the "Codex Server" channel; its window/logMessage
    // copies would show every line twice.
    client.onNotification("window/logMessage", () => undefined);
    plan = null;
    showAccount(session.view);
    await session.readAccount().catch((error) => serverLog.appendLine(describeError("account/read", error)));
  };

  const stop = async (): Promise<void> => {
    const current = running;
    running = undefined;
    if (!current) return;
    current.subscription.dispose();
    await current.client.stop().catch(() => undefined);
  };

  const current = (): CodexSession => {
    if (startProblem) {
      void pointToSetting(startProblem);
      throw new Error(startProblem);
    }
    if (!running) throw new Error("the server is not running; check the \"Codex Server\" output");
    return running.session;
  };

  const command = (name: string, run: () => Promise<unknown>): vscode.Disposable =>
    vscode.commands.registerCommand(name, async () => {
      try {
        await run();
      } catch (error) {
        if (!startProblem) void vscode.window.showErrorMessage(`Codex: ${describeError(name.replace("codex.", ""), error)}`);
      }
    });

  context.subscriptions.push(
    command("codex.signIn", async () =>
      await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: "Codex: signing in…" }, async () => {
        const { account } = await current().signIn();
        const who = account?.type === "chatgpt" ? (account.email ?? "ChatGPT account") : "API key";
        void vscode.window.showInformationMessage(`Codex: signed in (${who}).`);
      }),
    ),
    command("codex.signOut", async () => {
      await current().signOut();
      void vscode.window.showInformationMessage("Codex: signed out.");
    }),
    command("codex.status", async () => {
      const status = await current().status();
      turns.appendLine(status.lines.join("\n"));
      turns.show(true);
    }),
    command("codex.ask", async () => {
      const session = current();
      const prompt = await vscode.window.showInputBox({ prompt: "Ask Codex", ignoreFocusOut: true });
      if (!prompt) return;
      turns.show(true);
      turns.append(`> ${prompt}\n`);
      await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: "Codex", cancellable: true },
        async (progress, token) => {
          token.onCancellationRequested(() => void session.interrupt().catch(() => undefined));
          activity = (message) => progress.report({ message: message ?? "" });
          progress.report({ message: "thinking" });
          try {
            const { turn } = await session.ask(prompt);
            if (turn.status === "failed") ui.showError(`Codex: the answer failed: ${turn.error?.message ?? "unknown error"}`);
          } finally {
            activity = undefined;
          }
        },
      );
    }),
    command("codex.interrupt", async () => {
      if (!(await current().interrupt())) void vscode.window.showInformationMessage("Codex: nothing is running.");
    }),
    command("codex.resume", async () => {
      const session = current();
      const threads = await session.listThreads();
      if (threads.length === 0) {
        void vscode.window.showInformationMessage("Codex: no past conversations in this workspace.");
        return;
      }
      const picked = await vscode.window.showQuickPick(
        threads.map((t) => ({
          label: (t.name ?? t.preview) || t.id,
          description: new Date(t.updatedAt * 1000).toLocaleString(),
          id: t.id,
        })),
        { placeHolder: "Resume which conversation?" },
      );
      if (!picked) return;
      const thread = await session.resume(picked.id);
      turns.clear();
      turns.append(renderThread(thread));
      turns.show(true);
      void vscode.window.showInformationMessage(`Codex: resumed "${picked.label}". Ask to continue it.`);
    }),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("codex.server")) {
        await stop();
        await start();
      }
    }),
  );
  stopServer = stop;

  await start();
}

export async function deactivate(): Promise<void> {
  await stopServer?.();
}
