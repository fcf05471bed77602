// What the status bar shows: auth mode, plan and the latest rate limits (merged from sparse updates).

import type { AccountUpdated, RateLimitSnapshot, RateLimitWindow } from "../protocol";

export interface AccountView {
  authMode: AccountUpdated["authMode"];
  planType: string | null;
  email: string | null;
  rateLimits: RateLimitSnapshot | null;
}

export function signedOutView(): AccountView {
  return { authMode: null, planType: null, email: null, rateLimits: null };
}

/** Merge a sparse `account/rateLimits/updated` snapshot: nulls never clear a known value. */
export function mergeRateLimits(known: RateLimitSnapshot | null, update: RateLimitSnapshot): RateLimitSnapshot {
  if (!known) return { ...update };
  const merged: RateLimitSnapshot = { ...known };
  for (const [key, value] of Object.entries(update) as [keyof RateLimitSnapshot, unknown][]) {
    if (value !== null && value !== undefined) (merged as unknown as Record<string, unknown>)[key] = value;
  }
  return merged;
}

function windowLabel(window: RateLimitWindow, fallback: string): string {
  const mins = window.windowDurationMins;
  if (mins === 300) return "5h";
  if (mins === 10080) return "wk";
  if (mins !== null && mins % 1440 === 0) return `${mins / 1440}d`;
  if (mins !== null && mins % 60 === 0) return `${mins / 60}h`;
  return fallback;
}

/** Status-bar text, e.g. `Codex: pro · 5h 23% · wk 61%` or `Codex: signed out`. */
export function statusText(view: AccountView): string {
  if (!view.authMode) return "Codex: signed out";
  const parts = [view.planType ?? (view.authMode === "apikey" ? "API key" : view.authMode)];
  const limits = view.rateLimits;
  if (limits?.primary) parts.push(`${windowLabel(limits.primary, "primary")} ${limits.primary.usedPercent}%`);
  if (limits?.secondary) parts.push(`${windowLabel(limits.secondary, "secondary")} ${limits.secondary.usedPercent}%`);
  return `Codex: ${parts.join(" · ")}`;
}
