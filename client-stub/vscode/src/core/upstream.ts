// Wire types and method names of features whose server side is being built in parallel (file-change
// approvals, plans, history). They follow upstream's app-server v2 schema and move to the generated
// protocol.ts once the server serves them.

import { NotificationType, RequestType } from "vscode-jsonrpc";

export type PatchChangeKind = { type: "add" } | { type: "delete" } | { type: "update"; move_path?: string | null };

/** One file of a `fileChange` item: `diff` is a unified diff (update) or the whole content (add). */
export interface FileUpdateChange {
  path: string;
  kind: PatchChangeKind;
  diff: string;
}

export interface FileChangeItem {
  type: "fileChange";
  id: string;
  changes: FileUpdateChange[];
  status: "inProgress" | "completed" | "failed" | "declined";
}

export interface FileChangeRequestApprovalParams {
  threadId: string;
  turnId: string;
  itemId: string;
  startedAtMs: number;
  reason?: string | null;
  grantRoot?: string | null;
}

export type FileChangeApprovalDecision = "accept" | "acceptForSession" | "decline" | "cancel";

export interface TurnPlanStep {
  step: string;
  status: "pending" | "inProgress" | "completed";
}

export interface TurnPlanUpdated {
  threadId: string;
  turnId: string;
  explanation?: string | null;
  plan: TurnPlanStep[];
}

export interface TurnDiffUpdated {
  threadId: string;
  turnId: string;
  diff: string;
}

export interface StoredThread {
  id: string;
  preview: string;
  name?: string | null;
  cwd: string;
  createdAt: number;
  updatedAt: number;
  turns: { id: string; items: { type: string; text?: string; content?: { type: string; text?: string }[]; command?: string }[] }[];
}

export interface ThreadListParams {
  cursor?: string | null;
  limit?: number | null;
  cwd?: string | null;
}

export interface ThreadListResponse {
  data: StoredThread[];
  nextCursor: string | null;
}

export const ITEM_FILE_CHANGE_REQUEST_APPROVAL = new RequestType<
  FileChangeRequestApprovalParams,
  { decision: FileChangeApprovalDecision },
  void
>("item/fileChange/requestApproval");
export const TURN_PLAN_UPDATED = new NotificationType<TurnPlanUpdated>("turn/plan/updated");
export const TURN_DIFF_UPDATED = new NotificationType<TurnDiffUpdated>("turn/diff/updated");
export const THREAD_LIST = new RequestType<ThreadListParams, ThreadListResponse, void>("thread/list");
export const THREAD_RESUME = new RequestType<{ threadId: string }, { thread: StoredThread }, void>("thread/resume");

/**
 * Apply a unified diff to `original` (for showing the proposed file in a diff editor). Returns null
 * when a hunk does not match, so the caller can fall back to showing the raw diff.
 */
export function applyUnifiedDiff(original: string, diff: string): string | null {
  const source = original.split("\n");
  const out: string[] = [];
  let at = 0; // next unread line of `source`
  const lines = diff.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const header = /^@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@/.exec(lines[i]);
    if (!header) continue;
    const start = Math.max(0, Number(header[1]) - 1);
    if (start < at) return null;
    out.push(...source.slice(at, start));
    at = start;
    for (i = i + 1; i < lines.length && !lines[i].startsWith("@@"); i++) {
      const line = lines[i];
      if (line.startsWith("\\")) continue; // "\ No newline at end of file"
      const body = line.slice(1);
      if (line.startsWith("+")) out.push(body);
      else if (line.startsWith("-") || line.startsWith(" ") || line === "") {
        if (line === "" && i === lines.length - 1) break;
        if (source[at] !== body) return null;
        if (!line.startsWith("-")) out.push(body);
        at += 1;
      }
    }
    i -= 1;
  }
  out.push(...source.slice(at));
  return out.join("\n");
}
