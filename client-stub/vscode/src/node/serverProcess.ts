// Runs the codex-lsp server as a child process and talks to it with vscode-jsonrpc (VS Code's RPC
// layer) in plain node: the way the core is exercised outside VS Code (tests, scripts).

import { type ChildProcess, spawn } from "node:child_process";

import { createMessageConnection, type MessageConnection, StreamMessageReader, StreamMessageWriter } from "vscode-jsonrpc/node";

import type { CodexCapabilities, InitializationOptions } from "../protocol";

export interface ServerLaunch {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Where the server's stderr goes (default: ignored). */
  stderr?: "inherit" | "ignore";
}

export interface RunningServer {
  connection: MessageConnection;
  child: ChildProcess;
}

/** Spawn the server over stdio and start listening (register handlers right after, before initialize). */
export function startServer(launch: ServerLaunch): RunningServer {
  const child = spawn(launch.command, launch.args, {
    cwd: launch.cwd,
    env: launch.env ?? process.env,
    stdio: ["pipe", "pipe", launch.stderr ?? "ignore"],
  });
  if (!child.stdout || !child.stdin) throw new Error("the server process has no stdio pipes");
  const connection = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  connection.listen();
  return { connection, child };
}

export interface InitializeOutcome {
  serverInfo: { name: string; version?: string } | undefined;
  codex: CodexCapabilities | undefined;
}

/** LSP `initialize` + `initialized`, the way vscode-languageclient does it. */
export async function initialize(
  connection: MessageConnection,
  options: InitializationOptions,
  rootPath: string | null,
): Promise<InitializeOutcome> {
  const rootUri = rootPath ? `file://${rootPath}` : null;
  const result = (await connection.sendRequest("initialize", {
    processId: process.pid,
    clientInfo: { name: "codex-lsp-vscode-core", version: "0.1.0" },
    rootUri,
    workspaceFolders: rootUri ? [{ uri: rootUri, name: "workspace" }] : null,
    capabilities: { window: { showDocument: { support: false } } },
    initializationOptions: options,
  })) as { serverInfo?: { name: string; version?: string }; capabilities?: { experimental?: { codex?: CodexCapabilities } } };
  await connection.sendNotification("initialized", {});
  return { serverInfo: result.serverInfo, codex: result.capabilities?.experimental?.codex };
}

function exited(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve(null);
    }, timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** `shutdown` + `exit`; returns the exit code, or null if the server had to be killed. */
export async function stopServer(server: RunningServer, timeoutMs = 5000): Promise<number | null> {
  const { connection, child } = server;
  try {
    await Promise.race([
      connection.sendRequest("shutdown"),
      new Promise((_, reject) => setTimeout(() => reject(new Error("shutdown timed out")), timeoutMs).unref()),
    ]);
    await connection.sendNotification("exit");
  } catch {
    child.kill("SIGTERM");
  }
  const code = await exited(child, timeoutMs);
  connection.dispose();
  return code;
}
