// Portfolio: a JSONL of assessments -> SummarizePortfolio (levels, shared blockers) and
// StreamRoadmaps (one roadmap per unit: savings, and a link to each unit's roadmap).

import { h, money } from "./dom.js";
import { normalised } from "./questionnaire.js";
import { sortableTable, summaryOf } from "./roadmap.js";

/** The assessments of a JSONL text, and the lines that are not JSON objects. */
export function parseJsonl(text) {
  const assessments = [];
  const problems = [];
  text.split(/\r?\n/).forEach((line, index) => {
    if (!line.trim()) return;
    try {
      const value = JSON.parse(line);
      if (value && typeof value === "object" && !Array.isArray(value)) assessments.push(normalised(value));
      else problems.push(`line ${index + 1}: not a JSON object`);
    } catch (error) {
      problems.push(`line ${index + 1}: ${error.message}`);
    }
  });
  return { assessments, problems };
}

export async function computePortfolio(rpc, assessments, onProgress) {
  const summary = await rpc.call("SummarizePortfolio", { assessments, top_blockers: 10 });
  const results = [];
  for await (const item of rpc.stream("StreamRoadmaps", assessments.map((assessment) => ({ assessment })))) {
    results.push(item);
    onProgress?.(results.length, assessments.length);
  }
  return { summary, results };
}

function distribution(summary, models) {
  const titles = new Map(models.map((m) => [m.id, m]));
  return (summary.levels || [])
    .filter((d) => (titles.get(d.model)?.levels || []).length)
    .map((d) => {
      const model = titles.get(d.model);
      const counts = new Map((d.counts || []).map((c) => [c.level || 0, c.units || 0]));
      const most = Math.max(1, ...counts.values());
      const levels = [0, ...(model.levels || []).map((l) => l.level)].filter((l) => l > 0 || counts.has(0));
      return h(
        "figure.distribution",
        {},
        h("figcaption", { text: model.title }),
        h(
          "table",
          { "aria-label": `${model.title}: units per level` },
          h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "level" }), h("th", { scope: "col", text: "units" }))),
          h(
            "tbody",
            {},
            levels.map((level) => {
              const units = counts.get(level) || 0;
              return h(
                "tr",
                {},
                h("th", { scope: "row", text: level ? `L${level}` : "none" }),
                h("td", {}, h("span.bar", { style: `--share:${units / most}` }), ` ${units}`),
              );
            }),
          ),
        ),
      );
    });
}

export function renderPortfolio(root, { summary, results, problems, assessments }, models) {
  const units = results.map((item, index) => {
    const roadmap = item.roadmap;
    const totals = roadmap ? summaryOf(roadmap) : null;
    const levels = roadmap ? (roadmap.levels || []).filter((l) => l.maxLevel).map((l) => `${l.model} ${l.level || 0}`).join(", ") : "";
    return {
      index,
      unit: item.unitId || assessments[index]?.unit_id || `#${index + 1}`,
      levels,
      steps: totals ? totals.steps : 0,
      annual: totals ? totals.annual : 0,
      net: totals ? totals.net : 0,
      error: item.error ? `${item.error.code}: ${item.error.message}` : "",
    };
  });
  const annual = units.reduce((sum, u) => sum + u.annual, 0);
  const net = units.reduce((sum, u) => sum + u.net, 0);
  const table = sortableTable(
    "Units: click a column header to sort",
    [
      ["unit", "Unit", "text"],
      ["levels", "Levels", "text"],
      ["steps", "Steps", "number"],
      ["annual", "Annual savings", "number"],
      ["net", "Net first year", "number"],
    ],
    units,
    (u) =>
      h(
        "tr",
        {},
        h("th", { scope: "row" }, u.error ? u.unit : h("a", { href: `#unit/${u.index}`, text: u.unit, "aria-label": `Roadmap of ${u.unit}` })),
        h("td", { text: u.error || u.levels }),
        h("td.num", { text: u.steps }),
        h("td.num", { text: money(u.annual) }),
        h("td.num", { text: money(u.net) }),
      ),
    "units-table",
  );
  root.replaceChildren(
    h(
      "section.card.summary",
      { "aria-labelledby": "p-summary" },
      h("h2", { id: "p-summary", text: "Portfolio" }),
      h(
        "div.figures",
        {},
        h("div.figure", { id: "p-units" }, h("span.value", { text: summary.units || 0 }), h("span.label", { text: "units" })),
        h("div.figure", {}, h("span.value", { text: (summary.blockers || []).length }), h("span.label", { text: "shared blockers" })),
        h("div.figure", { id: "p-savings" }, h("span.value", { text: money(net) }), h("span.label", { text: `net first-year savings (${money(annual)} a year)` })),
      ),
      problems.length ? h("div.warning", { role: "alert" }, h("strong", { text: "Lines skipped: " }), problems.join("; ")) : null,
    ),
    h("section.card", { "aria-labelledby": "p-levels" }, h("h2", { id: "p-levels", text: "Levels distribution" }), h("div.distributions", {}, distribution(summary, models))),
    h(
      "section.card",
      { "aria-labelledby": "p-blockers" },
      h("h2", { id: "p-blockers", text: "Shared blockers" }),
      h("p.help", { text: "Unmet prerequisites holding back the most units: one programme can unblock them all." }),
      h(
        "div.table-wrap",
        {},
        h(
          "table",
          { id: "blockers-table" },
          h("thead", {}, h("tr", {}, ["Practice", "Units", "Which"].map((t) => h("th", { scope: "col", text: t })))),
          h(
            "tbody",
            {},
            (summary.blockers || []).map((b) => h("tr", {}, h("th", { scope: "row" }, b.title, h("br"), h("code", { text: b.practiceId })), h("td.num", { text: b.units }), h("td", { text: (b.unitIds || []).join(", ") }))),
          ),
        ),
      ),
    ),
    h("section.card", { "aria-labelledby": "p-units-title" }, h("h2", { id: "p-units-title", text: "Units" }), table),
  );
}
