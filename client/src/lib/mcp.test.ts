import { describe, expect, it } from "vitest";
import { type InstallPublic, newerInstall } from "./mcp";

function install(state: InstallPublic["state"], extra: Partial<InstallPublic> = {}): InstallPublic {
  return {
    id: "i_1",
    hostId: "h_1",
    serverId: "1",
    serverName: "time",
    command: "true",
    state,
    exitStatus: null,
    message: "",
    tools: null,
    verifyOnly: false,
    logSize: 0,
    createdAt: "2026-12-06T00:00:00+00:00",
    updatedAt: "2026-12-06T00:00:00+00:00",
    ...extra,
  };
}

describe("newerInstall", () => {
  it("takes what REST read when the page knew nothing or less", () => {
    expect(newerInstall(null, install("connecting")).state).toBe("connecting");
    expect(newerInstall(install("connecting"), install("running")).state).toBe("running");
  });

  it("keeps a state an event already moved past the read", () => {
    const merged = newerInstall(install("running"), install("connecting", { logSize: 40 }));
    expect(merged.state).toBe("running");
    expect(merged.logSize).toBe(40);
  });

  it("keeps a final state and its exit status over an older read", () => {
    const merged = newerInstall(install("failed", { exitStatus: 3, message: "exit 3" }), install("verifying"));
    expect(merged).toMatchObject({ state: "failed", exitStatus: 3, message: "exit 3" });
  });

  it("takes another install whole", () => {
    expect(newerInstall(install("failed"), install("queued", { id: "i_2" })).state).toBe("queued");
  });
});
