// Page-side state shared by the screens: app info, the profile list and the user's settings (localStorage, no secrets).
import { invoke } from "./ipc.js";

export const store = {
  info: null,
  profiles: [],
  listeners: new Set(),
};

const defaults = { autoAuthorize: false, batch: false, sound: true, profile: "sandbox" };

export function setting(key) {
  const raw = localStorage.getItem(`qa.${key}`);
  if (raw === null) return defaults[key];
  try {
    return JSON.parse(raw);
  } catch {
    return defaults[key];
  }
}

export function setSetting(key, value) {
  localStorage.setItem(`qa.${key}`, JSON.stringify(value));
}

/** Reloads profiles and tells every screen that shows them. */
export async function reloadProfiles() {
  store.profiles = await invoke("list_profiles");
  for (const fn of store.listeners) fn(store.profiles);
  return store.profiles;
}

export function onProfiles(fn) {
  store.listeners.add(fn);
}

/** The profile the scan screen authorizes with: the saved choice if it still exists, else the built-in sandbox. */
export function currentProfile(provider) {
  const want = setting("profile");
  const list = store.profiles.filter((p) => !provider || p.provider === provider);
  const found = list.find((p) => p.name === want);
  if (found) return found.name;
  const builtin = list.find((p) => p.builtin);
  return builtin ? builtin.name : list[0] ? list[0].name : null;
}
