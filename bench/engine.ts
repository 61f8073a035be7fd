/** Engine benchmark, standalone: `bun bench/engine.ts [curves] [months] [paths] [runs]` (defaults 500 × 360 × 500, 3 runs). The harness's suite: bench/suites/engine.ts. */
import { engineStandalone } from "./suites/engine";

engineStandalone(process.argv.slice(2));
