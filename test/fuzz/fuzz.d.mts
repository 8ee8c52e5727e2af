/** Types for the differential fuzzer's modules used from TypeScript tests. */
export interface FuzzReport {
  runs: number;
  counts: Record<string, number>;
  findings: Array<{ kind: string; id: string | null; input: string; minimal: string }>;
}
export function fuzz(o: {
  RequestParser: unknown;
  seed: number;
  seeds: string[];
  allowed: Set<string>;
  iterations?: number;
  timeMs?: number;
  maxFindings?: number;
}): FuzzReport;
export function judge(
  RequestParser: unknown,
  input: Uint8Array,
  cuts: number[],
  allowed: Set<string>,
  counts?: Record<string, number>,
): { kind: string; id?: string | null } | null;
export function describeFinding(f: FuzzReport["findings"][number]): string;
