/**
 * Block hours (docs/model.md §5) against an independent hour-by-hour walk: every UTC hour is placed
 * on the local wall clock by Intl.DateTimeFormat (the ICU time-zone database, not our DST rule),
 * its weekday comes from Date, and holidays come from a separate reference rule written here by
 * scanning days. The walk's month totals must equal hoursInMonth for every month and block.
 */
import { describe, expect, test } from "bun:test";
import { clockHoursInMonth, dstTransitions, hoursInMonth, isNercHoliday, nercHolidays, onPeakDaysInMonth } from "../../../src/engine/index";

type HolidayRule = (y: number) => Set<string>; // "m-d" of the observed off-peak days

const dowOf = (y: number, m: number, d: number) => new Date(Date.UTC(y, m - 1, d)).getUTCDay();

/** Reference NERC rule, written independently of calendar.ts: fixed dates move Sunday → Monday only. */
const nercRef: HolidayRule = (y) => {
  const out = new Set<string>();
  const fixed = (m: number, d: number) => out.add(dowOf(y, m, d) === 0 ? `${m}-${d + 1}` : `${m}-${d}`);
  fixed(1, 1);
  fixed(7, 4);
  fixed(12, 25);
  for (let d = 25; d <= 31; d++) if (dowOf(y, 5, d) === 1) out.add(`5-${d}`); // last Monday of May
  for (let d = 1; d <= 7; d++) if (dowOf(y, 9, d) === 1) out.add(`9-${d}`); // first Monday of September
  for (let d = 22; d <= 28; d++) if (dowOf(y, 11, d) === 4) out.add(`11-${d}`); // fourth Thursday of November
  return out;
};

/** A deliberately wrong rule (the US federal one): Saturday holidays observed on the Friday before. */
const federalRule: HolidayRule = (y) => {
  const out = nercRef(y);
  for (const [m, d] of [
    [1, 1],
    [7, 4],
    [12, 25],
  ] as const)
    if (dowOf(y, m, d) === 6) {
      if (m === 1) continue; // 31 Dec of the previous year: outside this year's walk months
      out.add(`${m}-${d - 1}`);
    }
  // New Year's Day on a Saturday: the federal rule observes Friday 31 December of the year before
  if (dowOf(y + 1, 1, 1) === 6) out.add("12-31");
  return out;
};

const noHolidays: HolidayRule = () => new Set();

interface MonthHours {
  on: number;
  off: number;
  atc: number;
}

/**
 * Walk every hour from local midnight 1 Jan y0 to local midnight 1 Jan y1+1 in `timeZone`; an hour is
 * on-peak when its local day is Monday..Friday, not a holiday, and its hour-beginning is in
 * [peakFrom, peakFrom + 16).
 */
function walk(timeZone: string, y0: number, y1: number, holidays: HolidayRule, peakFrom = 6): Map<number, MonthHours> {
  const fmt = new Intl.DateTimeFormat("en-US", { timeZone, year: "numeric", month: "numeric", day: "numeric", hour: "numeric", hourCycle: "h23" });
  const local = (t: number) => {
    const p: Record<string, number> = {};
    for (const x of fmt.formatToParts(t)) if (x.type !== "literal") p[x.type] = Number(x.value);
    return p as { year: number; month: number; day: number; hour: number };
  };
  // first UTC hour whose local time is y0-01-01 00:00 (zones west of UTC: within the first 14 hours)
  let t = Date.UTC(y0, 0, 1, 0);
  while (!(local(t).year === y0 && local(t).hour === 0)) t += 3_600_000;
  const hol = new Map<number, Set<string>>();
  const out = new Map<number, MonthHours>();
  for (; ; t += 3_600_000) {
    const l = local(t);
    if (l.year > y1) break;
    if (!hol.has(l.year)) hol.set(l.year, holidays(l.year));
    const ym = l.year * 100 + l.month;
    let r = out.get(ym);
    if (!r) {
      r = { on: 0, off: 0, atc: 0 };
      out.set(ym, r);
    }
    const dow = dowOf(l.year, l.month, l.day);
    const peak = dow >= 1 && dow <= 5 && !hol.get(l.year)!.has(`${l.month}-${l.day}`) && l.hour >= peakFrom && l.hour < peakFrom + 16;
    r.atc++;
    if (peak) r.on++;
    else r.off++;
  }
  return out;
}

function mismatches(w: Map<number, MonthHours>): { ym: number; block: string; walk: number; ours: number }[] {
  const bad: { ym: number; block: string; walk: number; ours: number }[] = [];
  for (const [ym, r] of w)
    for (const [block, v] of [
      ["ON_PEAK", r.on],
      ["OFF_PEAK", r.off],
      ["ATC", r.atc],
    ] as const) {
      const ours = hoursInMonth(ym, block);
      if (ours !== v) bad.push({ ym, block, walk: v, ours });
    }
  return bad;
}

describe("block hours equal an independent hour-by-hour walk (Intl time zones, reference holidays)", () => {
  test("America/New_York 1990-2060, every month, ON_PEAK / OFF_PEAK / ATC (pre-2007 and 2007 DST rules)", () => {
    const w = walk("America/New_York", 1990, 2060, nercRef);
    expect(w.size).toBe(71 * 12);
    expect(mismatches(w)).toEqual([]);
  });

  test.each(["America/Chicago", "America/Denver", "America/Los_Angeles"])("%s 2020-2040: same counts (DST at 02:00 local in every zone)", (tz) => {
    const w = walk(tz, 2020, 2040, nercRef);
    expect(w.size).toBe(21 * 12);
    expect(mismatches(w)).toEqual([]);
  });

  test("the eastern on-peak window HE08-HE23 gives the same counts as HE07-HE22 (2020-2040)", () => {
    expect(mismatches(walk("America/New_York", 2020, 2040, nercRef, 7))).toEqual([]);
  });
});

describe("the walk detects wrong calendars (negative tests)", () => {
  test("Saturday holidays moved to Friday (federal rule, not NERC): exactly the months with a Saturday fixed holiday differ", () => {
    const bad = mismatches(walk("America/New_York", 2020, 2040, federalRule));
    const months = [...new Set(bad.map((b) => b.ym))].sort();
    const expected: number[] = [];
    for (let y = 2020; y <= 2040; y++) {
      if (dowOf(y, 7, 4) === 6) expected.push(y * 100 + 7);
      if (dowOf(y, 12, 25) === 6 || dowOf(y + 1, 1, 1) === 6) expected.push(y * 100 + 12);
    }
    expect(months).toEqual(expected.sort());
    expect(months).toContain(202712); // Christmas 2027 and New Year 2028 are Saturdays: NERC moves neither
    const dec2027 = bad.find((b) => b.ym === 202712 && b.block === "ON_PEAK")!;
    expect(dec2027.ours - dec2027.walk).toBe(32); // the federal rule would take Friday 24 and Friday 31 December
  });

  test("no holidays at all: every year's holiday months differ by 16 on-peak hours per weekday holiday", () => {
    const bad = mismatches(walk("America/New_York", 2027, 2027, noHolidays)).filter((b) => b.block === "ON_PEAK");
    // 2027: 1 Jan Fri, 31 May, 5 Jul (4 Jul is a Sunday), 6 Sep, 25 Nov; 25 Dec is a Saturday
    expect(bad.map((b) => [b.ym, b.walk - b.ours])).toEqual([
      [202701, 16],
      [202705, 16],
      [202707, 16],
      [202709, 16],
      [202711, 16],
    ]);
  });

  test("a zone without DST (America/Phoenix) differs in ATC/OFF_PEAK in March and November only", () => {
    const bad = mismatches(walk("America/Phoenix", 2020, 2030, nercRef));
    expect(bad.every((b) => b.block !== "ON_PEAK")).toBe(true);
    expect([...new Set(bad.map((b) => b.ym % 100))].sort((a, b) => a - b)).toEqual([3, 11]);
    expect(bad.filter((b) => b.ym === 202703).map((b) => b.walk - b.ours)).toEqual([1, 1]);
    expect(bad.filter((b) => b.ym === 202711).map((b) => b.walk - b.ours)).toEqual([-1, -1]);
  });
});

describe("known figures", () => {
  test.each([
    // 2027: New Year's Day on a Friday, Christmas on a Saturday (not moved), DST 14 Mar - 7 Nov
    [202701, 320, 424, 744],
    [202702, 320, 352, 672],
    [202703, 368, 375, 743],
    [202705, 320, 424, 744],
    [202707, 336, 408, 744],
    [202711, 336, 385, 721],
    [202712, 368, 376, 744],
    // 2022: Christmas on a Sunday → Monday 26 Dec off-peak
    [202212, 336, 408, 744],
    // 2023: New Year's Day on a Sunday → Monday 2 Jan off-peak
    [202301, 336, 408, 744],
    // 2006 (pre-2007 rule): DST 2 Apr - 29 Oct
    [200603, 368, 376, 744],
    [200604, 320, 399, 719],
    [200610, 352, 393, 745],
    [200611, 336, 384, 720],
    // leap February 2028
    [202802, 336, 360, 696],
  ])("%i: ON %i, OFF %i, ATC %i", (ym, on, off, atc) => {
    expect(hoursInMonth(ym, "ON_PEAK")).toBe(on);
    expect(hoursInMonth(ym, "OFF_PEAK")).toBe(off);
    expect(hoursInMonth(ym, "ATC")).toBe(atc);
    expect(clockHoursInMonth(ym)).toBe(atc);
    expect(onPeakDaysInMonth(ym) * 16).toBe(on);
  });

  test("block aliases: case-insensitive, unknown blocks count as ATC", () => {
    expect(hoursInMonth(202701, "on_peak")).toBe(320);
    expect(hoursInMonth(202701, "5x16")).toBe(320);
    expect(hoursInMonth(202701, "OffPeak")).toBe(424);
    expect(hoursInMonth(202703, "7x24")).toBe(743);
  });

  test("NERC holidays as observed (published lists)", () => {
    const ds = (y: number) => nercHolidays(y).map((h) => `${h.month}-${h.day}`);
    expect(ds(2021)).toEqual(["1-1", "5-31", "7-5", "9-6", "11-25", "12-25"]);
    expect(ds(2022)).toEqual(["1-1", "5-30", "7-4", "9-5", "11-24", "12-26"]);
    expect(ds(2023)).toEqual(["1-2", "5-29", "7-4", "9-4", "11-23", "12-25"]);
    expect(ds(2027)).toEqual(["1-1", "5-31", "7-5", "9-6", "11-25", "12-25"]);
    expect(isNercHoliday(2027, 7, 5)).toBe(true);
    expect(isNercHoliday(2027, 7, 4)).toBe(false); // the Sunday itself: a weekend day, not the observed holiday
    expect(isNercHoliday(2027, 12, 24)).toBe(false); // Saturday Christmas is not moved to the Friday
    for (let y = 1990; y <= 2060; y++) expect(new Set(ds(y))).toEqual(nercRef(y));
  });

  test("DST transitions: second Sunday of March / first Sunday of November since 2007, April / October before", () => {
    expect(dstTransitions(2027)).toEqual({ start: 20270314, end: 20271107 });
    expect(dstTransitions(2024)).toEqual({ start: 20240310, end: 20241103 });
    expect(dstTransitions(2007)).toEqual({ start: 20070311, end: 20071104 });
    expect(dstTransitions(2006)).toEqual({ start: 20060402, end: 20061029 });
  });

  test("every month 1950-2150: ON + OFF = ATC, ON a multiple of 16; a year has 8760 / 8784 clock hours", () => {
    for (let y = 1950; y <= 2150; y++) {
      let sum = 0;
      for (let m = 1; m <= 12; m++) {
        const ym = y * 100 + m;
        expect(hoursInMonth(ym, "ON_PEAK") + hoursInMonth(ym, "OFF_PEAK")).toBe(hoursInMonth(ym, "ATC"));
        expect(hoursInMonth(ym, "ON_PEAK") % 16).toBe(0);
        sum += hoursInMonth(ym, "ATC");
      }
      expect(sum).toBe((y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 8784 : 8760);
    }
  });

  test("outside the cached years the same rule applies", () => {
    expect(hoursInMonth(230003, "ATC")).toBe(743);
    expect(hoursInMonth(230003, "ON_PEAK") + hoursInMonth(230003, "OFF_PEAK")).toBe(743);
    expect(hoursInMonth(189911, "ATC")).toBe(720); // pre-2007 rule: DST ends in October
  });
});
