// Scan screen: live preview with outlined codes, image/paste/drop scanning, manual entry, the scan card with its
// qr_key countdown, authorization results, and batch mode. Secrets read from a QR stay in Rust: the page holds a scan_id.
import { invoke, Channel, listen } from "./ipc.js";
import { t, errorMessage } from "./i18n.js";
import { h, clear, toast, toastError, errorBox, asReport, fmtTime, fmtRelative, modal } from "./dom.js";
import { store, setting, setSetting, currentProfile, onProfiles } from "./store.js";

const QR_KEY_LIFETIME_S = 300;

const view = {
  // "idle" | "card" | "authorizing" | "result" | "manual" | "unparsed" | "error"
  mode: "idle",
  scan: null, // the ScanResult on the card
  outcome: null, // AuthorizeOutcome
  error: null, // ErrorReport
  unparsed: null,
  manual: { provider: "yilianyun", machine_code: "", key_kind: "qr_key", key: "", userid: "", check: null },
  printTest: null,
};
const batch = { seen: new Set(), ok: [], failed: [] };
const preview = {
  running: false, source: null, frames: 0, lastFrames: 0, url: null, clearOutline: null, sources: [], cameraError: null,
  failure: null, // the message shown when the source could not start or stopped
  state: null, // "no-camera" | "camera-denied" | null: the camera cannot be used at all, so the page offers image / manual entry
  frameChannel: null, detectionChannel: null,
  ticket: 0,
};
/** The webview camera: getUserMedia in the page, luma frames pushed to Rust, one at a time. */
const webcam = { stream: null, track: null, loop: 0, inFlight: false, seq: 0, canvas: null, ctx: null, torch: false, hiddenPause: false };
/**
 * Frames are scaled to this width in the page (the webview's drawImage does it cheaply) before their luma goes to Rust:
 * the decoder works at 640 px wide anyway (DECODE_MAX_WIDTH in src-tauri/src/camera.rs); raise both together.
 */
const WEBCAM_MAX_WIDTH = 640;
const WEBVIEW_SOURCE = "webview";
let countdownTimer = null;
let fpsTimer = null;

const $ = (id) => document.getElementById(id);

export async function init() {
  $("batch-toggle").checked = setting("batch");
  $("auto-toggle").checked = setting("autoAuthorize");
  $("batch-toggle").addEventListener("change", () => {
    setSetting("batch", $("batch-toggle").checked);
    resetBatch();
    render();
  });
  $("auto-toggle").addEventListener("change", () => {
    setSetting("autoAuthorize", $("auto-toggle").checked);
    $("settings-auto").checked = $("auto-toggle").checked;
  });
  $("preview-toggle").addEventListener("click", () => (preview.running ? stopPreview() : startPreview()));
  $("source-select").addEventListener("change", () => startPreview());
  $("scan-image-btn").addEventListener("click", scanFromDialog);
  $("manual-btn").addEventListener("click", () => {
    view.mode = "manual";
    renderPanel();
  });
  $("test-label-btn").addEventListener("click", showTestLabel);
  $("fallback-image-btn").addEventListener("click", scanFromDialog);
  $("fallback-manual-btn").addEventListener("click", () => openManual());
  $("torch-btn").addEventListener("click", toggleTorch);
  $("zoom-range").addEventListener("input", (e) => setZoom(Number(e.target.value)));
  document.addEventListener("visibilitychange", () => {
    // A backgrounded app (phone lock, other tab) sends no frames; the stream resumes with the page.
    webcam.hiddenPause = document.visibilityState === "hidden";
  });
  installDropAndPaste();
  // Files dropped on the window are read and decoded by Rust (the page never handles a path).
  listen("scan-dropped", (e) => onDropped(e.payload)).catch(() => {});
  onProfiles(() => renderPanel());
  await loadSources();
  fpsTimer = setInterval(() => {
    const fps = preview.frames - preview.lastFrames;
    preview.lastFrames = preview.frames;
    $("preview-fps").textContent = preview.running ? t("scan.fps", { fps }) : "";
    $("viewport").dataset.fps = String(fps);
  }, 1000);
}

export function shown() {
  // A camera the user refused stays off until they press Start (no prompt loop on every visit).
  if (!preview.running && preview.sources.length > 0 && preview.state !== "camera-denied") startPreview();
}

export function hidden() {
  // Batch sessions keep the camera while the user glances at another screen only if they are mid-batch.
  if (preview.running && !setting("batch")) stopPreview();
}

export function render() {
  $("auto-toggle").checked = setting("autoAuthorize");
  renderSources();
  renderBatch();
  renderPanel();
  $("preview-toggle").textContent = preview.running ? t("scan.stop") : t("scan.start");
  $("test-label-btn").classList.toggle("hidden", !store.profiles.some((p) => p.builtin));
  renderViewportMessage();
}

// ---------- preview ----------

async function loadSources() {
  const sources = [];
  try {
    const r = await invoke("preview_sources");
    sources.push(...r.sources);
    preview.cameraError = r.camera_error;
  } catch (e) {
    preview.cameraError = errorMessage(asReport(e));
  }
  // The webview camera: the only live camera on phones, a source beside the native ones on desktop.
  if (navigator.mediaDevices && typeof navigator.mediaDevices.getUserMedia === "function") {
    sources.push({ id: WEBVIEW_SOURCE, label: t("scan.source.webview"), kind: "webview" });
  }
  preview.sources = sources;
  renderSources();
  renderViewportMessage();
}

function sourceLabel(s) {
  if (s.kind === "images") return `${t("scan.source.images")} · ${s.label}`;
  if (s.kind === "webview") return t("scan.source.webview");
  return s.label;
}

function renderSources() {
  const sel = $("source-select");
  const keep = sel.value;
  clear(sel);
  if (preview.sources.length === 0) sel.append(h("option", { value: "" }, t("scan.no_source")));
  for (const s of preview.sources) sel.append(h("option", { value: s.id }, sourceLabel(s)));
  if (keep && preview.sources.some((s) => s.id === keep)) sel.value = keep;
  sel.disabled = preview.sources.length === 0;
  $("preview-toggle").disabled = preview.sources.length === 0;
}

function renderViewportMessage() {
  const msg = $("viewport-message");
  const noCamera = preview.sources.length === 0;
  if (preview.running) msg.textContent = t("scan.waiting");
  else if (noCamera) msg.textContent = t("scan.no_camera");
  else if (preview.failure) msg.textContent = preview.failure; // the typed error's own message (what + what to do)
  else msg.textContent = t("scan.stopped");
  const state = preview.running ? "running" : noCamera ? "no-camera" : preview.state || "stopped";
  $("viewport").dataset.state = state;
  // No usable camera: the way on is an image or the keyboard, offered right where the picture would be.
  $("fallback-actions").classList.toggle("hidden", !(state === "no-camera" || state === "camera-denied" || (preview.failure && !preview.running)));
}

function showLive(kind) {
  $("preview-img").classList.toggle("hidden", kind !== "img");
  $("preview-video").classList.toggle("hidden", kind !== "video");
  $("viewport-empty").classList.toggle("hidden", !!kind);
  $("aim").classList.toggle("hidden", !kind);
  $("viewport").dataset.live = kind || "";
}

function closeChannels() {
  for (const k of ["frameChannel", "detectionChannel"]) {
    if (preview[k]) preview[k].close();
    preview[k] = null;
  }
}

async function startPreview() {
  const source = $("source-select").value;
  if (!source) return;
  // The latest request wins: a start that is overtaken (source changed meanwhile) cleans up after itself.
  const ticket = ++preview.ticket;
  await stopPreview();
  if (ticket !== preview.ticket) return;
  preview.failure = null;
  preview.state = null;
  if (source === WEBVIEW_SOURCE) {
    await startWebcam(ticket);
    render();
    return;
  }
  const img = $("preview-img");
  const frames = new Channel((buf) => {
    preview.frames += 1;
    const blob = new Blob([buf], { type: "image/jpeg" });
    const url = URL.createObjectURL(blob);
    img.onload = () => URL.revokeObjectURL(url);
    img.src = url;
    if (img.classList.contains("hidden")) showLive("img");
    $("viewport").dataset.frames = String(preview.frames);
  });
  const detections = new Channel((msg) => onDetection(msg));
  preview.frameChannel = frames;
  preview.detectionChannel = detections;
  try {
    await invoke("preview_start", { source, frames, detections });
    preview.running = true;
    preview.source = source;
  } catch (e) {
    closeChannels();
    preview.running = false;
    preview.failure = errorMessage(asReport(e));
  }
  render();
}

async function stopPreview() {
  if (!preview.running) return;
  preview.running = false;
  if (preview.source === WEBVIEW_SOURCE) stopWebcamStream();
  try {
    // Ends either kind of session: the native preview or the webview camera's decoder session.
    await invoke("preview_stop");
  } catch {
    /* already stopped */
  }
  closeChannels();
  showLive(null);
  clear($("preview-overlay"));
  render();
}

function onDetection(msg) {
  if (msg.type === "stopped") {
    preview.running = false;
    preview.failure = msg.reason ? errorMessage(msg.reason) : null;
    if (preview.source === WEBVIEW_SOURCE) stopWebcamStream();
    closeChannels();
    showLive(null);
    render();
    return;
  }
  drawOutline(msg);
  if (msg.scan) handleScan(msg.scan);
}

// ---------- webview camera ----------

/** What went wrong with getUserMedia, in the user's terms: missing, refused, or busy. */
function webcamFailure(err) {
  const name = err && err.name;
  if (name === "NotAllowedError" || name === "SecurityError") return { state: "camera-denied", message: t("scan.camera_denied") };
  if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError") return { state: "no-camera", message: t("scan.no_camera") };
  if (name === "NotReadableError" || name === "AbortError") return { state: "no-camera", message: t("scan.camera_busy") };
  return { state: "no-camera", message: t("scan.camera_failed", { detail: (err && (err.message || name)) || "?" }) };
}

async function startWebcam(ticket) {
  let stream;
  try {
    // Rear camera, as sharp as the device offers up to 1080p; `ideal` so that a front-only laptop camera still works.
    stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: { ideal: "environment" }, width: { ideal: 1920 }, height: { ideal: 1080 } },
    });
  } catch (e) {
    if (ticket !== preview.ticket) return;
    const f = webcamFailure(e);
    preview.state = f.state;
    preview.failure = f.message;
    return;
  }
  if (ticket !== preview.ticket) {
    for (const tr of stream.getTracks()) tr.stop();
    return;
  }
  const detections = new Channel((msg) => onDetection(msg));
  try {
    await invoke("webview_camera_start", { detections });
  } catch (e) {
    for (const tr of stream.getTracks()) tr.stop();
    detections.close();
    preview.failure = errorMessage(asReport(e));
    return;
  }
  preview.detectionChannel = detections;
  webcam.stream = stream;
  webcam.track = stream.getVideoTracks()[0] || null;
  const video = $("preview-video");
  video.srcObject = stream;
  try {
    await video.play();
  } catch {
    /* autoplay of a muted stream is allowed; a refusal still leaves frames flowing once the user taps */
  }
  if (webcam.track) {
    webcam.track.addEventListener("ended", () => {
      if (preview.source !== WEBVIEW_SOURCE || !preview.running) return;
      preview.failure = t("scan.camera_lost");
      stopPreview();
    });
  }
  preview.running = true;
  preview.source = WEBVIEW_SOURCE;
  showLive("video");
  setupCameraControls();
  const loop = ++webcam.loop;
  pumpFrames(loop);
}

function stopWebcamStream() {
  webcam.loop += 1; // ends the pump
  if (webcam.stream) for (const tr of webcam.stream.getTracks()) tr.stop();
  webcam.stream = null;
  webcam.track = null;
  webcam.torch = false;
  const video = $("preview-video");
  video.pause();
  video.srcObject = null;
  $("camera-controls").classList.add("hidden");
}

/** Draws the current video frame, converts it to 8-bit luma and hands it to Rust; one frame in flight at a time. */
async function pumpFrames(loop) {
  const video = $("preview-video");
  const nextTick = () => new Promise((r) => (video.requestVideoFrameCallback ? video.requestVideoFrameCallback(() => r()) : requestAnimationFrame(() => r())));
  while (loop === webcam.loop) {
    if (webcam.hiddenPause || video.readyState < 2 || !video.videoWidth) {
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    const frame = grabLuma(video);
    const seq = ++webcam.seq;
    const t0 = performance.now();
    webcam.inFlight = true;
    try {
      const res = await invoke("push_camera_frame", frame.luma, {
        headers: { "x-frame-width": String(frame.width), "x-frame-height": String(frame.height), "x-frame-seq": String(seq) },
      });
      const t1 = performance.now();
      // Page -> Rust -> decoded, for the bench (scripts/bench-webview-camera.sh) and the fps readout.
      performance.measure("qa-frame-rtt", {
        start: t0, end: t1, detail: { decoded: !!(res && res.decoded), decodeMs: res && typeof res.ms === "number" ? res.ms : null, grabMs: frame.ms },
      });
      if (performance.getEntriesByName("qa-frame-rtt").length > 2000) performance.clearMeasures("qa-frame-rtt");
      // `decoded: false` = Rust was still busy with the previous frame and skipped this one.
      if (res && res.decoded) {
        preview.frames += 1;
        $("viewport").dataset.frames = String(preview.frames);
      }
    } catch (e) {
      if (loop !== webcam.loop) break;
      // Rust refused the frame or the session is gone: stop with its reason rather than loop on errors.
      preview.failure = errorMessage(asReport(e));
      stopPreview();
      break;
    } finally {
      webcam.inFlight = false;
    }
    if (loop !== webcam.loop) break;
    await nextTick();
  }
}

function grabLuma(video) {
  const t0 = performance.now();
  let w = video.videoWidth;
  let h = video.videoHeight;
  if (w > WEBCAM_MAX_WIDTH) {
    h = Math.round((h * WEBCAM_MAX_WIDTH) / w);
    w = WEBCAM_MAX_WIDTH;
  }
  if (!webcam.canvas || webcam.canvas.width !== w || webcam.canvas.height !== h) {
    webcam.canvas = document.createElement("canvas");
    webcam.canvas.width = w;
    webcam.canvas.height = h;
    webcam.ctx = webcam.canvas.getContext("2d", { willReadFrequently: true, alpha: false });
  }
  webcam.ctx.drawImage(video, 0, 0, w, h);
  const rgba = new Uint32Array(webcam.ctx.getImageData(0, 0, w, h).data.buffer);
  const luma = new Uint8Array(w * h);
  // BT.601 weights in fixed point (little-endian RGBA words); the decoder wants luma only.
  for (let i = 0; i < luma.length; i++) {
    const p = rgba[i];
    luma[i] = ((p & 0xff) * 77 + ((p >>> 8) & 0xff) * 150 + ((p >>> 16) & 0xff) * 29) >>> 8;
  }
  return { width: w, height: h, luma, ms: performance.now() - t0 };
}

function setupCameraControls() {
  const track = webcam.track;
  const caps = track && typeof track.getCapabilities === "function" ? track.getCapabilities() : {};
  const torch = !!caps.torch;
  const zoom = caps.zoom && typeof caps.zoom.max === "number" && caps.zoom.max > (caps.zoom.min || 1);
  $("torch-btn").classList.toggle("hidden", !torch);
  $("zoom-box").classList.toggle("hidden", !zoom);
  if (zoom) {
    const r = $("zoom-range");
    r.min = String(caps.zoom.min);
    r.max = String(caps.zoom.max);
    r.step = String(caps.zoom.step || 0.1);
    const settings = track.getSettings ? track.getSettings() : {};
    r.value = String(settings.zoom || caps.zoom.min);
  }
  $("camera-controls").classList.toggle("hidden", !torch && !zoom);
}

async function toggleTorch() {
  if (!webcam.track) return;
  const next = !webcam.torch;
  try {
    await webcam.track.applyConstraints({ advanced: [{ torch: next }] });
    webcam.torch = next;
    $("torch-btn").setAttribute("aria-pressed", String(next));
  } catch (e) {
    toast(t("scan.torch_failed"), "bad");
  }
}

async function setZoom(value) {
  if (!webcam.track) return;
  try {
    await webcam.track.applyConstraints({ advanced: [{ zoom: value }] });
  } catch {
    /* the slider stays where it is; the picture keeps the last zoom */
  }
}

function drawOutline(msg) {
  const svg = $("preview-overlay");
  svg.setAttribute("viewBox", `0 0 ${msg.width} ${msg.height}`);
  // The outline follows the picture: letterboxed (contain) on wide screens, cropped to fill (cover) on phones.
  const live = $("viewport").dataset.live === "img" ? $("preview-img") : $("preview-video");
  svg.setAttribute("preserveAspectRatio", getComputedStyle(live).objectFit === "cover" ? "xMidYMid slice" : "xMidYMid meet");
  clear(svg);
  for (const code of msg.codes) {
    const poly = document.createElementNS("http://www.w3.org/2000/svg", "polygon");
    poly.setAttribute("points", code.corners.map(([x, y]) => `${x},${y}`).join(" "));
    svg.append(poly);
  }
  $("viewport").dataset.outlined = String(msg.codes.length);
  clearTimeout(preview.clearOutline);
  preview.clearOutline = setTimeout(() => {
    clear(svg);
    $("viewport").dataset.outlined = "0";
  }, 450);
}

// ---------- scanning ----------

function keyOf(scan) {
  return scan.provider === "lingju" ? `lingju:${scan.userid}` : `yilianyun:${scan.machine_code}`;
}

/** A decoded label from any source (camera, image, paste, test label). */
function handleScan(scan, fromImage = false) {
  if (scan.status === "unparsed") {
    if (view.mode === "authorizing") return;
    if (!fromImage && view.mode === "unparsed" && view.unparsed?.raw === scan.raw) return;
    view.mode = "unparsed";
    view.unparsed = scan;
    renderPanel();
    return;
  }
  const batchOn = setting("batch");
  if (batchOn) {
    if (batch.seen.has(keyOf(scan))) {
      if (fromImage) toast(t("scan.duplicate", { mc: scan.machine_code || scan.userid }));
      return;
    }
    if (view.mode === "authorizing") return; // one at a time; the label stays in view and is read again
    batch.seen.add(keyOf(scan));
    showCard(scan);
    authorize();
    return;
  }
  // Single mode: a card or result for the same device stays put; a new device replaces an idle card.
  if (view.mode === "authorizing") return;
  if (!fromImage && view.scan && keyOf(view.scan) === keyOf(scan) && (view.mode === "card" || view.mode === "result")) return;
  if (!fromImage && view.mode === "manual") return;
  showCard(scan);
  if (setting("autoAuthorize")) authorize();
}

function showCard(scan) {
  view.mode = "card";
  view.scan = scan;
  view.outcome = null;
  view.error = null;
  view.printTest = null;
  renderPanel();
}

async function scanBytes(bytes) {
  try {
    const scan = await invoke("scan_image_bytes", bytes);
    handleScan(scan, true);
  } catch (e) {
    view.mode = "error";
    view.error = asReport(e);
    renderPanel();
  }
}

/** The native open dialog, opened by Rust; the page gets the decoded scan (or null when the user cancelled). */
async function scanFromDialog() {
  let scan;
  try {
    scan = await invoke("scan_image_pick");
  } catch (e) {
    const report = asReport(e);
    if (report.type === "cancelled") return;
    view.mode = "error";
    view.error = report;
    renderPanel();
    return;
  }
  if (scan) handleScan(scan, true);
}

/** A file dropped on the window, decoded by Rust: a ScanView, or the ErrorReport of why it could not be read. */
function onDropped(payload) {
  if (!payload) return;
  if (payload.status) {
    handleScan(payload, true);
  } else {
    view.mode = "error";
    view.error = asReport(payload);
    renderPanel();
  }
}

function installDropAndPaste() {
  const vp = $("viewport");
  const hint = $("drop-hint");
  const main = document.querySelector("#screen-scan");
  main.addEventListener("dragover", (e) => {
    e.preventDefault();
    hint.classList.remove("hidden");
  });
  main.addEventListener("dragleave", (e) => {
    if (!main.contains(e.relatedTarget)) hint.classList.add("hidden");
  });
  main.addEventListener("drop", async (e) => {
    e.preventDefault();
    hint.classList.add("hidden");
    const file = [...(e.dataTransfer?.files || [])].find((f) => f.type.startsWith("image/"));
    if (file) await scanBytes(new Uint8Array(await file.arrayBuffer()));
  });
  document.addEventListener("paste", async (e) => {
    if (document.body.dataset.screen !== "scan") return;
    const item = [...(e.clipboardData?.items || [])].find((i) => i.type.startsWith("image/"));
    if (!item) return;
    e.preventDefault();
    const file = item.getAsFile();
    if (file) await scanBytes(new Uint8Array(await file.arrayBuffer()));
  });
  vp.addEventListener("dblclick", () => scanFromDialog());
}

async function showTestLabel() {
  let label;
  try {
    label = await invoke("sandbox_test_label", { kind: "qr_key" });
  } catch (e) {
    toastError(asReport(e));
    return;
  }
  const src = `data:image/png;base64,${label.png_base64}`;
  modal((close) => [
    h("h2", t("scan.test_label_title"), " ", h("span.badge.sandbox", t("card.sandbox_badge"))),
    h("p.muted", t("scan.test_label_body")),
    h("img.label-img#test-label-img", { src, alt: label.machine_code }),
    h("p.mc.right", label.machine_code),
    h("div.modal-actions",
      h("button.btn.secondary", { on: { click: () => close() } }, t("common.close")),
      h("button.btn#scan-test-label", {
        on: {
          click: async () => {
            close();
            const bin = atob(label.png_base64);
            const bytes = new Uint8Array(bin.length);
            for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
            await scanBytes(bytes);
          },
        },
      }, t("scan.scan_this"))),
  ]);
}

// ---------- authorize ----------

async function authorize() {
  const scan = view.scan;
  if (!scan) return;
  const profile = currentProfile(scan.provider);
  view.mode = "authorizing";
  renderPanel();
  try {
    const outcome = await invoke("authorize_scan", { scanId: scan.scan_id, profile });
    onAuthorized(outcome, scan);
  } catch (e) {
    onFailed(asReport(e), scan);
  }
}

function onAuthorized(outcome, scan) {
  view.mode = "result";
  view.outcome = outcome;
  view.error = null;
  if (setting("batch")) {
    batch.ok.push(scan.machine_code || scan.userid);
    renderBatch();
  }
  celebrate();
  renderPanel();
}

function onFailed(report, scan) {
  view.mode = "result";
  view.outcome = null;
  view.error = report;
  if (setting("batch") && scan) {
    batch.failed.push(scan.machine_code || scan.userid);
    // A failed printer may be retried by showing it again.
    batch.seen.delete(keyOf(scan));
    renderBatch();
  }
  renderPanel();
}

function celebrate() {
  const flash = $("flash");
  flash.classList.add("on");
  clearTimeout(celebrate.timer);
  celebrate.timer = setTimeout(() => flash.classList.remove("on"), 160);
  document.body.dataset.successes = String(Number(document.body.dataset.successes || 0) + 1);
  if (setting("sound")) beep();
}

let audio = null;
function beep() {
  try {
    audio = audio || new AudioContext();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = "sine";
    osc.frequency.setValueAtTime(880, audio.currentTime);
    osc.frequency.setValueAtTime(1320, audio.currentTime + 0.08);
    gain.gain.setValueAtTime(0.0001, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.25, audio.currentTime + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.22);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.25);
  } catch {
    /* no audio device (CI): the flash still confirms */
  }
}

function resetBatch() {
  batch.seen.clear();
  batch.ok = [];
  batch.failed = [];
  renderBatch();
}

function renderBatch() {
  const on = setting("batch");
  $("batch-bar").classList.toggle("hidden", !on);
  $("batch-count").textContent = String(batch.ok.length);
  $("batch-label").textContent = t("scan.batch_count", { n: batch.ok.length });
  const list = clear($("batch-list"));
  for (const mc of batch.ok) list.append(h("li", mc));
  for (const mc of batch.failed) list.append(h("li.bad", mc));
  $("batch-bar").dataset.count = String(batch.ok.length);
}

// ---------- panel ----------

function profileSelect(provider) {
  const options = store.profiles.filter((p) => p.provider === provider);
  const sel = h("select#card-profile", {
    on: { change: () => setSetting("profile", sel.value) },
  }, options.map((p) => h("option", { value: p.name }, p.builtin ? `${p.name} · ${t("card.sandbox_badge")}` : p.name)));
  const cur = currentProfile(provider);
  if (cur) sel.value = cur;
  return sel;
}

function countdown(scan) {
  if (scan.key_kind !== "qr_key") return null;
  const expires = new Date(scan.key_expires_at).getTime();
  const fill = h("div.countdown-fill");
  const time = h("span.countdown-time#countdown-time");
  const box = h("div.countdown#countdown", h("span.muted", t("card.countdown")), h("div.countdown-bar", fill), time);
  const tick = () => {
    const left = Math.max(0, Math.round((expires - Date.now()) / 1000));
    time.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
    fill.style.width = `${(left / QR_KEY_LIFETIME_S) * 100}%`;
    box.classList.toggle("low", left <= 60 && left > 0);
    box.classList.toggle("gone", left === 0);
    box.dataset.left = String(left);
    const btn = document.getElementById("authorize-btn");
    if (left === 0 && btn) {
      btn.disabled = true;
      const note = document.getElementById("expired-note");
      if (note) note.classList.remove("hidden");
    }
    if (left === 0) clearInterval(countdownTimer);
  };
  clearInterval(countdownTimer);
  countdownTimer = setInterval(tick, 1000);
  tick();
  return box;
}

function scanFacts(scan) {
  const kind = scan.provider === "lingju" ? t("card.kind.lingju") : t(`card.kind.${scan.key_kind}`);
  return h("dl.kv",
    h("dt", scan.provider === "lingju" ? t("card.userid") : t("card.machine_code")),
    h("dd.mc#card-machine-code", scan.machine_code || scan.userid),
    h("dt", t("card.credential")),
    h("dd#card-kind", { dataset: { kind: scan.key_kind || "lingju" } }, kind));
}

function renderPanel() {
  const panel = clear($("result-panel"));
  panel.dataset.mode = view.mode;
  // On phones the panel is a bottom sheet: open for a card or a result, a slim peek while waiting.
  document.body.dataset.sheet = view.mode === "idle" ? "peek" : "open";
  if (view.mode !== "card" && view.mode !== "authorizing") clearInterval(countdownTimer);
  switch (view.mode) {
    case "idle":
      panel.append(h("div.idle", h("img.ring-ico", { src: "icons/scan.svg", alt: "" }), h("div", t("scan.waiting")), h("div.small", t("scan.drop_hint"))));
      break;
    case "card":
    case "authorizing": {
      const scan = view.scan;
      const busy = view.mode === "authorizing";
      panel.append(
        h("h2.card-title", scan.provider === "lingju" ? t("card.kind.lingju") : t("result.printer")),
        scanFacts(scan),
        countdown(scan),
        h("p.field-msg.bad.hidden#expired-note", t("card.expired")),
        h("div.card-actions",
          h("label.field-inline", h("span", t("card.profile")), profileSelect(scan.provider)),
          h("button.btn.big#authorize-btn", { disabled: busy, on: { click: authorize } }, busy ? t("card.authorizing") : t("card.authorize")),
          h("button.btn.secondary#rescan-btn", { disabled: busy, on: { click: rescan } }, t("card.scan_again"))));
      break;
    }
    case "result":
      panel.append(view.outcome ? successView(view.outcome) : failureView(view.error));
      break;
    case "unparsed":
      panel.append(
        h("h2.card-title", t("scan.unparsed")),
        errorBox(view.unparsed.error, onAction),
        h("div.muted.small", t("scan.raw_text")),
        h("pre.raw#raw-text", view.unparsed.raw),
        h("div.card-actions", h("button.btn#unparsed-manual", { on: { click: () => openManual() } }, t("scan.manual")),
          h("button.btn.secondary#rescan-btn", { on: { click: rescan } }, t("card.scan_again"))));
      break;
    case "error":
      panel.append(h("h2.card-title", t("common.error_title")), errorBox(view.error, onAction),
        h("div.card-actions", h("button.btn.secondary#rescan-btn", { on: { click: rescan } }, t("card.scan_again"))));
      break;
    case "manual":
      panel.append(manualView());
      break;
  }
}

function statusBadge(printer) {
  if (!printer) return h("span.badge", t("status.unknown"));
  const s = printer.state;
  const cls = s === "online" ? "ok" : s === "out_of_paper" ? "warn" : s === "offline" ? "bad" : "";
  return h(`span.badge${cls ? "." + cls : ""}#printer-state`, { dataset: { state: s } }, t(`status.${s}`));
}

function successView(outcome) {
  const d = outcome.device;
  const p = outcome.printer;
  const model = p && (p.hardware || p.software) ? [p.hardware, p.software].filter(Boolean).join(" · ") : t("common.never");
  const testBtn = h("button.btn#print-test-btn", { on: { click: () => printTest(`${d.provider}:${d.id}`, testBtn) } }, t("result.print_test"));
  return h("div#result-success",
    h("div.result-banner.ok", "✓ ", t("result.success")),
    h("dl.kv",
      h("dt", d.provider === "lingju" ? t("card.userid") : t("result.printer")), h("dd.mc#result-device", d.id),
      h("dt", t("card.profile")), h("dd", d.profile),
      d.provider === "yilianyun" ? [h("dt", t("result.model")), h("dd#result-model", model)] : null,
      d.provider === "yilianyun" ? [h("dt", t("result.status")), h("dd", statusBadge(p), outcome.printer_error ? h("div.sub2", errorMessage(outcome.printer_error)) : null)] : null,
      h("dt", t("result.expires")), h("dd#result-expires", fmtTime(d.expires_at), " ", h("span.muted", fmtRelative(d.expires_at))),
      d.refresh_expires_at ? [h("dt", t("result.refresh_expires")), h("dd", fmtTime(d.refresh_expires_at))] : null),
    view.printTest ? h("p.field-msg.ok#print-test-ok", t("result.print_test_ok", { id: view.printTest })) : null,
    h("div.card-actions", d.provider === "yilianyun" ? testBtn : null, h("button.btn.secondary#rescan-btn", { on: { click: rescan } }, t("card.scan_again"))));
}

function failureView(report) {
  // When the error's own action is a re-scan, its button is the re-scan button.
  const own = report.action === "rescan";
  return h("div#result-failure",
    h("div.result-banner.bad", "✕ ", t("result.failure")),
    view.scan ? scanFacts(view.scan) : null,
    errorBox(report, onAction),
    own ? null : h("div.card-actions", h("button.btn.secondary#rescan-btn", { on: { click: rescan } }, t("card.scan_again"))));
}

async function printTest(id, btn) {
  btn.disabled = true;
  try {
    const job = await invoke("print_test", { id });
    view.printTest = job.job_id;
    renderPanel();
  } catch (e) {
    toastError(asReport(e));
    btn.disabled = false;
  }
}

function rescan() {
  view.mode = "idle";
  view.scan = null;
  view.outcome = null;
  view.error = null;
  view.printTest = null;
  renderPanel();
}

function onAction(action) {
  switch (action) {
    case "rescan":
    case "check_label":
      rescan();
      break;
    case "edit_input":
      openManual();
      break;
    case "check_secret":
    case "check_client_id":
    case "use_open_app":
      document.getElementById("nav-profiles").click();
      break;
    case "reauthorize":
    case "retry_later":
    case "check_network":
    case "check_clock":
      if (view.scan && view.scan.scan_id) authorize();
      else openManual();
      break;
    default:
      rescan();
  }
}

// ---------- manual entry ----------

function openManual() {
  view.mode = "manual";
  if (view.scan && view.scan.machine_code) view.manual.machine_code = view.scan.machine_code;
  renderPanel();
}

let checkTimer = null;
function manualView() {
  const m = view.manual;
  const msg = (id) => h(`div.field-msg#${id}`);
  const mcInput = h("input#manual-machine-code", { type: "text", inputmode: "numeric", autocomplete: "off", value: m.machine_code, spellcheck: "false" });
  const keyInput = h("input#manual-key", { type: "password", autocomplete: "off", value: m.key, spellcheck: "false" });
  const userInput = h("input#manual-userid", { type: "text", autocomplete: "off", value: m.userid, spellcheck: "false" });
  const kindSeg = h("div.seg#manual-key-kind",
    ["qr_key", "msign"].map((k) => h(`button${m.key_kind === k ? ".on" : ""}`, { type: "button", dataset: { kind: k }, on: { click: () => { m.key_kind = k; renderPanel(); } } }, k)));
  const provSeg = h("div.seg#manual-provider",
    ["yilianyun", "lingju"].map((p) => h(`button${m.provider === p ? ".on" : ""}`, { type: "button", dataset: { provider: p }, on: { click: () => { m.provider = p; renderPanel(); } } }, t(`manual.provider.${p}`))));
  const submit = h("button.btn.big#manual-submit", { type: "submit", disabled: true }, t("manual.submit"));
  const form = h("form.form#manual-form",
    h("h2.card-title", t("manual.title")),
    h("p.muted.small", t("manual.hint")),
    h("label", h("span", t("manual.provider")), provSeg),
    m.provider === "yilianyun"
      ? [h("label", h("span", t("manual.machine_code")), mcInput, msg("manual-machine-code-msg")),
         h("label", h("span", t("manual.key_kind")), kindSeg),
         h("label", h("span", t("manual.key")), keyInput, msg("manual-key-msg"))]
      : [h("label", h("span", t("manual.lingju_userid")), userInput, msg("manual-userid-msg"))],
    h("div.card-actions",
      h("label.field-inline", h("span", t("card.profile")), profileSelect(m.provider)),
      submit,
      h("button.btn.secondary", { type: "button", on: { click: rescan } }, t("common.cancel"))));
  const onInput = () => {
    m.machine_code = mcInput.value;
    m.key = keyInput.value;
    m.userid = userInput.value;
    clearTimeout(checkTimer);
    checkTimer = setTimeout(() => validateManual(form), 120);
  };
  for (const i of [mcInput, keyInput, userInput]) i.addEventListener("input", onInput);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submitManual();
  });
  setTimeout(() => validateManual(form), 0);
  return form;
}

function manualArgs() {
  const m = view.manual;
  return m.provider === "yilianyun"
    ? { provider: "yilianyun", machine_code: m.machine_code, key_kind: m.key_kind, key: m.key, userid: null }
    : { provider: "lingju", machine_code: null, key_kind: null, key: null, userid: m.userid };
}

/** Asks Rust to check the fields (the same parsers the authorization uses), then marks each field. */
async function validateManual(form) {
  let res;
  try {
    res = await invoke("check_manual", { input: manualArgs() });
  } catch (e) {
    return;
  }
  const mark = (inputId, msgId, field, value) => {
    const input = document.getElementById(inputId);
    const msgEl = document.getElementById(msgId);
    if (!input || !msgEl) return;
    const err = res.fields[field];
    const empty = !value;
    input.classList.toggle("invalid", !!err && !empty);
    input.classList.toggle("valid", !err && !empty);
    msgEl.className = `field-msg ${err && !empty ? "bad" : !empty ? "ok" : ""}`;
    msgEl.textContent = empty ? "" : err ? errorMessage(err) : t("manual.ok");
  };
  const m = view.manual;
  mark("manual-machine-code", "manual-machine-code-msg", "machine_code", m.machine_code);
  mark("manual-key", "manual-key-msg", "key", m.key);
  mark("manual-userid", "manual-userid-msg", "userid", m.userid);
  const submit = document.getElementById("manual-submit");
  if (submit) submit.disabled = !res.ok;
  form.dataset.valid = res.ok ? "1" : "0";
}

async function submitManual() {
  const m = view.manual;
  const profile = currentProfile(m.provider);
  const pseudoScan = m.provider === "yilianyun"
    ? { provider: "yilianyun", machine_code: m.machine_code.trim(), key_kind: m.key_kind }
    : { provider: "lingju", userid: m.userid.trim(), key_kind: null };
  view.scan = null;
  view.mode = "authorizing";
  const panel = $("result-panel");
  panel.dataset.mode = "authorizing";
  const btn = document.getElementById("manual-submit");
  if (btn) {
    btn.disabled = true;
    btn.textContent = t("card.authorizing");
  }
  try {
    const outcome = await invoke("authorize_manual", { input: manualArgs(), profile });
    // Done with this printer: the next manual entry starts empty (the key never lingers in the page).
    view.manual.key = "";
    view.manual.machine_code = "";
    view.manual.userid = "";
    view.scan = pseudoScan;
    onAuthorized(outcome, pseudoScan);
  } catch (e) {
    view.scan = pseudoScan;
    onFailed(asReport(e), null);
  }
}
