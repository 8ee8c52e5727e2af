/** Types for corpus.mjs (tricky requests shared by the parser split tests, the fuzzer and the socket tests). */
import type { ParserLimits } from "../../src/http/parser.ts";

/** One case: a name and the bytes, as a latin1 string. */
export interface Case {
  name: string;
  input: string;
}
export const SMALL_LIMITS: ParserLimits;
export const TRICKY: Case[];
export const BIG: Case[];
