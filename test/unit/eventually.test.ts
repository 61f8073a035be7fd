import { describe, expect, test } from "bun:test";
import { eventually } from "../support/eventually";

describe("eventually()", () => {
  test("returns the first answer that is not undefined, null or false", async () => {
    const answers = [undefined, null, false, 0, 7];
    let calls = 0;
    expect(await eventually(() => answers[calls++], { what: "an answer", intervalMs: 1 })).toBe(0);
    expect(calls).toBe(4);
  });

  test("a check that throws has not answered yet", async () => {
    let calls = 0;
    const got = await eventually(
      () => {
        calls++;
        expect(calls).toBeGreaterThan(2);
        return "done";
      },
      { what: "the third call", intervalMs: 1 },
    );
    expect(got).toBe("done");
    expect(calls).toBe(3);
  });

  test("fails past its ceiling, naming what it waited for and the last error (negative case)", async () => {
    const waiting = eventually(
      () => {
        throw new Error("still QUEUED");
      },
      { what: "the run to succeed", timeoutMs: 30, intervalMs: 5 },
    );
    await expect(waiting).rejects.toThrow("timed out after 0.03 s waiting for the run to succeed; last check failed with: still QUEUED");
    await expect(eventually(() => false, { what: "never", timeoutMs: 10, intervalMs: 5 })).rejects.toThrow("waiting for never");
  });
});
