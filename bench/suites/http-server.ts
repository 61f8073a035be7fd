/**
 * The http suite's server (its own process, so the client does not share its event loop): the same
 * handler behind an Elysia route and behind bare `Bun.serve`. Prints `<elysia port> <bare port>`.
 */
import { Elysia } from "elysia";

const handler = (id: string) => ({ id, status: "ok", values: [1.5, 2.5, 3.5] });

const elysia = new Elysia().get("/items/:id", ({ params }) => handler(params.id)).listen({ port: 0, hostname: "127.0.0.1" });
const bare = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch(req) {
    const path = new URL(req.url).pathname;
    if (req.method === "GET" && path.startsWith("/items/")) return Response.json(handler(path.slice(7)));
    return new Response("not found", { status: 404 });
  },
});
console.log(`${elysia.server?.port} ${bare.port}`);
