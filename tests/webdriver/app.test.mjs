// QuickAuth in the real webview (tauri-driver + WebKitWebDriver under Xvfb, real gnome-keyring, built-in sandbox).
// Run by scripts/webdriver-test.sh, which provides: QA_APP (app binary), QA_MINT (label minting example),
// QA_DRIVER (tauri-driver URL), QA_WORK (temp dir), QA_SHOTS (where screenshots go, optional).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, existsSync, mkdirSync, appendFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Session } from "./wd.mjs";

const APP = process.env.QA_APP;
const MINT = process.env.QA_MINT;
const DRIVER = process.env.QA_DRIVER || "http://127.0.0.1:4444";
const WORK = process.env.QA_WORK;
const SHOTS = process.env.QA_SHOTS || "";
const LEDGER = process.env.QUICKAUTH_SECRET_LEDGER || "";
assert.ok(APP && MINT && WORK, "QA_APP, QA_MINT and QA_WORK must be set (run scripts/webdriver-test.sh)");

const sessions = [];
after(async () => {
  for (const s of sessions) await s.quit();
});

let dirCount = 0;
/** Mints sandbox labels (PNG) into a fresh directory; returns {dir, labels:[{machine_code, kind, key, file}]}. */
function mint(count, { msign = false } = {}) {
  const dir = join(WORK, `labels-${++dirCount}`);
  const manifest = join(WORK, `labels-${dirCount}.json`);
  const args = ["--out", dir, "--count", String(count), "--manifest", manifest];
  if (msign) args.push("--msign");
  execFileSync(MINT, args, { stdio: ["ignore", "ignore", "inherit"] });
  const labels = JSON.parse(readFileSync(manifest, "utf8"));
  ledger(labels.map((l) => l.key));
  return { dir, labels };
}

/** Secret values this run used, for the repository's secret-hygiene scan. */
function ledger(values) {
  const lines = values.filter(Boolean).map((v) => `${v}\n`).join("");
  if (LEDGER) appendFileSync(LEDGER, lines);
  // The runner greps the app's own log for these after the run.
  if (process.env.QA_LEDGER) appendFileSync(process.env.QA_LEDGER, lines);
}

function dataDir(name) {
  const d = join(WORK, `data-${name}`);
  mkdirSync(d, { recursive: true });
  return d;
}

async function shot(s, name) {
  if (!SHOTS) return;
  // Let the compositor catch up with the last DOM change before capturing.
  await new Promise((r) => setTimeout(r, 500));
  mkdirSync(SHOTS, { recursive: true });
  await s.screenshot(join(SHOTS, `${name}.png`));
}

async function start(args) {
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

async function stop(s) {
  assert.equal(await s.exec(() => document.body.dataset.cspViolations || "0"), "0", "no CSP violations");
  await s.quit();
  sessions.splice(sessions.indexOf(s), 1);
}

/** The card's re-scan button (or the error's own re-scan action, which takes its place). */
const RESCAN = '#rescan-btn, .error-action[data-action="rescan"]';

/** Plays the merchant in the sandbox's approval page: GET the page, POST "approve", return the redirect target. */
async function approveInSandbox(authorizeUrl) {
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

async function waitResult(s, what) {
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

async function sandboxControl(s, path, body) {
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

// ---------------------------------------------------------------------------------------------------------------

test("whole sandbox flow from the image frame source: live preview, card, authorize, result, device listed", async () => {
  const { dir, labels } = mint(1);
  const mc = labels[0].machine_code;
  const s = await start(["--frames", dir, "--frames-hold-ms", "1000", "--data-dir", dataDir("flow")]);

  // Chinese by default (the test environment's locale is not English).
  assert.equal(await s.exec(() => document.documentElement.lang), "zh-CN");

  // The preview streams JPEG frames over the Channel at >= 15 fps.
  await s.waitFor(() => Number(document.getElementById("viewport").dataset.frames || 0) > 5, 20000, "preview frames");
  const f0 = await s.exec(() => Number(document.getElementById("viewport").dataset.frames));
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, 3000));
  const f1 = await s.exec(() => Number(document.getElementById("viewport").dataset.frames));
  const fps = (f1 - f0) / ((Date.now() - t0) / 1000);
  console.log(`# preview: ${fps.toFixed(1)} fps over the Channel`);
  assert.ok(fps >= 15, `preview at ${fps.toFixed(1)} fps, want >= 15`);

  // The decoder finds the code, outlines it and the card shows the machine code with a live countdown.
  await s.waitFor(() => Number(document.getElementById("viewport").dataset.outlined || 0) >= 1, 20000, "code outline");
  await s.waitFor(() => document.getElementById("result-panel").dataset.mode === "card", 20000, "scan card");
  assert.equal((await s.text("#card-machine-code")).trim(), mc);
  assert.equal(await s.exec(() => document.getElementById("card-kind").dataset.kind), "qr_key");
  const left0 = await s.exec(() => Number(document.getElementById("countdown").dataset.left));
  assert.ok(left0 <= 300 && left0 >= 270, `countdown starts near 300 s, got ${left0}`);
  await new Promise((r) => setTimeout(r, 2200));
  const left1 = await s.exec(() => Number(document.getElementById("countdown").dataset.left));
  assert.ok(left1 < left0, `countdown is live (${left0} -> ${left1})`);
  await shot(s, "scan");

  await s.click("#authorize-btn");
  await waitResult(s, "authorize from the frame source");
  assert.equal((await s.text("#result-device")).trim(), mc);
  const state = await s.exec(() => document.getElementById("printer-state")?.dataset.state);
  assert.ok(["online", "offline", "out_of_paper", "unknown"].includes(state), `printer state shown: ${state}`);
  await s.click("#print-test-btn");
  await s.waitFor(() => !!document.getElementById("print-test-ok"), 20000, "test ticket confirmation");
  await shot(s, "result");

  await s.click("#nav-devices");
  await s.waitFor((m) => !!document.querySelector(`tr[data-device="${m}"]`), 20000, "device listed", mc);
  await shot(s, "devices");
  await stop(s);
});

test("batch mode: three printers, duplicates ignored, each confirmed", async () => {
  const { dir, labels } = mint(3);
  const s = await start(["--frames", dir, "--frames-hold-ms", "1300", "--data-dir", dataDir("batch")]);
  await s.exec(() => document.querySelector("label.switch:has(#batch-toggle)").click());
  await s.waitFor(() => !document.getElementById("batch-bar").classList.contains("hidden"), 5000, "batch bar");
  await s.waitFor(() => document.getElementById("batch-bar").dataset.count === "3", 90000, "three printers in batch");
  await shot(s, "batch");
  // The labels keep cycling through the frame source: another full loop must not add or re-authorize anything.
  await new Promise((r) => setTimeout(r, 5000));
  assert.equal(await s.exec(() => document.getElementById("batch-bar").dataset.count), "3");
  assert.equal(await s.exec(() => document.body.dataset.successes), "3", "one flash/sound per success");
  const devices = await s.invoke("list_devices");
  assert.deepEqual(devices.ok.map((d) => d.id).sort(), labels.map((l) => l.machine_code).sort());
  const hist = await s.invoke("history", { limit: 100 });
  const grants = hist.ok.filter((h) => h.operation === "authorize" && h.ok);
  assert.equal(grants.length, 3, `exactly three authorizations in history, got ${grants.length}`);
  await stop(s);
});

test("no camera, image scans, manual entry validation, server errors with actions, no secret reachable", async (t) => {
  const s = await start(["--data-dir", dataDir("main")]);
  const hasCamera = readdirSync("/dev").some((n) => n.startsWith("video"));

  await t.test("without a camera the page says so and offers image / manual entry", async () => {
    if (hasCamera) return;
    await s.waitFor(() => document.getElementById("viewport").dataset.state === "no-camera", 10000, "no-camera state");
    const msg = await s.text("#viewport-message");
    assert.match(msg, /摄像头/);
    await shot(s, "scan-no-camera");
  });

  await t.test("image file scan (the path the file dialog returns) and drag-and-drop of image bytes", async () => {
    const { labels } = mint(2);
    const viaPath = await s.invoke("scan_image_file", { path: labels[0].file });
    assert.ok(viaPath.ok, JSON.stringify(viaPath.err));
    assert.equal(viaPath.ok.status, "ok");
    assert.equal(viaPath.ok.machine_code, labels[0].machine_code);
    assert.equal(viaPath.ok.key_kind, "qr_key");

    // Drop the second label on the scan screen, as a user dragging a file would.
    const b64 = readFileSync(labels[1].file).toString("base64");
    await s.exec((data) => {
      const bin = atob(data);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], "label.png", { type: "image/png" }));
      document.getElementById("screen-scan").dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, b64);
    await s.waitFor((m) => document.getElementById("card-machine-code")?.textContent === m, 20000, "card from dropped image", labels[1].machine_code);
    await s.click("#authorize-btn");
    await waitResult(s, "authorize dropped label");

    // A picture without a QR code is refused with a message and a re-scan action.
    const noCode = await s.cmd("POST", "/execute/async", {
      script: `const done = arguments[arguments.length - 1];
        const c = document.createElement("canvas"); c.width = 200; c.height = 150;
        const g = c.getContext("2d"); g.fillStyle = "#fff"; g.fillRect(0, 0, 200, 150);
        c.toBlob(async (blob) => {
          const bytes = new Uint8Array(await blob.arrayBuffer());
          window.__TAURI_INTERNALS__.invoke("scan_image_bytes", bytes).then((ok) => done({ ok }), (err) => done({ err }));
        }, "image/png");`,
      args: [],
    });
    assert.equal(noCode.err?.type, "no_code_in_image", JSON.stringify(noCode));
    assert.equal(noCode.err.action, "rescan");
    const missing = await s.invoke("scan_image_file", { path: "/nonexistent/label.png" });
    assert.ok(missing.err && missing.err.message_zh && missing.err.message_en, "a missing file is a typed error");
  });

  await t.test("the sandbox test label: shown, scanned from its bytes, authorized", async () => {
    await s.click(RESCAN);
    await s.click("#test-label-btn");
    await s.waitFor(() => document.getElementById("test-label-img")?.complete, 10000, "test label image");
    const mc = await s.exec(() => document.getElementById("test-label-img").alt);
    await shot(s, "test-label");
    await s.click("#scan-test-label");
    await s.waitFor((m) => document.getElementById("card-machine-code")?.textContent === m, 20000, "card from test label", mc);
    await s.click("#authorize-btn");
    await waitResult(s, "authorize test label");
  });

  await t.test("manual entry is validated as you type", async () => {
    const { labels } = mint(1, { msign: true });
    const { machine_code, key } = labels[0];
    await s.click(RESCAN);
    await s.click("#manual-btn");
    await s.type("#manual-machine-code", "40a1");
    await s.waitFor(() => document.getElementById("manual-machine-code-msg").classList.contains("bad"), 5000, "machine code error");
    assert.equal(await s.exec(() => document.getElementById("manual-submit").disabled), true);
    await s.click('#manual-key-kind button[data-kind="msign"]');
    await s.type("#manual-key", "ab c!");
    await s.waitFor(() => document.getElementById("manual-key-msg").classList.contains("bad"), 5000, "key error");
    const keyMsg = await s.text("#manual-key-msg");
    assert.ok(!keyMsg.includes("ab c!"), "the message does not echo the key");
    await shot(s, "manual-validation");
    await s.clear("#manual-machine-code");
    await s.type("#manual-machine-code", machine_code);
    await s.clear("#manual-key");
    await s.type("#manual-key", key);
    await s.waitFor(() => !document.getElementById("manual-submit").disabled, 5000, "valid form");
    assert.ok(await s.exec(() => document.getElementById("manual-machine-code-msg").classList.contains("ok")));
    await s.click("#manual-submit");
    await waitResult(s, "manual msign authorize");
  });

  await t.test("a server failure is shown with its message and action (5xx HTML fault)", async () => {
    const { labels } = mint(1, { msign: true });
    await sandboxControl(s, "fault", { mode: "html_500", count: 50 });
    try {
      await s.click(RESCAN);
      await s.click("#manual-btn");
      assert.equal(await s.exec(() => document.getElementById("manual-machine-code").value), "", "a finished entry is not kept");
      await s.clear("#manual-machine-code");
      await s.type("#manual-machine-code", labels[0].machine_code);
      await s.click('#manual-key-kind button[data-kind="msign"]');
      await s.type("#manual-key", labels[0].key);
      await s.waitFor(() => !document.getElementById("manual-submit").disabled, 5000, "valid form");
      await s.click("#manual-submit");
      await s.waitFor(() => !!document.getElementById("result-failure"), 90000, "failure card");
    } finally {
      await sandboxControl(s, "fault", { mode: "clear" });
    }
    const box = await s.exec(() => {
      const b = document.querySelector("#result-failure .error-box");
      return { type: b.dataset.errorType, action: b.dataset.action, text: b.innerText, button: !!b.querySelector(".error-action") };
    });
    assert.notEqual(box.action, "none", `an action is offered: ${JSON.stringify(box)}`);
    assert.ok(box.button, "the action is a button");
    assert.ok(box.text.length > 10);
  });

  await t.test("an expired qr_key is refused by the server and the card offers a re-scan", async () => {
    await s.click(RESCAN);
    await s.click("#test-label-btn");
    await s.waitFor(() => document.getElementById("test-label-img")?.complete, 10000, "test label image");
    await s.click("#scan-test-label");
    await s.waitFor(() => document.getElementById("result-panel").dataset.mode === "card", 20000, "card");
    // The sandbox's virtual clock moves past the key's 300 s window.
    await sandboxControl(s, "advance", { seconds: 400 });
    await s.click("#authorize-btn");
    await s.waitFor(() => !!document.getElementById("result-failure"), 60000, "failure card");
    const box = await s.exec(() => {
      const b = document.querySelector("#result-failure .error-box");
      return { type: b.dataset.errorType, action: b.dataset.action, text: b.innerText };
    });
    assert.equal(box.action, "rescan", JSON.stringify(box));
    assert.match(box.text, /[\u4e00-\u9fff]/, "Chinese message first");
    await shot(s, "result-error");
  });

  await t.test("open-app code flow from the UI: loopback redirect, then a pasted callback URL", async () => {
    await s.click("#nav-profiles");
    await s.waitFor(() => !!document.querySelector('.profile-card[data-profile="sandbox"] .act-code-flow'), 10000, "code flow button");
    for (const via of ["loopback", "paste"]) {
      await s.click('.profile-card[data-profile="sandbox"] .act-code-flow');
      const url = await s.waitFor(() => document.getElementById("code-flow-link")?.value, 10000, "authorize URL");
      const { location, machineCode } = await approveInSandbox(url);
      assert.ok(location.startsWith("http://127.0.0.1:"), `redirects to the app's loopback listener: ${location}`);
      if (via === "loopback") {
        const res = await fetch(location);
        assert.equal(res.status, 200);
        assert.match(await res.text(), /QuickAuth/);
      } else {
        await s.type("#code-flow-url", location);
        await s.exec(() => document.querySelector("#modal form").requestSubmit());
      }
      await s.waitFor(() => !!document.querySelector("#code-flow-result .result-banner.ok"), 30000, `code flow via ${via}`);
      assert.match(await s.text("#code-flow-result"), new RegExp(machineCode));
      if (via === "paste") await shot(s, "code-flow");
      await s.exec(() => document.querySelector("#modal .modal-actions .btn.secondary:nth-of-type(2)").click());
      const devices = (await s.invoke("list_devices")).ok.map((d) => d.id);
      assert.ok(devices.includes(machineCode), `${machineCode} listed after the code flow (${via})`);
    }
  });

  await t.test("screens: profiles, history (with CSV export), settings, English", async () => {
    await s.click("#nav-profiles");
    await s.waitFor(() => !!document.querySelector('.profile-card.builtin[data-profile="sandbox"]'), 10000, "built-in sandbox profile");
    await shot(s, "profiles");
    await s.click("#nav-history");
    await s.waitFor(() => Number(document.getElementById("history-panel").dataset.count || 0) > 0, 10000, "history rows");
    await shot(s, "history");
    const csvPath = join(WORK, "history.csv");
    const exp = await s.invoke("export_history_csv", { path: csvPath });
    assert.ok(exp.ok, JSON.stringify(exp.err));
    const csv = readFileSync(csvPath, "utf8");
    assert.match(csv.split("\r\n")[0], /^time,operation,provider,device/);
    assert.ok(exp.ok.rows > 3 && csv.split("\r\n").length >= exp.ok.rows + 1);
    await s.click("#nav-settings");
    await shot(s, "settings");
    await s.click("#lang-toggle");
    assert.equal(await s.exec(() => document.documentElement.lang), "en");
    await s.click("#nav-devices");
    await s.waitFor(() => !!document.querySelector("#devices-table tbody tr"), 10000, "devices table");
    assert.match(await s.text("#screen-devices h1"), /Authorized devices/);
    await shot(s, "devices-en");
    await s.click("#lang-toggle");
  });

  await t.test("no page-reachable command yields a stored secret", async () => {
    const secrets = new Set();
    const clientSecret = `qa-client-secret-${Date.now().toString(36)}`;
    const appkey = `qaappkey${Date.now().toString(36)}`;
    const authcode = `qaauthcode${Date.now().toString(36)}`;
    ledger([clientSecret, appkey, authcode]);
    [clientSecret, appkey, authcode].forEach((v) => secrets.add(v));

    const addY = await s.invoke("save_profile", {
      input: { name: "qa-yly", provider: "yilianyun", client_id: "qa1234", region: "cn", api_version: "v2", base_url: null, secret: clientSecret },
      isNew: true,
    });
    assert.ok(addY.ok, JSON.stringify(addY.err));
    const addL = await s.invoke("save_profile", {
      input: { name: "qa-lj", provider: "lingju", endpoint: "httpapi", base_url: null, secret: appkey, authcode },
      isNew: true,
    });
    assert.ok(addL.ok, JSON.stringify(addL.err));

    // Edit a profile through its form: settings change, the blank secret field keeps the stored secret.
    await s.click("#nav-scan");
    await s.click("#nav-profiles");
    await s.waitFor(() => !!document.querySelector('.profile-card[data-profile="qa-yly"] .act-edit'), 10000, "edit button");
    await s.click('.profile-card[data-profile="qa-yly"] .act-edit');
    await s.waitFor(() => !!document.querySelector("#pf-region"), 10000, "edit form");
    assert.equal(await s.cmd("POST", "/execute/sync", { script: 'return document.querySelector("#pf-secret").value', args: [] }), "",
      "the page never gets the stored secret back");
    await s.clear("#pf-client-id");
    await s.type("#pf-client-id", "qa5678");
    await s.cmd("POST", "/execute/sync", {
      script: 'const r = document.querySelector("#pf-region"); r.value = "overseas"; const a = document.querySelector("#pf-api"); a.value = "v1";',
      args: [],
    });
    await shot(s, "profile-edit");
    await s.click("#pf-save");
    await s.waitFor(() => !document.querySelector("#profile-form"), 10000, "edit form closed");
    const edited = (await s.invoke("list_profiles")).ok.find((p) => p.name === "qa-yly");
    assert.deepEqual([edited.client_id, edited.region, edited.api_version], ["qa5678", "overseas", "v1"]);

    const devices = (await s.invoke("list_devices")).ok;
    assert.ok(devices.length >= 3, "devices from the earlier steps");
    const refused = await s.invoke("reveal_tokens", { id: `yilianyun:${devices[0].id}`, confirmed: false });
    assert.ok(refused.err, "reveal without confirmation is refused");
    for (const d of devices) {
      const r = await s.invoke("reveal_tokens", { id: `${d.provider}:${d.id}`, confirmed: true });
      assert.ok(r.ok && r.ok.access_token.length >= 8, `explicit reveal works: ${JSON.stringify(r.err)}`);
      secrets.add(r.ok.access_token);
      if (r.ok.refresh_token) secrets.add(r.ok.refresh_token);
      ledger([r.ok.access_token, r.ok.refresh_token]);
    }
    const { labels } = mint(1);
    secrets.add(labels[0].key);
    const { labels: signed } = mint(1, { msign: true });
    secrets.add(signed[0].key);
    const dev = `yilianyun:${devices[0].id}`;
    const scan = (await s.invoke("scan_image_file", { path: labels[0].file })).ok;

    const outputs = {};
    const record = (name, value) => (outputs[name] = (outputs[name] || "") + JSON.stringify(value));
    const NEW_CHANNEL = "__qa_new_channel__";
    const calls = {
      app_info: [{}],
      first_paint: [{ pageMs: 1 }],
      preview_sources: [{}],
      preview_start: [{ source: "images", frames: NEW_CHANNEL, detections: NEW_CHANNEL }],
      preview_stop: [{}],
      scan_image_file: [{ path: labels[0].file }],
      scan_image_bytes: ["__qa_bytes__"],
      check_manual: [
        { input: { provider: "yilianyun", machine_code: signed[0].machine_code, key_kind: "msign", key: signed[0].key, userid: null } },
        { input: { provider: "yilianyun", machine_code: "12x", key_kind: "qr_key", key: `${labels[0].key}!`, userid: null } },
      ],
      authorize_scan: [{ scanId: scan.scan_id, profile: "sandbox" }],
      authorize_manual: [{ input: { provider: "yilianyun", machine_code: signed[0].machine_code, key_kind: "msign", key: signed[0].key, userid: null }, profile: "sandbox" }],
      list_devices: [{}],
      printer_status: [{ id: dev }],
      print_test: [{ id: dev }],
      refresh_device: [{ id: dev }],
      refresh_due: [{}],
      forget_device: [{ id: `yilianyun:${signed[0].machine_code}`, remote: true }],
      reveal_tokens: [{ id: dev, confirmed: false }],
      copy_token: [{ id: dev, which: "access", confirmed: true }],
      list_profiles: [{}],
      save_profile: [{ input: { name: "qa-yly", provider: "yilianyun", secret: `${clientSecret}-2` }, isNew: false }],
      remove_profile: [{ name: "qa-lj" }],
      begin_code_flow: [{ profile: "sandbox" }],
      complete_code_flow: [{ flowId: "__flow__", callbackUrl: "http://127.0.0.1:1/callback?code=x&state=wrong" }],
      open_code_flow_page: [{ flowId: "__flow__" }],
      cancel_code_flow: [{ flowId: "__flow__" }],
      history: [{ limit: 1000 }],
      export_history_csv: [{ path: join(WORK, "history-secrets.csv") }],
      sandbox_info: [{}],
      sandbox_test_label: [{ kind: "msign" }],
    };
    secrets.add(`${clientSecret}-2`);
    ledger([`${clientSecret}-2`]);

    // Every command the capability grants must be exercised here.
    const cap = JSON.parse(readFileSync(new URL("../../src-tauri/capabilities/main.json", import.meta.url), "utf8"));
    const granted = cap.permissions.filter((p) => typeof p === "string" && p.startsWith("allow-")).map((p) => p.slice(6).replaceAll("-", "_"));
    assert.deepEqual(granted.filter((c) => !(c in calls)), [], "every granted command is covered");

    let flowId = null;
    const labelB64 = readFileSync(labels[0].file).toString("base64");
    for (const [cmd, argSets] of Object.entries(calls)) {
      for (let args of argSets) {
        if (args === "__qa_bytes__") {
          const r = await s.cmd("POST", "/execute/async", {
            script: `const done = arguments[arguments.length - 1];
              const bin = atob(arguments[0]); const b = new Uint8Array(bin.length);
              for (let i = 0; i < bin.length; i++) b[i] = bin.charCodeAt(i);
              window.__TAURI_INTERNALS__.invoke("scan_image_bytes", b).then((ok) => done({ ok }), (err) => done({ err }));`,
            args: [labelB64],
          });
          record(cmd, r);
          continue;
        }
        args = JSON.parse(JSON.stringify(args).replaceAll("__flow__", flowId || "f0"));
        let r;
        if (Object.values(args).includes(NEW_CHANNEL)) {
          r = await s.cmd("POST", "/execute/async", {
            script: `const done = arguments[arguments.length - 1]; const a = arguments[1];
              for (const k of Object.keys(a)) if (a[k] === "${NEW_CHANNEL}")
                a[k] = "__CHANNEL__:" + window.__TAURI_INTERNALS__.transformCallback(() => {});
              window.__TAURI_INTERNALS__.invoke(arguments[0], a).then((ok) => done({ ok }), (err) => done({ err }));`,
            args: [cmd, args],
          });
        } else {
          r = await s.invoke(cmd, args);
        }
        if (cmd === "begin_code_flow" && r.ok) flowId = r.ok.flow_id;
        record(cmd, r);
      }
    }
    assert.ok(outputs.list_devices.includes(devices[0].id), "outputs were captured");
    const csvText = readFileSync(join(WORK, "history-secrets.csv"), "utf8");
    const leaks = [];
    for (const [cmd, out] of Object.entries(outputs)) {
      for (const secret of secrets) if (out.includes(secret)) leaks.push(cmd);
    }
    for (const secret of secrets) if (csvText.includes(secret)) leaks.push("history CSV");
    const dom = await s.exec(() => document.documentElement.outerHTML + [...document.querySelectorAll("input")].map((i) => i.value).join("\n"));
    for (const secret of secrets) if (dom.includes(secret)) leaks.push("page DOM");
    assert.deepEqual(leaks, [], `secrets reached the page through: ${leaks.join(", ")}`);
    console.log(`# secrets checked: ${secrets.size} values against ${Object.keys(outputs).length} commands`);
  });
  await stop(s);
});
