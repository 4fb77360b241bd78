// Shared pieces of the WebDriver suite: app sessions, label minting, the secret ledger, screenshots, waits.
// Run by scripts/webdriver-test.sh, which provides: QA_APP (app binary), QA_MINT (label minting example),
// QA_DRIVER (tauri-driver URL), QA_WORK (temp dir), QA_SHOTS (where screenshots go, optional), QA_CLI (quickauth CLI).
import { after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, mkdirSync, appendFileSync, writeFileSync, rmSync, existsSync } from "node:fs";
import { join } from "node:path";
import { Session } from "./wd.mjs";

export const APP = process.env.QA_APP;
export const MINT = process.env.QA_MINT;
export const DRIVER = process.env.QA_DRIVER || "http://127.0.0.1:4444";
export const WORK = process.env.QA_WORK;
export const SHOTS = process.env.QA_SHOTS || "";
export const LEDGER = process.env.QUICKAUTH_SECRET_LEDGER || "";
assert.ok(APP && MINT && WORK, "QA_APP, QA_MINT and QA_WORK must be set (run scripts/webdriver-test.sh)");

export const sessions = [];
after(async () => {
  for (const s of sessions) await s.quit();
});

let dirCount = 0;
/** Mints sandbox labels (PNG) into a fresh directory; returns {dir, labels:[{machine_code, kind, key, file}]}. */
export function mint(count, { msign = false } = {}) {
  // node --test runs each file in its own process: the pid keeps their label directories apart.
  const dir = join(WORK, `labels-${process.pid}-${++dirCount}`);
  const manifest = join(WORK, `labels-${process.pid}-${dirCount}.json`);
  const args = ["--out", dir, "--count", String(count), "--manifest", manifest];
  if (msign) args.push("--msign");
  execFileSync(MINT, args, { stdio: ["ignore", "ignore", "inherit"] });
  const labels = JSON.parse(readFileSync(manifest, "utf8"));
  ledger(labels.map((l) => l.key));
  return { dir, labels };
}

/** Secret values this run used, for the repository's secret-hygiene scan. */
export function ledger(values) {
  const lines = values.filter(Boolean).map((v) => `${v}\n`).join("");
  if (LEDGER) appendFileSync(LEDGER, lines);
  // The runner greps the app's own log for these after the run.
  if (process.env.QA_LEDGER) appendFileSync(process.env.QA_LEDGER, lines);
}

export function dataDir(name) {
  const d = join(WORK, `data-${name}`);
  mkdirSync(d, { recursive: true });
  return d;
}

export async function shot(s, name) {
  if (!SHOTS) return;
  // Let the compositor catch up with the last DOM change before capturing.
  await new Promise((r) => setTimeout(r, 500));
  mkdirSync(SHOTS, { recursive: true });
  await s.screenshot(join(SHOTS, `${name}.png`));
}

export async function start(args) {
  const s = await Session.start({ driver: DRIVER, application: APP, args });
  sessions.push(s);
  // Page settings (language, batch mode...) live in the webview's localStorage, shared by all sessions: start clean.
  if (await s.exec(() => localStorage.length > 0)) {
    await s.exec(() => { localStorage.clear(); location.reload(); });
    await new Promise((r) => setTimeout(r, 800));
    await s.waitFor(() => document.body && document.body.dataset.ready === "1", 60000, "first paint after reset");
  }
  return s;
}

export async function stop(s) {
  assert.equal(await s.exec(() => document.body.dataset.cspViolations || "0"), "0", "no CSP violations");
  await quit(s);
}

/** Ends the session if it is still open (after a failed assertion too, so the next test can start its own). */
export async function quit(s) {
  const i = sessions.indexOf(s);
  if (i < 0) return;
  sessions.splice(i, 1);
  await s.quit();
}

/** The card's re-scan button (or the error's own re-scan action, which takes its place). */
export const RESCAN = '#rescan-btn, .error-action[data-action="rescan"]';

/** Plays the merchant in the sandbox's approval page: GET the page, POST "approve", return the redirect target. */
export async function approveInSandbox(authorizeUrl) {
  const page = await (await fetch(authorizeUrl)).text();
  const action = new URL(page.match(/<form method="post" action="([^"]+)"/)[1].replaceAll("&amp;", "&"), authorizeUrl);
  const form = new URLSearchParams();
  for (const m of page.matchAll(/<input (?:type="hidden" )?name="([^"]+)" value="([^"]*)"/g)) {
    form.set(m[1], m[2].replaceAll("&amp;", "&").replaceAll("&quot;", '"'));
  }
  form.set("decision", "approve");
  const res = await fetch(action, { method: "POST", body: form, redirect: "manual" });
  assert.equal(res.status, 302, `approval redirects (${res.status}: ${await res.text()})`);
  return { location: res.headers.get("location"), machineCode: form.get("machine_code") };
}

export async function waitResult(s, what) {
  const r = await s.waitFor(
    () => (document.getElementById("result-success") ? "ok" : document.getElementById("result-failure") ? "fail" : null),
    60000,
    what,
  );
  if (r === "fail") {
    const msg = await s.exec(() => document.getElementById("result-failure").innerText);
    assert.fail(`${what} failed in the UI: ${msg}`);
  }
}

export async function sandboxControl(s, path, body) {
  const info = await s.invoke("sandbox_info");
  assert.ok(info.ok, `sandbox_info: ${JSON.stringify(info.err)}`);
  const res = await fetch(new URL(`__sandbox/${path}`, info.ok.base_url), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `sandbox ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}


/**
 * The tokens of a device, read with the CLI's explicit `token --reveal` on the same data dir and keyring: the page
 * cannot get them (Rust asks for a native confirmation, which the test environment always declines).
 */
export function revealWithCli(dir, ref) {
  const cli = process.env.QA_CLI;
  assert.ok(cli, "QA_CLI must point at the quickauth CLI");
  const out = execFileSync(cli, ["--data-dir", dir, "token", ref, "--reveal", "--yes", "--json"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const v = JSON.parse(out);
  ledger([v.access_token, v.refresh_token]);
  return v;
}

/** Resizes the app window (the page's viewport follows) and waits until the page sees the new width. */
export async function resize(s, width, height) {
  await s.cmd("POST", "/window/rect", { width, height });
  await s.waitFor((w) => Math.abs(window.innerWidth - w) <= 2, 10000, `viewport ${width} px wide`, width);
}

/**
 * Makes navigator.mediaDevices.getUserMedia answer with a 1280x720 canvas stream showing `pngB64` (redrawn 30 times a
 * second with a moving speck, so the stream keeps producing frames). Records the constraints the page asked for.
 */
export function injectLabelCamera(s, pngB64, { width = 1280, height = 720 } = {}) {
  return s.cmd("POST", "/execute/async", {
    script: `const done = arguments[arguments.length - 1];
      const [b64, W, H] = [arguments[0], arguments[1], arguments[2]];
      const img = new Image();
      img.onload = () => {
        const c = document.createElement("canvas"); c.width = W; c.height = H;
        const g = c.getContext("2d");
        let n = 0;
        const draw = () => {
          g.fillStyle = "#d8dcdf"; g.fillRect(0, 0, W, H);
          const s = Math.min((H * 0.8) / img.height, (W * 0.6) / img.width);
          const w = img.width * s, h = img.height * s;
          g.drawImage(img, (W - w) / 2, (H - h) / 2, w, h);
          g.fillStyle = "#556"; g.fillRect(8 + (n++ % 40), 8, 4, 4);
        };
        draw();
        window.__qaCamTimer = setInterval(draw, 33);
        window.__qaCamRequests = [];
        if (!navigator.mediaDevices) Object.defineProperty(navigator, "mediaDevices", { value: {}, configurable: true });
        // A fresh stream per request: the page stops the tracks it was given when it stops the camera. Set on the
        // prototype: an expando on navigator.mediaDevices is lost when WebKit collects that wrapper object.
        const target = window.MediaDevices ? MediaDevices.prototype : navigator.mediaDevices;
        target.getUserMedia = async (constraints) => {
          window.__qaCamRequests.push(JSON.parse(JSON.stringify(constraints)));
          return c.captureStream(30);
        };
        done(true);
      };
      img.onerror = () => done("label image did not load");
      img.src = "data:image/png;base64," + b64;`,
    args: [pngB64, width, height],
  });
}

/** Picks the webview camera in the source list and starts it, as the user would. */
export async function startWebviewCamera(s) {
  const has = await s.exec(() => !!document.querySelector('#source-select option[value="webview"]'));
  assert.ok(has, "the webview camera is offered as a source (navigator.mediaDevices.getUserMedia exists in the webview)");
  await s.exec(() => {
    const sel = document.getElementById("source-select");
    sel.value = "webview";
    sel.dispatchEvent(new Event("change"));
  });
}


/**
 * How the app's native dialogs answer (its QUICKAUTH_TEST_DIALOGS switch, set by scripts/webdriver-test.sh):
 * `{confirm: true|false, save: path|null, open: path|null}`; `null` removes the file, so every dialog is cancelled.
 */
export function answerDialogs(answers) {
  const file = process.env.QA_DIALOGS;
  assert.ok(file, "QA_DIALOGS must be set (scripts/webdriver-test.sh)");
  if (answers === null) rmSync(file, { force: true });
  else writeFileSync(file, JSON.stringify(answers));
}

/** The dialogs the app has opened so far ("confirm", "save", "open"), in order. */
export function dialogsAsked() {
  const file = `${process.env.QA_DIALOGS}.asked`;
  return existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : [];
}
