// Hand-over UI (issue 9): a profile's delivery settings section (Profiles page) and a device's ownership badge and
// hand-over action (Devices page). Self-contained strings (zh first, en second) so the lead can wire it in without
// touching i18n.js; every action goes through the commands in src-tauri/src/commands/delivery.rs.
//
//   import { renderDeliverySection, ownershipBadge, handOverButton, renderDeliveries } from "./delivery.js";
//   container.append(await renderDeliverySection(profile.name));
//   cell.append(ownershipBadge(device), handOverButton(device, reload));
import { invoke } from "./ipc.js";
import { locale } from "./i18n.js";
import { h, clear, toast, toastError, asReport, fmtTime, modal } from "./dom.js";

const STRINGS = {
  zh: {
    title: "交付地址",
    intro: "授权得到的令牌属于实际给打印机发单的订单系统。设置交付地址后，QuickAuth 会把令牌用签名的 Webhook 推送过去。",
    none: "未设置交付地址：本配置下的设备由 QuickAuth 保管（kept）。",
    url: "Webhook 地址（https；http 仅限本机地址）",
    ownership: "新授权设备的归属",
    "own.kept": "保管（kept）：QuickAuth 持有并刷新，不推送",
    "own.delivered": "交付（delivered）：QuickAuth 持有并刷新，每次新令牌都推送；接收方只读、不要自行刷新",
    "own.handed-over": "移交（handed-over）：推送后不再持有、不再刷新",
    secret: "签名密钥 whsec_…（只写，留空则保留已存的）",
    generate: "生成新的签名密钥",
    save: "保存交付地址",
    remove: "移除交付地址",
    saved: "交付地址已保存",
    removed: "交付地址已移除",
    enabled: "已启用",
    disabled: "已停用",
    secret_title: "新的签名密钥（只显示这一次）",
    secret_body: "请把它交给接收系统保存。关闭后无法再次查看，只能重新生成。",
    "badge.kept": "保管",
    "badge.delivered": "交付",
    "badge.handed-over": "已移交",
    handover: "移交",
    handed: "已移交，{status}",
    "status.delivered": "接收方已确认，本机令牌已删除",
    "status.pending": "等待送达（QuickAuth 不会再刷新它）",
    "status.failed": "接收方拒收，可在交付记录中重试",
    deliveries: "交付记录",
    send_now: "立即发送",
    retry: "重试",
    empty: "没有交付事件",
    "col.type": "事件",
    "col.device": "设备",
    "col.status": "状态",
    "col.attempts": "次数",
    "col.next": "下次尝试",
    "col.error": "最后错误",
  },
  en: {
    title: "Delivery destination",
    intro: "The tokens belong to the order system that sends receipts to the printer. With a destination set, QuickAuth pushes them there over a signed webhook.",
    none: "No delivery destination: devices of this profile are kept by QuickAuth.",
    url: "Webhook URL (https; plain http for loopback only)",
    ownership: "Ownership of newly authorized devices",
    "own.kept": "Kept: QuickAuth holds and refreshes, no push",
    "own.delivered": "Delivered: QuickAuth holds and refreshes, pushes every new pair; the receiver reads only and must not refresh",
    "own.handed-over": "Handed over: pushed once, then QuickAuth no longer holds or refreshes it",
    secret: "Signing secret whsec_… (write-only; blank keeps the stored one)",
    generate: "Generate a new signing secret",
    save: "Save destination",
    remove: "Remove destination",
    saved: "Delivery destination saved",
    removed: "Delivery destination removed",
    enabled: "Enabled",
    disabled: "Disabled",
    secret_title: "New signing secret (shown only once)",
    secret_body: "Give it to the receiving system. It cannot be shown again once closed; you can only generate a new one.",
    "badge.kept": "Kept",
    "badge.delivered": "Delivered",
    "badge.handed-over": "Handed over",
    handover: "Hand over",
    handed: "Handed over: {status}",
    "status.delivered": "acknowledged by the receiver; tokens deleted here",
    "status.pending": "delivery pending (QuickAuth will not refresh it again)",
    "status.failed": "refused by the receiver; retry it from the delivery log",
    deliveries: "Deliveries",
    send_now: "Send now",
    retry: "Retry",
    empty: "No delivery events",
    "col.type": "Event",
    "col.device": "Device",
    "col.status": "Status",
    "col.attempts": "Attempts",
    "col.next": "Next attempt",
    "col.error": "Last error",
  },
};

function tr(key, vars) {
  let s = (STRINGS[locale()] || STRINGS.zh)[key] ?? STRINGS.zh[key] ?? key;
  for (const [k, v] of Object.entries(vars || {})) s = s.replaceAll(`{${k}}`, String(v));
  return s;
}

const OWNERSHIPS = ["kept", "delivered", "handed-over"];

/** The Profiles page section for one profile: current destination, the form to set or remove it. */
export async function renderDeliverySection(profileName) {
  const box = h("section.delivery-section", { dataset: { profile: profileName } });
  let settings = null;
  try {
    settings = await invoke("delivery_settings", { profile: profileName });
  } catch (e) {
    toastError(asReport(e));
  }
  fill(box, profileName, settings);
  return box;
}

function fill(box, profileName, settings) {
  clear(box);
  const url = h("input.delivery-url", { type: "url", value: settings ? settings.url : "", placeholder: "https://", "aria-label": tr("url") });
  const own = h("select.delivery-ownership", { "aria-label": tr("ownership") },
    OWNERSHIPS.map((o) => h("option", { value: o, selected: (settings ? settings.default_ownership : "kept") === o ? "selected" : null }, tr(`own.${o}`))));
  const secret = h("input.delivery-secret", { type: "password", autocomplete: "off", spellcheck: "false", "aria-label": tr("secret"), placeholder: "whsec_…" });
  const generate = h("input.delivery-generate", { type: "checkbox" });
  const save = async () => {
    try {
      const saved = await invoke("set_delivery", {
        input: { profile: profileName, url: url.value.trim(), ownership: own.value, secret: secret.value || null, generate_secret: generate.checked },
      });
      secret.value = "";
      toast(tr("saved"), "ok");
      if (saved.generated_secret) await showSecretOnce(saved.generated_secret);
      fill(box, profileName, saved.settings);
    } catch (e) {
      toastError(asReport(e));
    }
  };
  const remove = async () => {
    try {
      await invoke("remove_delivery", { profile: profileName });
      toast(tr("removed"), "ok");
      fill(box, profileName, null);
    } catch (e) {
      toastError(asReport(e));
    }
  };
  box.append(
    h("h3", tr("title")),
    h("p.sub", tr("intro")),
    settings
      ? h("p.delivery-state",
          h(settings.enabled ? "span.badge.ok" : "span.badge.bad", settings.enabled ? tr("enabled") : tr("disabled")),
          " ", settings.url,
          settings.disabled_reason ? h("div.sub2", settings.disabled_reason) : null)
      : h("p.sub2", tr("none")),
    h("label", tr("url"), url),
    h("label", tr("ownership"), own),
    h("label", tr("secret"), secret),
    h("label.inline", generate, " ", tr("generate")),
    h("div.card-actions",
      h("button.btn.delivery-save", { on: { click: save } }, tr("save")),
      settings ? h("button.btn.secondary.delivery-remove", { on: { click: remove } }, tr("remove")) : null),
  );
}

/** The generated secret, once: selectable text in a modal, gone from the page when closed. */
function showSecretOnce(value) {
  return modal((close) => [
    h("h2", tr("secret_title")),
    h("p", tr("secret_body")),
    h("pre.secret-once", { tabindex: "0" }, value),
    h("div.modal-actions", h("button.btn", { on: { click: () => close(true) } }, "OK")),
  ]);
}

/** A device's ownership badge for the Devices list. */
export function ownershipBadge(device) {
  const o = device.ownership || "kept";
  const cls = o === "handed-over" ? "span.badge.accent" : o === "delivered" ? "span.badge.ok" : "span.badge";
  const title = o === "handed-over"
    ? `${device.handed_over_to || ""} ${device.handed_over_at ? fmtTime(device.handed_over_at) : ""}`.trim()
    : null;
  return h(`${cls}.ownership-badge`, { dataset: { ownership: o }, title }, tr(`badge.${o}`));
}

/** The hand-over action of a kept / delivered device. The confirmation is the native dialog opened in Rust. */
export function handOverButton(device, onDone) {
  if ((device.ownership || "kept") === "handed-over") return null;
  const ref = device.key || `${device.provider}:${device.profile}:${device.id}`;
  return h("button.btn.secondary.small.handover", {
    on: {
      click: async () => {
        try {
          const r = await invoke("handover_device", { id: ref });
          toast(tr("handed", { status: tr(`status.${r.status}`) }), r.status === "failed" ? "bad" : "ok", 7000);
          if (onDone) onDone(r);
        } catch (e) {
          const report = asReport(e);
          if (report.type !== "cancelled") toastError(report);
        }
      },
    },
  }, tr("handover"));
}

/** The delivery log (no tokens): one row per event, with "send now" and per-event retry of failed ones. */
export async function renderDeliveries(container) {
  clear(container);
  let rows = [];
  try {
    rows = await invoke("deliveries", { limit: 200 });
  } catch (e) {
    toastError(asReport(e));
  }
  const sendNow = async () => {
    try {
      await invoke("deliver_now");
    } catch (e) {
      toastError(asReport(e));
    }
    renderDeliveries(container);
  };
  const retry = (id) => async () => {
    try {
      await invoke("retry_delivery", { eventId: id });
    } catch (e) {
      toastError(asReport(e));
    }
    renderDeliveries(container);
  };
  container.append(
    h("div.card-actions", h("h3", tr("deliveries")), h("button.btn.secondary.small.deliver-now", { on: { click: sendNow } }, tr("send_now"))),
    rows.length === 0
      ? h("div.empty", tr("empty"))
      : h("table.deliveries-table",
          h("thead", h("tr", ["type", "device", "status", "attempts", "next", "error"].map((c) => h("th", tr(`col.${c}`))))),
          h("tbody", rows.map((r) => h("tr", { dataset: { eventId: r.event_id, status: r.status } },
            h("td", r.type),
            h("td", r.device),
            h("td", h(r.status === "delivered" ? "span.badge.ok" : r.status === "failed" ? "span.badge.bad" : "span.badge.warn", r.status)),
            h("td", String(r.attempts)),
            h("td", r.next_attempt_at ? fmtTime(r.next_attempt_at) : ""),
            h("td", r.last_error || "",
              r.status === "failed" ? h("button.btn.secondary.small.retry", { on: { click: retry(r.event_id) } }, tr("retry")) : null))))),
  );
}

