/** The dashboard's figures as the page keeps them: each instance's latest, totals, and a short history. */

import type { DashboardUpdatePayload } from "../../realtime/protocol.gen";

/** How much history the charts show. */
export const HISTORY_MS = 5 * 60 * 1000;

/** One point of the aggregated series. */
export interface Point {
  /** Seconds (uPlot's x unit). */
  t: number;
  connections: number;
  users: number;
  inPerSecond: number;
  outPerSecond: number;
}

export interface DashboardState {
  /** The latest update of each instance, by instance name. */
  instances: Record<string, DashboardUpdatePayload>;
  points: Point[];
}

export const EMPTY_DASHBOARD: DashboardState = { instances: {}, points: [] };

/** An instance not heard from for this many of its intervals (plus a margin) is left out. */
const SILENT_INTERVALS = 3;

/** Instances that reported lately. */
export function liveInstances(state: DashboardState, now: number): DashboardUpdatePayload[] {
  return Object.values(state.instances)
    .filter((u) => now - u.at <= SILENT_INTERVALS * u.interval * 1000 + 2000)
    .sort((a, b) => a.instance.localeCompare(b.instance));
}

/** A figure summed over the live instances. */
export function total(updates: DashboardUpdatePayload[], source: string, name: string): number {
  return updates.reduce((sum, u) => sum + (u.figures[source]?.[name] ?? 0), 0);
}

/** Take one update in: it replaces its instance's previous one and adds an aggregated point. */
export function addUpdate(state: DashboardState, update: DashboardUpdatePayload): DashboardState {
  const instances = { ...state.instances, [update.instance]: update };
  const live = liveInstances({ instances, points: [] }, update.at);
  const point: Point = {
    t: Math.floor(update.at / 1000),
    connections: total(live, "connections", "connections"),
    // People online once each (a user with tabs on two instances is one), when presence says.
    users: sharedFigures(live).presence?.online ?? total(live, "connections", "users"),
    inPerSecond: total(live, "connections", "messagesInPerSecond"),
    outPerSecond: total(live, "connections", "framesOutPerSecond"),
  };
  // One point per second: a later update in the same second replaces it.
  const kept = state.points.filter((p) => p.t !== point.t && p.t * 1000 >= update.at - HISTORY_MS);
  return { instances, points: [...kept, point] };
}

/** The newest shared figures (the same on every instance). */
export function sharedFigures(updates: DashboardUpdatePayload[]): Record<string, Record<string, number>> {
  const newest = [...updates].sort((a, b) => b.at - a.at)[0];
  return newest?.shared ?? {};
}
