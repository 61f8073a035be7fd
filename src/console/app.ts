/**
 * The console's entry point (bundled by Bun.build, see src/console/build.ts): a hash router over
 * the sign-in, scenario list, new scenario, scenario (with delete), edit scenario, outputs and compare pages. Plain DOM, no framework.
 */
import { getSession, setSession } from "./client/api";
import { clear } from "./client/dom";
import { comparePage } from "./client/pages/compare";
import { outputsPage } from "./client/pages/outputs";
import { scenarioPage } from "./client/pages/scenario";
import { scenarioCreatePage, scenarioEditPage, scenarioListPage } from "./client/pages/scenarios";
import { signinPage } from "./client/pages/signin";
import type { Ctx } from "./client/shell";

const main = document.getElementById("main") as HTMLElement;
const who = document.getElementById("who") as HTMLElement;
const signout = document.getElementById("signout") as HTMLButtonElement;
const live = document.getElementById("live") as HTMLElement;
let current: AbortController | undefined;

function announce(message: string): void {
  // Cleared first so that the same message twice is read twice.
  live.textContent = "";
  setTimeout(() => {
    live.textContent = message;
  }, 50);
}

function renderSession(): void {
  const session = getSession();
  signout.hidden = !session;
  who.textContent = !session
    ? "Not signed in"
    : session.mode === "token"
      ? "Signed in with a bearer token"
      : `Auth disabled${session.tenant ? `, tenant ${session.tenant}` : ", all tenants"}`;
}

function go(hash: string): void {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function route(): void {
  current?.abort();
  current = new AbortController();
  const [path = "", query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const params = path.split("/").filter(Boolean).map(decodeURIComponent);
  const ctx: Ctx = { main, params, query: new URLSearchParams(query), signal: current.signal, go, announce };
  clear(main);
  if (params[0] === "signin" || !getSession()) {
    signinPage(ctx, renderSession);
    return;
  }
  if (params[0] !== "scenarios") {
    go("#/scenarios");
    return;
  }
  if (params.length === 1) scenarioListPage(ctx);
  else if (params[1] === "new") scenarioCreatePage(ctx);
  else if (params[2] === "outputs") outputsPage(ctx);
  else if (params[2] === "compare") comparePage(ctx);
  else if (params[2] === "edit") scenarioEditPage(ctx);
  else scenarioPage(ctx);
}

signout.addEventListener("click", () => {
  setSession(null);
  renderSession();
  announce("Signed out");
  go("#/signin");
});
// The skip link focuses the content without touching the router's hash.
document.getElementById("skip")?.addEventListener("click", (e) => {
  e.preventDefault();
  (main.querySelector("h1") ?? main).focus();
});
window.addEventListener("hashchange", route);
renderSession();
route();
// Read by the browser tests (load time to a rendered page).
performance.mark("aurum-console-ready");
