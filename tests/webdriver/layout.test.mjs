// Phone (390x844) and tablet (820x1180) layouts of the real app, in Chinese and English: no horizontal overflow, every
// primary action inside the viewport, tappable and at least 44 px high, and scan -> authorize completes at each size.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mint, dataDir, shot, start, stop, quit, waitResult, resize } from "./helpers.mjs";

/** Elements the user acts with on each screen (those that are displayed at the moment are checked). */
const PRIMARY = {
  scan: ["#preview-toggle", "#scan-image-btn", "#manual-btn", "#test-label-btn", "#authorize-btn", "#rescan-btn", "#print-test-btn",
    "#fallback-image-btn", "#fallback-manual-btn", "#manual-submit"],
  devices: ["#devices-reload", "#devices-refresh-due", ".row-actions .btn"],
  profiles: ["#profile-add", ".profile-card .card-actions .btn"],
  history: ["#history-reload", "#history-export"],
  settings: ["#lang-seg button"],
};

/** Runs in the page: what sticks out sideways, and which primary actions are too small, off-screen or covered. */
function audit(selectors) {
  const W = window.innerWidth;
  const H = window.innerHeight;
  const problems = [];
  const shown = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== "hidden";
  };
  const name = (el) => `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}${el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : ""}`;
  if (document.documentElement.scrollWidth > W + 1) problems.push(`document scrolls sideways (${document.documentElement.scrollWidth} > ${W})`);
  for (const el of document.querySelectorAll("body *")) {
    if (!shown(el)) continue;
    const cs = getComputedStyle(el);
    if ((cs.overflowX === "auto" || cs.overflowX === "scroll") && el.scrollWidth > el.clientWidth + 1) {
      problems.push(`${name(el)} scrolls sideways (${el.scrollWidth} > ${el.clientWidth})`);
    }
    const r = el.getBoundingClientRect();
    if (r.right > W + 1 || r.left < -1) {
      // Content cut by a clipping ancestor that itself fits (the camera picture) is not overflow.
      let clipped = false;
      for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
        const pc = getComputedStyle(p);
        if (pc.overflowX !== "visible") {
          const pr = p.getBoundingClientRect();
          clipped = pr.right <= W + 1 && pr.left >= -1;
          break;
        }
      }
      if (!clipped) problems.push(`${name(el)} sticks out (${Math.round(r.left)}..${Math.round(r.right)} of ${W})`);
    }
  }
  const checked = [];
  for (const sel of selectors) {
    for (const el of document.querySelectorAll(sel)) {
      if (!shown(el)) continue;
      el.scrollIntoView({ block: "start", inline: "nearest" });
      const r = el.getBoundingClientRect();
      checked.push(name(el));
      if (r.height < 44 - 0.5) problems.push(`${name(el)} is ${r.height.toFixed(1)} px high (< 44)`);
      if (r.left < -1 || r.right > W + 1 || r.top < -1 || r.bottom > H + 1) {
        problems.push(`${name(el)} is outside the viewport (${Math.round(r.left)},${Math.round(r.top)} ${Math.round(r.width)}x${Math.round(r.height)})`);
        continue;
      }
      const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
      if (!hit || !(hit === el || el.contains(hit) || hit.contains(el) && hit.tagName === "LABEL")) {
        problems.push(`${name(el)} is covered by ${hit ? name(hit) : "nothing"}`);
      }
    }
  }
  // The tab bar / sidebar entries are primary actions on every screen.
  for (const el of document.querySelectorAll(".nav-item")) {
    const r = el.getBoundingClientRect();
    checked.push(name(el));
    if (r.height < 44 - 0.5 || r.width < 44 - 0.5) problems.push(`${name(el)} is ${r.width.toFixed(0)}x${r.height.toFixed(0)} (< 44)`);
    if (r.left < -1 || r.right > W + 1 || r.top < -1 || r.bottom > H + 1) problems.push(`${name(el)} is outside the viewport`);
  }
  document.querySelector(".main").scrollTop = 0;
  return { problems, checked };
}

async function checkScreen(s, screen, label) {
  await s.click(`#nav-${screen}`);
  await new Promise((r) => setTimeout(r, 400));
  const r = await s.exec(audit, PRIMARY[screen] || []);
  assert.deepEqual(r.problems, [], `${label} ${screen}: ${r.problems.join("; ")}`);
  return r.checked.length;
}

for (const size of [{ name: "phone", width: 390, height: 844 }, { name: "tablet", width: 820, height: 1180 }]) {
  test(`${size.name} ${size.width}x${size.height}: no sideways overflow, primary actions in view and >= 44 px, scan -> authorize`, async () => {
    const { dir, labels } = mint(1);
    const mc = labels[0].machine_code;
    const s = await start(["--frames", dir, "--frames-hold-ms", "1000", "--data-dir", dataDir(`layout-${size.name}`)]);
    try {
      await resize(s, size.width, size.height);

      // Layout shape: phone = bottom tab bar + bottom sheet; tablet = icon rail + camera and result side by side.
      const shape = await s.exec(() => {
        const nav = document.querySelector(".sidebar").getBoundingClientRect();
        const cam = document.querySelector(".preview-panel").getBoundingClientRect();
        const res = document.getElementById("result-panel").getBoundingClientRect();
        return { navBottom: nav.bottom, navTop: nav.top, navWidth: nav.width, camLeft: cam.left, camRight: cam.right, resLeft: res.left, resBottom: res.bottom,
          sheet: getComputedStyle(document.getElementById("result-panel")).position, H: window.innerHeight, W: window.innerWidth };
      });
      if (size.name === "phone") {
        assert.ok(Math.abs(shape.navBottom - shape.H) <= 1 && shape.navWidth >= shape.W - 1, `tab bar along the bottom: ${JSON.stringify(shape)}`);
        assert.equal(shape.sheet, "fixed", "the result is a bottom sheet");
        assert.ok(shape.resBottom <= shape.navTop + 1, "the sheet sits above the tab bar");
      } else {
        assert.ok(shape.navWidth < 120, `a narrow rail, not the full sidebar: ${shape.navWidth}`);
        assert.ok(shape.resLeft >= shape.camRight - 1, `camera and result side by side: ${JSON.stringify(shape)}`);
      }

      // Scan -> authorize from the frame source at this size, with every check on the card and the result.
      await s.waitFor(() => document.getElementById("result-panel").dataset.mode === "card", 30000, "scan card");
      assert.equal((await s.text("#card-machine-code")).trim(), mc);
      let checked = 0;
      let r = await s.exec(audit, PRIMARY.scan);
      assert.deepEqual(r.problems, [], `card at ${size.name}: ${r.problems.join("; ")}`);
      checked += r.checked.length;
      await shot(s, `${size.name}-scan`);
      await s.click("#authorize-btn");
      await waitResult(s, `authorize at ${size.name} size`);
      assert.equal((await s.text("#result-device")).trim(), mc);
      r = await s.exec(audit, PRIMARY.scan);
      assert.deepEqual(r.problems, [], `result at ${size.name}: ${r.problems.join("; ")}`);
      checked += r.checked.length;
      await shot(s, `${size.name}-result`);

      for (const lang of ["zh", "en"]) {
        if (lang === "en") await s.exec(() => document.querySelector('#lang-seg button[data-lang="en"]').click());
        for (const screen of ["devices", "profiles", "history", "settings", "scan"]) checked += await checkScreen(s, screen, `${size.name} ${lang}`);
        if (size.name === "phone" && lang === "en") {
          await s.click("#nav-devices");
          await shot(s, "phone-devices-en");
        }
      }
      console.log(`# ${size.name}: ${checked} primary actions checked`);
      await s.exec(() => document.querySelector('#lang-seg button[data-lang="zh"]').click());
      await stop(s);
    } finally {
      await quit(s);
    }
  });
}
