// The web app: views by URL fragment (#assessment, #roadmap, #whatif, #portfolio,
// #unit/N), the assessment being edited, and its latest roadmap.

import * as rpc from "./rpc.js";
import { Questionnaire, blank, normalised } from "./questionnaire.js";
import { renderRoadmap } from "./roadmap.js";
import { WhatIf } from "./whatif.js";
import { computePortfolio, parseJsonl, renderPortfolio } from "./portfolio.js";
import { h } from "./dom.js";

const $ = (id) => document.getElementById(id);
const state = { catalogue: null, assessment: blank(), roadmap: null, portfolio: null, sequence: 0 };
const STORE = "roadmap-engine.assessment";
const PORTFOLIO = "roadmap-engine.portfolio";

function status(text) {
  $("status").textContent = text;
}

let questionnaire;
let whatIf;
let timer = null;

function edited(assessment) {
  state.assessment = assessment;
  sessionStorage.setItem(STORE, JSON.stringify(assessment));
  clearTimeout(timer);
  $("validity").textContent = "Checking…";
  timer = setTimeout(validate, 250);
}

/** Ask for the roadmap: its field violations go next to the fields. */
async function validate() {
  const sequence = ++state.sequence;
  try {
    const roadmap = await rpc.call("GetRoadmap", { assessment: state.assessment });
    if (sequence !== state.sequence) return;
    state.roadmap = roadmap;
    questionnaire.showViolations([]);
    const steps = (roadmap.steps || []).length;
    $("validity").textContent = `Valid: a roadmap of ${steps} step(s).`;
    $("validity").className = "validity ok";
  } catch (error) {
    if (sequence !== state.sequence) return;
    state.roadmap = null;
    if (error instanceof rpc.RpcError && error.violations.length) {
      questionnaire.showViolations(error.violations);
      $("validity").textContent = `${error.violations.length} problem(s): see the marked fields.`;
    } else {
      $("validity").textContent = `The service refused: ${error.message}`;
    }
    $("validity").className = "validity bad";
  }
  return state.roadmap;
}

async function showRoadmap() {
  const roadmap = state.roadmap || (await validate());
  const root = $("roadmap");
  if (!roadmap) {
    root.replaceChildren(h("div.card", {}, h("p.violation", { text: "The assessment has problems: fix the marked fields first." }), h("a", { href: "#assessment", text: "Back to the assessment" })));
    return;
  }
  renderRoadmap(root, roadmap, state.catalogue, state.assessment);
}

async function showWhatIf() {
  const roadmap = state.roadmap || (await validate());
  if (!roadmap) {
    $("whatif").replaceChildren(h("div.card", {}, h("p.violation", { text: "The assessment has problems: fix the marked fields first." })));
    return;
  }
  whatIf.show(state.assessment, roadmap);
}

function showPortfolio() {
  if (!state.portfolio) {
    const saved = sessionStorage.getItem(PORTFOLIO);
    if (saved) state.portfolio = JSON.parse(saved);
  }
  if (state.portfolio) renderPortfolio($("portfolio"), state.portfolio, state.catalogue.models);
}

async function loadPortfolio(file) {
  const { assessments, problems } = parseJsonl(await file.text());
  $("portfolio-progress").textContent = `${assessments.length} assessment(s) read; computing…`;
  try {
    const { summary, results } = await computePortfolio(rpc, assessments, (done, total) => {
      $("portfolio-progress").textContent = `${done} of ${total} roadmaps…`;
    });
    state.portfolio = { summary, results, problems, assessments };
    try {
      sessionStorage.setItem(PORTFOLIO, JSON.stringify(state.portfolio));
    } catch {
      // too large to keep across reloads: it stays in memory
    }
    $("portfolio-progress").textContent = `${results.length} unit(s) done.`;
    showPortfolio();
  } catch (error) {
    const where = (error.violations || []).map((v) => `${v.field}: ${v.description}`).join("; ");
    $("portfolio-progress").textContent = `The service refused the portfolio: ${error.message}${where ? ` (${where})` : ""}`;
  }
}

const VIEWS = ["assessment", "roadmap", "whatif", "portfolio"];

async function route() {
  let view = (location.hash || "#assessment").slice(1);
  const unit = view.match(/^unit\/(\d+)$/);
  if (unit && state.portfolio) {
    const index = Number(unit[1]);
    questionnaire.load(state.portfolio.assessments[index]);
    state.assessment = questionnaire.assessment;
    state.roadmap = state.portfolio.results[index]?.roadmap || null;
    sessionStorage.setItem(STORE, JSON.stringify(state.assessment));
    history.replaceState(null, "", "#roadmap");
    view = "roadmap";
  }
  if (!VIEWS.includes(view)) view = "assessment";
  for (const name of VIEWS) {
    $(`view-${name}`).hidden = name !== view;
    const link = $(`nav-${name}`);
    if (name === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (view === "roadmap") await showRoadmap();
  if (view === "whatif") await showWhatIf();
  if (view === "portfolio") showPortfolio();
  document.title = `Roadmap Engine · ${view}`;
}

function save() {
  const text = `${JSON.stringify(state.assessment, null, 2)}\n`;
  const link = h("a", { href: URL.createObjectURL(new Blob([text], { type: "application/json" })), download: `${state.assessment.unit_id || "assessment"}.json` });
  document.body.append(link);
  link.click();
  link.remove();
}

async function load(file) {
  try {
    questionnaire.load(normalised(JSON.parse(await file.text())));
    edited(questionnaire.assessment);
  } catch (error) {
    $("validity").textContent = `${file.name}: not an assessment JSON file (${error.message})`;
    $("validity").className = "validity bad";
  }
}

// Printing opens every collapsed part, so that nothing is left out of the paper.
let closed = [];
window.addEventListener("beforeprint", () => {
  closed = [...document.querySelectorAll("details:not([open])")];
  for (const d of closed) d.open = true;
});
window.addEventListener("afterprint", () => {
  for (const d of closed) d.open = false;
});

async function start() {
  try {
    const [models, practices, info] = await Promise.all([rpc.call("ListModels", {}), rpc.call("ListPractices", {}), rpc.call("GetRuleBaseInfo", {})]);
    state.catalogue = { models: models.models || [], practices: practices.practices || [] };
    status(`Rule base ${info.ruleBase.version}: ${info.ruleBase.practices} practices in ${info.ruleBase.models} models`);
  } catch (error) {
    status(`The service is not answering: ${error.message}`);
    return;
  }
  questionnaire = new Questionnaire($("questionnaire"), state.catalogue, edited);
  whatIf = new WhatIf($("whatif"), state.catalogue, rpc, (assessment, roadmap) => {
    questionnaire.load(assessment);
    state.assessment = questionnaire.assessment;
    state.roadmap = roadmap;
    sessionStorage.setItem(STORE, JSON.stringify(state.assessment));
    location.hash = "#roadmap";
  });
  const saved = sessionStorage.getItem(STORE);
  questionnaire.load(saved ? JSON.parse(saved) : blank());
  state.assessment = questionnaire.assessment;
  $("load-assessment").addEventListener("change", (e) => e.target.files[0] && load(e.target.files[0]));
  $("save-assessment").addEventListener("click", save);
  $("new-assessment").addEventListener("click", () => {
    questionnaire.load(blank());
    edited(questionnaire.assessment);
  });
  $("load-portfolio").addEventListener("change", (e) => e.target.files[0] && loadPortfolio(e.target.files[0]));
  $("print").addEventListener("click", () => window.print());
  window.addEventListener("hashchange", route);
  document.body.dataset.ready = "true";
  if (saved) validate();
  await route();
}

start();
