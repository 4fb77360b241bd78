// Small DOM helpers shared by the screens: element builder, toasts, modal dialogs, time formatting, error boxes.
import { t, errorMessage, locale } from "./i18n.js";

/** h("div.cls#id", {attrs, on: {click}}, ...children) — text children are set as text, never as HTML. */
export function h(spec, props, ...children) {
  if (props == null || typeof props !== "object" || props instanceof Node || Array.isArray(props)) {
    if (props !== undefined && props !== null) children.unshift(props);
    props = {};
  }
  const m = spec.match(/^([a-z0-9]+)?((?:[.#][\w-]+)*)$/i);
  const el = document.createElement((m && m[1]) || "div");
  if (m && m[2]) {
    for (const part of m[2].match(/[.#][\w-]+/g)) {
      if (part[0] === ".") el.classList.add(part.slice(1));
      else el.id = part.slice(1);
    }
  }
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "value") el.value = v;
    else if (k === "checked") el.checked = !!v;
    else if (k === "disabled") el.disabled = !!v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** A short notice in the corner. kind: "ok" | "bad" | undefined. */
export function toast(message, kind, ms = 4200) {
  const box = document.getElementById("toasts");
  const el = h("div.toast", { role: "status" }, message);
  if (kind) el.classList.add(kind);
  box.append(el);
  setTimeout(() => el.remove(), ms);
}

export function toastError(report) {
  toast(errorMessage(report), "bad", 7000);
}

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';
let modalSeq = 0;

/**
 * Opens a modal; `build(close)` returns its content. Resolves with what `close(value)` was given.
 * The dialog is labelled by its first heading, keeps Tab / Shift+Tab inside itself, closes on Escape and gives focus
 * back to whatever had it before.
 */
export function modal(build) {
  const backdrop = document.getElementById("modal-backdrop");
  const box = document.getElementById("modal");
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  return new Promise((resolve) => {
    const close = (value) => {
      backdrop.classList.add("hidden");
      clear(box);
      box.removeAttribute("aria-labelledby");
      document.removeEventListener("keydown", onKey, true);
      if (opener && opener.isConnected) opener.focus();
      resolve(value);
    };
    const onKey = (e) => {
      if (e.key === "Escape") {
        e.preventDefault();
        close(undefined);
        return;
      }
      if (e.key !== "Tab") return;
      const items = [...box.querySelectorAll(FOCUSABLE)].filter((el) => el.offsetParent !== null || el === document.activeElement);
      if (items.length === 0) {
        e.preventDefault();
        box.focus();
        return;
      }
      const first = items[0];
      const last = items[items.length - 1];
      if (!box.contains(document.activeElement)) {
        e.preventDefault();
        (e.shiftKey ? last : first).focus();
      } else if (e.shiftKey && (document.activeElement === first || document.activeElement === box)) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && document.activeElement === last) {
        e.preventDefault();
        first.focus();
      }
    };
    clear(box).append(...[build(close)].flat());
    const heading = box.querySelector("h1, h2, h3");
    if (heading) {
      if (!heading.id) heading.id = `modal-title-${++modalSeq}`;
      box.setAttribute("aria-labelledby", heading.id);
    }
    box.tabIndex = -1;
    backdrop.classList.remove("hidden");
    document.addEventListener("keydown", onKey, true);
    const first = box.querySelector("input:not([disabled]):not([readonly]), select, textarea, button.btn:not(.secondary)");
    (first || box).focus();
  });
}

/** Confirm dialog; resolves true/false. */
export function confirmDialog({ title, body, confirm, danger }) {
  return modal((close) => [
    h("h2", title),
    h("p", body),
    h("div.modal-actions",
      h("button.btn.secondary", { on: { click: () => close(false) } }, t("common.cancel")),
      h(danger ? "button.btn.danger#confirm-ok" : "button.btn#confirm-ok", { on: { click: () => close(true) } }, confirm || t("common.confirm"))),
  ]).then((v) => v === true);
}

const pad = (n) => String(n).padStart(2, "0");

/** Local date-time, e.g. 2026-11-23 20:15. */
export function fmtTime(iso) {
  if (!iso) return t("common.never");
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** "in 29 days" / "29 天后" style relative time for expiries. */
export function fmtRelative(iso) {
  if (!iso) return "";
  const ms = new Date(iso).getTime() - Date.now();
  const abs = Math.abs(ms);
  const units = [["day", 86400e3], ["hour", 3600e3], ["minute", 60e3]];
  let text = "";
  for (const [unit, size] of units) {
    if (abs >= size || unit === "minute") {
      const n = Math.max(1, Math.round(abs / size));
      text = new Intl.RelativeTimeFormat(locale() === "en" ? "en" : "zh-CN", { numeric: "always" }).format(ms < 0 ? -n : n, unit);
      break;
    }
  }
  return text;
}

/** The standard error box: message in the active locale, the other language below, code and the action button. */
export function errorBox(report, onAction) {
  const primary = errorMessage(report);
  const alt = locale() === "en" ? report.message_zh : report.message_en;
  const action = report.action && report.action !== "none" ? report.action : null;
  return h("div.error-box", { "data-error-type": report.type, "data-action": action || "none" },
    h("p.msg", primary),
    alt ? h("p.msg-alt", alt) : null,
    report.code != null ? h("div.code", `${report.type} · ${report.code}`) : h("div.code", report.type),
    action && onAction
      ? h("div.card-actions", { style: null },
          h("button.btn.secondary.small.error-action", { dataset: { action }, on: { click: () => onAction(action) } }, t(`action.${action}`)))
      : null);
}

/** Normalises anything a command rejected with into an ErrorReport. */
export function asReport(e) {
  if (e && typeof e === "object" && "message_zh" in e) return e;
  const text = e && e.message ? e.message : String(e);
  return { type: "internal", code: null, message_zh: `程序内部错误：${text}。请重试；如果一直出现，请反馈问题。`, message_en: `Internal error: ${text}. Try again; if it keeps happening, report a bug.`, action: "report_bug", retryable: false };
}
