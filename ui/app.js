// App shell: boot, navigation between screens, language switch, settings and app-wide events.
import { invoke, listen } from "./ipc.js";
import { initLocale, setLocale, locale, t, applyStatic } from "./i18n.js";
import { store, reloadProfiles, setting, setSetting } from "./store.js";
import { h, toast, toastError, asReport, errorBox, clear } from "./dom.js";
import * as scan from "./scan.js";
import * as devices from "./devices.js";
import * as profiles from "./profiles.js";
import * as history from "./history.js";

const screens = { scan, devices, profiles, history };

// CSP violations are bugs (the policy forbids inline script/style); count them where the tests can see.
document.addEventListener("securitypolicyviolation", (e) => {
  document.body.dataset.cspViolations = String(Number(document.body.dataset.cspViolations || 0) + 1);
  console.warn("CSP violation", e.violatedDirective, e.blockedURI);
});
let active = "scan";

function show(name) {
  active = name;
  for (const s of document.querySelectorAll(".screen")) s.classList.toggle("hidden", s.dataset.screen !== name);
  for (const b of document.querySelectorAll(".nav-item")) b.classList.toggle("active", b.dataset.screen === name);
  document.body.dataset.screen = name;
  const mod = screens[name];
  if (mod && mod.shown) mod.shown();
  for (const [other, m] of Object.entries(screens)) if (other !== name && m.hidden) m.hidden();
}

function renderAll() {
  applyStatic();
  if (coreReport) showCoreStatus({ ok: false, error: coreReport, retry_in_secs: coreRetry });
  for (const b of document.querySelectorAll("#lang-seg button")) b.classList.toggle("on", b.dataset.lang === locale());
  for (const m of Object.values(screens)) if (m.render) m.render();
}

function switchLocale(next) {
  setLocale(next);
  renderAll();
}

let coreReport = null;
let coreRetry = null;
function showCoreStatus(payload) {
  const box = document.getElementById("core-status");
  const wasFailing = !!coreReport;
  coreReport = payload && payload.ok === false && payload.error ? asReport(payload.error) : null;
  coreRetry = coreReport ? payload.retry_in_secs ?? null : null;
  clear(box);
  box.classList.toggle("hidden", !coreReport);
  box.dataset.ok = coreReport ? "0" : "1";
  if (coreReport) {
    box.append(h("strong", t("core.unavailable")), errorBox(coreReport));
    if (payload.retry_in_secs != null) box.append(h("div.muted.small", t("core.retry_in", { s: payload.retry_in_secs })));
  }
  if (!coreReport && wasFailing && payload && payload.ok) {
    reloadProfiles().catch(() => {});
    devices.reload();
  }
}

async function boot() {
  try {
    store.info = await invoke("app_info");
  } catch (e) {
    store.info = { version: "?", os_locale: navigator.language, data_dir: "", frames: null };
    toastError(asReport(e));
  }
  initLocale(store.info.os_locale);
  applyStatic();
  document.getElementById("app-version").textContent = `v${store.info.version}`;
  document.getElementById("settings-version").textContent = store.info.version;
  document.getElementById("settings-data-dir").textContent = store.info.data_dir;

  for (const b of document.querySelectorAll(".nav-item")) b.addEventListener("click", () => show(b.dataset.screen));
  document.getElementById("lang-toggle").addEventListener("click", () => switchLocale(locale() === "zh" ? "en" : "zh"));
  for (const b of document.querySelectorAll("#lang-seg button")) b.addEventListener("click", () => switchLocale(b.dataset.lang));

  const auto = document.getElementById("settings-auto");
  const sound = document.getElementById("settings-sound");
  auto.checked = setting("autoAuthorize");
  sound.checked = setting("sound");
  auto.addEventListener("change", () => {
    setSetting("autoAuthorize", auto.checked);
    scan.render();
  });
  sound.addEventListener("change", () => setSetting("sound", sound.checked));

  try {
    await reloadProfiles();
  } catch (e) {
    toastError(asReport(e));
  }
  for (const m of Object.values(screens)) await m.init();
  renderAll();
  show("scan");

  // Background refresh of due devices happens in Rust; the page only hears about it.
  listen("devices-changed", (e) => {
    const p = e.payload || {};
    if (p.refreshed > 0) toast(t("devices.background_refreshed", { n: p.refreshed }), "ok");
    devices.reload();
  }).catch(() => {});

  // The core (data dir, keyring) could not open: Rust keeps retrying; the page says why until it works.
  listen("core-status", (e) => showCoreStatus(e.payload)).catch(() => {});
  // The event may have fired before this page listened: ask for the last known state once.
  invoke("core_status").then(showCoreStatus, () => {});

  // Two frames after boot the first real paint has happened; report it for the start-up measurement.
  requestAnimationFrame(() =>
    requestAnimationFrame(() => {
      document.body.dataset.ready = "1";
      invoke("first_paint", { pageMs: performance.now() }).catch(() => {});
    }));
}

boot();
