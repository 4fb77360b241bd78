// Profiles screen: Yilianyun and Lingju developer apps. Secrets are write-only here: the page may send a new one,
// the Rust side only ever answers whether one is stored. Also starts the open-app code flow.
import { renderDeliverySection } from "./delivery.js";
import { invoke, listen } from "./ipc.js";
import { t } from "./i18n.js";
import { h, clear, toast, toastError, asReport, modal, confirmDialog, errorBox, fmtTime } from "./dom.js";
import { store, reloadProfiles, setting, setSetting } from "./store.js";

export async function init() {
  document.getElementById("profile-add").addEventListener("click", () => editProfile(null));
}

export function shown() {
  reloadProfiles().then(render).catch((e) => toastError(asReport(e)));
}

export function render() {
  const list = clear(document.getElementById("profiles-list"));
  const sorted = [...store.profiles].sort((a, b) => (b.builtin ? 1 : 0) - (a.builtin ? 1 : 0));
  for (const p of sorted) list.append(card(p));
}

function card(p) {
  const isDefault = setting("profile") === p.name;
  const secretState = (set) => (set ? h("span.badge.ok", t("profiles.secret_set")) : h("span.badge.warn", t("profiles.secret_missing")));
  const facts = p.provider === "yilianyun"
    ? [h("dt", t("profiles.client_id")), h("dd.mono", p.client_id || ""),
       h("dt", t("profiles.region")), h("dd", p.base_url ? p.base_url : t(`profiles.region.${p.region}`)),
       h("dt", t("profiles.api")), h("dd", p.api_version),
       h("dt", t("profiles.client_secret")), h("dd", secretState(p.secret_set))]
    : [h("dt", t("profiles.endpoint")), h("dd", p.endpoint),
       p.base_url ? [h("dt", t("profiles.base_url")), h("dd", p.base_url)] : null,
       h("dt", t("profiles.appkey")), h("dd", secretState(p.secret_set))];
  return h(`div.panel.profile-card${p.builtin ? ".builtin" : ""}`, { dataset: { profile: p.name } },
    h("h3", p.name,
      h("span.badge", p.provider === "yilianyun" ? t("manual.provider.yilianyun") : t("manual.provider.lingju")),
      p.builtin ? h("span.badge.sandbox", t("profiles.builtin")) : null,
      isDefault ? h("span.badge.accent", t("profiles.default")) : null),
    p.builtin ? h("p.muted.small", t("profiles.builtin_note")) : null,
    h("dl.kv", facts, h("dt", t("nav.devices")), h("dd", t("profiles.devices", { n: p.devices ?? 0 }))),
    h("div.card-actions",
      !isDefault ? h("button.btn.secondary.small", { on: { click: () => { setSetting("profile", p.name); render(); } } }, t("profiles.make_default")) : null,
      p.provider === "yilianyun" ? h("button.btn.secondary.small.act-code-flow", { on: { click: () => codeFlow(p) } }, t("profiles.code_flow")) : null,
      !p.builtin ? h("button.btn.secondary.small.act-edit", { on: { click: () => editProfile(p) } }, t("profiles.edit")) : null,
      !p.builtin ? h("button.btn.danger.small.act-remove", { on: { click: () => removeProfile(p) } }, t("profiles.remove")) : null),
    deliverySlot(p));
}

/** The profile's webhook delivery settings (issue 9), filled in once the Rust side answered. */
function deliverySlot(p) {
  const slot = h("div.delivery-slot", { dataset: { profile: p.name } });
  renderDeliverySection(p.name)
    .then((section) => slot.append(section))
    .catch((e) => toastError(asReport(e)));
  return slot;
}

function editProfile(existing) {
  const isNew = !existing;
  const state = { provider: existing ? existing.provider : "yilianyun" };
  return modal((close) => {
    const body = h("div");
    const build = () => {
      clear(body);
      const p = existing || {};
      const secretPh = isNew ? t("profiles.secret_placeholder_new") : t("profiles.secret_placeholder_keep");
      const err = h("div#profile-form-error");
      const form = h("form.form#profile-form",
        h("h2#profile-form-title", isNew ? t("profiles.add") : `${t("profiles.edit")} · ${p.name}`),
        isNew
          ? h("label", h("span", t("profiles.provider")),
              h("div.seg#profile-provider", ["yilianyun", "lingju"].map((v) =>
                h(`button${state.provider === v ? ".on" : ""}`, { type: "button", dataset: { provider: v }, on: { click: () => { state.provider = v; build(); } } }, t(`manual.provider.${v}`)))))
          : null,
        h("label", h("span", t("profiles.name")), h("input#pf-name", { type: "text", value: p.name || "", disabled: !isNew, autocomplete: "off" })),
        state.provider === "yilianyun"
          ? [h("label", h("span", t("profiles.client_id")), h("input#pf-client-id", { type: "text", value: p.client_id || "", autocomplete: "off" })),
             h("label", h("span", t("profiles.client_secret")), h("input#pf-secret", { type: "password", placeholder: secretPh, autocomplete: "new-password" })),
             h("div.row",
               h("label", h("span", t("profiles.region")), h("select#pf-region", ["cn", "overseas", "cn-alt"].map((r) => h("option", { value: r }, t(`profiles.region.${r}`))))),
               h("label", h("span", t("profiles.api")), h("select#pf-api", ["v2", "v1"].map((v) => h("option", { value: v }, v))))),
             h("label", h("span", t("profiles.base_url")), h("input#pf-base-url", { type: "url", value: p.base_url || "", placeholder: "https://…", autocomplete: "off" }))]
          : [h("label", h("span", t("profiles.endpoint")), h("select#pf-endpoint", ["httpapi", "bltapi"].map((v) => h("option", { value: v }, v)))),
             h("label", h("span", t("profiles.base_url")), h("input#pf-base-url", { type: "url", value: p.base_url || "", placeholder: "https://…", autocomplete: "off" })),
             h("label", h("span", t("profiles.appkey")), h("input#pf-secret", { type: "password", placeholder: secretPh, autocomplete: "new-password" })),
             h("label", h("span", t("profiles.authcode")), h("input#pf-authcode", { type: "password", placeholder: secretPh, autocomplete: "new-password" }))],
        err,
        h("div.modal-actions",
          h("button.btn.secondary", { type: "button", on: { click: () => close(false) } }, t("common.cancel")),
          h("button.btn#pf-save", { type: "submit" }, t("common.save"))));
      const region = form.querySelector("#pf-region");
      if (region && p.region) region.value = p.region;
      const api = form.querySelector("#pf-api");
      if (api && p.api_version) api.value = p.api_version;
      const ep = form.querySelector("#pf-endpoint");
      if (ep && p.endpoint) ep.value = p.endpoint;
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        const val = (id) => {
          const el = form.querySelector(id);
          return el ? el.value.trim() : null;
        };
        const input = {
          name: val("#pf-name"),
          provider: state.provider,
          client_id: val("#pf-client-id"),
          region: val("#pf-region"),
          api_version: val("#pf-api"),
          endpoint: val("#pf-endpoint"),
          base_url: val("#pf-base-url") || null,
          // Empty = keep the stored one (edit) — the page never learns what it is.
          secret: val("#pf-secret") || null,
          authcode: val("#pf-authcode") || null,
        };
        try {
          await invoke("save_profile", { input, isNew });
          for (const el of form.querySelectorAll("input[type=password]")) el.value = "";
          toast(t("profiles.saved", { name: input.name }), "ok");
          close(true);
        } catch (ex) {
          clear(err).append(errorBox(asReport(ex)));
        }
      });
      body.append(form);
    };
    build();
    return body;
  }).then(async (saved) => {
    if (saved) {
      await reloadProfiles();
      render();
    }
  });
}

async function removeProfile(p) {
  const ok = await confirmDialog({ title: t("profiles.remove"), body: t("profiles.remove_confirm", { name: p.name }), danger: true, confirm: t("profiles.remove") });
  if (!ok) return;
  try {
    await invoke("remove_profile", { name: p.name });
    toast(t("profiles.removed", { name: p.name }), "ok");
  } catch (e) {
    toastError(asReport(e));
  }
  await reloadProfiles();
  render();
}

async function codeFlow(p) {
  let flow;
  try {
    flow = await invoke("begin_code_flow", { profile: p.name });
  } catch (e) {
    toastError(asReport(e));
    return;
  }
  let listening = null; // resolves to the unlisten function, even if the dialog closes before it is registered
  await modal((close) => {
    const result = h("div#code-flow-result");
    const showOutcome = (outcome, report) => {
      clear(result);
      if (outcome) {
        const ids = (outcome.devices || [outcome.device]).map((d) => d.id).join(", ");
        result.append(h("div.result-banner.ok", "✓ ", t("result.success"), " · ", ids),
          h("div.muted.small", `${t("result.expires")}: ${fmtTime((outcome.devices || [outcome.device])[0].expires_at)}`));
      } else {
        result.append(errorBox(report));
      }
    };
    listening = listen("code-flow-finished", (e) => {
      const pl = e.payload;
      if (!pl || pl.flow_id !== flow.flow_id) return;
      showOutcome(pl.outcome, pl.error);
    });
    const link = h("input#code-flow-link", { type: "text", readonly: true, value: flow.authorize_url, on: { focus: (e) => e.target.select() } });
    const pasted = h("input#code-flow-url", { type: "url", placeholder: "http://127.0.0.1:…/callback?code=…&state=…", autocomplete: "off" });
    const form = h("form.form",
      h("h2", t("profiles.code_flow_title")),
      h("p.muted", t("profiles.code_flow_body")),
      h("label", h("span", t("profiles.code_flow_link")), link),
      h("label", h("span", t("profiles.code_flow_paste")), pasted),
      result,
      h("div.modal-actions",
        h("button.btn.secondary", { type: "button", on: { click: () => invoke("open_code_flow_page", { flowId: flow.flow_id }).catch((e) => toastError(asReport(e))) } }, t("profiles.code_flow_open_again")),
        h("button.btn.secondary", { type: "button", on: { click: () => close() } }, t("common.close")),
        h("button.btn", { type: "submit" }, t("profiles.code_flow_submit"))));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        showOutcome(await invoke("complete_code_flow", { flowId: flow.flow_id, callbackUrl: pasted.value.trim() }), null);
      } catch (ex) {
        showOutcome(null, asReport(ex));
      }
    });
    return form;
  });
  if (listening) listening.then((unlisten) => unlisten(), () => {});
  invoke("cancel_code_flow", { flowId: flow.flow_id }).catch(() => {});
  await reloadProfiles();
  render();
}

