// Turns the streaming notifications of a turn into plain text for an output channel or buffer.

import type { ItemCompleted, ItemDelta, ItemStarted, Thread, TurnNotification } from "../protocol";

export function renderItemStarted(p: ItemStarted): string {
  const item = p.item;
  if (item.type === "commandExecution") return `\n$ ${item.command}\n`;
  if (item.type === "reasoning") return "\n[reasoning] ";
  return "";
}

export function renderAgentDelta(p: ItemDelta): string {
  return p.delta;
}

export function renderCommandOutput(p: ItemDelta): string {
  return p.delta;
}

export function renderItemCompleted(p: ItemCompleted): string {
  const item = p.item;
  if (item.type === "commandExecution") {
    const exit = item.exitCode === null ? item.status : `exit ${item.exitCode}`;
    return `\n[${exit}]\n`;
  }
  if (item.type === "agentMessage" || item.type === "reasoning") return "\n";
  return "";
}

export function renderTurnStarted(p: TurnNotification): string {
  return `--- turn ${p.turn.id} ---\n`;
}

export function renderTurnCompleted(p: TurnNotification): string {
  const error = p.turn.error ? `: ${p.turn.error.message}` : "";
  return `--- turn ${p.turn.status}${error} ---\n`;
}

/** An item of a stored turn (`thread/resume`, `thread/read`), as far as the transcript needs it. */
interface StoredItem {
  type: string;
  text?: string;
  content?: { type: string; text?: string }[];
  command?: string;
  changes?: { path: string; kind?: { type?: string } }[];
}

/** A resumed conversation as a transcript: the questions, answers, commands and file changes. */
export function renderThread(thread: Thread): string {
  const title = (thread.name ?? thread.preview) || thread.id;
  const out = [`# ${title.replace(/\n/g, " ")}\n`];
  for (const turn of thread.turns as { status?: string; items?: StoredItem[] }[]) {
    for (const item of turn.items ?? []) {
      if (item.type === "userMessage") {
        const said = (item.content ?? []).filter((c) => c.type === "text").map((c) => c.text ?? "").join("");
        out.push(`> ${said.replace(/\n/g, "\n> ")}\n`);
      } else if (item.type === "agentMessage") out.push(`${item.text ?? ""}\n`);
      else if (item.type === "commandExecution") out.push(`$ ${item.command ?? ""}\n`);
      else if (item.type === "fileChange") out.push((item.changes ?? []).map((c) => `~ ${c.kind?.type ?? "update"} ${c.path}\n`).join(""));
    }
    if (turn.status === "interrupted" || turn.status === "failed") out.push(`--- turn ${turn.status} ---\n`);
  }
  return out.join("");
}
