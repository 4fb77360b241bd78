// QuickAuth in the real webview (tauri-driver + WebKitWebDriver under Xvfb, real gnome-keyring, built-in sandbox).
// Run by scripts/webdriver-test.sh; shared helpers in helpers.mjs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, existsSync, writeFileSync, rmSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { WORK, mint, ledger, dataDir, shot, start, stop, RESCAN, approveInSandbox, waitResult, sandboxControl, revealWithCli, answerDialogs, dialogsAsked, quit } from "./helpers.mjs";

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
  const mainDir = dataDir("main");
  const s = await start(["--data-dir", mainDir]);
  const hasCamera = readdirSync("/dev").some((n) => n.startsWith("video"));

  await t.test("without a camera the page says so and offers image / manual entry right there", async () => {
    if (hasCamera) return;
    await s.waitFor(() => document.getElementById("viewport").dataset.state === "no-camera", 15000, "no-camera state");
    const msg = await s.text("#viewport-message");
    assert.match(msg, /摄像头/);
    assert.equal(await s.exec(() => document.getElementById("fallback-actions").classList.contains("hidden")), false,
      "the image / manual entry buttons stand where the picture would be, never a blank box");
    await shot(s, "scan-no-camera");
    await s.click("#fallback-manual-btn");
    await s.waitFor(() => document.getElementById("result-panel").dataset.mode === "manual", 5000, "manual entry from the fallback");
    await s.click("#manual-form button.btn.secondary"); // cancel: back to the idle panel
  });

  await t.test("image from the open dialog Rust shows; drag-and-drop bytes; a picture without a code", async () => {
    const { labels: picked } = mint(1);
    answerDialogs({ open: picked[0].file });
    try {
      await s.click("#scan-image-btn");
      await s.waitFor((m) => document.getElementById("card-machine-code")?.textContent === m, 20000, "card from the picked image", picked[0].machine_code);
    } finally {
      answerDialogs(null);
    }
    assert.equal(dialogsAsked().at(-1), "open");
    await s.click("#scan-image-btn"); // cancelled: the card stays, nothing alarming
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(await s.exec(() => document.getElementById("result-panel").dataset.mode), "card");
    await s.click(RESCAN);

    const { labels } = mint(1);
    // Drop the label on the scan screen, as a user dragging a file would.
    const b64 = readFileSync(labels[0].file).toString("base64");
    await s.exec((data) => {
      const bin = atob(data);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], "label.png", { type: "image/png" }));
      document.getElementById("screen-scan").dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, b64);
    await s.waitFor((m) => document.getElementById("card-machine-code")?.textContent === m, 20000, "card from dropped image", labels[0].machine_code);
    await s.click("#authorize-btn");
    await waitResult(s, "authorize dropped label");

    // A picture without a QR code is refused with a message and a re-scan action.
    const noCode = await s.cmd("POST", "/execute/async", {
      script: `const done = arguments[arguments.length - 1];
        const c = document.createElement("canvas"); c.width = 200; c.height = 150;
        const g = c.getContext("2d"); g.fillStyle = "#fff"; g.fillRect(0, 0, 200, 150);
        c.toBlob(async (blob) => {
          const bytes = new Uint8Array(await blob.arrayBuffer());
          window.__TAURI__.core.invoke("scan_image_bytes", bytes).then((ok) => done({ ok }), (err) => done({ err }));
        }, "image/png");`,
      args: [],
    });
    assert.equal(noCode.err?.type, "no_code_in_image", JSON.stringify(noCode));
    assert.equal(noCode.err.action, "rescan");
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
    // Export: Rust opens the save dialog and writes where the user chose.
    const csvPath = join(WORK, "history.csv");
    answerDialogs({ save: csvPath });
    try {
      await s.click("#history-export");
      await s.waitFor(() => [...document.querySelectorAll("#toasts .toast.ok")].some((t) => t.textContent.includes("history.csv")), 20000, "export toast");
    } finally {
      answerDialogs(null);
    }
    const csv = readFileSync(csvPath, "utf8");
    assert.match(csv.split("\r\n")[0], /^time,operation,provider,device/);
    assert.ok(csv.split("\r\n").length > 4, "rows exported");
    // A cancelled save dialog: nothing written, nothing alarming on the page.
    await s.click("#history-export");
    await s.waitFor(() => !document.getElementById("history-export").disabled, 20000, "export finished");
    assert.equal(await s.exec(() => document.querySelectorAll("#toasts .toast.bad").length), 0, "a cancelled export is not an error");
    assert.deepEqual(dialogsAsked().slice(-2), ["save", "save"]);
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
    const dev = `${devices[0].provider}:${devices[0].id}`;

    // A hostile page: every way around the native confirmation ends without a token. The test environment declines
    // every native dialog (the app's debug-only test switch), as a user who did not ask for it would.
    const hostile = {
      reveal: await s.invoke("reveal_tokens", { id: dev }),
      revealConfirmed: await s.invoke("reveal_tokens", { id: dev, confirmed: true }),
      copy: await s.invoke("copy_token", { id: dev, which: "access", confirmed: true }),
      scanFile: await s.invoke("scan_image_file", { path: join(WORK, "labels-1") }),
      dialogOpen: await s.invoke("plugin:dialog|open", { options: { multiple: false } }),
      dialogSave: await s.invoke("plugin:dialog|save", { options: { defaultPath: join(WORK, "x.csv") } }),
      fsRead: await s.invoke("plugin:fs|read_text_file", { path: "/etc/passwd" }),
      fsWrite: await s.invoke("plugin:fs|write_text_file", { path: join(WORK, "fs-write.txt"), contents: "x" }),
      shell: await s.invoke("plugin:shell|execute", { program: "sh", args: ["-c", "true"] }),
    };
    for (const k of ["reveal", "revealConfirmed", "copy"]) {
      assert.ok(!hostile[k].ok, `${k}: no tokens without a confirmation: ${JSON.stringify(hostile[k]).slice(0, 80)}`);
      assert.equal(hostile[k].err?.type, "cancelled", `${k}: a declined dialog is "cancelled": ${JSON.stringify(hostile[k].err)}`);
    }
    for (const k of ["scanFile", "dialogOpen", "dialogSave", "fsRead", "fsWrite", "shell"]) {
      assert.ok(hostile[k].err !== undefined && hostile[k].ok === undefined, `${k} is not available to the page: ${JSON.stringify(hostile[k]).slice(0, 200)}`);
    }
    assert.ok(!existsSync(join(WORK, "fs-write.txt")), "no file written through plugin:fs");
    const csvTarget = join(WORK, "hostile-export.csv");
    const exported = await s.invoke("export_history_csv", { path: csvTarget });
    assert.ok(!exported.err, `export with a declined save dialog is not an error: ${JSON.stringify(exported.err)}`);
    assert.equal(exported.ok?.path ?? null, null, `a declined save dialog exports nothing: ${JSON.stringify(exported.ok)}`);
    assert.ok(!existsSync(csvTarget), "the page's path is ignored: no file was written there");

    // The reveal button: Rust asks, the answer is no, the page shows nothing alarming and no token.
    await s.click("#nav-devices");
    await s.waitFor(() => !!document.querySelector("#devices-table .act-reveal"), 10000, "reveal button");
    await s.click("#devices-table .act-reveal");
    await new Promise((r) => setTimeout(r, 1500));
    const after = await s.exec(() => ({
      modal: !document.getElementById("modal-backdrop").classList.contains("hidden"),
      bad: document.querySelectorAll("#toasts .toast.bad").length,
      code: !!document.getElementById("revealed-access"),
    }));
    assert.deepEqual(after, { modal: false, bad: 0, code: false });

    assert.ok(dialogsAsked().filter((q) => q === "confirm").length >= 4, `Rust asked natively each time: ${dialogsAsked().join(",")}`);

    // A user who says yes in the native dialog sees the tokens in the page's modal, and focus comes back after.
    answerDialogs({ confirm: true });
    let shown;
    try {
      await s.exec(() => document.querySelector("#devices-table .act-reveal").focus());
      await s.click("#devices-table .act-reveal");
      await s.waitFor(() => !!document.getElementById("revealed-access"), 20000, "revealed tokens after a yes");
      shown = await s.exec(() => ({
        access: document.getElementById("revealed-access").textContent,
        labelled: document.getElementById(document.getElementById("modal").getAttribute("aria-labelledby"))?.textContent,
      }));
    } finally {
      answerDialogs(null);
    }
    ledger([shown.access]);
    secrets.add(shown.access);
    assert.ok(shown.access.length >= 8, "a token is shown");
    assert.ok(devices.some((d) => (shown.labelled || "").includes(d.id)), `the dialog is labelled by its title: ${shown.labelled}`);
    // The focus trap: Tab from the last control wraps to the first, Escape closes and focus returns to the opener.
    const trap = await s.exec(() => {
      const modal = document.getElementById("modal");
      const items = [...modal.querySelectorAll("button")];
      items.at(-1).focus();
      document.activeElement.dispatchEvent(new KeyboardEvent("keydown", { key: "Tab", bubbles: true, cancelable: true }));
      const wrapped = document.activeElement === items[0];
      document.activeElement.dispatchEvent(new KeyboardEvent("keydown", { key: "Tab", shiftKey: true, bubbles: true, cancelable: true }));
      const back = document.activeElement === items.at(-1);
      document.activeElement.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true, cancelable: true }));
      return { wrapped, back, closed: document.getElementById("modal-backdrop").classList.contains("hidden"),
        returned: document.activeElement?.classList.contains("act-reveal") ?? false, cleared: !document.getElementById("revealed-access") };
    });
    assert.deepEqual(trap, { wrapped: true, back: true, closed: true, returned: true, cleared: true });

    // The tokens themselves, read through the CLI's explicit --reveal, so the leak checks below know what to look for.
    for (const d of devices) {
      const v = revealWithCli(mainDir, `${d.provider}:${d.id}`);
      assert.ok(v.access_token && v.access_token.length >= 8, "the CLI reveals on request");
      secrets.add(v.access_token);
      if (v.refresh_token) secrets.add(v.refresh_token);
    }
    const { labels } = mint(1);
    secrets.add(labels[0].key);
    const { labels: signed } = mint(1, { msign: true });
    secrets.add(signed[0].key);
    const labelB64 = readFileSync(labels[0].file).toString("base64");
    const bytesCall = (cmd, b64, headers) => s.cmd("POST", "/execute/async", {
      script: `const done = arguments[arguments.length - 1];
        const bin = atob(arguments[1]); const b = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) b[i] = bin.charCodeAt(i);
        window.__TAURI__.core.invoke(arguments[0], b, { headers: arguments[2] || {} }).then((ok) => done({ ok }), (err) => done({ err }));`,
      args: [cmd, b64, headers || null],
    });
    const scan = (await bytesCall("scan_image_bytes", labelB64)).ok;
    assert.equal(scan?.status, "ok", "label bytes scan");

    const outputs = {};
    const record = (name, value) => (outputs[name] = (outputs[name] || "") + JSON.stringify(value));
    const NEW_CHANNEL = "__qa_new_channel__";
    // A 64x48 grey frame, and one whose size does not match its headers.
    const frame = Buffer.alloc(64 * 48, 128).toString("base64");
    const calls = {
      app_info: [{}],
      core_status: [{}],
      first_paint: [{ pageMs: 1 }],
      preview_sources: [{}],
      preview_start: [{ source: "images", frames: NEW_CHANNEL, detections: NEW_CHANNEL }],
      preview_stop: [{}],
      webview_camera_start: [{ detections: NEW_CHANNEL }],
      push_camera_frame: [["__qa_frame__", { "x-frame-width": "64", "x-frame-height": "48", "x-frame-seq": "1" }],
        ["__qa_frame__", { "x-frame-width": "640", "x-frame-height": "480" }],
        ["__qa_frame__", { "x-frame-width": "99999999", "x-frame-height": "99999999" }]],
      webview_camera_stop: [{}],
      scan_image_pick: [{}, { path: labels[0].file }],
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
      reveal_tokens: [{ id: dev }, { id: dev, confirmed: true }],
      copy_token: [{ id: dev, which: "access" }, { id: dev, which: "refresh", confirmed: true }],
      list_profiles: [{}],
      save_profile: [{ input: { name: "qa-yly", provider: "yilianyun", secret: `${clientSecret}-2` }, isNew: false }],
      remove_profile: [{ name: "qa-lj" }],
      begin_code_flow: [{ profile: "sandbox" }],
      complete_code_flow: [{ flowId: "__flow__", callbackUrl: "http://127.0.0.1:1/callback?code=x&state=wrong" }],
      open_code_flow_page: [{ flowId: "__flow__" }],
      cancel_code_flow: [{ flowId: "__flow__" }],
      history: [{ limit: 1000 }],
      export_history_csv: [{}, { path: join(WORK, "history-secrets.csv") }],
      sandbox_info: [{}],
      sandbox_test_label: [{ kind: "msign" }],
      // Hand-over (issue 9): a plain-http non-loopback URL and a made-up ownership are refused, the hand-over asks
      // in a native dialog (answered "no" here), and an event id that is not one is refused before SQL.
      delivery_settings: [{ profile: "sandbox" }, { profile: "../../etc/passwd" }],
      set_delivery: [
        { input: { profile: "sandbox", url: "http://example.com/hook", ownership: "kept", secret: null, generate_secret: false } },
        { input: { profile: "sandbox", url: "http://127.0.0.1:9/hook", ownership: "owned-by-page", secret: null, generate_secret: false } },
      ],
      remove_delivery: [{ profile: "no-such-profile" }],
      reveal_advice: [{ id: dev }],
      handover_prompt: [{ id: dev }],
      handover_device: [{ id: dev }, { id: dev, confirmed: true }],
      deliveries: [{ limit: 5 }],
      deliver_now: [{}],
      retry_delivery: [{ eventId: "msg_' OR 1=1 --" }],
    };
    secrets.add(`${clientSecret}-2`);
    ledger([`${clientSecret}-2`]);

    // Every command the capability grants must be exercised here.
    const cap = JSON.parse(readFileSync(new URL("../../src-tauri/capabilities/main.json", import.meta.url), "utf8"));
    const granted = cap.permissions.filter((p) => typeof p === "string" && p.startsWith("allow-")).map((p) => p.slice(6).replaceAll("-", "_"));
    assert.deepEqual(granted.filter((c) => !(c in calls)), [], "every granted command is covered");
    assert.deepEqual(cap.permissions.filter((p) => typeof p === "string" && /^(dialog|fs|shell):/.test(p)), [],
      "the page gets no dialog, file system or shell permission");

    let flowId = null;
    const frameResults = [];
    for (const [cmd, argSets] of Object.entries(calls)) {
      if (!granted.includes(cmd)) continue; // e.g. a stop command the app does not have
      for (let args of argSets) {
        if (args === "__qa_bytes__") {
          record(cmd, await bytesCall(cmd, labelB64));
          continue;
        }
        if (Array.isArray(args) && args[0] === "__qa_frame__") {
          const r = await bytesCall(cmd, frame, args[1]);
          frameResults.push(r);
          record(cmd, r);
          continue;
        }
        args = JSON.parse(JSON.stringify(args).replaceAll("__flow__", flowId || "f0"));
        let r;
        if (Object.values(args).includes(NEW_CHANNEL)) {
          r = await s.cmd("POST", "/execute/async", {
            script: `const done = arguments[arguments.length - 1]; const a = arguments[1];
              for (const k of Object.keys(a)) if (a[k] === "${NEW_CHANNEL}") a[k] = new window.__TAURI__.core.Channel(() => {});
              window.__TAURI__.core.invoke(arguments[0], a).then((ok) => done({ ok }), (err) => done({ err }));`,
            args: [cmd, args],
          });
        } else {
          r = await s.invoke(cmd, args);
        }
        if (cmd === "begin_code_flow" && r.ok) flowId = r.ok.flow_id;
        if (cmd === "reveal_tokens" || cmd === "copy_token" || cmd === "handover_device") assert.equal(r.err?.type, "cancelled", `${cmd} without a yes: ${JSON.stringify(r).slice(0, 120)}`);
        if (cmd === "set_delivery" || cmd === "retry_delivery") assert.ok(r.err?.message_zh && r.err?.message_en, `${cmd} refuses what the page made up: ${JSON.stringify(r).slice(0, 160)}`);
        if (cmd === "scan_image_pick") assert.equal(r.ok ?? null, null, `a declined open dialog scans nothing, whatever path the page sends: ${JSON.stringify(r)}`);
        record(cmd, r);
      }
    }
    if (frameResults.length) {
      assert.ok(frameResults[0].ok && typeof frameResults[0].ok.ms === "number", `a well-formed frame is taken: ${JSON.stringify(frameResults[0])}`);
      assert.ok(frameResults[1].err?.message_zh && frameResults[1].err?.message_en, `a frame whose size does not match is refused: ${JSON.stringify(frameResults[1])}`);
      assert.ok(frameResults[2].err?.message_zh, `an absurd frame size is refused: ${JSON.stringify(frameResults[2])}`);
    }
    assert.ok(outputs.list_devices.includes(devices[0].id), "outputs were captured");
    assert.ok(!existsSync(join(WORK, "history-secrets.csv")), "export_history_csv ignores a page-given path");
    const leaks = [];
    for (const [cmd, out] of Object.entries(outputs)) {
      for (const secret of secrets) if (out.includes(secret)) leaks.push(cmd);
    }
    const dom = await s.exec(() => document.documentElement.outerHTML + [...document.querySelectorAll("input")].map((i) => i.value).join("\n"));
    for (const secret of secrets) if (dom.includes(secret)) leaks.push("page DOM");
    assert.deepEqual(leaks, [], `secrets reached the page through: ${leaks.join(", ")}`);
    console.log(`# secrets checked: ${secrets.size} values against ${Object.keys(outputs).length} commands`);
  });
  await stop(s);
});

test("a core that cannot open: the page shows why while Rust retries, and clears it once the core opens", async () => {
  // The data dir path is a plain file, so the core cannot create its database there until the test removes it.
  const blocked = join(WORK, "data-blocked");
  writeFileSync(blocked, "not a directory\n");
  const s = await start(["--data-dir", blocked]);
  try {
    await s.waitFor(() => !document.getElementById("core-status").classList.contains("hidden"), 30000, "core-status banner");
    const banner = await s.exec(() => ({
      text: document.getElementById("core-status").innerText,
      type: document.querySelector("#core-status .error-box")?.dataset.errorType,
    }));
    assert.match(banner.text, /自动重试/, banner.text);
    assert.ok(banner.type && banner.type !== "internal", `the core's own error kind is shown: ${JSON.stringify(banner)}`);
    await shot(s, "core-status");
    rmSync(blocked);
    mkdirSync(blocked);
    await s.waitFor(() => document.getElementById("core-status").classList.contains("hidden"), 60000, "banner cleared after a retry");
    const profiles = await s.invoke("list_profiles");
    assert.ok(profiles.ok && profiles.ok.some((p) => p.builtin), "the core works after the retry");
    await stop(s);
  } finally {
    await quit(s);
  }
});
