// Devices screen: every authorized printer / Lingju device with expiry and status; refresh, status, test print,
// forget (local or remote) and token reveal/copy behind an explicit confirmation.
import { ownershipBadge, handOverButton } from "./delivery.js";
import { invoke } from "./ipc.js";
import { t, errorMessage } from "./i18n.js";
import { h, clear, toast, toastError, asReport, fmtTime, fmtRelative, modal } from "./dom.js";

let devices = [];
const statusCache = new Map(); // id -> PrinterView | ErrorReport
const DUE_DAYS = 5; // the core refreshes when fewer than 5 days are left

/** The unambiguous device reference the core resolves: provider:id. */
const ref = (d) => d.key;

export async function init() {
  document.getElementById("devices-reload").addEventListener("click", reload);
  document.getElementById("devices-refresh-due").addEventListener("click", refreshDue);
  await reload();
}

export function shown() {
  reload();
}

export function render() {
  const panel = clear(document.getElementById("devices-panel"));
  document.getElementById("nav-devices-count").textContent = devices.length ? String(devices.length) : "";
  panel.dataset.count = String(devices.length);
  if (devices.length === 0) {
    panel.append(h("div.empty#devices-empty", t("devices.empty")));
    return;
  }
  panel.append(h("table#devices-table",
    h("thead", h("tr", ["device", "profile", "expires", "status", "actions"].map((c) => h("th", t(`devices.col.${c}`))))),
    h("tbody", devices.map(row))));
}

export async function reload() {
  try {
    devices = await invoke("list_devices");
  } catch (e) {
    toastError(asReport(e));
  }
  render();
}

function lifeBadge(d) {
  const left = new Date(d.expires_at).getTime() - Date.now();
  if (d.needs_reauth || left <= 0) return h("span.badge.bad", t("devices.state.expired"));
  if (left < DUE_DAYS * 86400e3) return h("span.badge.warn", t("devices.state.due"));
  return h("span.badge.ok", t("devices.state.ok"));
}

function printerCell(d) {
  const s = statusCache.get(d.id);
  if (!s) return null;
  if ("message_zh" in s) return h("div.sub2", errorMessage(s));
  return h("div.sub2", t(`status.${s.state}`), s.software ? ` · ${s.software}` : "");
}

function row(d) {
  const isPrinter = d.provider === "yilianyun";
  return h("tr", { dataset: { device: d.id, provider: d.provider } },
    h("td", h("div.mc", d.id), h("div.sub2", isPrinter ? t("manual.provider.yilianyun") : t("manual.provider.lingju"))),
    h("td", { "data-label": t("devices.col.profile") }, d.profile, d.profile_builtin ? [" ", h("span.badge.sandbox", t("card.sandbox_badge"))] : null),
    h("td", { "data-label": t("devices.col.expires") }, h("span.nowrap", fmtTime(d.expires_at)), h("div.sub2", fmtRelative(d.expires_at))),
    h("td.nowrap", { "data-label": t("devices.col.status") }, lifeBadge(d), " ", ownershipBadge(d), printerCell(d),
      d.replay_pending_until ? h("div.sub2.warn-text", t("devices.replay_pending", { until: fmtTime(d.replay_pending_until) })) : null),
    h("td", h("div.row-actions",
      h("button.btn.secondary.small.act-refresh", { on: { click: (e) => refresh(d, e.target) } }, t("devices.refresh")),
      isPrinter ? h("button.btn.secondary.small.act-status", { on: { click: (e) => status(d, e.target) } }, t("devices.status")) : null,
      isPrinter ? h("button.btn.secondary.small.act-print", { on: { click: (e) => printTest(d, e.target) } }, t("devices.print_test")) : null,
      h("button.btn.secondary.small.act-reveal", { on: { click: () => reveal(d) } }, t("devices.reveal")),
      handOverButton(d, () => reload()),
      h("button.btn.danger.small.act-forget", { on: { click: () => forget(d) } }, t("devices.forget")))));
}

async function busy(btn, fn) {
  btn.disabled = true;
  try {
    await fn();
  } finally {
    btn.disabled = false;
  }
}

function refresh(d, btn) {
  return busy(btn, async () => {
    try {
      const updated = await invoke("refresh_device", { id: ref(d) });
      toast(t("devices.refreshed", { at: fmtTime(updated.expires_at) }), "ok");
      await reload();
    } catch (e) {
      toastError(asReport(e));
    }
  });
}

function status(d, btn) {
  return busy(btn, async () => {
    try {
      statusCache.set(d.id, await invoke("printer_status", { id: ref(d) }));
    } catch (e) {
      statusCache.set(d.id, asReport(e));
    }
    render();
  });
}

function printTest(d, btn) {
  return busy(btn, async () => {
    try {
      const job = await invoke("print_test", { id: ref(d) });
      toast(t("result.print_test_ok", { id: job.job_id }), "ok");
    } catch (e) {
      toastError(asReport(e));
    }
  });
}

async function refreshDue() {
  const btn = document.getElementById("devices-refresh-due");
  await busy(btn, async () => {
    try {
      const r = await invoke("refresh_due");
      toast(t("devices.refresh_due_done", { n: r.checked }), r.failed > 0 ? "bad" : "ok");
    } catch (e) {
      toastError(asReport(e));
    }
    await reload();
  });
}

async function forget(d) {
  const choice = await modal((close) => [
    h("h2", t("devices.forget_title", { id: d.id })),
    h("p", t("devices.forget_body")),
    h("div.modal-actions",
      h("button.btn.secondary", { on: { click: () => close(null) } }, t("common.cancel")),
      h("button.btn.danger#forget-local", { on: { click: () => close("local") } }, t("devices.forget_local")),
      d.provider === "yilianyun" ? h("button.btn.danger#forget-remote", { on: { click: () => close("remote") } }, t("devices.forget_remote")) : null),
  ]);
  if (!choice) return;
  try {
    await invoke("forget_device", { id: ref(d), remote: choice === "remote" });
    toast(t("devices.forgotten", { id: d.id }), "ok");
  } catch (e) {
    toastError(asReport(e));
  }
  await reload();
}

/** The user said "no" in the native confirmation: nothing happened, nothing to report. */
const cancelled = (report) => report && report.type === "cancelled";

async function reveal(d) {
  // Rust asks for confirmation in a native dialog the page cannot answer; a "no" comes back as type "cancelled".
  let tokens;
  try {
    tokens = await invoke("reveal_tokens", { id: ref(d) });
  } catch (e) {
    const report = asReport(e);
    if (!cancelled(report)) toastError(report);
    return;
  }
  const copy = (which) => async () => {
    try {
      await invoke("copy_token", { id: ref(d), which });
      toast(t("common.copied"), "ok");
    } catch (e) {
      const report = asReport(e);
      if (!cancelled(report)) toastError(report);
    }
  };
  await modal((close) => [
    h("h2", t("devices.reveal_title", { id: d.id })),
    h("p.muted.small", t("devices.reveal_note")),
    h("div.muted.small", t("devices.access_token")),
    h("div.secret-box", h("code#revealed-access", tokens.access_token), h("button.btn.secondary.small", { on: { click: copy("access") } }, t("common.copy"))),
    tokens.refresh_token
      ? [h("div.muted.small", t("devices.refresh_token")),
         h("div.secret-box", h("code#revealed-refresh", tokens.refresh_token), h("button.btn.secondary.small", { on: { click: copy("refresh") } }, t("common.copy")))]
      : null,
    h("div.modal-actions", h("button.btn#reveal-close", { on: { click: () => close() } }, t("common.close"))),
  ]);
  tokens = null;
}
