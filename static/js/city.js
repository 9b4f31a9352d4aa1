// The city drawn in SVG by our own code (no plotly.js): the ring road, its lanes, its districts and the traffic glowing
// along it; a diverging colour scale; small line-chart axes. Used by the figures that draw the city. Elements are made
// once and their attributes updated per frame, so animations stay cheap.

import { FIELDS } from "./state.js";

const SVG_NS = "http://www.w3.org/2000/svg";

// An SVG element with attributes, appended to parent if given.
export function svg(tag, attributes = {}, parent = null) {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (parent) parent.append(element);
  return element;
}

// Every drawn figure's text styles, inside its own <svg> so that a saved copy (an image for slides) looks the same.
const STYLE = `
.city text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; fill: #1a1a1a; }
.city .tick { font-size: 11px; fill: #4d4d4d; }
.city .axis-title, .city .legend { font-size: 12px; }
.city .panel-title { font-size: 13px; font-weight: 600; }
.city .road-label { font-size: 17px; font-weight: 700; }
.city .road-sublabel { font-size: 12px; fill: #4d4d4d; }
.city .place { font-size: 11px; font-weight: 600; }
.city .place.chosen { fill: #a33f00; font-size: 12px; }
.city .grid-line { stroke: #e3e5e8; }
.city .axis { stroke: #767676; }`;

// The root <svg> of a drawn figure in parent: decorative for assistive technology (its container is the figure's
// role="img", named by the caption and described by the summary sentence; the data table carries the numbers).
export function svgRoot(parent) {
  const root = svg("svg", { class: "city", "aria-hidden": "true", focusable: "false" }, parent);
  svg("style", {}, root).textContent = STYLE;
  return root;
}

// A number as SVG attributes write it (2 decimals: sub-pixel is enough).
const px = (value) => Number(value.toFixed(2));

// --- colours ---------------------------------------------------------------------------------------------------------

// ColorBrewer's RdBu, the page's diverging scale: blue below zero, white at zero, red above; readable with every
// common colour-vision deficiency. Its seven stops, evenly spaced from −1 to 1, as [r, g, b].
const RDBU = [[33, 102, 172], [103, 169, 207], [209, 229, 240], [247, 247, 247], [253, 219, 199], [239, 138, 98],
  [178, 24, 43]];
const hex = (rgb) => `#${rgb.map((v) => v.toString(16).padStart(2, "0")).join("")}`;

// The same scale as plotly.js takes it, from 0 to 1: [[position, "#rrggbb"], …], always used symmetric about zero.
export const DIVERGING = RDBU.map((rgb, i) => [i / 6, hex(rgb)]);

// The colour of t ∈ [−1, 1] (clipped) on RdBu, interpolated linearly between its seven stops: [r, g, b] in 0…255.
export function divergingRgb(t) {
  const x = (Math.max(-1, Math.min(1, Number.isFinite(t) ? t : 0)) + 1) * 3; // 0 … 6
  const i = Math.min(5, Math.floor(x));
  const f = x - i;
  const [a, b] = [RDBU[i], RDBU[i + 1]];
  return a.map((v, k) => Math.round(v + f * (b[k] - v)));
}

export const diverging = (t) => `rgb(${divergingRgb(t).join(",")})`;

// A heatmap of an n × n matrix (rows upwards) on ±scale: on the page a canvas of n × n pixels laid over the <svg> at
// (x, y), size px square, in host (one element, one putImageData per frame: an animation stays cheap); for a saved
// image (host null) n × n SVG rects in parent. Returns { update(matrix, scale) }; null entries are grey.
export function heatmap(parent, host, { x, y, size, n }) {
  const NONE = [224, 224, 224];
  if (host) {
    let canvas = host.querySelector("canvas.heatmap");
    if (!canvas) {
      canvas = document.createElement("canvas");
      canvas.className = "heatmap";
      host.append(canvas);
    }
    Object.assign(canvas, { width: n, height: n });
    Object.assign(canvas.style, { left: `${x}px`, top: `${y}px`, width: `${size}px`, height: `${size}px` });
    const context = canvas.getContext("2d");
    const image = context.createImageData(n, n);
    return {
      update(matrix, scale) {
        for (let j = 0; j < n; j += 1) {
          for (let k = 0; k < n; k += 1) {
            const value = matrix ? matrix[j][k] : null;
            const [r, g, b] = value === null ? NONE : divergingRgb(value / scale);
            const at = 4 * ((n - 1 - j) * n + k);
            image.data.set([r, g, b, 255], at);
          }
        }
        context.putImageData(image, 0, 0);
      },
    };
  }
  const cell = size / n;
  const cells = [];
  for (let j = 0; j < n; j += 1) {
    for (let k = 0; k < n; k += 1) {
      cells.push(svg("rect", { x: px(x + k * cell), y: px(y + (n - 1 - j) * cell), width: px(cell + 0.3),
        height: px(cell + 0.3) }, parent));
    }
  }
  return {
    update(matrix, scale) {
      cells.forEach((rect, index) => {
        const value = matrix ? matrix[Math.floor(index / n)][index % n] : null;
        rect.setAttribute("fill", value === null ? `rgb(${NONE.join(",")})` : diverging(value / scale));
      });
    },
  };
}

// A horizontal colour bar from −scale to +scale, with its three labels; returns { update(scale, title) }.
export function colorBar(parent, { x, y, width, height = 10 }) {
  const group = svg("g", { class: "color-bar" }, parent);
  const id = `bar-${Math.random().toString(36).slice(2, 9)}`;
  const gradient = svg("linearGradient", { id }, svg("defs", {}, group));
  DIVERGING.forEach(([position, color]) => svg("stop", { offset: `${100 * position}%`, "stop-color": color }, gradient));
  svg("rect", { x, y, width, height, fill: `url(#${id})`, stroke: "#767676", "stroke-width": 0.5 }, group);
  const labels = [0, 0.5, 1].map((share, i) => svg("text", { x: px(x + share * width), y: y + height + 13,
    "text-anchor": ["start", "middle", "end"][i], class: "tick" }, group));
  const title = svg("text", { x: px(x + width / 2), y: y - 5, "text-anchor": "middle", class: "axis-title" }, group);
  return {
    update(scale, text) {
      labels[0].textContent = signedShort(-scale);
      labels[1].textContent = "0";
      labels[2].textContent = signedShort(scale);
      title.textContent = text;
    },
  };
}

// A short number with a true minus sign: 3 significant digits.
export const signedShort = (value) => Number(value.toPrecision(3)).toString().replace("-", "−");

// --- the road ----------------------------------------------------------------------------------------------------------

// Lanes drawn for a width: one per doubling from 8 (16 → 1 lane, 4096 → 9), never fewer than 1, and fractional in
// between (an animation widens the road continuously): the road's drawn width grows with log₂ of the network's.
export const lanesFor = (width) => Math.max(1, Math.log2(Math.max(width, 1)) - 3);
export const MAX_LANES = Math.ceil(lanesFor(FIELDS.widths.type.max)); // the widest road a request may ask for

// The index of the angle in gammas (radians) nearest to gamma, around the circle.
export function nearestIndex(gammas, gamma) {
  const distance = (g) => Math.abs(Math.atan2(Math.sin(g - gamma), Math.cos(g - gamma)));
  return gammas.reduce((best, g, j) => (distance(g) < distance(gammas[best]) ? j : best), 0);
}

// The point of angle γ (radians, counter-clockwise from the right) on a circle: SVG's y grows downwards.
export const onCircle = (cx, cy, r, gamma) => [cx + r * Math.cos(gamma), cy - r * Math.sin(gamma)];

function arc(cx, cy, r, from, to) {
  const [x0, y0] = onCircle(cx, cy, r, from);
  const [x1, y1] = onCircle(cx, cy, r, to);
  return `M${px(x0)},${px(y0)} A${px(r)},${px(r)} 0 0 0 ${px(x1)},${px(y1)}`;
}

// The ring road in `parent`: asphalt, edge lines, lane markings, the traffic glowing in one arc per point of `gammas`
// (each arc centred on its point), the grid points as small dots inside, the training districts as labelled places
// outside. Returns { update(frame) }, frame = { lanes, values, scale, selected, label, sublabel }: values (one per
// point of gammas, null for none) coloured on ±scale, the selected district (an index into districts) marked.
export function road(parent, { cx, cy, radius, lanePx, gammas, districts, labelDistricts = true }) {
  const group = svg("g", { class: "road" }, parent);
  const asphalt = svg("circle", { cx, cy, r: radius, fill: "none", stroke: "#c8c8c8" }, group);
  const half = (gammas.length > 1 ? Math.PI / gammas.length : Math.PI) * 1.02; // arcs overlap a hair: no seams
  const halos = gammas.map((g) => svg("path", { d: arc(cx, cy, radius, g - half, g + half), fill: "none" }, group));
  const traffic = gammas.map((g) => svg("path", { d: arc(cx, cy, radius, g - half, g + half), fill: "none" }, group));
  const edges = [0, 1].map(() => svg("circle", { cx, cy, fill: "none", stroke: "#ffffff", "stroke-width": 1.5 }, group));
  const markings = Array.from({ length: MAX_LANES - 1 }, () => svg("circle", { cx, cy, fill: "none", stroke: "#ffffff",
    "stroke-width": 1.2, "stroke-dasharray": "5 5" }, group));
  const dots = gammas.map(() => svg("circle", { r: 1.4, fill: "#6b6b6b" }, group)); // where Θ is measured
  const places = districts.map((g, i) => {
    const place = svg("g", { class: "district" }, group);
    const marker = svg("circle", { r: 5, fill: "#1a1a1a", stroke: "#ffffff", "stroke-width": 1.5 }, place);
    const label = labelDistricts ? svg("text", { "text-anchor": "middle", "dominant-baseline": "central", class: "place" }, place) : null;
    if (label) label.textContent = String(i + 1);
    return { g, marker, label };
  });
  const title = svg("text", { x: cx, y: cy - 4, "text-anchor": "middle", class: "road-label" }, group);
  const subtitle = svg("text", { x: cx, y: cy + 16, "text-anchor": "middle", class: "road-sublabel" }, group);

  return {
    update({ lanes, values, scale, selected, label, sublabel = "" }) {
      const wide = lanes * lanePx;
      asphalt.setAttribute("stroke-width", px(wide + 3));
      edges[0].setAttribute("r", px(radius - wide / 2 - 0.5));
      edges[1].setAttribute("r", px(radius + wide / 2 + 0.5));
      markings.forEach((marking, k) => {
        const shown = Math.max(0, Math.min(1, lanes - (k + 1))); // the newest marking fades in as its lane opens
        marking.setAttribute("r", px(radius - wide / 2 + (k + 1) * lanePx));
        marking.setAttribute("opacity", px(shown));
      });
      values.forEach((value, j) => {
        const t = value === null ? 0 : value / scale;
        const color = diverging(t);
        traffic[j].setAttribute("stroke", color);
        traffic[j].setAttribute("stroke-width", px(Math.max(wide - 2, 2)));
        // The glow around the road: the scale's end colour for the sign, more opaque the larger the value (a cue for
        // size that stays visible where the scale's own colour is nearly white; the road itself carries the scale).
        halos[j].setAttribute("stroke", t < 0 ? "#2166ac" : "#b2182b");
        halos[j].setAttribute("stroke-width", px(wide + 14));
        halos[j].setAttribute("opacity", px(0.6 * Math.sqrt(Math.min(1, Math.abs(t)))));
      });
      dots.forEach((dot, j) => {
        const [x, y] = onCircle(cx, cy, radius - wide / 2 - 5, gammas[j]);
        dot.setAttribute("cx", px(x));
        dot.setAttribute("cy", px(y));
      });
      places.forEach(({ g, marker, label }, i) => {
        const chosen = i === selected;
        const [x, y] = onCircle(cx, cy, radius + wide / 2 + 8, g);
        marker.setAttribute("cx", px(x));
        marker.setAttribute("cy", px(y));
        marker.setAttribute("r", chosen ? 7 : 4.5);
        marker.setAttribute("fill", chosen ? "#D55E00" : "#1a1a1a");
        if (label) {
          const [lx, ly] = onCircle(cx, cy, radius + wide / 2 + 22, g);
          label.setAttribute("x", px(lx));
          label.setAttribute("y", px(ly));
          label.classList.toggle("chosen", chosen);
        }
      });
      // The labels fit inside the road, which narrows its inner circle as it widens.
      const inner = radius - wide / 2 - 8;
      title.style.fontSize = `${px(Math.max(10, Math.min(17, (1.7 * inner) / Math.max(label.length, 6))))}px`;
      title.textContent = label;
      subtitle.textContent = sublabel;
    },
  };
}

// --- axes for small charts ---------------------------------------------------------------------------------------------

// About `count` round tick values covering [lo, hi] (steps of 1, 2 or 5 × 10^k).
export function niceTicks(lo, hi, count = 5) {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

// A linear scale: the pixel of a value, for a domain [d0, d1] and a pixel range [p0, p1].
export const linear = ([d0, d1], [p0, p1]) => (value) => p0 + ((value - d0) / (d1 - d0 || 1)) * (p1 - p0);
