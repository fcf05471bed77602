// Editor-owned ChatGPT auth: the host supplies tokens; the server keeps them in memory only.

import { readFile } from "node:fs/promises";

import type { ChatgptAuthTokensRefreshResponse } from "../protocol";

/** Why the server (or the user) needs tokens: a fresh sign-in, or a backend call answered 401. */
export type TokenRequestReason = "login" | "unauthorized";

/** Tokens handed to `account/login/start {type: "chatgptAuthTokens"}` and to refresh answers. */
export interface ChatgptTokens {
  accessToken: string;
  chatgptAccountId: string;
  chatgptPlanType?: string | null;
}

/** Supplies tokens on demand. Implementations own sign-in UI, storage and rotation. */
export interface TokenProvider {
  /**
   * Return current tokens. `previousAccountId` is the workspace the server was using (a hint for
   * multi-workspace hosts), null for a fresh sign-in. Throw to refuse; the server then fails the
   * request that needed them.
   */
  getTokens(reason: TokenRequestReason, previousAccountId: string | null): Promise<ChatgptTokens>;
}

/** Shape check for tokens coming from outside (files, other extensions). */
export function parseTokens(value: unknown, source: string): ChatgptTokens {
  const v = value as Partial<ChatgptTokens> | null;
  if (!v || typeof v !== "object" || typeof v.accessToken !== "string" || !v.accessToken) {
    throw new Error(`${source}: expected an object with a non-empty "accessToken"`);
  }
  if (typeof v.chatgptAccountId !== "string" || !v.chatgptAccountId) {
    throw new Error(`${source}: expected a non-empty "chatgptAccountId"`);
  }
  const planType = v.chatgptPlanType;
  if (planType !== undefined && planType !== null && typeof planType !== "string") {
    throw new Error(`${source}: "chatgptPlanType" must be a string or null`);
  }
  return { accessToken: v.accessToken, chatgptAccountId: v.chatgptAccountId, chatgptPlanType: planType ?? null };
}

/**
 * Sample provider: reads `{accessToken, chatgptAccountId, chatgptPlanType?}` from a JSON file on
 * every call, so whatever rotates the file (a host app, a script) is picked up on the next 401.
 */
export class JsonFileTokenProvider implements TokenProvider {
  constructor(private readonly path: string) {}

  async getTokens(_reason: TokenRequestReason, _previousAccountId: string | null): Promise<ChatgptTokens> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (error) {
      throw new Error(`cannot read the token file ${this.path}: ${(error as NodeJS.ErrnoException).code ?? "error"}; set codex.tokens.file`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`the token file ${this.path} is not valid JSON`);
    }
    return parseTokens(parsed, `the token file ${this.path}`);
  }

  toString(): string {
    return `JsonFileTokenProvider(${this.path})`;
  }
}

/** What the server expects back from `account/chatgptAuthTokens/refresh`. */
export function refreshAnswer(tokens: ChatgptTokens): ChatgptAuthTokensRefreshResponse {
  return {
    accessToken: tokens.accessToken,
    chatgptAccountId: tokens.chatgptAccountId,
    chatgptPlanType: tokens.chatgptPlanType ?? null,
  };
}
