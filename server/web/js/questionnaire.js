// The questionnaire: generated from ListModels and ListPractices, it edits an assessment
// (the proto3 JSON form the CLI reads) and shows the server's field violations in place.

import { h, idOf } from "./dom.js";

export const ANSWERS = [
  ["ADOPTION_NOT_STARTED", "Not started", "nothing in place yet; the roadmap may recommend it"],
  ["ADOPTION_PARTIAL", "Partial", "under way: counts as its progress towards the next level, not as reached"],
  ["ADOPTION_ADOPTED", "Adopted", "in place and working across the unit: counts toward its level"],
  ["ADOPTION_NOT_APPLICABLE", "Not applicable", "does not apply to this unit: neither counted nor recommended"],
];

const USER_BASES = [
  ["USER_BASE_UNSPECIFIED", "Unknown or mixed", "no preference between the DevSecOps and ITSM paths"],
  ["USER_BASE_EXTERNAL_HOMOGENEOUS", "Broad, homogeneous external user base", "many customers with similar needs: a DevSecOps-first path"],
  ["USER_BASE_INTERNAL_COMPLEX", "Complex internal user base", "many internal departments with diverse needs: an ITSM-first path"],
];

export const METRICS = [
  [
    "keep_the_lights_on_share",
    "Keep-the-lights-on share of the IT budget",
    "Last fiscal year's run costs (operations, maintenance, licence renewals, support staff) divided by the total IT spend. The seed quotes 57% for a unit stuck firefighting; 57% and more, and 66% and more, change what comes first.",
  ],
  [
    "staff_turnover_rate",
    "IT staff turnover per year",
    "IT staff who left in the last 12 months divided by the average IT headcount over those months. 20% and more puts people practices earlier.",
  ],
  [
    "self_service_share",
    "Self-service share of interactions with IT",
    "Of the employees' requests to IT in a recent quarter (tickets, calls, chats, portal), the share resolved by self-service (portal, knowledge base, automated fulfilment) without an agent. Typical: 36%; high performers: 71%.",
  ],
];

const LEVELS = [["LEVEL_UNSPECIFIED", "unknown"], ["LEVEL_LOW", "low"], ["LEVEL_MEDIUM", "medium"], ["LEVEL_HIGH", "high"]];
const SOURCINGS = [
  ["SOURCING_UNSPECIFIED", "unknown"],
  ["SOURCING_IN_HOUSE", "in house"],
  ["SOURCING_OUTSOURCED", "outsourced"],
  ["SOURCING_SAAS", "SaaS / cloud"],
];
const TRISTATE = [["", "unknown"], ["true", "yes"], ["false", "no"]];

/** A blank assessment. */
export function blank() {
  return { unit_id: "", practices: [], context: { user_base: "USER_BASE_UNSPECIFIED" }, metrics: {}, targets: [], services: [] };
}

/** The assessment with keys in proto field names (files may use either spelling). */
export function normalised(value) {
  if (Array.isArray(value)) return value.map(normalised);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), normalised(item)]),
    );
  }
  return value;
}

/** The questionnaire form; `onChange(assessment)` after every edit. */
export class Questionnaire {
  constructor(root, catalogue, onChange) {
    this.root = root;
    this.catalogue = catalogue;
    this.onChange = onChange;
    this.assessment = blank();
  }

  load(assessment) {
    this.assessment = { ...blank(), ...normalised(assessment) };
    this.assessment.context = { user_base: "USER_BASE_UNSPECIFIED", ...(this.assessment.context || {}) };
    this.assessment.metrics = { ...(this.assessment.metrics || {}) };
    this.render();
  }

  changed() {
    this.onChange(this.assessment);
  }

  status(practiceId) {
    return this.assessment.practices.find((p) => p.practice_id === practiceId);
  }

  setStatus(practiceId, adoption, progress) {
    const list = this.assessment.practices;
    const index = list.findIndex((p) => p.practice_id === practiceId);
    if (adoption === "ADOPTION_NOT_STARTED") {
      if (index >= 0) list.splice(index, 1);
    } else {
      const entry = { practice_id: practiceId, adoption };
      if (adoption === "ADOPTION_PARTIAL") entry.progress = progress;
      if (index >= 0) list[index] = entry;
      else list.push(entry);
    }
    this.changed();
  }

  render() {
    const a = this.assessment;
    this.root.replaceChildren(
      h("p.violation.general", { id: "err-general", "aria-live": "polite" }),
      this.unitSection(a),
      this.contextSection(a),
      this.targetSection(a),
      this.practiceSections(),
      this.serviceSection(a),
    );
  }

  field(id, label, control, help, errorId) {
    control.id = id;
    const described = [help ? `${id}-help` : null, errorId].filter(Boolean).join(" ");
    if (described) control.setAttribute("aria-describedby", described);
    return h(
      "div.field",
      {},
      h("label", { for: id, text: label }),
      control,
      help ? h("p.help", { id: `${id}-help`, text: help }) : null,
      h("p.violation", { id: errorId, "aria-live": "polite" }),
    );
  }

  unitSection(a) {
    const number = (key, min, placeholder) =>
      h("input", {
        type: "number",
        min,
        step: 1,
        placeholder,
        value: a[key] ?? "",
        oninput: (e) => {
          if (e.target.value === "") delete a[key];
          else a[key] = Number(e.target.value);
          this.changed();
        },
      });
    return h(
      "section.card",
      { "aria-labelledby": "q-unit" },
      h("h2", { id: "q-unit", text: "Unit" }),
      h(
        "div.grid",
        {},
        this.field(
          "f-unit_id",
          "Unit id",
          h("input", {
            type: "text",
            value: a.unit_id || "",
            autocomplete: "off",
            oninput: (e) => {
              a.unit_id = e.target.value;
              this.changed();
            },
          }),
          "The name the roadmap and the portfolio use for this unit (it appears in logs: choose one that is not confidential).",
          "err-unit_id",
        ),
        this.field("f-wave_capacity", "Effort points per quarter", number("wave_capacity", 1, "8"), "How much change the unit absorbs per quarter, in the practices' effort points (1 to 5 each). Empty: 8.", "err-wave_capacity"),
        this.field("f-horizon_months", "Planning horizon (months)", number("horizon_months", 3, "36"), "How far ahead to plan (3 to 120). Empty: 36 months.", "err-horizon_months"),
      ),
    );
  }

  contextSection(a) {
    const choices = USER_BASES.map(([value, label, meaning]) =>
      h(
        "label.choice",
        {},
        h("input", {
          type: "radio",
          name: "user_base",
          value,
          checked: (a.context.user_base || "USER_BASE_UNSPECIFIED") === value,
          onchange: () => {
            a.context.user_base = value;
            this.changed();
          },
        }),
        h("span", {}, h("strong", { text: label }), h("small", { text: ` — ${meaning}` })),
      ),
    );
    const metrics = METRICS.map(([key, label, help]) => {
      const input = h("input", {
        type: "number",
        min: 0,
        max: 100,
        step: 1,
        inputmode: "decimal",
        value: a.metrics[key] === undefined ? "" : Math.round(a.metrics[key] * 1000) / 10,
        oninput: (e) => {
          if (e.target.value === "") delete a.metrics[key];
          else a.metrics[key] = Number(e.target.value) / 100;
          this.changed();
        },
      });
      return this.field(`f-metrics-${key}`, `${label} (%)`, input, `How to measure: ${help} Leave empty if unknown.`, `err-metrics-${key}`);
    });
    return h(
      "section.card",
      { "aria-labelledby": "q-context" },
      h("h2", { id: "q-context", text: "Context" }),
      h(
        "fieldset",
        { "aria-describedby": "err-user_base" },
        h("legend", { text: "Who uses the unit's products?" }),
        h("p.help", { text: "Seed 000: a broad, homogeneous external user base suits a DevSecOps-first path; a complex internal one is better served ITSM-first." }),
        choices,
        h("p.violation", { id: "err-user_base", "aria-live": "polite" }),
      ),
      h("div.grid", {}, metrics),
    );
  }

  targetSection(a) {
    const rows = this.catalogue.models.map((model) => {
      const current = a.targets.find((t) => t.model === model.id);
      const levels = model.levels || [];
      let control;
      if (levels.length) {
        control = h(
          "select",
          {
            onchange: (e) => {
              a.targets = a.targets.filter((t) => t.model !== model.id);
              if (e.target.value !== "") a.targets.push({ model: model.id, level: Number(e.target.value) });
              this.changed();
            },
          },
          h("option", { value: "", text: "the next level (default)", selected: !current }),
          levels.map((l) => h("option", { value: l.level, text: `level ${l.level}: ${l.title}`, selected: current && current.level === l.level })),
        );
      } else {
        control = h(
          "select",
          {
            onchange: (e) => {
              a.targets = a.targets.filter((t) => t.model !== model.id);
              if (e.target.value === "all") a.targets.push({ model: model.id });
              this.changed();
            },
          },
          h("option", { value: "", text: "no target (default)", selected: !current }),
          h("option", { value: "all", text: "all of it", selected: Boolean(current) }),
        );
      }
      return this.field(`f-target-${model.id}`, `${model.title}`, control, levels.length ? null : "A model without levels: a target means all of its practices.", `err-target-${model.id}`);
    });
    return h(
      "section.card",
      { "aria-labelledby": "q-targets" },
      h("h2", { id: "q-targets", text: "Targets" }),
      h("p.help", { text: "The level each model should reach. Without a target, the roadmap aims at each model's next level." }),
      h("div.grid", {}, rows),
    );
  }

  practiceSections() {
    const legend = h(
      "dl.answers-legend",
      {},
      ANSWERS.map(([, label, meaning]) => [h("dt", { text: label }), h("dd", { text: meaning })]),
    );
    const models = this.catalogue.models.map((model) => {
      const practices = this.catalogue.practices.filter((p) => p.model === model.id);
      const axes = (model.axes || []).map((axis) => {
        const inAxis = practices.filter((p) => p.axis === axis.id);
        if (!inAxis.length) return null;
        return h(
          "fieldset.axis",
          {},
          h("legend", { text: axis.title }),
          inAxis.map((p) => this.practice(p, model)),
        );
      });
      return h(
        "details.model",
        { open: true },
        h("summary", {}, h("h3", { text: model.title }), h("span.count", { text: ` ${practices.length} practices` })),
        h("p.help", { text: model.description }),
        axes,
      );
    });
    const extra = this.assessment.practices
      .map((p, index) => [p, index])
      .filter(([p]) => !this.catalogue.practices.some((c) => c.id === p.practice_id));
    return h(
      "section.card",
      { "aria-labelledby": "q-practices" },
      h("h2", { id: "q-practices", text: "Practices" }),
      h("p.help", { text: "For each practice, how far the unit has adopted it. A practice left at 'not started' is not listed in the assessment." }),
      legend,
      extra.length ? this.unknownPractices(extra) : null,
      models,
    );
  }

  unknownPractices(extra) {
    return h(
      "fieldset.unknown",
      {},
      h("legend", { text: "Practices of the loaded file that the rule base does not know" }),
      extra.map(([p]) => {
        const id = idOf("f-unknown", p.practice_id);
        return h(
          "div.field",
          {},
          h("label", { for: id, text: "Practice id" }),
          h("input", {
            id,
            type: "text",
            value: p.practice_id,
            "aria-describedby": idOf("err-practice", p.practice_id),
            onchange: (e) => {
              p.practice_id = e.target.value.trim();
              this.render();
              this.changed();
            },
          }),
          h("button", {
            type: "button",
            text: "Remove",
            "aria-label": `Remove practice ${p.practice_id}`,
            onclick: () => {
              this.assessment.practices.splice(this.assessment.practices.indexOf(p), 1);
              this.render();
              this.changed();
            },
          }),
          h("p.violation", { id: idOf("err-practice", p.practice_id), "aria-live": "polite" }),
        );
      }),
    );
  }

  practice(p, model) {
    const status = this.status(p.id);
    const adoption = status ? status.adoption : "ADOPTION_NOT_STARTED";
    const name = idOf("answer", p.id);
    const progressId = idOf("progress", p.id);
    const errorId = idOf("err-practice", p.id);
    const progress = h("input", {
      id: progressId,
      type: "number",
      min: 0,
      max: 100,
      step: 5,
      value: status && status.progress !== undefined ? Math.round(status.progress * 1000) / 10 : 50,
      disabled: adoption !== "ADOPTION_PARTIAL",
      "aria-describedby": errorId,
      oninput: (e) => this.setStatus(p.id, "ADOPTION_PARTIAL", Number(e.target.value) / 100),
    });
    const radios = ANSWERS.map(([value, label, meaning]) =>
      h(
        "label.answer",
        { title: meaning },
        h("input", {
          type: "radio",
          name,
          value,
          checked: adoption === value,
          "aria-describedby": errorId,
          onchange: () => {
            progress.disabled = value !== "ADOPTION_PARTIAL";
            this.setStatus(p.id, value, Number(progress.value) / 100);
          },
        }),
        label,
      ),
    );
    const level = p.level ? `${model.levels?.find((l) => l.level === p.level)?.title ? `level ${p.level}` : `level ${p.level}`}` : "";
    return h(
      "fieldset.practice",
      { id: idOf("practice", p.id) },
      h("legend", {}, h("span.title", { text: p.title }), " ", h("code", { text: p.id }), level ? h("span.tag", { text: level }) : null),
      h("p.description", { text: p.description }),
      p.requires?.length ? h("p.requires", { text: `Requires: ${p.requires.join(", ")}` }) : null,
      h("div.answers", {}, radios, h("label.progress", { for: progressId }, "How far, if partial (%)"), progress),
      h("p.violation", { id: errorId, "aria-live": "polite" }),
    );
  }

  serviceSection(a) {
    const columns = [
      ["id", "Id", "text"],
      ["name", "Name", "text"],
      ["annual_cost", "Annual cost", "number"],
      ["live_requirement", "Live business requirement?", TRISTATE],
      ["differentiation", "Differentiates the business", LEVELS],
      ["commodity_available", "Commodity on the market?", TRISTATE],
      ["criticality", "Criticality", LEVELS],
      ["sourcing", "Sourced today", SOURCINGS],
      ["contract_end_date", "Contract ends", "date"],
      ["transition_cost", "One-off transition cost", "number"],
    ];
    const cell = (service, index, [key, label, kind]) => {
      const id = `f-services-${index}-${key}`;
      const update = (value) => {
        if (value === "" || value === undefined) delete service[key];
        else service[key] = value;
        this.changed();
      };
      let control;
      if (Array.isArray(kind)) {
        const current = service[key] === undefined ? "" : String(service[key]);
        control = h(
          "select",
          {
            id,
            "aria-label": `${label}, service ${index + 1}`,
            onchange: (e) => {
              const v = e.target.value;
              update(kind === TRISTATE ? (v === "" ? undefined : v === "true") : v);
            },
          },
          kind.map(([value, text]) => h("option", { value, text, selected: current === value || (current === "" && value === kind[0][0]) })),
        );
      } else {
        control = h("input", {
          id,
          type: kind,
          "aria-label": `${label}, service ${index + 1}`,
          value: service[key] ?? "",
          oninput: (e) => update(kind === "number" ? (e.target.value === "" ? undefined : Number(e.target.value)) : e.target.value),
        });
      }
      control.setAttribute("aria-describedby", `err-services-${index}`);
      return h("td", {}, control);
    };
    const rows = a.services.map((service, index) =>
      h(
        "tr",
        {},
        columns.map((column) => cell(service, index, column)),
        h(
          "td",
          {},
          h("button", {
            type: "button",
            text: "Remove",
            "aria-label": `Remove service ${index + 1}`,
            onclick: () => {
              a.services.splice(index, 1);
              this.rerenderServices();
              this.changed();
            },
          }),
        ),
      ),
    );
    const problems = a.services.map((_, index) => h("p.violation", { id: `err-services-${index}`, "aria-live": "polite" }));
    this.servicesCard = h(
      "section.card",
      { "aria-labelledby": "q-services" },
      h("h2", { id: "q-services", text: "Services" }),
      h("p.help", { text: "The unit's IT service portfolio, for outsourcing and decommission decisions. A service already outsourced or bought as SaaS is re-tendered, not outsourced again; savings are reported net of the transition cost." }),
      h(
        "div.table-wrap",
        {},
        h(
          "table.services",
          {},
          h("thead", {}, h("tr", {}, columns.map(([, label]) => h("th", { scope: "col", text: label })), h("th", { scope: "col", text: "" }))),
          h("tbody", {}, rows),
        ),
      ),
      problems,
      h("button", {
        type: "button",
        id: "add-service",
        text: "Add a service",
        onclick: () => {
          a.services.push({ id: `service-${a.services.length + 1}`, name: "", annual_cost: 0 });
          this.rerenderServices();
          this.changed();
        },
      }),
    );
    return this.servicesCard;
  }

  rerenderServices() {
    const old = this.servicesCard;
    old.replaceWith(this.serviceSection(this.assessment));
  }

  /** Show the server's field violations next to their fields; false if there are none. */
  showViolations(violations) {
    for (const element of this.root.querySelectorAll(".violation")) element.textContent = "";
    for (const element of this.root.querySelectorAll("[aria-invalid]")) element.removeAttribute("aria-invalid");
    const general = [];
    for (const v of violations) {
      const slot = this.slotOf(v.field);
      const element = slot && document.getElementById(slot);
      if (!element) {
        general.push(`${v.field}: ${v.description}`);
        continue;
      }
      const within = v.field.match(/services\[\d+\]\.(\w+)$/); // a row: say which column
      let text = within ? `${within[1]}: ${v.description}` : v.description;
      if (/(progress|metrics\.\w+)$/.test(v.field)) text += " (the form sends a percentage as a fraction: 40% is 0.4)";
      element.textContent = element.textContent ? `${element.textContent}; ${text}` : text;
      for (const control of this.root.querySelectorAll(`[aria-describedby~="${slot}"]`)) control.setAttribute("aria-invalid", "true");
    }
    document.getElementById("err-general").textContent = general.join("; ");
    return violations.length > 0;
  }

  slotOf(path) {
    const field = path.replace(/^assessment\./, "");
    let match = field.match(/^practices\[(\d+)\]/);
    if (match) {
      const p = this.assessment.practices[Number(match[1])];
      return p ? idOf("err-practice", p.practice_id) : null;
    }
    match = field.match(/^targets\[(\d+)\]/);
    if (match) {
      const t = this.assessment.targets[Number(match[1])];
      return t ? `err-target-${t.model}` : null;
    }
    match = field.match(/^services\[(\d+)\]/);
    if (match) return `err-services-${match[1]}`;
    match = field.match(/^metrics\.(\w+)/);
    if (match) return `err-metrics-${match[1]}`;
    if (field.startsWith("context")) return "err-user_base";
    if (["unit_id", "wave_capacity", "horizon_months"].includes(field)) return `err-${field}`;
    return null;
  }
}
