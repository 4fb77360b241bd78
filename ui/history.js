// History screen: every authorization attempt (and refresh / unbind) with its outcome; CSV export via a save dialog.
import { invoke } from "./ipc.js";
import { t, errorMessage } from "./i18n.js";
import { h, clear, toast, toastError, asReport, fmtTime } from "./dom.js";

let entries = [];

export async function init() {
  document.getElementById("history-reload").addEventListener("click", reload);
  document.getElementById("history-export").addEventListener("click", exportCsv);
}

export function shown() {
  reload();
}

export async function reload() {
  try {
    entries = await invoke("history", { limit: 500 });
  } catch (e) {
    toastError(asReport(e));
  }
  render();
}

export function render() {
  const panel = clear(document.getElementById("history-panel"));
  panel.dataset.count = String(entries.length);
  if (entries.length === 0) {
    panel.append(h("div.empty", t("history.empty")));
    return;
  }
  panel.append(h("table#history-table",
    h("thead", h("tr", ["time", "device", "operation", "profile", "outcome"].map((c) => h("th", t(`history.col.${c}`))))),
    h("tbody", entries.map((e) =>
      h("tr", { dataset: { ok: e.ok ? "1" : "0" } },
        h("td", { "data-label": t("history.col.time") }, fmtTime(e.at)),
        h("td.mono", { "data-label": t("history.col.device") }, e.device_id || "—"),
        h("td", { "data-label": t("history.col.operation") }, t(`op.${e.operation}`) === `op.${e.operation}` ? e.operation : t(`op.${e.operation}`)),
        h("td", { "data-label": t("history.col.profile") }, e.profile || "—"),
        h("td", { "data-label": t("history.col.outcome") }, e.ok ? h("span.badge.ok", t("history.ok")) : [h("span.badge.bad", t("history.failed")), e.error_kind ? h("div.sub2", `${e.error_kind}${e.error_code != null ? " · " + e.error_code : ""}`) : null]))))));
}

async function exportCsv() {
  // Rust opens the native save dialog and writes the file there; the page never names a path.
  const btn = document.getElementById("history-export");
  btn.disabled = true;
  try {
    const r = await invoke("export_history_csv");
    if (r && r.path) toast(t("history.exported", { path: r.path }), "ok");
  } catch (e) {
    const report = asReport(e);
    if (report.type !== "cancelled") toastError(report);
  } finally {
    btn.disabled = false;
  }
}
