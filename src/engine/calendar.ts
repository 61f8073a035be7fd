/**
 * Calendar arithmetic on yyyymm integers and block hours.
 * Hours come from the Gregorian calendar only: no holidays, no DST (every day has 24 hours).
 *   ON_PEAK  = Monday..Friday, hour-ending 08..23 (07:00-23:00), 16 h/day  ("5x16")
 *   OFF_PEAK = every other hour of the month
 *   ATC      = all hours (24 x days)
 * Any other block string counts as ATC.
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

/** Number of Monday..Friday days in the month. */
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

export function hoursInBlock(yyyymm: number, code: BlockCode): number {
  const atc = daysInMonth(yyyymm) * 24;
  if (code === ATC) return atc;
  const on = weekdaysInMonth(yyyymm) * 16;
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
