// Every page module must parse as an ES module: one syntax error stops the whole page before its first paint, and
// the WebDriver tests would only say "no first paint". Runs without a webview.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const uiDir = fileURLToPath(new URL("../../ui/", import.meta.url));

test("every ui/*.js module parses", () => {
  const files = readdirSync(uiDir).filter((f) => f.endsWith(".js"));
  assert.ok(files.length >= 8, `found the page modules: ${files}`);
  const broken = [];
  for (const f of files) {
    const r = spawnSync(process.execPath, ["--experimental-default-type=module", "--check", uiDir + f], { encoding: "utf8" });
    if (r.status !== 0) broken.push(`${f}: ${(r.stderr || "").split("\n").slice(0, 3).join(" ")}`);
  }
  assert.deepEqual(broken, []);
});
