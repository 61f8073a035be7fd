/**
 * Attribution keys (`driver_type:index` into the run's assumptions, docs/model.md §4) as what the
 * driver is, for people: "RPS 60 % from 2030" rather than `policy:0`.
 */
import { SHARE_POLICIES } from "../../engine/params";
import { fmt } from "./dom";

export type Assumption = { driver_type: string; payload: Record<string, unknown> };

export function driverLabel(key: string, assumptions: Assumption[] | undefined): string {
  const [type, index] = key.split(":");
  const a = assumptions?.[Number(index)];
  if (!a || a.driver_type !== type) return key;
  const p = a.payload;
  const num = (v: unknown) => (typeof v === "number" ? fmt(v) : String(v ?? "?"));
  const region = p.region ? ` (${p.region})` : "";
  switch (type) {
    case "policy": {
      const share = (SHARE_POLICIES as readonly string[]).includes(String(p.policy_name).toUpperCase());
      const target =
        share && typeof p.target === "number" ? `${fmt(p.target * 100)} %` : String(p.policy_name).toUpperCase() === "CARBON_TAX" ? `$${num(p.target)}/t` : num(p.target);
      return `${p.policy_name} ${target} from ${p.start_year}${region}`;
    }
    case "load_growth":
      return `Load growth ${num(p.annual_growth_pct)} %/yr from ${p.start_year}${p.end_year ? ` to ${p.end_year}` : ""}${region}`;
    case "fuel_curve":
      return `${p.fuel} ${Number(p.basis_points_adjustment) >= 0 ? "+" : ""}${num(p.basis_points_adjustment)} bp`;
    case "fleet_change":
      return `${p.change_type} ${num(p.capacity_mw)} MW${p.technology ? ` ${p.technology}` : ""} from ${p.effective_date}${region}`;
    default:
      return key;
  }
}
