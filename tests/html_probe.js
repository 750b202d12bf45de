// Measures the page as laid out and writes what it finds, as JSON, into <pre id="probe">:
// tests/html_browser.rs adds this script to a copy of a report and reads the dumped DOM.
(function () {
  "use strict";
  const found = {
    width: window.innerWidth,
    dark: window.matchMedia("(prefers-color-scheme: dark)").matches,
    background: null,
    outside: [],
    overlapping: [],
    wide_tables: [],
    clipped: [],
    small_text: [],
    unreadable: [],
    light_drawings: [],
  };
  const slack = 1.5;
  const name = (e) => {
    const svg = e.closest("svg");
    const text = (e.textContent || "").trim().slice(0, 40);
    return `${svg ? "svg." + (svg.getAttribute("class") || "").replace(/ /g, ".") + " " : ""}<${e.tagName.toLowerCase()}${
      e.getAttribute("class") ? " class=" + e.getAttribute("class") : ""
    }>${text}`;
  };
  // What the tables and charts in folded <details> would show, shown.
  for (const d of document.querySelectorAll("details")) d.open = true;

  const rgb = (colour) => {
    const m = colour.match(/rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)/);
    if (!m) return null;
    const alpha = m[4] === undefined ? 1 : Number(m[4]);
    return { rgb: [Number(m[1]), Number(m[2]), Number(m[3])], alpha };
  };
  const luminance = ([r, g, b]) => {
    const c = (v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    };
    return 0.2126 * c(r) + 0.7152 * c(g) + 0.0722 * c(b);
  };
  const contrast = (a, b) => {
    const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  // The colour behind an element: the first ancestor with an opaque background.
  const behind = (e) => {
    for (let at = e; at; at = at.parentElement) {
      const c = rgb(getComputedStyle(at).backgroundColor);
      if (c && c.alpha > 0.5) return c.rgb;
    }
    return [255, 255, 255];
  };
  found.background = behind(document.body);
  // The fill of the shape a text is drawn on (a box, a cell), if any: the topmost filled
  // shape under its centre, other than the drawing's background.
  const shapeUnder = (text) => {
    const r = text.getBoundingClientRect();
    const svg = text.closest("svg");
    const under = document.elementsFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    for (const e of under) {
      if (e === svg || !svg.contains(e)) break;
      const tag = e.tagName.toLowerCase();
      if (!["rect", "circle", "ellipse", "polygon", "path"].includes(tag)) continue;
      if (e.parentElement === svg && tag === "rect") break;
      const fill = rgb(getComputedStyle(e).fill);
      const opacity = Number(getComputedStyle(e).fillOpacity) * Number(getComputedStyle(e).opacity);
      if (fill && fill.alpha > 0.5 && opacity > 0.5) return fill.rgb;
    }
    return null;
  };

  const marks = "rect, circle, ellipse, line, polyline, polygon, path, text";
  for (const svg of document.querySelectorAll("svg")) {
    const box = svg.getBoundingClientRect();
    if (box.width === 0) continue;
    const scale = box.width / svg.viewBox.baseVal.width;
    // The drawing's own background: a first rect that covers it, else what is behind it.
    const first = svg.querySelector(":scope > rect");
    let ground = behind(svg);
    if (first) {
      const r = first.getBoundingClientRect();
      const fill = rgb(getComputedStyle(first).fill);
      if (fill && r.width >= box.width - 1 && r.height >= box.height - 1) ground = fill.rgb;
    }
    if (found.dark && luminance(ground) > 0.4) found.light_drawings.push(name(svg));
    const legend = svg.querySelector("g.legend");
    const legendBox = legend ? legend.getBoundingClientRect() : null;
    for (const e of svg.querySelectorAll(marks)) {
      const r = e.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      if (
        r.left < box.left - slack ||
        r.top < box.top - slack ||
        r.right > box.right + slack ||
        r.bottom > box.bottom + slack
      ) {
        found.outside.push(
          `${name(e)} at [${Math.round(r.left - box.left)}, ${Math.round(r.top - box.top)}, ${Math.round(
            r.right - box.left
          )}, ${Math.round(r.bottom - box.top)}] of ${Math.round(box.width)}×${Math.round(box.height)}`
        );
      }
      if (legendBox && e.closest("g.marks") && !e.closest("g.legend")) {
        const overlap =
          r.left < legendBox.right - slack &&
          r.right > legendBox.left + slack &&
          r.top < legendBox.bottom - slack &&
          r.bottom > legendBox.top + slack;
        if (overlap) found.overlapping.push(name(e));
      }
      if (e.tagName.toLowerCase() === "text" && e.textContent.trim() !== "") {
        const size = parseFloat(getComputedStyle(e).fontSize) * scale;
        if (size < 9.5) found.small_text.push(`${name(e)}: ${size.toFixed(1)} px`);
        const fill = rgb(getComputedStyle(e).fill);
        const under = shapeUnder(e) || ground;
        if (fill && contrast(fill.rgb, under) < 3) {
          found.unreadable.push(`${name(e)}: ${fill.rgb} on ${under}`);
        }
      }
    }
  }
  // Text outside the drawings against what is behind it.
  for (const e of document.querySelectorAll("h1, h2, h3, p, td, th, dt, dd, li, figcaption, pre, summary")) {
    const c = rgb(getComputedStyle(e).color);
    if (c && contrast(c.rgb, behind(e)) < 3) found.unreadable.push(`${name(e)}: ${c.rgb} on ${behind(e)}`);
  }
  // Every table inside its card (or its side of a comparison).
  for (const table of document.querySelectorAll("table")) {
    const card = table.closest(".side, section") || document.body;
    const r = table.getBoundingClientRect();
    const c = card.getBoundingClientRect();
    if (r.right > c.right + slack || r.left < c.left - slack) {
      found.wide_tables.push(`${name(table)} ${Math.round(r.width)} px in a card of ${Math.round(c.width)} px`);
    }
  }
  // Nothing cut off: the page does not scroll sideways, no box hides or scrolls what it holds,
  // and no element reaches past the viewport's right edge.
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth + 1) {
    found.clipped.push(`the page is ${root.scrollWidth} px wide in a ${root.clientWidth} px window`);
  }
  for (const e of document.body.querySelectorAll("*")) {
    if (e.closest("svg") && e.tagName.toLowerCase() !== "svg") continue;
    const style = getComputedStyle(e);
    const hides = style.overflowX !== "visible" || style.overflowY !== "visible";
    if (hides && (e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1)) {
      found.clipped.push(`${name(e)} shows ${e.clientWidth}×${e.clientHeight} of ${e.scrollWidth}×${e.scrollHeight}`);
    }
    const r = e.getBoundingClientRect();
    if (r.width > 0 && r.right > root.clientWidth + slack) {
      found.clipped.push(`${name(e)} reaches x = ${Math.round(r.right)}`);
    }
  }
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify(found);
  document.body.appendChild(out);
})();
