import { useEffect, useMemo, useState } from "react";
import { useConnection, useWebSocketEvent } from "../../contexts/WebSocketContext";
import { addUpdate, EMPTY_DASHBOARD, liveInstances, sharedFigures, total } from "./dashboard";
import { Sparkline } from "./Sparkline";

export const DASHBOARD_TOPIC = "admin:dashboard";

const FIGURES: [source: string, name: string, label: string][] = [
  ["connections", "connections", "Connections"],
  ["connections", "users", "Users with a tab here"],
  ["connections", "messagesInPerSecond", "Messages in /s"],
  ["connections", "framesOutPerSecond", "Frames out /s"],
  ["broker", "up", "Broker up"],
  ["broker", "lagMs", "Broker lag (ms)"],
];

/** Live figures of every instance (pushed about once a second on `admin:dashboard`; no polling). */
export function Dashboard() {
  const connection = useConnection();
  const [state, setState] = useState(EMPTY_DASHBOARD);
  useEffect(() => connection.subscribe(DASHBOARD_TOPIC), [connection]);
  useWebSocketEvent("dashboard_update", (frame) => setState((current) => addUpdate(current, frame.payload)));

  const newest = Math.max(0, ...Object.values(state.instances).map((u) => u.at));
  const live = liveInstances(state, newest);
  const shared = sharedFigures(live);
  const x = useMemo(() => state.points.map((p) => p.t), [state.points]);
  const connections = useMemo(
    () => [
      { label: "connections", values: state.points.map((p) => p.connections), color: "#2563eb" },
      { label: "users", values: state.points.map((p) => p.users), color: "#16a34a" },
    ],
    [state.points],
  );
  const messages = useMemo(
    () => [
      { label: "in/s", values: state.points.map((p) => p.inPerSecond), color: "#9333ea" },
      { label: "out/s", values: state.points.map((p) => p.outPerSecond), color: "#ea580c" },
    ],
    [state.points],
  );
  const errors = live.flatMap((u) => u.errors.map((e) => ({ ...e, instance: u.instance }))).slice(-10);
  const extraSources = [...new Set(live.flatMap((u) => Object.keys(u.figures)))].filter(
    (s) => s !== "connections" && s !== "broker",
  );

  return (
    <section aria-label="Dashboard" data-testid="dashboard" className="dashboard">
      <div className="dashboard__charts">
        <Sparkline title="Connections" x={x} series={connections} />
        <Sparkline title="Messages" x={x} series={messages} />
      </div>
      <table data-testid="dashboard-table">
        <thead>
          <tr>
            <th>Figure</th>
            <th>All</th>
            {live.map((u) => (
              <th key={u.instance}>{u.instance}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {FIGURES.map(([source, name, label]) => (
            <tr key={`${source}.${name}`} data-figure={`${source}.${name}`}>
              <td>{label}</td>
              <td>{source === "broker" ? "" : total(live, source, name)}</td>
              {live.map((u) => (
                <td key={u.instance}>{u.figures[source]?.[name] ?? "–"}</td>
              ))}
            </tr>
          ))}
          {extraSources.flatMap((source) =>
            Object.keys(live.find((u) => u.figures[source])?.figures[source] ?? {}).map((name) => (
              <tr key={`${source}.${name}`} data-figure={`${source}.${name}`}>
                <td>
                  {source}: {name}
                </td>
                <td>{total(live, source, name)}</td>
                {live.map((u) => (
                  <td key={u.instance}>{u.figures[source]?.[name] ?? "–"}</td>
                ))}
              </tr>
            )),
          )}
        </tbody>
      </table>
      <h3>Shared</h3>
      <dl data-testid="dashboard-shared" className="dashboard__shared">
        {Object.entries(shared).flatMap(([source, values]) =>
          Object.entries(values).map(([name, value]) => (
            <div key={`${source}.${name}`} data-figure={`${source}.${name}`}>
              <dt>
                {source}: {name}
              </dt>
              <dd>{value}</dd>
            </div>
          )),
        )}
      </dl>
      <h3>Recent errors</h3>
      {errors.length === 0 ? (
        <p className="muted">None.</p>
      ) : (
        <ul data-testid="dashboard-errors">
          {errors.map((e) => (
            <li key={`${e.instance}-${e.at}-${e.message}`}>
              {new Date(e.at).toLocaleTimeString()} {e.instance} {e.source}: {e.message}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
