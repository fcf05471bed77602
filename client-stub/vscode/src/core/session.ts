// The extension's protocol logic, independent of the `vscode` module: sign-in with editor-owned
// tokens, answering the server's token-refresh and approval requests, account/rate-limit state,
// and running turns. `extension.ts` adapts it to VS Code; tests drive it from plain node.

import { ResponseError } from "vscode-jsonrpc";

import {
  ACCOUNT_CHATGPT_AUTH_TOKENS_REFRESH,
  ACCOUNT_LOGIN_COMPLETED,
  ACCOUNT_LOGIN_START,
  ACCOUNT_LOGOUT,
  ACCOUNT_RATE_LIMITS_READ,
  ACCOUNT_RATE_LIMITS_UPDATED,
  ACCOUNT_READ,
  ACCOUNT_UPDATED,
  CODEX_STATUS,
  ITEM_AGENT_MESSAGE_DELTA,
  ITEM_COMMAND_EXECUTION_OUTPUT_DELTA,
  ITEM_COMMAND_EXECUTION_REQUEST_APPROVAL,
  ITEM_COMPLETED,
  ITEM_FILE_CHANGE_REQUEST_APPROVAL,
  ITEM_STARTED,
  TURN_COMPLETED,
  TURN_DIFF_UPDATED,
  TURN_INTERRUPT,
  TURN_PLAN_UPDATED,
  TURN_START,
  TURN_STARTED,
  THREAD_LIST,
  THREAD_RESUME,
  THREAD_START,
} from "../protocol";
import type {
  AccountReadResult,
  CodexStatusResult,
  CommandExecutionRequestApprovalParams,
  CommandExecutionRequestApprovalResponse,
  FileChangeItem,
  FileChangeRequestApprovalParams,
  FileChangeRequestApprovalResponse,
  InitializationOptions,
  RateLimitsReadResult,
  Thread,
  ThreadResumeParams,
  ThreadStartParams,
  Turn,
  TurnPlanUpdated,
} from "../protocol";
import {
  renderAgentDelta,
  renderCommandOutput,
  renderItemCompleted,
  renderItemStarted,
  renderTurnCompleted,
  renderTurnStarted,
} from "./render";
import type { Disposable, RpcConnection } from "./rpc";
import { type AccountView, mergeRateLimits, signedOutView } from "./state";
import { refreshAnswer, type TokenProvider } from "./tokens";
export type ApprovalDecision = CommandExecutionRequestApprovalResponse["decision"];
export type FileChangeApprovalDecision = FileChangeRequestApprovalResponse["decision"];
export type ApprovalPolicy = NonNullable<ThreadStartParams["approvalPolicy"]>;

/** The editor-facing side: status bar, output channel, approval modal, error popups. */
export interface CodexUi {
  /** Called after every account or rate-limit change (status bar). */
  showAccount(view: AccountView): void;
  /** Text of running turns (output channel). */
  appendOutput(text: string): void;
  /** Ask the user whether the agent may run a command (modal). */
  askApproval(request: CommandExecutionRequestApprovalParams): Promise<ApprovalDecision>;
  /** A problem the user should see. */
  showError(message: string): void;
  /** Review the file changes the agent wants to make (diffs). Declined when absent. */
  askFileChange?(request: FileChangeRequestApprovalParams, item: FileChangeItem | undefined): Promise<FileChangeApprovalDecision>;
  /** The running turn's plan changed. */
  showPlan?(plan: TurnPlanUpdated): void;
  /** What the agent is doing now ("thinking", "running a command", ...); null when idle. */
  showActivity?(activity: string | null): void;
}

export interface SessionOptions {
  /** Approval policy for threads this session starts (server default when omitted). */
  approvalPolicy?: ApprovalPolicy;
  /** Working directory of new threads (server default: first workspace folder). */
  cwd?: string;
  /** Give up waiting for `turn/completed` after this long (default 120 s). */
  turnTimeoutMs?: number;
}

export interface AskResult {
  turn: Turn;
  /** The agent's streamed text for this turn. */
  text: string;
}

/** `initialize` → `initializationOptions`: editor-owned tokens are an experimental upstream feature. */
export function initializationOptions(): InitializationOptions {
  return { experimentalApi: true };
}

interface TurnWaiter {
  resolve(turn: Turn): void;
  reject(error: Error): void;
}

export class CodexSession {
  readonly view: AccountView = signedOutView();
  threadId: string | null = null;
  /** How many times the server asked for fresh tokens (shown in Status). */
  refreshCount = 0;

  private readonly waiters = new Map<string, TurnWaiter>();
  private readonly finished = new Map<string, Turn>();
  private readonly answers = new Map<string, string>();
  private readonly disposables: Disposable[] = [];
  /** `fileChange` items seen in this session, by id (their diffs are shown for review). */
  readonly fileChanges = new Map<string, FileChangeItem>();
  /** The turn now running, if any (what :interrupt stops). */
  runningTurnId: string | null = null;
  /** The last `turn/diff/updated` of the running turn. */
  turnDiff: string | null = null;

  constructor(
    private readonly connection: RpcConnection,
    private readonly tokens: TokenProvider,
    private readonly ui: CodexUi,
    private readonly options: SessionOptions = {},
  ) {}

  /** Register the handlers; call before the connection starts so nothing is missed. */
  attach(): Disposable {
    const c = this.connection;
    this.disposables.push(
      c.onRequest(ACCOUNT_CHATGPT_AUTH_TOKENS_REFRESH, async (params) => {
        this.refreshCount += 1;
        try {
          return refreshAnswer(await this.tokens.getTokens(params.reason, params.previousAccountId));
        } catch (error) {
          const message = `token provider failed: ${(error as Error).message ?? "error"}`;
          this.ui.showError(`Codex: ${message}`);
          return new ResponseError(-32603, message);
        }
      }),
      c.onRequest(ITEM_COMMAND_EXECUTION_REQUEST_APPROVAL, async (params) => {
        this.activity("waiting for your approval");
        try {
          return { decision: await this.ui.askApproval(params) };
        } finally {
          this.activity("thinking");
        }
      }),
      c.onRequest(ITEM_FILE_CHANGE_REQUEST_APPROVAL, async (params) => {
        if (!this.ui.askFileChange) return { decision: "decline" as const };
        this.activity("waiting for your review");
        try {
          return { decision: await this.ui.askFileChange(params, this.fileChanges.get(params.itemId)) };
        } finally {
          this.activity("thinking");
        }
      }),
      c.onNotification(TURN_PLAN_UPDATED, (p) => this.ui.showPlan?.(p)),
      c.onNotification(TURN_DIFF_UPDATED, (p) => {
        this.turnDiff = p.diff;
      }),
      c.onNotification(ACCOUNT_UPDATED, (p) => {
        this.view.authMode = p.authMode;
        this.view.planType = p.planType;
        if (!p.authMode) Object.assign(this.view, signedOutView());
        this.ui.showAccount(this.view);
      }),
      c.onNotification(ACCOUNT_RATE_LIMITS_UPDATED, (p) => {
        this.view.rateLimits = mergeRateLimits(this.view.rateLimits, p.rateLimits);
        this.ui.showAccount(this.view);
      }),
      c.onNotification(ACCOUNT_LOGIN_COMPLETED, (p) => {
        if (!p.success) this.ui.showError(`Codex sign-in failed: ${p.error ?? "unknown error"}`);
      }),
      c.onNotification(TURN_STARTED, (p) => {
        this.runningTurnId = p.turn.id;
        this.turnDiff = null;
        this.activity("thinking");
        this.ui.appendOutput(renderTurnStarted(p));
      }),
      c.onNotification(ITEM_STARTED, (p) => {
        const item = p.item;
        if (item.type === "fileChange") {
          this.fileChanges.set(item.id, item);
          this.ui.appendOutput(item.changes.map((ch) => `~ ${ch.kind.type} ${ch.path}\n`).join(""));
          return;
        }
        if (item.type === "commandExecution") this.activity("running a command");
        this.ui.appendOutput(renderItemStarted(p));
      }),
      c.onNotification(ITEM_AGENT_MESSAGE_DELTA, (p) => {
        this.answers.set(p.turnId, (this.answers.get(p.turnId) ?? "") + p.delta);
        this.ui.appendOutput(renderAgentDelta(p));
      }),
      c.onNotification(ITEM_COMMAND_EXECUTION_OUTPUT_DELTA, (p) => this.ui.appendOutput(renderCommandOutput(p))),
      c.onNotification(ITEM_COMPLETED, (p) => {
        const item = p.item;
        if (item.type === "fileChange") {
          this.fileChanges.set(item.id, item);
          this.ui.appendOutput(`[file changes ${item.status}]\n`);
          return;
        }
        if (item.type === "commandExecution") this.activity("thinking");
        this.ui.appendOutput(renderItemCompleted(p));
      }),
      c.onNotification(TURN_COMPLETED, (p) => {
        if (this.runningTurnId === p.turn.id) this.runningTurnId = null;
        this.activity(null);
        this.ui.appendOutput(renderTurnCompleted(p));
        const waiter = this.waiters.get(p.turn.id);
        if (waiter) waiter.resolve(p.turn);
        else this.finished.set(p.turn.id, p.turn); // completed before turn/start's answer was handled
      }),
    );
    return { dispose: () => this.disposables.splice(0).forEach((d) => d.dispose()) };
  }

  /** Sign in with tokens from the provider (`account/login/start {type: "chatgptAuthTokens"}`). */
  async signIn(): Promise<AccountReadResult> {
    const tokens = await this.tokens.getTokens("login", null);
    await this.connection.sendRequest(ACCOUNT_LOGIN_START, {
      type: "chatgptAuthTokens",
      accessToken: tokens.accessToken,
      chatgptAccountId: tokens.chatgptAccountId,
      chatgptPlanType: tokens.chatgptPlanType ?? null,
    });
    const account = await this.readAccount();
    // The status bar shows the limits right after sign-in, not only after the first turn.
    await this.readRateLimits().catch(() => undefined);
    return account;
  }

  async signOut(): Promise<void> {
    await this.connection.sendRequest(ACCOUNT_LOGOUT, {});
    Object.assign(this.view, signedOutView());
    this.threadId = null;
    this.ui.showAccount(this.view);
  }

  async readAccount(): Promise<AccountReadResult> {
    const result = await this.connection.sendRequest(ACCOUNT_READ, {});
    const account = result.account;
    if (account?.type === "chatgpt") {
      this.view.email = account.email;
      this.view.planType = account.planType;
      this.view.authMode = this.view.authMode ?? "chatgpt";
    } else if (account?.type === "apiKey") {
      this.view.authMode = "apikey";
    } else {
      Object.assign(this.view, signedOutView());
    }
    this.ui.showAccount(this.view);
    return result;
  }

  async status(): Promise<CodexStatusResult> {
    const result = await this.connection.sendRequest(CODEX_STATUS, {});
    this.view.authMode = result.authMode;
    if (result.rateLimits) this.view.rateLimits = mergeRateLimits(this.view.rateLimits, result.rateLimits);
    this.ui.showAccount(this.view);
    return result;
  }

  async readRateLimits(): Promise<RateLimitsReadResult> {
    const result = await this.connection.sendRequest(ACCOUNT_RATE_LIMITS_READ, {});
    this.view.rateLimits = mergeRateLimits(this.view.rateLimits, result.rateLimits);
    this.ui.showAccount(this.view);
    return result;
  }

  /** Run one turn (starting a thread first if needed) and wait for `turn/completed`. */
  async ask(prompt: string): Promise<AskResult> {
    const threadId = await this.ensureThread();
    const { turn } = await this.connection.sendRequest(TURN_START, {
      threadId,
      input: [{ type: "text", text: prompt }],
    });
    const done = await this.waitForTurn(turn.id);
    const text = this.answers.get(turn.id) ?? "";
    this.answers.delete(turn.id);
    return { turn: done, text };
  }

  /** Stop the running turn (`turn/interrupt`); false when nothing runs. */
  async interrupt(): Promise<boolean> {
    if (!this.threadId || !this.runningTurnId) return false;
    await this.connection.sendRequest(TURN_INTERRUPT, { threadId: this.threadId, turnId: this.runningTurnId });
    return true;
  }

  /** Past conversations of this workspace (`thread/list`), newest first. */
  async listThreads(): Promise<Thread[]> {
    const result = await this.connection.sendRequest(THREAD_LIST, { limit: 50, cwd: this.options.cwd ?? null });
    return result.data;
  }

  /** Continue a past conversation (`thread/resume`, with its turns); later asks go to it. */
  async resume(threadId: string): Promise<Thread> {
    const params: ThreadResumeParams = { threadId };
    if (this.options.approvalPolicy) params.approvalPolicy = this.options.approvalPolicy;
    const { thread } = await this.connection.sendRequest(THREAD_RESUME, params);
    this.threadId = thread.id;
    return thread;
  }

  private activity(activity: string | null): void {
    this.ui.showActivity?.(activity);
  }

  private async ensureThread(): Promise<string> {
    if (this.threadId) return this.threadId;
    const params: ThreadStartParams = {};
    if (this.options.cwd) params.cwd = this.options.cwd;
    if (this.options.approvalPolicy) params.approvalPolicy = this.options.approvalPolicy;
    const result = await this.connection.sendRequest(THREAD_START, params);
    this.threadId = result.thread.id;
    return this.threadId;
  }

  private waitForTurn(turnId: string): Promise<Turn> {
    const early = this.finished.get(turnId);
    if (early) {
      this.finished.delete(turnId);
      return Promise.resolve(early);
    }
    const timeoutMs = this.options.turnTimeoutMs ?? 120_000;
    return new Promise<Turn>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(turnId);
        reject(new Error(`turn ${turnId} did not complete within ${timeoutMs / 1000}s`));
      }, timeoutMs);
      const settle = () => {
        clearTimeout(timer);
        this.waiters.delete(turnId);
      };
      this.waiters.set(turnId, {
        resolve: (turn) => (settle(), resolve(turn)),
        reject: (error) => (settle(), reject(error)),
      });
    });
  }
}
