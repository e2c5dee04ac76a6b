// What-if: change one answer, a target or a metric; the roadmap is computed again and
// CompareAssessments says what changed; the order of the steps is compared here.

import { ANSWERS, METRICS } from "./questionnaire.js";
import { h, money } from "./dom.js";
import { summaryOf } from "./roadmap.js";

function clone(value) {
  return JSON.parse(JSON.stringify(value));
}

export class WhatIf {
  constructor(root, catalogue, rpc, onKeep) {
    this.root = root;
    this.catalogue = catalogue;
    this.rpc = rpc;
    this.onKeep = onKeep;
    this.sequence = 0;
  }

  show(assessment, roadmap) {
    this.before = assessment;
    this.beforeRoadmap = roadmap;
    this.after = clone(assessment);
    this.result = h("div.whatif-result", { "aria-live": "polite", id: "whatif-result" }, h("p.help", { text: "Change something above: the roadmap is computed again and the changes are listed here." }));
    this.root.replaceChildren(
      h(
        "section.card",
        { "aria-labelledby": "w-title" },
        h("h2", { id: "w-title", text: `What if… (${assessment.unit_id || "unit"})` }),
        h("p.help", { text: "Each change applies to a copy of the assessment; 'Keep these changes' makes it the assessment." }),
        h("div.grid.whatif-controls", {}, this.practiceControl(), this.targetControl(), this.metricControl()),
        h(
          "div.toolbar",
          {},
          h("button", { type: "button", id: "whatif-reset", text: "Start again", onclick: () => this.show(this.before, this.beforeRoadmap) }),
          h("button", { type: "button", id: "whatif-keep", text: "Keep these changes", onclick: () => this.keep() }),
        ),
      ),
      this.result,
    );
  }

  practiceControl() {
    const practice = h(
      "select",
      { id: "whatif-practice", onchange: () => sync() },
      this.catalogue.models.map((m) =>
        h("optgroup", { label: m.title }, this.catalogue.practices.filter((p) => p.model === m.id).map((p) => h("option", { value: p.id, text: p.title }))),
      ),
    );
    const answer = h(
      "select",
      { id: "whatif-answer", onchange: () => this.setPractice(practice.value, answer.value, Number(progress.value) / 100) },
      ANSWERS.map(([value, label]) => h("option", { value, text: label })),
    );
    const progress = h("input", {
      id: "whatif-progress",
      type: "number",
      min: 0,
      max: 100,
      step: 5,
      value: 50,
      oninput: () => answer.value === "ADOPTION_PARTIAL" && this.setPractice(practice.value, answer.value, Number(progress.value) / 100),
    });
    const sync = () => {
      const current = this.after.practices.find((p) => p.practice_id === practice.value);
      answer.value = current ? current.adoption : "ADOPTION_NOT_STARTED";
      if (current?.progress !== undefined) progress.value = Math.round(current.progress * 100);
    };
    sync();
    return h(
      "fieldset",
      {},
      h("legend", { text: "A practice's answer" }),
      h("label", { for: "whatif-practice", text: "Practice" }),
      practice,
      h("label", { for: "whatif-answer", text: "Answer" }),
      answer,
      h("label", { for: "whatif-progress", text: "How far, if partial (%)" }),
      progress,
    );
  }

  targetControl() {
    const leveled = this.catalogue.models.filter((m) => (m.levels || []).length);
    const model = h("select", { id: "whatif-target-model", onchange: () => sync() }, leveled.map((m) => h("option", { value: m.id, text: m.title })));
    const level = h("select", {
      id: "whatif-target-level",
      onchange: () => {
        this.after.targets = this.after.targets.filter((t) => t.model !== model.value);
        if (level.value !== "") this.after.targets.push({ model: model.value, level: Number(level.value) });
        this.update();
      },
    });
    const sync = () => {
      const m = leveled.find((x) => x.id === model.value);
      const current = this.after.targets.find((t) => t.model === model.value);
      level.replaceChildren(
        h("option", { value: "", text: "the next level (default)" }),
        (m.levels || []).map((l) => h("option", { value: l.level, text: `level ${l.level}: ${l.title}` })),
      );
      level.value = current ? String(current.level) : "";
    };
    sync();
    return h(
      "fieldset",
      {},
      h("legend", { text: "A target" }),
      h("label", { for: "whatif-target-model", text: "Model" }),
      model,
      h("label", { for: "whatif-target-level", text: "Level to reach" }),
      level,
    );
  }

  metricControl() {
    const metric = h("select", { id: "whatif-metric", onchange: () => sync() }, METRICS.map(([key, label]) => h("option", { value: key, text: label })));
    const value = h("input", {
      id: "whatif-metric-value",
      type: "number",
      min: 0,
      max: 100,
      step: 1,
      oninput: () => {
        if (value.value === "") delete this.after.metrics[metric.value];
        else this.after.metrics[metric.value] = Number(value.value) / 100;
        this.update();
      },
    });
    const sync = () => {
      const current = (this.after.metrics || {})[metric.value];
      value.value = current === undefined ? "" : Math.round(current * 1000) / 10;
    };
    this.after.metrics = this.after.metrics || {};
    sync();
    return h(
      "fieldset",
      {},
      h("legend", { text: "A metric" }),
      h("label", { for: "whatif-metric", text: "Metric" }),
      metric,
      h("label", { for: "whatif-metric-value", text: "Value (%; empty: unknown)" }),
      value,
    );
  }

  setPractice(id, adoption, progress) {
    const list = this.after.practices;
    const index = list.findIndex((p) => p.practice_id === id);
    if (index >= 0) list.splice(index, 1);
    if (adoption !== "ADOPTION_NOT_STARTED") {
      const entry = { practice_id: id, adoption };
      if (adoption === "ADOPTION_PARTIAL") entry.progress = progress;
      list.push(entry);
    }
    this.update();
  }

  async update() {
    const sequence = ++this.sequence;
    this.result.setAttribute("aria-busy", "true");
    try {
      const [roadmap, comparison] = await Promise.all([
        this.rpc.call("GetRoadmap", { assessment: this.after }),
        this.rpc.call("CompareAssessments", { before: this.before, after: this.after }),
      ]);
      if (sequence !== this.sequence) return;
      this.afterRoadmap = roadmap;
      this.result.replaceChildren(...this.changes(roadmap, comparison));
    } catch (error) {
      if (sequence !== this.sequence) return;
      const problems = (error.violations || []).map((v) => h("li", { text: `${v.field}: ${v.description}` }));
      this.result.replaceChildren(h("p.violation", { role: "alert", text: error.message }), h("ul", {}, problems));
    } finally {
      if (sequence === this.sequence) this.result.removeAttribute("aria-busy");
    }
  }

  changes(roadmap, comparison) {
    const before = summaryOf(this.beforeRoadmap);
    const after = summaryOf(roadmap);
    const delta = (label, x, y, format = (v) => v) =>
      h("li", { class: x === y ? "same" : "changed" }, `${label}: ${format(x)} → ${format(y)}`);
    const levels = (comparison.levels || []).filter((l) => (l.before || 0) !== (l.after || 0) || (l.progressBefore || 0) !== (l.progressAfter || 0));
    const list = (title, items, id) =>
      h("div", { id }, h("h3", { text: title }), items.length ? h("ul", {}, items.map((item) => h("li", { text: item }))) : h("p.meta", { text: "none" }));
    return [
      h(
        "section.card",
        { "aria-labelledby": "w-changes" },
        h("h2", { id: "w-changes", text: "What changed (CompareAssessments)" }),
        h(
          "ul.deltas",
          {},
          delta("steps", before.steps, after.steps),
          delta("quarters", before.quarters, after.quarters),
          delta("effort points", before.effort, after.effort),
          delta("net first-year savings", before.net, after.net, money),
          delta("warnings", before.warnings, after.warnings),
        ),
        h(
          "div.grid",
          {},
          list("Levels", levels.map((l) => `${l.model}: level ${l.before || 0} → ${l.after || 0} (progress ${Math.round((l.progressBefore || 0) * 100)}% → ${Math.round((l.progressAfter || 0) * 100)}%)`), "w-levels"),
          list("Steps completed", comparison.stepsCompleted || [], "w-completed"),
          list("Steps added", comparison.stepsAdded || [], "w-added"),
          list("Warnings resolved", (comparison.warningsResolved || []).map((w) => w.code), "w-resolved"),
          list("New warnings", (comparison.warningsNew || []).map((w) => w.code), "w-new"),
        ),
      ),
      this.order(roadmap),
    ];
  }

  order(roadmap) {
    // Places among the steps both roadmaps have: a step added or gone moves no other.
    const allBefore = (this.beforeRoadmap.steps || []).map((s) => s.practiceId);
    const afterSteps = roadmap.steps || [];
    const afterIds = afterSteps.map((s) => s.practiceId);
    const beforeIds = allBefore.filter((id) => afterIds.includes(id));
    const common = afterIds.filter((id) => allBefore.includes(id));
    let moved = 0;
    const rows = afterSteps.map((step) => {
      const was = beforeIds.indexOf(step.practiceId);
      const index = common.indexOf(step.practiceId);
      let mark = "";
      let kind = "same";
      if (was < 0) {
        mark = "new";
        kind = "new";
      } else if (was !== index) {
        mark = was > index ? `↑ ${was - index}` : `↓ ${index - was}`;
        kind = was > index ? "up" : "down";
        moved += 1;
      }
      return h(
        "li",
        { class: `order-${kind}` },
        h("span.mark", { text: mark, "aria-label": mark ? (kind === "new" ? "new step" : `moved ${kind} ${mark.slice(2)}`) : "same place" }),
        ` ${step.title || step.practiceId} `,
        h("span.meta", { text: step.quarter ? `Q${step.quarter}` : "beyond" }),
      );
    });
    const gone = allBefore.filter((id) => !afterIds.includes(id));
    return h(
      "section.card",
      { "aria-labelledby": "w-order" },
      h("h2", { id: "w-order", text: "The order of the steps" }),
      h("p", { id: "order-summary", text: moved ? `The order changed: ${moved} step(s) moved.` : "The order of the remaining steps did not change." }),
      h("ol.order", { id: "order-after" }, rows),
      gone.length ? h("p.meta", { text: `No longer in the roadmap: ${gone.join(", ")}` }) : null,
    );
  }

  keep() {
    if (this.afterRoadmap) this.onKeep(clone(this.after), this.afterRoadmap);
  }
}
