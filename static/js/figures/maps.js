// Morning and evening traffic maps: Θ_0, Θ_T, Θ_T − Θ_0 and the analytic kernel.
import { DIVERGING, baseLayout, degrees, degreesOf, divergence, largestChange, mountFigure, round, symmetric } from "./plot.js";

// Drawn from the experiment (its drift document), and again whenever the change's colour scale changes.
export const needs = { document: "experiment", view: ["change_scale"] };

export const mount = (element) => mountFigure(element, { spec, summary, table, fit });

export function spec(doc, state) {
  const snapshots = doc.kernel.snapshots;
  const morning = snapshots[0];
  const evening = snapshots[snapshots.length - 1];
  const change = evening.map((row, i) => row.map((v, j) => (v === null || morning[i][j] === null ? null : v - morning[i][j])));
  const analytic = doc.reference?.kernel ?? null;
  // Dawn, evening and the planner share one scale; the change has its own. Both are centred on zero: Θ can be negative.
  const kernelScale = symmetric([morning, evening, ...(analytic ? [analytic] : [])].flat(2));
  const [zmin, zmax] = [-kernelScale, kernelScale];
  const spread = changeScale(doc, state, change);
  const axis = degrees(doc.gamma_grid);
  // Row by row, left to right: the three maps of Θ first, the change last, beside its own colour bar (fit()).
  const panels = [
    ["morning Θ₀", morning, { zmin, zmax, colorscale: DIVERGING, showscale: true, colorbar: { thickness: 10 } }],
    ["evening Θ<sub>T</sub>", evening, { zmin, zmax, colorscale: DIVERGING, showscale: false }],
    ["planner's map", analytic, { zmin, zmax, colorscale: DIVERGING, showscale: false }],
    ["change Θ<sub>T</sub>−Θ₀", change, { zmin: -spread, zmax: spread, colorscale: DIVERGING, showscale: true,
      colorbar: { thickness: 10, title: { text: state.change_scale === "per_width" ? "this width only" : "scale of all widths", side: "right",
        font: { size: 11 } } } }],
  ].filter(([, z]) => z);
  const data = panels.map(([name, z, style], i) => ({
    type: "heatmap", name, z, x: axis, y: axis, xaxis: `x${i + 1}`, yaxis: `y${i + 1}`, ...style,
    hovertemplate: `${name}<br>γ=%{x}°, γ′=%{y}°: %{z:.4g}<extra></extra>`,
  }));
  const layout = baseLayout({
    annotations: panels.map(([name], i) => ({ text: name, showarrow: false, xref: `x${i + 1} domain`, yref: `y${i + 1} domain`,
      x: 0.5, y: 1, yanchor: "bottom", yshift: 2, font: { size: 12 } })),
    margin: { ...MARGIN },
    datarevision: `${state.width}-${doc.kernel.snapshots.length}`,
  });
  return { data, layout };
}

// The change's colour scale: by default one for every width of the experiment (the largest change any of them makes on
// the grid), so a wider road's smaller change looks fainter; rescaled for this width's own change on request.
export function changeScale(doc, state, change) {
  const largest = largestChange(doc);
  return state.change_scale === "per_width" || largest === null ? symmetric(change.flat()) : largest;
}

const MARGIN = { l: 48, r: 84, t: 24, b: 44 }; // r: the colour bars, so plotly need not push the panels in
const GAP = 56; // px between panels: room for the tick labels and titles of the panel below or beside

// Square panels: 2 × 2 from 480 px up, one per row on a phone. The height follows the width, and axis titles and
// tick labels sit on the outer edges only (the left column's γ′, the bottom row's γ), so none falls on a neighbour.
export function fit({ data, layout }, width) {
  const columns = width >= 480 ? 2 : 1;
  const rows = Math.ceil(data.length / columns);
  const side = Math.max(80, (width - MARGIN.l - MARGIN.r - (columns - 1) * GAP) / columns);
  const height = MARGIN.t + MARGIN.b + rows * side + (rows - 1) * GAP;
  const laidOut = { ...layout, height };
  const [plotWidth, plotHeight] = [width - MARGIN.l - MARGIN.r, height - MARGIN.t - MARGIN.b];
  // Each panel's domain, in px from the plot area's left and top edges, as fractions.
  const domains = (i) => {
    const [row, column] = [Math.floor(i / columns), i % columns];
    const [left, top] = [column * (side + GAP), row * (side + GAP)];
    return { x: [left / plotWidth, Math.min(1, (left + side) / plotWidth)],
      y: [Math.max(0, 1 - (top + side) / plotHeight), 1 - top / plotHeight] };
  };
  // The bar of Θ beside the first row (on a phone, beside every map of Θ: one per row), the change's beside its own.
  const bar = (i, span = 1) => {
    const [lo, hi] = [domains(i + (span - 1) * columns).y[0], domains(i).y[1]];
    return { x: 1.02, y: (lo + hi) / 2, len: hi - lo };
  };
  const shared = data.filter((trace) => trace.zmax === data[0].zmax).length; // the maps on Θ's scale
  const styled = data.map((trace, i) => (trace.showscale
    ? { ...trace, colorbar: { ...trace.colorbar, ...bar(i, i === 0 && columns === 1 ? shared : 1) } } : trace));
  data.forEach((_, i) => {
    const suffix = i === 0 ? "" : i + 1;
    const left = i % columns === 0;
    const bottom = i + columns >= data.length;
    const domain = domains(i);
    laidOut[`xaxis${suffix}`] = { domain: domain.x, anchor: `y${suffix}`, title: { text: bottom ? "γ (°)" : "", standoff: 4 },
      tickvals: [-90, 0, 90], fixedrange: true };
    laidOut[`yaxis${suffix}`] = { domain: domain.y, anchor: `x${suffix}`, title: { text: left ? "γ′ (°)" : "", standoff: 4 },
      tickvals: [-90, 0, 90], showticklabels: left, fixedrange: true };
  });
  return { data: styled, layout: laidOut };
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
    if (i % 4 === 0 && j % 4 === 0) rows.push([degreesOf(g), degreesOf(h), round(morning[i][j]), round(evening[i][j]),
      doc.reference?.kernel ? round(doc.reference.kernel[i][j]) : ""]);
  }));
  return { columns: ["γ (°)", "γ′ (°)", "Θ morning", "Θ evening", "Θ infinite width"], rows };
}
