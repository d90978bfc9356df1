/**
 * `--import` this (through NODE_OPTIONS, so every test process gets it) to run the fast-check
 * properties at FEDMESH_FUZZ_RUNS inputs each: `fast-check` resolves to scaled.ts, which overrides
 * each property's numRuns. Test-only; used by `npm run chaos -- --fuzz N`.
 */
import { register } from 'node:module';

register('./hooks.ts', import.meta.url);
