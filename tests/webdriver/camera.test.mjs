// The webview camera end to end in the real webview: getUserMedia -> <video> -> luma frames -> push_camera_frame ->
// the Rust decoder -> the scan card -> authorize. The frames come from a MediaStream the test makes itself
// (canvas.captureStream() on a canvas redrawn with a minted sandbox label) and hands to the page as the camera:
// chosen explicitly here, never a fallback the app could take on its own.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mint, dataDir, shot, start, stop, quit, waitResult, injectLabelCamera, startWebviewCamera } from "./helpers.mjs";

test("webview camera: a label in the page's camera stream is decoded by Rust and the printer authorized", async () => {
  const { labels } = mint(1);
  const mc = labels[0].machine_code;
  const s = await start(["--data-dir", dataDir("webcam")]);
  try {
    const callbacks0 = await s.exec(() => window.__TAURI_INTERNALS__.callbacks.size);

    assert.equal(await injectLabelCamera(s, readFileSync(labels[0].file).toString("base64")), true);
    await startWebviewCamera(s);
    await s.waitFor(() => document.getElementById("viewport").dataset.live === "video", 20000, "the <video> shows the stream");
    const req = await s.exec(() => window.__qaCamRequests);
    assert.ok(req.length >= 1, "the page asked getUserMedia for the camera");
    assert.equal(req.at(-1).audio, false);
    assert.equal(req.at(-1).video.facingMode.ideal, "environment", `rear camera asked for: ${JSON.stringify(req.at(-1))}`);

    // Frames reach Rust (each push answered), the code is outlined, the card shows the label's printer.
    await s.waitFor(() => Number(document.getElementById("viewport").dataset.frames || 0) >= 5, 30000, "frames pushed to Rust");
    await s.waitFor(() => document.getElementById("result-panel").dataset.mode === "card", 30000, "scan card from the webview camera");
    assert.equal((await s.text("#card-machine-code")).trim(), mc);
    assert.equal(await s.exec(() => document.getElementById("card-kind").dataset.kind), "qr_key");
    const video = await s.exec(() => {
      const v = document.getElementById("preview-video");
      return { w: v.videoWidth, h: v.videoHeight, muted: v.muted, inline: v.hasAttribute("playsinline") };
    });
    assert.deepEqual(video, { w: 1280, h: 720, muted: true, inline: true });
    await shot(s, "scan-webview-camera");

    await s.click("#authorize-btn");
    await waitResult(s, "authorize from the webview camera");
    assert.equal((await s.text("#result-device")).trim(), mc);
    const devices = (await s.invoke("list_devices")).ok.map((d) => d.id);
    assert.ok(devices.includes(mc), `${mc} is authorized and listed`);

    // Stopping ends the stream's tracks and unregisters the page's IPC callbacks (no leak across start/stop cycles).
    for (let i = 0; i < 3; i++) {
      await s.click("#preview-toggle"); // stop
      await s.waitFor(() => document.getElementById("viewport").dataset.state !== "running", 10000, "stopped");
      await s.click("#preview-toggle"); // start again
      await s.waitFor(() => document.getElementById("viewport").dataset.live === "video", 10000, "running again").catch(async (e) => {
        const st = await s.exec(() => ({ ...document.getElementById("viewport").dataset, msg: document.getElementById("viewport-message").textContent,
          toggle: document.getElementById("preview-toggle").textContent, requests: window.__qaCamRequests.length }));
        throw new Error(`${e.message}; page: ${JSON.stringify(st)}`);
      });
    }
    await s.click("#preview-toggle");
    await s.waitFor(() => document.getElementById("viewport").dataset.state !== "running", 10000, "stopped");
    await new Promise((r) => setTimeout(r, 500));
    const callbacks1 = await s.exec(() => window.__TAURI_INTERNALS__.callbacks.size);
    assert.ok(callbacks1 <= callbacks0 + 1, `IPC callbacks do not pile up over start/stop cycles (${callbacks0} -> ${callbacks1})`);
    await stop(s);
  } finally {
    await quit(s);
  }
});

test("webview camera refused: the page says why and offers image / manual entry, never a blank box", async () => {
  const s = await start(["--data-dir", dataDir("webcam-denied")]);
  try {
    await s.exec(() => {
      if (!navigator.mediaDevices) Object.defineProperty(navigator, "mediaDevices", { value: {}, configurable: true });
      (window.MediaDevices ? MediaDevices.prototype : navigator.mediaDevices).getUserMedia = async () => {
        throw new DOMException("Permission denied", "NotAllowedError");
      };
    });
    await startWebviewCamera(s);
    await s.waitFor(() => document.getElementById("viewport").dataset.state === "camera-denied", 10000, "camera-denied state");
    const state = await s.exec(() => ({
      message: document.getElementById("viewport-message").textContent,
      empty: !document.getElementById("viewport-empty").classList.contains("hidden"),
      fallback: !document.getElementById("fallback-actions").classList.contains("hidden"),
    }));
    assert.match(state.message, /权限/);
    assert.ok(state.empty && state.fallback, JSON.stringify(state));
    await shot(s, "scan-camera-denied");
    await s.click("#fallback-manual-btn");
    await s.waitFor(() => document.getElementById("result-panel").dataset.mode === "manual", 5000, "manual entry");
    await stop(s);
  } finally {
    await quit(s);
  }
});
