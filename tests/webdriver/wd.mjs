// A small W3C WebDriver client over fetch, for driving the real QuickAuth webview through tauri-driver.
import { writeFile } from "node:fs/promises";

const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

export class Session {
  constructor(base, id) {
    this.base = base;
    this.id = id;
  }

  /** Starts the app (tauri-driver launches `application` with `args`) and waits for the page to be ready. */
  static async start({ driver, application, args = [] }) {
    const res = await fetch(`${driver}/session`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        capabilities: { alwaysMatch: { browserName: "wry", "tauri:options": { application, args } } },
      }),
    });
    const body = await res.json();
    if (!res.ok || !body.value?.sessionId) throw new Error(`new session failed: ${JSON.stringify(body)}`);
    const s = new Session(driver, body.value.sessionId);
    await s.cmd("POST", "/timeouts", { script: 90000, pageLoad: 60000, implicit: 0 });
    await s.waitFor(() => document.body && document.body.dataset.ready === "1", 60000, "first paint");
    return s;
  }

  async cmd(method, path, body) {
    const res = await fetch(`${this.base}/session/${this.id}${path}`, {
      method,
      headers: body ? { "content-type": "application/json" } : undefined,
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json.value ?? json)}`);
    return json.value;
  }

  /** Runs `fn` in the page (synchronously) and returns its result. */
  exec(fn, ...args) {
    return this.cmd("POST", "/execute/sync", { script: `return (${fn}).apply(null, arguments);`, args });
  }

  /** Calls a command exactly as the page can: through window.__TAURI_INTERNALS__.invoke. Never throws. */
  async invoke(command, args = {}) {
    return this.cmd("POST", "/execute/async", {
      script: `const done = arguments[arguments.length - 1];
        const [cmd, a] = arguments;
        window.__TAURI_INTERNALS__.invoke(cmd, a).then((ok) => done({ ok }), (err) => done({ err }));`,
      args: [command, args],
    });
  }

  async waitFor(fn, timeoutMs, what, ...args) {
    const until = Date.now() + timeoutMs;
    let last;
    while (Date.now() < until) {
      try {
        last = await this.exec(fn, ...args);
        if (last) return last;
      } catch (e) {
        last = e.message;
        // The session is gone (the app or its webview exited): polling on cannot succeed, so say so now.
        if (/invalid session id/.test(last)) {
          throw new Error(`the WebDriver session ended while waiting for ${what}: the app or its webview went away (${last})`);
        }
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
  }

  async find(css) {
    const v = await this.cmd("POST", "/element", { using: "css selector", value: css });
    return v[ELEMENT];
  }

  async click(css) {
    const el = await this.find(css);
    await this.cmd("POST", `/element/${el}/click`, {});
  }

  async type(css, text) {
    const el = await this.find(css);
    await this.cmd("POST", `/element/${el}/value`, { text });
  }

  async clear(css) {
    const el = await this.find(css);
    await this.cmd("POST", `/element/${el}/clear`, {});
  }

  async text(css) {
    const el = await this.find(css);
    return this.cmd("GET", `/element/${el}/text`);
  }

  async screenshot(file) {
    const b64 = await this.cmd("GET", "/screenshot");
    await writeFile(file, Buffer.from(b64, "base64"));
  }

  async quit() {
    try {
      await fetch(`${this.base}/session/${this.id}`, { method: "DELETE" });
    } catch {
      /* driver already gone */
    }
  }
}
