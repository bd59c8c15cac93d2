// The demo page: loads the operations, the task list and the error codes, then builds the
// four panels.
import { announce, clear, el } from "./dom.js";
import { keyField } from "./auth.js";
import { query } from "./graphql.js";
import { readJson } from "./http.js";
import { chatPanel } from "./chat.js";
import { operationsPanel } from "./ops.js";
import { errorSentences } from "./render.js";
import { DOCS_TASK } from "./docs.js";
import { taskPanel } from "./tasks.js";

async function start() {
  keyField();
  const operations = await readJson(await fetch("/operations.json"));
  const [{ tasks }, { errorCodes }] = await Promise.all([
    query(operations.Tasks), query(operations.ErrorCodes)]);
  const errorText = errorSentences(errorCodes);
  const subscriptions = Object.values(operations).filter((op) => op.kind === "subscription");
  const panel = (task) => taskPanel(task, subscriptions.find((op) => op.field === task.name), errorText);
  clear(document.getElementById("tasks"), ...tasks.filter((task) => task.name !== DOCS_TASK).map(panel));
  // The question over the handbook gets a panel of its own, when the server has the task.
  const docs = tasks.find((task) => task.name === DOCS_TASK);
  if (docs) clear(document.getElementById("docs"), panel(docs));
  else document.getElementById("docs-panel").hidden = true;
  chatPanel(errorText);
  operationsPanel(operations);
  document.body.setAttribute("data-ready", "");
  announce("Ready.");
}

start().catch((error) => {
  announce(`The page could not start: ${error.message}`);
  document.getElementById("tasks").append(el("p", { className: "error", role: "alert" }, error.message));
});
