/** Envelope text (what the output cache keeps) and its response: the bytes `envelope()` would give. */
import { describe, expect, test } from "bun:test";
import { asEnvelopeText, beginRequest, envelope, envelopeResponse, envelopeText } from "../../src/platform/http";

describe("envelope text", () => {
  const request = (id: string) => {
    const r = new Request("http://localhost/x", { headers: { "x-request-id": id } });
    beginRequest(r);
    return r;
  };
  const withoutTime = (text: string) => text.replace(/"query_time_ms":[0-9.e-]+/, '"query_time_ms":0');

  test("a response from envelope text is JSON.stringify(envelope(...)) byte for byte, with this request's members", async () => {
    const data = [{ a: 1, s: 'quote " and \\u2028 and é', n: null }, { a: -0.5e-9 }];
    const extra = { count: 2, limit: 100, next_cursor: null, run_id: "r-1" };
    const text = envelopeText(data, extra);
    for (const id of ["req-1", "another.id:2"]) {
      const r = request(id);
      const res = envelopeResponse(r, text);
      expect(res.headers.get("content-type")).toBe("application/json;charset=utf-8");
      expect(withoutTime(await res.text())).toBe(withoutTime(JSON.stringify(envelope(r, data, extra))));
    }
  });

  test("no extra members: still valid JSON in the same member order", async () => {
    const r = request("req-3");
    const body = await envelopeResponse(r, envelopeText([], {})).json();
    expect(Object.keys(body)).toEqual(["meta", "data"]);
    expect(Object.keys(body.meta)).toEqual(["request_id", "query_time_ms"]);
  });

  test("only envelope text is accepted back from a cache", () => {
    expect(asEnvelopeText(envelopeText([1], { count: 1 }))).toBeDefined();
    for (const foreign of ['{"items":[1]}', "{not json", "", '{"meta":{"count":1},"data":[1]']) expect(asEnvelopeText(foreign)).toBeUndefined();
  });
});
