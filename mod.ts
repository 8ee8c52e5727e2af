/**
 * The package entry: everything is in `src/mod.ts`; this file exists so that
 * the npm build has `dist/mod.js` at its root.
 *
 * @module
 */
export * from "./src/mod.ts";
