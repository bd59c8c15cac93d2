// The operations panel: each route's breaker and drift, and the demo model's fault switch.
import { authHeaders } from "./auth.js";
import { announce, clear, el } from "./dom.js";
import { query } from "./graphql.js";
import { failure, readJson } from "./http.js";

const percent = (rate) => (rate === null || rate === undefined ? "—" : `${Math.round(rate * 100)}%`);

export function operationsPanel(operations) {
  const body = document.querySelector("#routes tbody");
  const models = operations.Models;
  async function refresh() {
    try {
      const data = await query(models);
      clear(body, ...data.models.map((route) => el("tr", { "data-route": route.route },
        el("th", { scope: "row" }, route.route),
        el("td", {}, el("span", { className: `badge ${route.breakerState}`, "data-breaker": route.breakerState }, route.breakerState)),
        el("td", {}, String(route.recentRequests)),
        el("td", {}, percent(route.validationFailureRate)),
        el("td", {}, percent(route.baselineFailureRate)),
        el("td", {}, el("span", { className: `badge ${route.drifting ? "drifting" : "ok"}`, "data-drift": route.drifting ? "DRIFTING" : "OK" },
          route.drifting ? "DRIFTING" : "OK")))));
    } catch (error) {
      clear(body, el("tr", {}, el("td", { colspan: 6, className: "error" }, `Could not load routes: ${error.message}`)));
    }
  }
  refresh();
  setInterval(refresh, 5000);
  faultSwitch(operations.FaultSwitch);
  return refresh;
}

// The switch, when the server has one (Health.faultSwitch): only routes on the demo
// provider can be told to misbehave.
async function faultSwitch(operation) {
  const container = document.getElementById("faults");
  try {
    const { health } = await query(operation);
    if (!health.faultSwitch) return;
    const state = await readJson(await fetch("/demo/faults", { headers: authHeaders() }));
    clear(container, el("h3", {}, "Demo model fault switch"),
      el("p", { className: "hint" }, "Make the offline demo model misbehave and watch retries, fallbacks and breakers."),
      ...state.routes.map((route) => faultRow(route, state.kinds)));
  } catch (error) {
    clear(container, el("p", { className: "error" }, `Could not load the fault switch: ${error.message}`));
  }
}

function faultRow(route, kinds) {
  const slug = route.route.replace(/[^a-z0-9]/gi, "-");
  const kind = el("select", { id: `fault-kind-${slug}`, "data-fault-kind": route.route },
    el("option", { value: "" }, "off"),
    kinds.map((k) => el("option", { value: k, selected: route.rate > 0 && route.kinds.length === 1 && route.kinds[0] === k }, k)));
  const rate = el("input", { type: "range", id: `fault-rate-${slug}`, min: 0, max: 100, step: 10,
    value: Math.round((route.rate || 0.5) * 100), "data-fault-rate": route.route,
    "aria-valuetext": `${Math.round((route.rate || 0.5) * 100)} percent of calls` });
  const apply = el("button", { type: "submit", "data-fault-apply": route.route }, "Apply");
  const form = el("form", {},
    el("fieldset", {}, el("legend", {}, route.route),
      el("div", { className: "fault-row" },
        el("div", {}, el("label", { for: kind.id }, "Fault"), kind),
        el("div", {}, el("label", { for: rate.id }, "Share of calls"), rate),
        apply)));
  rate.addEventListener("input", () => rate.setAttribute("aria-valuetext", `${rate.value} percent of calls`));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const on = kind.value !== "";
    const body = { route: route.route, rate: on ? Number(rate.value) / 100 : 0, kinds: on ? [kind.value] : kinds };
    try {
      const answer = await fetch("/demo/faults", {
        method: "PUT", headers: { "content-type": "application/json", ...authHeaders() },
        body: JSON.stringify(body),
      });
      if (!answer.ok) throw await failure(answer);
      announce(on ? `${route.route}: ${kind.value} on ${rate.value}% of calls.` : `${route.route}: faults off.`);
    } catch (error) {
      announce(`The fault switch failed: ${error.message}.`);
    }
  });
  return form;
}
