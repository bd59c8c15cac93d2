// The demo page: loads the operations, the task list and the error codes, then builds the
// three panels.
import { announce, clear, el } from "./dom.js";
import { keyField } from "./auth.js";
import { query } from "./graphql.js";
import { readJson } from "./http.js";
import { chatPanel } from "./chat.js";
import { operationsPanel } from "./ops.js";
import { errorSentences } from "./render.js";
import { taskPanel } from "./tasks.js";

async function start() {
  keyField();
  const operations = await readJson(await fetch("/operations.json"));
  const [{ tasks }, { errorCodes }] = await Promise.all([
    query(operations.Tasks), query(operations.ErrorCodes)]);
  const errorText = errorSentences(errorCodes);
  const subscriptions = Object.values(operations).filter((op) => op.kind === "subscription");
  clear(document.getElementById("tasks"),
    ...tasks.map((task) => taskPanel(task, subscriptions.find((op) => op.field === task.name), errorText)));
  chatPanel(errorText);
  operationsPanel(operations);
  document.body.setAttribute("data-ready", "");
  announce("Ready.");
}

start().catch((error) => {
  announce(`The page could not start: ${error.message}`);
  document.getElementById("tasks").append(el("p", { className: "error", role: "alert" }, error.message));
});
