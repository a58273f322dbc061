/** The MCP servers API (`/api/mcp/...`): hosts, the catalogue, installs, their logs, the audit log. */

import type { McpInstallOutputPayload, McpInstallPayload } from "../realtime/protocol.gen";
import { call } from "./api";

/** An install's state (`mcp_install`'s `state`). */
export type InstallState = McpInstallPayload["state"];

/** States after which nothing more happens to an install. */
export const FINAL_STATES: readonly InstallState[] = ["succeeded", "failed", "error", "timed_out", "cancelled"];

/** A remote host. The private key is never sent back. */
export interface HostPublic {
  id: string;
  name: string;
  hostname: string;
  port: number;
  username: string;
  /** SHA-256 fingerprint of the pinned key, or of the last scanned one until it is trusted. */
  fingerprint: string | null;
  trusted: boolean;
}

/** What the add-host form sends. */
export interface HostCreate {
  name: string;
  hostname: string;
  port: number;
  username: string;
  privateKey: string;
  password?: string;
}

/** A catalogue entry, from the server's configuration. */
export interface ServerPublic {
  id: string;
  name: string;
  installCommand: string;
  launchCommand: string;
}

/** A tool the installed server offers. */
export interface ToolPublic {
  name: string;
  description: string;
}

/** One install, as `GET /api/mcp/installs/{id}` returns it. */
export interface InstallPublic {
  id: string;
  hostId: string;
  serverId: string;
  serverName: string;
  command: string;
  verifyOnly: boolean;
  state: InstallState;
  exitStatus: number | null;
  message: string;
  tools: ToolPublic[] | null;
  logSize: number;
  createdAt: string;
  updatedAt: string;
}

/** A stored piece of output. */
export type LogChunk = Pick<McpInstallOutputPayload, "offset" | "stream" | "data">;

/** `GET /api/mcp/installs/{id}/log?offset=N`. A jump between offsets is output that was dropped. */
export interface LogPublic {
  installId: string;
  state: InstallState;
  size: number;
  chunks: LogChunk[];
}

/** One line of the audit log. */
export interface AuditEntry {
  id: number;
  at: string;
  username: string;
  action: string;
  host: string;
  serverName: string | null;
  command: string | null;
  result: string;
}

const enc = encodeURIComponent;

export async function listHosts(): Promise<HostPublic[]> {
  return (await call<{ hosts: HostPublic[] }>("GET", "/api/mcp/hosts")).hosts;
}

export async function addHost(host: HostCreate): Promise<HostPublic> {
  return (await call<{ host: HostPublic }>("POST", "/api/mcp/hosts", host)).host;
}

export async function deleteHost(id: string): Promise<void> {
  await call<void>("DELETE", `/api/mcp/hosts/${enc(id)}`);
}

/** Fetch the host's key now; resolves to its fingerprint for the administrator to confirm. */
export async function scanHost(id: string): Promise<string> {
  return (await call<{ fingerprint: string }>("POST", `/api/mcp/hosts/${enc(id)}/scan`)).fingerprint;
}

export async function trustHost(id: string, fingerprint: string): Promise<HostPublic> {
  return (await call<{ host: HostPublic }>("POST", `/api/mcp/hosts/${enc(id)}/trust`, { fingerprint })).host;
}

export async function listServers(): Promise<ServerPublic[]> {
  return (await call<{ servers: ServerPublic[] }>("GET", "/api/mcp/servers")).servers;
}

export async function startInstall(hostId: string, serverId: string): Promise<InstallPublic> {
  return (await call<{ install: InstallPublic }>("POST", "/api/mcp/installs", { hostId, serverId })).install;
}

export async function listInstalls(): Promise<InstallPublic[]> {
  return (await call<{ installs: InstallPublic[] }>("GET", "/api/mcp/installs")).installs;
}

export async function getInstall(id: string): Promise<InstallPublic> {
  return (await call<{ install: InstallPublic }>("GET", `/api/mcp/installs/${enc(id)}`)).install;
}

export function getLog(id: string, offset: number): Promise<LogPublic> {
  return call<LogPublic>("GET", `/api/mcp/installs/${enc(id)}/log?offset=${offset}`);
}

export async function cancelInstall(id: string): Promise<InstallPublic> {
  return (await call<{ install: InstallPublic }>("POST", `/api/mcp/installs/${enc(id)}/cancel`)).install;
}

export async function verifyAgain(id: string): Promise<InstallPublic> {
  return (await call<{ install: InstallPublic }>("POST", `/api/mcp/installs/${enc(id)}/verify`)).install;
}

export async function listAudit(): Promise<AuditEntry[]> {
  return (await call<{ entries: AuditEntry[] }>("GET", "/api/mcp/audit")).entries;
}

/** Where the whole stored log is downloaded from. */
export function logDownloadUrl(id: string): string {
  return `/api/mcp/installs/${enc(id)}/log.txt`;
}
