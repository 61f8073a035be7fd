/**
 * Calendar arithmetic on yyyymm integers and block hours (docs/model.md §5).
 *
 * Block hours are counted in prevailing local time (the clock on the wall at the hub), with NERC
 * off-peak holidays and US daylight saving time:
 *   ON_PEAK  = "5x16": Monday..Friday except NERC holidays, 16 consecutive hours a day
 *              (HE07-HE22 in the West and ERCOT, HE08-HE23 in the East: the same count)
 *   OFF_PEAK = "2x16 + 7x8": weekends, NERC holidays and nights = ATC - ON_PEAK
 *   ATC      = every clock hour of the month: 24 x days, minus 1 in the month where DST starts
 *              (02:00 jumps to 03:00, HE03 does not exist) and plus 1 in the month where it ends
 *              (01:00-02:00 occurs twice, HE02 is repeated).
 * Both DST transitions happen on a Sunday at 02:00, so they never touch the on-peak window:
 * off-peak absorbs them. Any other block string counts as ATC.
 */

export type BlockCode = 0 | 1 | 2; // 0 = ON_PEAK, 1 = OFF_PEAK, 2 = ATC
export const ON_PEAK: BlockCode = 0;
export const OFF_PEAK: BlockCode = 1;
export const ATC: BlockCode = 2;

export function blockCode(block: string): BlockCode {
  const b = block.trim().toUpperCase();
  if (b === "ON_PEAK" || b === "ONPEAK" || b === "PEAK" || b === "5X16") return ON_PEAK;
  if (b === "OFF_PEAK" || b === "OFFPEAK") return OFF_PEAK;
  return ATC;
}

/** Months since year 0: y*12 + (m-1). */
export function monthIndex(yyyymm: number): number {
  const y = Math.floor(yyyymm / 100);
  const m = yyyymm - y * 100;
  return y * 12 + (m - 1);
}

export function yyyymmOf(index: number): number {
  const y = Math.floor(index / 12);
  return y * 100 + (index - y * 12) + 1;
}

export function isValidYyyymm(v: number): boolean {
  if (!Number.isInteger(v)) return false;
  const y = Math.floor(v / 100);
  const m = v - y * 100;
  return y >= 1000 && y <= 9999 && m >= 1 && m <= 12;
}

export function daysInMonth(yyyymm: number): number {
  const y = Math.floor(yyyymm / 100);
  const m = yyyymm - y * 100;
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/** Day of week, 0 = Sunday .. 6 = Saturday (Sakamoto). */
export function dayOfWeek(y: number, m: number, d: number): number {
  const t = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
  const yy = m < 3 ? y - 1 : y;
  return (yy + Math.floor(yy / 4) - Math.floor(yy / 100) + Math.floor(yy / 400) + t[m - 1]! + d) % 7;
}

/** Number of Monday..Friday days in the month (holidays included: see onPeakDaysInMonth). */
export function weekdaysInMonth(yyyymm: number): number {
  const y = Math.floor(yyyymm / 100);
  const m = yyyymm - y * 100;
  const days = daysInMonth(yyyymm);
  let dow = dayOfWeek(y, m, 1);
  let n = Math.floor(days / 7) * 5;
  for (let i = 0; i < days % 7; i++) {
    if (dow !== 0 && dow !== 6) n++;
    dow = (dow + 1) % 7;
  }
  return n;
}

/** Day of month of the n-th (1-based) weekday `dow` (0 = Sunday) of month m. */
export function nthWeekdayOfMonth(y: number, m: number, dow: number, n: number): number {
  return 1 + ((dow - dayOfWeek(y, m, 1) + 7) % 7) + (n - 1) * 7;
}

/** Day of month of the last weekday `dow` (0 = Sunday) of month m. */
export function lastWeekdayOfMonth(y: number, m: number, dow: number): number {
  const days = daysInMonth(y * 100 + m);
  return days - ((dayOfWeek(y, m, days) - dow + 7) % 7);
}

export interface NercHoliday {
  name: string;
  /** Observed date (the day that is off-peak). */
  month: number;
  day: number;
}

/**
 * The six NERC additional off-peak days of `year`, as observed: New Year's Day (1 Jan), Memorial Day
 * (last Monday of May), Independence Day (4 Jul), Labor Day (first Monday of September),
 * Thanksgiving (fourth Thursday of November), Christmas Day (25 Dec). A fixed-date holiday that
 * falls on a Sunday is observed on the Monday after; one that falls on a Saturday is NOT moved
 * (it stays on the Saturday, already off-peak, and no weekday becomes off-peak).
 */
export function nercHolidays(year: number): NercHoliday[] {
  const fixed = (name: string, month: number, day: number): NercHoliday => ({ name, month, day: dayOfWeek(year, month, day) === 0 ? day + 1 : day });
  return [
    fixed("New Year's Day", 1, 1),
    { name: "Memorial Day", month: 5, day: lastWeekdayOfMonth(year, 5, 1) },
    fixed("Independence Day", 7, 4),
    { name: "Labor Day", month: 9, day: nthWeekdayOfMonth(year, 9, 1, 1) },
    { name: "Thanksgiving Day", month: 11, day: nthWeekdayOfMonth(year, 11, 4, 4) },
    fixed("Christmas Day", 12, 25),
  ];
}

/** True if y-m-d is an observed NERC holiday (see nercHolidays). */
export function isNercHoliday(y: number, m: number, d: number): boolean {
  for (const h of nercHolidays(y)) if (h.month === m && h.day === d) return true;
  return false;
}

/**
 * US daylight-saving transitions of `year` as yyyymmdd (both Sundays, at 02:00 local time).
 * Since 2007 (Energy Policy Act of 2005 §110, 15 U.S.C. 260a): second Sunday of March to first
 * Sunday of November. 1987-2006: first Sunday of April to last Sunday of October; that rule is
 * also applied to years before 1987 (not historical there). Later years use the 2007 rule
 * (current law; a future change of law is not anticipated).
 */
export function dstTransitions(year: number): { start: number; end: number } {
  if (year >= 2007) return { start: year * 10000 + 300 + nthWeekdayOfMonth(year, 3, 0, 2), end: year * 10000 + 1100 + nthWeekdayOfMonth(year, 11, 0, 1) };
  return { start: year * 10000 + 400 + nthWeekdayOfMonth(year, 4, 0, 1), end: year * 10000 + 1000 + lastWeekdayOfMonth(year, 10, 0) };
}

/** Monday..Friday days of the month that are not NERC holidays (each has 16 on-peak hours). */
export function onPeakDaysInMonth(yyyymm: number): number {
  const y = Math.floor(yyyymm / 100);
  const m = yyyymm - y * 100;
  let n = weekdaysInMonth(yyyymm);
  if (m === 1 || m === 5 || m === 7 || m === 9 || m === 11 || m === 12)
    for (const h of nercHolidays(y)) {
      if (h.month !== m) continue;
      const dow = dayOfWeek(y, m, h.day);
      if (dow !== 0 && dow !== 6) n--;
    }
  return n;
}

/** Clock hours of the month in prevailing local time: 24 x days, -1 / +1 in the DST start / end month. */
export function clockHoursInMonth(yyyymm: number): number {
  const y = Math.floor(yyyymm / 100);
  const m = yyyymm - y * 100;
  let h = daysInMonth(yyyymm) * 24;
  if (m === 3 || m === 4 || m === 10 || m === 11) {
    const { start, end } = dstTransitions(y);
    if (Math.floor(start / 100) === yyyymm) h--;
    if (Math.floor(end / 100) === yyyymm) h++;
  }
  return h;
}

// Per-month cache (years CACHE_Y0 .. CACHE_Y0 + CACHE_YEARS - 1): on-peak and ATC hours; 0 = not yet computed.
const CACHE_Y0 = 1900;
const CACHE_YEARS = 400;
const onCache = new Int16Array(CACHE_YEARS * 12);
const atcCache = new Int16Array(CACHE_YEARS * 12);

export function hoursInBlock(yyyymm: number, code: BlockCode): number {
  const y = Math.floor(yyyymm / 100);
  const m = yyyymm - y * 100;
  const i = (y - CACHE_Y0) * 12 + m - 1;
  let atc: number;
  let on: number;
  if (i >= 0 && i < onCache.length && m >= 1 && m <= 12 && Number.isInteger(yyyymm)) {
    atc = atcCache[i]!;
    if (atc === 0) {
      atc = clockHoursInMonth(yyyymm);
      atcCache[i] = atc;
      onCache[i] = onPeakDaysInMonth(yyyymm) * 16;
    }
    on = onCache[i]!;
  } else {
    atc = clockHoursInMonth(yyyymm);
    on = onPeakDaysInMonth(yyyymm) * 16;
  }
  if (code === ATC) return atc;
  return code === ON_PEAK ? on : atc - on;
}

/** Hours of `block` (ON_PEAK | OFF_PEAK | ATC, case-insensitive; anything else = ATC) in the month yyyymm. */
export function hoursInMonth(yyyymm: number, block: string): number {
  return hoursInBlock(yyyymm, blockCode(block));
}

/** "YYYY-MM-DD" -> yyyymm, or NaN if malformed / not a real date. */
export function parseDateToYyyymm(date: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return Number.NaN;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y * 100 + mo)) return Number.NaN;
  return y * 100 + mo;
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : `${n}`);
export const monthLabel = (yyyymm: number) => `${Math.floor(yyyymm / 100)}-${pad2(yyyymm % 100)}`;
export const quarterLabel = (yyyymm: number) => `${Math.floor(yyyymm / 100)}-Q${Math.floor(((yyyymm % 100) - 1) / 3) + 1}`;
export const calendarLabel = (yyyymm: number) => `CAL-${Math.floor(yyyymm / 100)}`;
