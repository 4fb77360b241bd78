// Static checks of the page's strings (no webview needed; runs with the WebDriver suite):
// both languages have the same keys, every key the page asks for exists, and every operation the core writes to the
// history has a label in both languages.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

const ROOT = new URL("../../", import.meta.url).pathname;
const UI = join(ROOT, "ui");
const source = readFileSync(join(UI, "i18n.js"), "utf8");
const { strings } = await import(`data:text/javascript;base64,${Buffer.from(source).toString("base64")}`);
const { zh, en } = strings;

test("Chinese and English have the same keys, none empty", () => {
  const onlyZh = Object.keys(zh).filter((k) => !(k in en));
  const onlyEn = Object.keys(en).filter((k) => !(k in zh));
  assert.deepEqual({ onlyZh, onlyEn }, { onlyZh: [], onlyEn: [] });
  const empty = Object.entries({ ...zh, ...en }).filter(([, v]) => typeof v !== "string" || v.trim() === "");
  assert.deepEqual(empty, []);
});

test("every key the page uses exists in both languages", () => {
  const used = new Set();
  for (const f of readdirSync(UI).filter((n) => n.endsWith(".js"))) {
    const text = readFileSync(join(UI, f), "utf8");
    // Literal keys only: t("scan.title"), t(`status.${x}`) is checked through its known values below.
    for (const m of text.matchAll(/\bt\("([a-z_]+(?:\.[a-z_0-9-]+)+)"/g)) used.add(m[1]);
  }
  const html = readFileSync(join(UI, "index.html"), "utf8");
  for (const m of html.matchAll(/data-i18n(?:-placeholder|-title)?="([^"]+)"/g)) used.add(m[1]);
  assert.ok(used.size > 100, `found ${used.size} keys`);
  const missing = [...used].filter((k) => !(k in zh) || !(k in en));
  assert.deepEqual(missing, [], "keys used by the page without a string");
});

test("every operation the core records in the history has a label in both languages", () => {
  const dir = join(ROOT, "crates/core/src");
  const ops = new Set();
  for (const f of readdirSync(dir).filter((n) => n.endsWith(".rs"))) {
    const text = readFileSync(join(dir, f), "utf8");
    // self.record("action", …) — possibly with the action on the next line.
    for (const m of text.matchAll(/\.record\(\s*"([a-z_]+)"/g)) ops.add(m[1]);
  }
  assert.ok(ops.has("authorize") && ops.has("refresh"), `found the history writes: ${[...ops].join(", ")}`);
  const missing = [...ops].filter((op) => !(`op.${op}` in zh) || !(`op.${op}` in en));
  assert.deepEqual(missing, [], "history operations without a label");
});
