import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

/** A small time-series chart (uPlot): `x` in seconds, one or more series. */
export function Sparkline({
  title,
  x,
  series,
}: {
  title: string;
  x: number[];
  series: { label: string; values: number[]; color: string }[];
}) {
  const container = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  const labels = series.map((s) => `${s.label}:${s.color}`).join("|");

  useEffect(() => {
    const element = container.current;
    // Without a 2D canvas (jsdom in tests) there is nothing to draw: the table holds the figures.
    if (!element || !document.createElement("canvas").getContext("2d")) return;
    const options: uPlot.Options = {
      title,
      width: 320,
      height: 140,
      legend: { show: true, live: false },
      series: [{}, ...labels.split("|").map((l) => ({ label: l.split(":")[0], stroke: l.split(":")[1], width: 2 }))],
      axes: [{ space: 60 }, { size: 40 }],
    };
    chart.current = new uPlot(options, [[]], element);
    return () => {
      chart.current?.destroy();
      chart.current = null;
    };
  }, [title, labels]);

  useEffect(() => {
    chart.current?.setData([x, ...series.map((s) => s.values)] as uPlot.AlignedData);
  }, [x, series]);

  return <div ref={container} className="sparkline" data-testid={`chart-${title}`} />;
}
