/** The shared platform toolkit: bounded waits, interruptible pauses, calendar days, canonical JSON. */
import { describe, expect, test } from "bun:test";
import { canonicalJson } from "../../../src/platform/json";
import { isCalendarDate, isCalendarDay, parseCreatedRange } from "../../../src/platform/time";
import { createSleeper, withTimeout } from "../../../src/platform/timers";

const never = new Promise<never>(() => {});

describe("withTimeout", () => {
  test("settles like the promise when it is first, value or error", async () => {
    expect(await withTimeout(Promise.resolve(7), 10_000, () => 0)).toBe(7);
    await expect(withTimeout(Promise.reject(new Error("boom")), 10_000, () => 0)).rejects.toThrow("boom");
  });

  test("gives what onTimeout returns, or rejects with what it throws", async () => {
    expect(await withTimeout(never, 1, () => "late")).toBe("late");
    await expect(
      withTimeout(never, 1, () => {
        throw new Error("timed out");
      }),
    ).rejects.toThrow("timed out");
  });
});

describe("createSleeper", () => {
  test("wake() ends every pause in progress; a later pause waits again", async () => {
    const pause = createSleeper();
    let woken = 0;
    const pauses = [pause.sleep(60_000), pause.sleep(60_000)].map((p) => p.then(() => woken++));
    pause.wake();
    await Promise.all(pauses);
    expect(woken).toBe(2);
    const later = await withTimeout(
      pause.sleep(60_000).then(() => "slept"),
      1,
      () => "still sleeping",
    );
    expect(later).toBe("still sleeping");
    pause.wake();
  });

  test("a pause ends by itself after its time", async () => {
    await createSleeper().sleep(1);
  });
});

describe("isCalendarDay", () => {
  test("accepts days that exist, years 0001..9999", () => {
    for (const day of ["2024-02-29", "2026-12-31", "0001-01-01", "0050-02-28", "9999-12-31", "2000-02-29"]) expect(isCalendarDay(day)).toBe(true);
  });

  test("refuses days that do not exist, year 0 and other shapes", () => {
    for (const day of ["0000-01-01", "2023-02-29", "2024-02-30", "2024-04-31", "2024-13-01", "2024-00-10", "1900-02-29", "2024-1-01", "2024-01-01T00:00:00Z", " 2024-01-01", ""]) {
      expect(isCalendarDay(day)).toBe(false);
    }
  });

  test("isCalendarDate also bounds the year to 1900..2200", () => {
    expect(isCalendarDate("1900-01-01")).toBe(true);
    expect(isCalendarDate("1899-12-31")).toBe(false);
    expect(isCalendarDate("2201-01-01")).toBe(false);
  });
});

describe("parseCreatedRange", () => {
  test("only the bounds given, a date as midnight UTC", () => {
    expect(parseCreatedRange({})).toEqual({});
    expect(parseCreatedRange({ created_after: "2026-01-31" })).toEqual({ createdAfter: new Date("2026-01-31T00:00:00Z") });
    expect(parseCreatedRange({ created_before: "2026-01-31T12:00:00+01:00" })).toEqual({ createdBefore: new Date("2026-01-31T11:00:00Z") });
    expect(parseCreatedRange({ created_after: "2026-01-31", created_before: "2026-01-31" })).toEqual({
      createdAfter: new Date("2026-01-31T00:00:00Z"),
      createdBefore: new Date("2026-01-31T00:00:00Z"),
    });
  });

  test("a bound that is not an instant, or bounds reversed, is a 400 naming the field (negative cases)", () => {
    const issue = (q: { created_after?: string; created_before?: string }) => {
      try {
        parseCreatedRange(q);
      } catch (e) {
        const err = e as { status: number; details: { field: string }[] };
        return [err.status, err.details[0]?.field];
      }
      return undefined;
    };
    expect(issue({ created_after: "2026-02-31" })).toEqual([400, "created_after"]);
    expect(issue({ created_before: "yesterday" })).toEqual([400, "created_before"]);
    expect(issue({ created_after: "2026-02-01", created_before: "2026-01-31" })).toEqual([400, "created_after"]);
  });
});

describe("canonicalJson", () => {
  test("sorts keys at every level, drops undefined members, keeps array order", () => {
    expect(canonicalJson({ b: [3, undefined, { y: 1, x: null }], a: undefined, c: 1 })).toBe('{"b":[3,null,{"x":null,"y":1}],"c":1}');
  });

  test("dropNulls drops null members too, not null array elements", () => {
    expect(canonicalJson({ b: [null, { y: null, x: 1 }], a: null }, { dropNulls: true })).toBe('{"b":[null,{"x":1}]}');
  });

  test("typed arrays as arrays, non-finite numbers as strings, dates as ISO strings", () => {
    expect(canonicalJson({ v: new Float64Array([1, 0.5]), n: Number.NaN, i: -Infinity, d: new Date("2026-01-02T03:04:05.678Z") })).toBe(
      '{"d":"2026-01-02T03:04:05.678Z","i":"-Infinity","n":"NaN","v":[1,0.5]}',
    );
  });
});
