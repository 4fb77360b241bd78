// The page's only door to the Rust side: `invoke`, a `Channel` for streamed frames, and event listening.
// Plain ES module over `window.__TAURI_INTERNALS__` (no bundler, no npm runtime dependency).

const internals = () => {
  const i = window.__TAURI_INTERNALS__;
  if (!i) throw new Error("Tauri IPC is not available");
  return i;
};

/** Calls a command. Rejections carry the core's ErrorReport ({type, code, message_zh, message_en, action, retryable}). */
export function invoke(cmd, args = {}, options) {
  return internals().invoke(cmd, args, options);
}

/** A stream from Rust to the page, delivered in order (messages carry an index). */
export class Channel {
  #onmessage;
  #next = 0;
  #pending = new Map();
  constructor(onmessage) {
    this.#onmessage = onmessage || (() => {});
    this.id = internals().transformCallback((raw) => {
      if (raw && typeof raw === "object" && "index" in raw) {
        if ("end" in raw) return;
        this.#pending.set(raw.index, raw.message);
        while (this.#pending.has(this.#next)) {
          const msg = this.#pending.get(this.#next);
          this.#pending.delete(this.#next);
          this.#next += 1;
          this.#onmessage(msg);
        }
      } else {
        this.#onmessage(raw);
      }
    });
  }
  set onmessage(fn) {
    this.#onmessage = fn;
  }
  __TAURI_TO_IPC_KEY__() {
    return `__CHANNEL__:${this.id}`;
  }
  toJSON() {
    return `__CHANNEL__:${this.id}`;
  }
}

/** Listens to an app event; returns an async unlisten function. */
export async function listen(event, handler) {
  const id = await invoke("plugin:event|listen", {
    event,
    target: { kind: "Any" },
    handler: internals().transformCallback((e) => handler(e)),
  });
  return () => invoke("plugin:event|unlisten", { event, eventId: id });
}

/** Opens the native file dialog (dialog plugin). Returns a path or null. */
export function openFileDialog(options) {
  return invoke("plugin:dialog|open", { options });
}

/** Opens the native save dialog. Returns a path or null. */
export function saveFileDialog(options) {
  return invoke("plugin:dialog|save", { options });
}
