/**
 * Which methods a path has, from the app's own route table: the `Allow` header of a 405 (RFC 9110
 * §15.5.6) and of OPTIONS (§9.3.7). A route path's `:name` segments match any non-empty text
 * without a slash, as Elysia's router does (`/v1/curves:verb` matches `/v1/curves:import`).
 */
export type RouteTable = { readonly routes: readonly { method: string; path: string }[] };

export function createMethodIndex(app: RouteTable): (pathname: string) => string[] {
  let compiled: { pattern: RegExp; method: string }[] | undefined;
  return (pathname) => {
    compiled ??= app.routes.map((r) => ({
      method: r.method.toUpperCase(),
      pattern: new RegExp(
        `^${r.path
          .split(/(:[A-Za-z_][A-Za-z0-9_]*)/)
          .map((part) => (part.startsWith(":") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
          .join("")}/?$`,
      ),
    }));
    const methods = new Set(compiled.filter((r) => r.pattern.test(pathname)).map((r) => r.method));
    if (methods.size === 0) return [];
    if (methods.has("GET")) methods.add("HEAD");
    methods.add("OPTIONS");
    return [...methods].sort();
  };
}
