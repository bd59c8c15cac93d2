// The structured panel: one form per task, run through the task's subscription.
import { announce, clear, el, humanize } from "./dom.js";
import { subscribe } from "./graphql.js";
import { DOCS_TASK, SAMPLE_QUESTION, renderDocsAnswer } from "./docs.js";
import { renderMeta, renderValue } from "./render.js";

const SAMPLES = {
  extractActionPlan:
    "Please call Bob today about the outage. Review the Q3 budget next week. Buy milk.",
  summarizeTicket:
    "I was charged twice for my subscription this month and I can't log in to get a refund. Please fix this today!",
  briefCountry: "What currency do they use in Japan, and what is the capital?",
  [DOCS_TASK]: SAMPLE_QUESTION,
};

// Results with a view of their own, by type; any other is drawn as tables and cards.
const VIEWS = { DocsAnswerResult: renderDocsAnswer };

function inputFields(task) {
  const schema = task.inputSchema || {};
  return Object.entries(schema.properties || {}).map(([name, spec]) => ({
    name,
    kind: spec.type,
    label: spec.title || humanize(name),
    required: (schema.required || []).includes(name),
  }));
}

function readValue(field, control) {
  if (field.kind === "integer" || field.kind === "number") return Number(control.value);
  if (field.kind === "boolean") return control.checked;
  if (field.kind === "string") return control.value;
  return JSON.parse(control.value || "null");
}

// `errorText(code)` is the sentence for an error code (render.js errorSentences).
export function taskPanel(task, operation, errorText) {
  const id = `task-${task.name}`;
  const fields = inputFields(task);
  const controls = new Map();
  const form = el("form", { "aria-describedby": `${id}-desc` },
    fields.map((field) => {
      const controlId = `${id}-${field.name}`;
      const control = field.kind === "boolean"
        ? el("input", { type: "checkbox", id: controlId, name: field.name })
        : field.kind === "integer" || field.kind === "number"
          ? el("input", { type: "number", id: controlId, name: field.name, required: field.required })
          : el("textarea", { id: controlId, name: field.name, rows: 3, required: field.required });
      if (field.kind === "string" && (field.name === "text" || field.name === "question")) control.value = SAMPLES[task.name] || "";
      controls.set(field.name, control);
      return [el("label", { for: controlId }, field.label), control];
    }),
    el("div", { className: "buttons" },
      el("button", { type: "submit", "data-run": task.name }, "Run"),
      el("button", { type: "button", disabled: true, "data-stop": task.name }, "Stop")));
  const progress = el("div", { className: "progress", "aria-live": "polite", "data-progress": task.name });
  const result = el("div", { className: "result", "data-result": task.name });
  const section = el("article", { className: "task", id, "aria-labelledby": `${id}-title` },
    el("h3", { id: `${id}-title` }, task.name),
    el("p", { id: `${id}-desc`, className: "hint" }, task.description),
    form, progress, result);
  const [run, stopButton] = form.querySelectorAll("button");
  let controller = null;

  if (!operation) {
    clear(progress, el("p", { className: "error" }, "No subscription for this task in graphql/operations/."));
    run.disabled = true;
    return section;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (controller) return;
    let variables;
    try {
      variables = Object.fromEntries(fields.map((f) => [f.name, readValue(f, controls.get(f.name))]));
    } catch {
      clear(result, el("p", { className: "error", role: "alert" }, "An input is not valid JSON."));
      return;
    }
    const state = { tokens: 0, items: 0, steps: el("ol", { "aria-label": "Tool calls, retries and fallbacks" }) };
    const counter = el("p", { "data-counter": "" }, "Starting…");
    clear(progress, counter, state.steps);
    clear(result);
    run.disabled = true;
    stopButton.disabled = false;
    announce(`Running ${task.name}…`);
    controller = new AbortController();
    const { signal } = controller;
    subscribe(operation, variables, {
      signal,
      onEvent: (payload) => onEvent(payload, state, counter, result),
      onEnd: (error) => {
        run.disabled = false;
        stopButton.disabled = true;
        controller = null;
        if (signal.aborted) {
          clear(result, el("p", { className: "hint", "data-stopped": "" }, "Stopped: the run was cancelled."));
          counter.textContent = "Stopped.";
          announce(`${task.name}: stopped.`);
        } else if (error) {
          clear(result, el("p", { className: "error", role: "alert" }, `The request failed: ${error.message}`));
          announce(`${task.name}: failed.`);
        }
      },
    });
  });
  stopButton.addEventListener("click", () => controller && controller.abort());

  function onEvent(event, state, counter, resultNode) {
    switch (event.__typename) {
      case "RunStarted":
        counter.textContent = `Started on ${event.model}…`;
        break;
      case "RunProgress":
        state.tokens = event.tokens;
        state.items = event.itemsValidated;
        counter.textContent = `Attempt ${event.attempt} on ${event.model}: ${event.tokens} tokens received, ${event.itemsValidated} items validated`;
        break;
      case "RunRetrying":
        state.steps.append(el("li", { className: "retry" },
          `Retrying (attempt ${event.attempt} on ${event.model}) after ${event.reason}: ${event.message}`));
        break;
      case "RunToolCalls":
        state.steps.append(el("li", { className: "tools" },
          `Called ${event.tools.join(", ")} (attempt ${event.attempt} on ${event.model})`));
        break;
      case "RunFallingBack":
        state.steps.append(el("li", { className: "fallback" },
          `Falling back from ${event.fromModel} to ${event.toModel} (${event.reason})`));
        break;
      case "TaskError": {
        const reason = errorText(event.code);
        clear(resultNode,
          el("p", { className: "error", role: "alert", "data-error-code": event.code }, `${reason}.`),
          el("p", { className: "hint" }, event.message),
          renderMeta(event.meta));
        counter.textContent = "Finished with an error.";
        announce(`${task.name}: ${reason}.`);
        break;
      }
      default: {
        // The validated result: everything but the run metadata, then the metadata.
        const view = VIEWS[event.__typename];
        const data = Object.entries(event).filter(([key]) => key !== "__typename" && key !== "meta");
        clear(resultNode, ...(view ? view(event)
          : [...data.map(([key, value]) => renderValue(value, humanize(key))), renderMeta(event.meta)]));
        resultNode.setAttribute("data-typename", event.__typename);
        counter.textContent = "Validated.";
        announce(`${task.name}: validated result ready.`);
      }
    }
  }
  return section;
}
