// The roadmap view: summary, heatmap (model x axis x level, current against target),
// timeline of quarters, dependency graph, steps with their reasons, service portfolio.

import { h, idOf, money, percent, s } from "./dom.js";

const RECOMMENDATIONS = {
  RECOMMENDATION_DECOMMISSION: "decommission",
  RECOMMENDATION_OUTSOURCE: "outsource",
  RECOMMENDATION_RETAIN: "retain",
  RECOMMENDATION_INVEST: "invest",
  RECOMMENDATION_REVIEW: "review",
  RECOMMENDATION_RETENDER: "re-tender",
};

export function summaryOf(roadmap) {
  const steps = roadmap.steps || [];
  const services = roadmap.outsourcing || [];
  const quarters = steps.reduce((most, step) => Math.max(most, step.quarter || 0), 0);
  return {
    steps: steps.length,
    quarters,
    beyond: steps.filter((step) => !step.quarter).length,
    effort: steps.reduce((sum, step) => sum + (step.effort || 0), 0),
    annual: services.reduce((sum, r) => sum + (r.estimatedAnnualSaving || 0), 0),
    net: services.reduce((sum, r) => sum + (r.netFirstYearSaving || 0), 0),
    warnings: (roadmap.warnings || []).length,
  };
}

function summary(roadmap) {
  const t = summaryOf(roadmap);
  const figure = (value, label, id) => h("div.figure", { id }, h("span.value", { text: value }), h("span.label", { text: label }));
  return h(
    "section.card.summary",
    { "aria-labelledby": "r-summary" },
    h("h2", { id: "r-summary", text: `Roadmap of ${roadmap.unitId || "the unit"}` }),
    h(
      "div.figures",
      {},
      figure(t.steps, "steps", "sum-steps"),
      figure(t.quarters, `quarters (of ${Math.ceil((roadmap.horizonMonths || 36) / 3)})`, "sum-quarters"),
      figure(t.effort, `effort points (${roadmap.quarterCapacity || 8} a quarter)`, "sum-effort"),
      figure(money(t.net), `net first-year savings (${money(t.annual)} a year)`, "sum-savings"),
      figure(t.warnings, "warnings", "sum-warnings"),
    ),
    t.beyond ? h("p.help", { text: `${t.beyond} step(s) lie beyond the ${roadmap.horizonMonths || 36}-month horizon.` }) : null,
    (roadmap.warnings || []).map((w) => h("div.warning", { role: "note" }, h("strong", { text: `${w.code}: ` }), w.message)),
    h("p.meta", { text: `Rule base ${roadmap.ruleBase?.version || "?"} (${roadmap.ruleBase?.digest || ""})` }),
  );
}

/** Per (model, axis, level): practices applicable and adopted, from the catalogue. */
function cells(catalogue, assessment) {
  const status = new Map((assessment.practices || []).map((p) => [p.practice_id, p]));
  const counts = new Map();
  for (const p of catalogue.practices) {
    const key = `${p.model}|${p.axis}|${p.level || 0}`;
    const entry = counts.get(key) || { total: 0, adopted: 0, partial: 0 };
    const answer = status.get(p.id)?.adoption;
    if (answer === "ADOPTION_NOT_APPLICABLE") continue;
    entry.total += 1;
    if (answer === "ADOPTION_ADOPTED") entry.adopted += 1;
    if (answer === "ADOPTION_PARTIAL") entry.partial += status.get(p.id).progress || 0;
    counts.set(key, entry);
  }
  return counts;
}

function heatmap(roadmap, catalogue, assessment) {
  const counts = cells(catalogue, assessment);
  const levels = new Map((roadmap.levels || []).map((l) => [l.model, l]));
  const tables = catalogue.models.map((model) => {
    const standing = levels.get(model.id) || { axes: [] };
    const axisLevel = new Map((standing.axes || []).map((a) => [a.axis, a]));
    const target = (assessment.targets || []).find((t) => t.model === model.id);
    const modelLevels = model.levels || [];
    if (!modelLevels.length) {
      // no levels: coverage per axis, against "all of it" when targeted
      return h(
        "table.heatmap",
        { "aria-label": `${model.title}: coverage per axis` },
        h("caption", {}, h("strong", { text: model.title }), ` — no levels; coverage per axis${target ? ", target: all of it" : ""}`),
        h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "axis" }), h("th", { scope: "col", text: "adopted" }))),
        h(
          "tbody",
          {},
          (model.axes || []).map((axis) => {
            const c = counts.get(`${model.id}|${axis.id}|0`) || { total: 0, adopted: 0, partial: 0 };
            const share = c.total ? (c.adopted + c.partial) / c.total : 0;
            return h(
              "tr",
              {},
              h("th", { scope: "row", text: axis.title }),
              h("td.cell", { style: `--fill:${share}`, class: `cell ${target ? "target" : ""}`, title: `${c.adopted} of ${c.total} adopted` }, `${c.adopted}/${c.total} · ${percent(share)}`),
            );
          }),
        ),
      );
    }
    const targetLevel = target ? target.level : Math.min((standing.level || 0) + 1, standing.maxLevel || modelLevels.length);
    return h(
      "table.heatmap",
      { "aria-label": `${model.title}: practices adopted per axis and level` },
      h("caption", {}, h("strong", { text: model.title }), ` — level ${standing.level || 0} of ${standing.maxLevel || modelLevels.length}, target ${targetLevel}${target ? "" : " (next level)"}`),
      h(
        "thead",
        {},
        h("tr", {}, h("th", { scope: "col", text: "axis" }), modelLevels.map((l) => h("th", { scope: "col", title: l.title, text: `L${l.level}` }))),
      ),
      h(
        "tbody",
        {},
        (model.axes || []).map((axis) => {
          const reached = axisLevel.get(axis.id)?.level || 0;
          return h(
            "tr",
            {},
            h("th", { scope: "row" }, axis.title, h("span.axis-level", { text: ` (level ${reached})` })),
            modelLevels.map((l) => {
              const c = counts.get(`${model.id}|${axis.id}|${l.level}`);
              if (!c) return h("td", { class: `cell empty ${l.level <= reached ? "reached" : ""}`, title: "no practice at this level" }, "–");
              const share = c.total ? (c.adopted + c.partial) / c.total : 1;
              const kind = l.level <= reached ? "reached" : l.level <= targetLevel ? "target" : "beyond";
              const label = `${axis.title}, level ${l.level}: ${c.adopted} of ${c.total} adopted; ${kind === "reached" ? "reached" : kind === "target" ? "to reach for the target" : "beyond the target"}`;
              return h("td", { class: `cell ${kind}`, style: `--fill:${share}`, title: label, "aria-label": label }, `${c.adopted}/${c.total}`);
            }),
          );
        }),
      ),
    );
  });
  return h(
    "section.card",
    { "aria-labelledby": "r-heatmap" },
    h("h2", { id: "r-heatmap", text: "Where the unit stands: current against target" }),
    h(
      "p.legend",
      {},
      h("span.swatch.reached", {}),
      " level reached ",
      h("span.swatch.target", {}),
      " to reach for the target ",
      h("span.swatch.beyond", {}),
      " beyond the target. Each cell: practices adopted of those that apply; the shade grows with adoption.",
    ),
    h("div.heatmaps", {}, tables),
  );
}

function stepTitle(step) {
  return step.title || step.practiceId;
}

function timeline(roadmap) {
  const byQuarter = new Map();
  for (const step of roadmap.steps || []) {
    const key = step.quarter || 0;
    if (!byQuarter.has(key)) byQuarter.set(key, []);
    byQuarter.get(key).push(step);
  }
  const keys = [...byQuarter.keys()].sort((a, b) => (a || 1e9) - (b || 1e9));
  return h(
    "section.card",
    { "aria-labelledby": "r-timeline" },
    h("h2", { id: "r-timeline", text: "Timeline" }),
    h(
      "ol.timeline",
      {},
      keys.map((quarter) => {
        const steps = byQuarter.get(quarter);
        const effort = steps.reduce((sum, step) => sum + (step.effort || 0), 0);
        return h(
          "li.quarter",
          {},
          h("h3", { text: quarter ? `Q${quarter}` : "Beyond the horizon" }),
          h("p.meta", { text: `${steps.length} step(s), ${effort} effort points` }),
          h(
            "ul",
            {},
            steps.map((step) =>
              h("li", { class: `chip model-${step.model}` }, h("a", { href: `#step-${idOf(step.practiceId)}`, text: stepTitle(step) }), h("span.meta", { text: ` · ${step.effort}` })),
            ),
          ),
        );
      }),
    ),
  );
}

const NODE_W = 220;
const NODE_H = 46;
const GAP_X = 24;
const GAP_Y = 56;
const WIDTH = 1000;

/** Steps placed by wave, top to bottom; a wave wider than the page wraps onto more rows. */
function layout(steps) {
  const perRow = Math.max(1, Math.floor((WIDTH + GAP_X) / (NODE_W + GAP_X)));
  const position = new Map();
  const bands = [];
  let row = 0;
  const waves = [...new Set(steps.map((s) => s.wave))].sort((a, b) => a - b);
  for (const wave of waves) {
    const inWave = steps.filter((s) => s.wave === wave);
    const first = row;
    inWave.forEach((step, i) => {
      const r = row + Math.floor(i / perRow);
      const inRow = Math.min(perRow, inWave.length - Math.floor(i / perRow) * perRow);
      const offset = (WIDTH - (inRow * NODE_W + (inRow - 1) * GAP_X)) / 2;
      position.set(step.practiceId, { x: offset + (i % perRow) * (NODE_W + GAP_X), y: 30 + r * (NODE_H + GAP_Y), step });
    });
    row += Math.ceil(inWave.length / perRow);
    bands.push({ wave, quarter: inWave[0].quarter, from: first, to: row });
  }
  return { position, bands, height: 30 + row * (NODE_H + GAP_Y) };
}

function truncate(text, size) {
  return text.length > size ? `${text.slice(0, size - 1)}…` : text;
}

function graph(roadmap) {
  const steps = roadmap.steps || [];
  const { position, bands, height } = layout(steps);
  const svg = s("svg", {
    viewBox: `0 0 ${WIDTH} ${Math.max(height, 60)}`,
    role: "img",
    "aria-labelledby": "r-graph-title r-graph-desc",
    class: "graph",
    preserveAspectRatio: "xMidYMin meet",
  });
  svg.append(s("title", { id: "r-graph-title" }, "Dependency graph of the roadmap"));
  svg.append(s("desc", { id: "r-graph-desc" }, `${steps.length} steps by wave, top to bottom; an arrow goes from a prerequisite to the step that needs it.`));
  svg.append(
    s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, s("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrowhead" }))),
  );
  for (const band of bands) {
    const y = 30 + band.from * (NODE_H + GAP_Y) - 22;
    svg.append(s("text", { x: 4, y: y + 14, class: "band" }, band.quarter ? `wave ${band.wave} · Q${band.quarter}` : `wave ${band.wave} · beyond`));
    svg.append(s("line", { x1: 0, x2: WIDTH, y1: y, y2: y, class: "band-line" }));
  }
  for (const step of steps) {
    const to = position.get(step.practiceId);
    for (const required of step.requires || []) {
      const from = position.get(required);
      if (!from) continue;
      const x1 = from.x + NODE_W / 2;
      const y1 = from.y + NODE_H;
      const x2 = to.x + NODE_W / 2;
      const y2 = to.y;
      const bend = Math.max(20, (y2 - y1) / 2);
      svg.append(s("path", { d: `M ${x1} ${y1} C ${x1} ${y1 + bend}, ${x2} ${y2 - bend}, ${x2} ${y2}`, class: "edge", "marker-end": "url(#arrow)" }));
    }
  }
  for (const { x, y, step } of position.values()) {
    const link = s("a", { href: `#step-${idOf(step.practiceId)}`, class: `node model-${step.model}` });
    link.append(s("title", {}, `${stepTitle(step)} (${step.practiceId}), wave ${step.wave}`));
    link.append(s("rect", { x, y, width: NODE_W, height: NODE_H, rx: 6 }));
    link.append(s("text", { x: x + 8, y: y + 19, class: "node-title" }, truncate(stepTitle(step), 28)));
    link.append(s("text", { x: x + 8, y: y + 36, class: "node-meta" }, truncate(`${step.model} · effort ${step.effort}`, 34)));
    svg.append(link);
  }
  const frame = h("div.graph-frame", {}, svg);
  const zoom = (factor) => () => {
    svg.style.width = factor === 1 ? "" : `${factor * 100}%`;
    frame.classList.toggle("zoomed", factor !== 1);
  };
  return h(
    "section.card",
    { "aria-labelledby": "r-graph" },
    h("h2", { id: "r-graph", text: "Dependency graph" }),
    h(
      "div.toolbar.no-print",
      { role: "group", "aria-label": "Zoom the graph" },
      h("button", { type: "button", text: "Fit the page", onclick: zoom(1) }),
      h("button", { type: "button", text: "Zoom 150%", onclick: zoom(1.5) }),
      h("button", { type: "button", text: "Zoom 200%", onclick: zoom(2) }),
    ),
    frame,
  );
}

function reasonList(reasons) {
  return h(
    "ul.reasons",
    {},
    reasons.map((r) =>
      h(
        "li",
        {},
        h("span.amount", { text: r.amount ? `${r.amount > 0 ? "+" : ""}${Number(r.amount.toFixed(2))} ` : "" }),
        r.text,
        h("span.source", { text: ` — ${r.ruleId}${r.source ? `; ${r.source}` : ""}` }),
      ),
    ),
  );
}

function stepsList(roadmap) {
  return h(
    "section.card",
    { "aria-labelledby": "r-steps" },
    h("h2", { id: "r-steps", text: "Steps and why" }),
    h(
      "ol.steps",
      {},
      (roadmap.steps || []).map((step) => {
        const raised = (step.reasons || []).filter((r) => (r.amount || 0) >= 0);
        const held = (step.reasons || []).filter((r) => (r.amount || 0) < 0);
        return h(
          "li.step",
          { id: `step-${idOf(step.practiceId)}`, tabindex: -1 },
          h(
            "details",
            {},
            h(
              "summary",
              {},
              h("span.step-title", { text: stepTitle(step) }),
              h("span.meta", { text: ` ${step.quarter ? `Q${step.quarter}` : "beyond"} · ${step.model} / ${step.axis} · effort ${step.effort} · score ${Number((step.score || 0).toFixed(2))}` }),
            ),
            h("p.meta", {}, h("code", { text: step.practiceId }), step.requires?.length ? ` · requires ${step.requires.join(", ")}` : "", step.unlocks?.length ? ` · unlocks ${step.unlocks.join(", ")}` : ""),
            h("h4", { text: "Raised by" }),
            raised.length ? reasonList(raised) : h("p.meta", { text: "—" }),
            h("h4", { text: "Held back by" }),
            held.length ? reasonList(held) : h("p.meta", { text: "nothing" }),
          ),
        );
      }),
    ),
  );
}

const SERVICE_COLUMNS = [
  ["serviceId", "Service", "text"],
  ["recommendation", "Recommendation", "text"],
  ["estimatedAnnualSaving", "Annual saving", "number"],
  ["transitionCost", "Transition cost", "number"],
  ["netFirstYearSaving", "Net first year", "number"],
  ["paybackMonths", "Payback (months)", "number"],
];

/** A table whose column headers sort it (buttons, so the keyboard can too). */
export function sortableTable(label, columns, rows, renderRow, id) {
  let sortKey = null;
  let ascending = true;
  const tbody = h("tbody");
  const headers = columns.map(([key, text, kind]) => {
    const button = h("button.sort", {
      type: "button",
      text,
      onclick: () => {
        ascending = sortKey === key ? !ascending : kind === "text";
        sortKey = key;
        fill();
      },
    });
    return h("th", { scope: "col", "data-key": key }, button);
  });
  const fill = () => {
    const sorted = [...rows];
    if (sortKey) {
      const kind = columns.find(([key]) => key === sortKey)[2];
      sorted.sort((a, b) => {
        const x = a[sortKey] ?? (kind === "number" ? 0 : "");
        const y = b[sortKey] ?? (kind === "number" ? 0 : "");
        const order = kind === "number" ? x - y : String(x).localeCompare(String(y));
        return ascending ? order : -order;
      });
    }
    for (const th of headers) {
      th.setAttribute("aria-sort", th.dataset.key === sortKey ? (ascending ? "ascending" : "descending") : "none");
    }
    tbody.replaceChildren(...sorted.map(renderRow));
  };
  fill();
  return h("div.table-wrap", {}, h("table.sortable", { id, "aria-label": label }, h("thead", {}, h("tr", {}, headers)), tbody));
}

function services(roadmap, assessment) {
  const names = new Map((assessment.services || []).map((s) => [s.id, s.name]));
  const rows = (roadmap.outsourcing || []).map((r) => ({ ...r, recommendation: RECOMMENDATIONS[r.recommendation] || r.recommendation }));
  if (!rows.length) {
    return h("section.card", { "aria-labelledby": "r-services" }, h("h2", { id: "r-services", text: "Service portfolio" }), h("p.help", { text: "No services in the assessment." }));
  }
  const table = sortableTable(
    "Service portfolio: click a column header to sort",
    SERVICE_COLUMNS,
    rows,
    (r) =>
      h(
        "tr",
        {},
        h("th", { scope: "row" }, names.get(r.serviceId) || r.serviceId, h("br"), h("code", { text: r.serviceId })),
        h("td", {}, r.recommendation, r.provisional ? h("span.tag", { text: "provisional" }) : null, h("details.reasons", {}, h("summary", { text: "reasons" }), reasonList(r.reasons || []))),
        h("td.num", { text: money(r.estimatedAnnualSaving) }),
        h("td.num", { text: money(r.transitionCost) }),
        h("td.num", { text: money(r.netFirstYearSaving) }),
        h("td.num", { text: r.paybackMonths ? Number(r.paybackMonths.toFixed(1)) : "–" }),
      ),
    "services-table",
  );
  return h("section.card", { "aria-labelledby": "r-services" }, h("h2", { id: "r-services", text: "Service portfolio" }), table);
}

/** The whole roadmap view. */
export function renderRoadmap(root, roadmap, catalogue, assessment) {
  root.replaceChildren(
    summary(roadmap),
    heatmap(roadmap, catalogue, assessment),
    timeline(roadmap),
    graph(roadmap),
    stepsList(roadmap),
    services(roadmap, assessment),
  );
}
