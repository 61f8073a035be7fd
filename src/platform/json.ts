/**
 * Canonical JSON for hashes and keys. The implementation lives in the engine, which may import
 * nothing outside itself; everything else takes it from here.
 */
export { canonicalJson } from "../engine/canonical-json";
