// The demo page: loads the operations and the task list, then builds the three panels.
import { announce, clear, el } from "./dom.js";
import { keyField } from "./auth.js";
import { query } from "./graphql.js";
import { chatPanel } from "./chat.js";
import { operationsPanel } from "./ops.js";
import { taskPanel } from "./tasks.js";

async function start() {
  keyField();
  const operations = await (await fetch("/operations.json")).json();
  const { tasks } = await query(operations.Tasks);
  const subscriptions = Object.values(operations).filter((op) => op.kind === "subscription");
  clear(document.getElementById("tasks"),
    ...tasks.map((task) => taskPanel(task, subscriptions.find((op) => op.field === task.name))));
  chatPanel();
  operationsPanel(operations);
  document.body.setAttribute("data-ready", "");
  announce("Ready.");
}

start().catch((error) => {
  announce(`The page could not start: ${error.message}`);
  document.getElementById("tasks").append(el("p", { className: "error", role: "alert" }, error.message));
});
