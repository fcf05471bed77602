// Turns the streaming notifications of a turn into plain text for an output channel or buffer.

import type { ItemCompleted, ItemDelta, ItemStarted, TurnNotification } from "../protocol";

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
