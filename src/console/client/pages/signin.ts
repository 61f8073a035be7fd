/** Sign-in: a bearer token, or the auth-disabled (trusted local) mode with an optional tenant. */
import { ApiError, api, getSession, type Session, setSession } from "../api";
import { field, h } from "../dom";
import { type Ctx, errorBox, heading } from "../shell";

export function signinPage(ctx: Ctx, onChange: () => void): void {
  heading(ctx, "Sign in");
  const current = getSession();
  const probe = h("p", { className: "hint" }, "Checking whether this server requires a token…");
  const tokenRadio = h("input", { type: "radio", name: "mode", value: "token", id: "mode-token", checked: current?.mode !== "local" });
  const localRadio = h("input", { type: "radio", name: "mode", value: "local", id: "mode-local", checked: current?.mode === "local" });
  const token = field(
    "Bearer token",
    h("textarea", { name: "token", rows: 4, autocomplete: "off", spellcheck: "false" }),
    "A JWT from your identity provider. It is kept in this browser tab only (sessionStorage) and sent only to this server.",
  );
  const tenant = field("Tenant (optional)", h("input", { name: "tenant", autocomplete: "off" }), "Sent as X-Aurum-Tenant. Empty: the local operator, across all tenants.");
  if (current?.mode === "token") token.control.value = current.token;
  if (current?.mode === "local") tenant.control.value = current.tenant;
  const error = errorBox();
  const sync = () => {
    token.wrap.hidden = !tokenRadio.checked;
    tenant.wrap.hidden = tokenRadio.checked;
  };
  tokenRadio.addEventListener("change", sync);
  localRadio.addEventListener("change", sync);
  sync();

  const form = h(
    "form",
    { className: "card", "aria-labelledby": "signin-legend" },
    h(
      "fieldset",
      {},
      h("legend", { id: "signin-legend" }, "How does this server authenticate?"),
      h("div", { className: "radio" }, tokenRadio, h("label", { for: "mode-token" }, "Bearer token (JWT)")),
      h("div", { className: "radio" }, localRadio, h("label", { for: "mode-local" }, "Auth disabled (trusted local mode)")),
    ),
    token.wrap,
    tenant.wrap,
    error.el,
    h("div", { className: "actions" }, h("button", { type: "submit" }, "Sign in")),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.hide();
    const session: Session = tokenRadio.checked ? { mode: "token", token: token.control.value.trim() } : { mode: "local", tenant: tenant.control.value.trim() };
    if (session.mode === "token" && !session.token) {
      error.show(new Error("Enter a token, or choose the auth-disabled mode."));
      token.control.focus();
      return;
    }
    try {
      await api("/v1/scenarios?limit=1", { session, signal: ctx.signal });
      setSession(session);
      onChange();
      ctx.announce("Signed in");
      // A link opened in a new tab (the session is per tab) shows this page first: then the link's view.
      ctx.go(/^#\/scenarios\//.test(location.hash) ? location.hash : "#/scenarios");
    } catch (err) {
      error.show(err instanceof ApiError && err.status === 401 ? new Error(`The server did not accept these credentials: ${err.message}`) : err);
    }
  });
  ctx.main.append(probe, form);

  // A server in local mode answers without credentials: say so and preselect that mode.
  api("/v1/scenarios?limit=1", { session: null, signal: ctx.signal }).then(
    () => {
      probe.textContent = "This server answers without a token: authentication is disabled (local mode).";
      if (!current) {
        localRadio.checked = true;
        sync();
      }
    },
    (err) => {
      probe.textContent = err instanceof ApiError && err.status === 401 ? "This server requires a bearer token." : "";
    },
  );
}
