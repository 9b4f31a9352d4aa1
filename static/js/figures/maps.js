// Morning and evening traffic maps: Θ_0, Θ_T, Θ_T − Θ_0 and the analytic kernel.
import { baseLayout, divergence, mountFigure, round } from "./plot.js";

// Drawn from the experiment (its drift document), and again whenever the view (district, time of day) changes.
export const needs = { document: "experiment", view: true };

export const mount = (element) => mountFigure(element, { spec, summary, table });

const degrees = (gamma) => gamma.map((g) => Math.round((g * 180) / Math.PI));

export function spec(doc, state) {
  const snapshots = doc.kernel.snapshots;
  const morning = snapshots[0];
  const evening = snapshots[snapshots.length - 1];
  const change = evening.map((row, i) => row.map((v, j) => (v === null || morning[i][j] === null ? null : v - morning[i][j])));
  const analytic = doc.reference?.kernel ?? null;
  const shared = [morning, evening, ...(analytic ? [analytic] : [])].flat(2).filter((v) => v !== null);
  const [zmin, zmax] = [Math.min(...shared), Math.max(...shared)];
  const spread = Math.max(...change.flat().filter((v) => v !== null).map(Math.abs), 1e-12);
  const axis = degrees(doc.gamma_grid);
  const panels = [
    ["morning Θ₀", morning, { zmin, zmax, colorscale: "Viridis", showscale: true, colorbar: { x: 1.02, len: 0.45, y: 0.78, thickness: 10 } }],
    ["evening Θ<sub>T</sub>", evening, { zmin, zmax, colorscale: "Viridis", showscale: false }],
    ["change Θ<sub>T</sub> − Θ₀", change, { zmin: -spread, zmax: spread, colorscale: "RdBu", reversescale: true, showscale: true,
      colorbar: { x: 1.02, len: 0.45, y: 0.22, thickness: 10 } }],
    ["planner's map (infinite width)", analytic, { zmin, zmax, colorscale: "Viridis", showscale: false }],
  ];
  const data = panels.filter(([, z]) => z).map(([name, z, style], i) => ({
    type: "heatmap", name, z, x: axis, y: axis, xaxis: `x${i + 1}`, yaxis: `y${i + 1}`, ...style,
    hovertemplate: `${name}<br>γ=%{x}°, γ′=%{y}°: %{z:.4g}<extra></extra>`,
  }));
  const layout = baseLayout({
    grid: { rows: 2, columns: 2, pattern: "independent", xgap: 0.12, ygap: 0.25 },
    annotations: panels.map(([name], i) => ({ text: name, showarrow: false, xref: `x${i + 1} domain`, yref: `y${i + 1} domain`,
      x: 0.5, y: 1.12, font: { size: 13 } })),
    height: 640,
    margin: { l: 50, r: 60, t: 40, b: 40 },
    datarevision: `${state.width}-${doc.kernel.snapshots.length}`,
  });
  for (let i = 1; i <= 4; i += 1) {
    layout[`xaxis${i === 1 ? "" : i}`] = { title: { text: i > 2 ? "γ (°)" : "" }, tickvals: [-180, -90, 0, 90], fixedrange: true };
    layout[`yaxis${i === 1 ? "" : i}`] = { title: { text: "γ′ (°)" }, tickvals: [-180, -90, 0, 90], fixedrange: true };
  }
  return { data, layout };
}

export function summary(doc, state) {
  const drift = doc.widths.find((w) => w.width === state.width)?.drift[0];
  const moved = drift ? drift[drift.length - 1] : null;
  return moved === null
    ? divergence(doc, { widths: [state.width], missing: "the first seed's network, which the maps show, has no evening map" })
    : `With ${state.width} lanes the evening map differs from the morning one by ${(100 * moved).toFixed(1)} % (Frobenius norm).`;
}

export function table(doc) {
  const morning = doc.kernel.snapshots[0];
  const evening = doc.kernel.snapshots[doc.kernel.snapshots.length - 1];
  const rows = [];
  doc.gamma_grid.forEach((g, i) => doc.gamma_grid.forEach((h, j) => {
    if (i % 4 === 0 && j % 4 === 0) rows.push([round(g), round(h), round(morning[i][j]), round(evening[i][j]),
      doc.reference?.kernel ? round(doc.reference.kernel[i][j]) : ""]);
  }));
  return { columns: ["γ", "γ′", "Θ morning", "Θ evening", "Θ infinite width"], rows };
}
