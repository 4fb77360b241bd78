// The page's only door to the Rust side, backed by Tauri's official JS API (`window.__TAURI__`, injected by
// `app.withGlobalTauri`): `invoke`, a `Channel` for streamed messages and event `listen`. Screens import these three
// names only, so the rest of the page does not depend on where the API comes from.

const api = () => {
  const g = window.__TAURI__;
  if (!g || !g.core || !g.event) throw new Error("Tauri API is not available (app.withGlobalTauri)");
  return g;
};

/** Calls a command. Rejections carry the core's ErrorReport ({type, code, message_zh, message_en, action, retryable}). */
export function invoke(cmd, args = {}, options) {
  return api().core.invoke(cmd, args, options);
}

/**
 * A stream from Rust to the page (messages arrive in order). The official Channel unregisters its callback when Rust
 * ends the stream; `close()` does it now, for a view that goes away while the stream is still open.
 */
export class Channel {
  #inner;
  constructor(onmessage) {
    this.#inner = new (api().core.Channel)(onmessage);
    this.#inner.onmessage = (msg) => {
      if (!this.closed && onmessage) onmessage(msg);
    };
    this.closed = false;
  }
  get id() {
    return this.#inner.id;
  }
  close() {
    if (this.closed) return;
    this.closed = true;
    try {
      this.#inner.cleanupCallback();
    } catch {
      /* already cleaned up after Rust's end marker */
    }
  }
  // Serialised into command arguments exactly as the official Channel is.
  toJSON() {
    return this.#inner.toJSON();
  }
}

/** Listens to an app event; resolves to an unlisten function (safe to call twice). */
export async function listen(event, handler) {
  const unlisten = await api().event.listen(event, handler);
  let done = false;
  return () => {
    if (done) return Promise.resolve();
    done = true;
    return Promise.resolve(unlisten()).catch(() => {});
  };
}
