// The slice of a JSON-RPC connection the core needs. vscode-jsonrpc's MessageConnection (plain node)
// and vscode-languageclient's LanguageClient (VS Code) both satisfy it, so the protocol logic never
// imports the `vscode` module.

import type { CancellationToken, NotificationHandler, NotificationType, RequestHandler, RequestType } from "vscode-jsonrpc";

export interface Disposable {
  dispose(): void;
}

export interface RpcConnection {
  sendRequest<P, R, E>(type: RequestType<P, R, E>, params: P, token?: CancellationToken): Promise<R>;
  onRequest<P, R, E>(type: RequestType<P, R, E>, handler: RequestHandler<P, R, E>): Disposable;
  onNotification<P>(type: NotificationType<P>, handler: NotificationHandler<P>): Disposable;
}

/** JSON-RPC error answered by the server, as both libraries surface it. */
export interface RpcError {
  code: number;
  message: string;
  data?: unknown;
}

export function isRpcError(value: unknown): value is RpcError {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as RpcError).code === "number" &&
    typeof (value as RpcError).message === "string"
  );
}

/** A short, user-facing description of a failed request (never includes params or tokens). */
export function describeError(method: string, error: unknown): string {
  if (isRpcError(error)) return `${method} failed (${error.code}): ${error.message}`;
  if (error instanceof Error) return `${method} failed: ${error.message}`;
  return `${method} failed`;
}
