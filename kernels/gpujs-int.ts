// Exact integer division inside gpu.js kernels. gpu.js keeps an index expression in i32 only while
// every part is a thread id, an Integer constant, a loop counter or a call of a helper declared with
// Integer argument and return types; `/`, `%`, Math.floor and every local variable are f32 (exact only
// below 2^24, and flat indices reach 2^26 and more). Pass `integerHelpers` as a kernel's `functions`
// setting and call idiv inline inside index expressions, or hold a small quotient in a local and read
// it back in each index through iint (a local used in an index directly turns the index into f32).

/** Exact ⌊a / b⌋ for 0 ≤ a < 2^31, b ≥ 1, quotient < 2^22: an f32 estimate, then two integer corrections. */
export function idiv(a: number, b: number): number {
  return ifix(a, b, ifix(a, b, Math.floor(a / b)));
}
/** One correction step of idiv: q ± 1 until 0 ≤ a − q·b < b. */
export function ifix(a: number, b: number, q: number): number {
  if (a - q * b >= b) return q + 1;
  if (a - q * b < 0) return q - 1;
  return q;
}
/**
 * An f32 value as i32: `iint(g)` of a small integer held in a local (exact in f32 below 2^24) keeps the
 * index expression it appears in i32 — so an idiv can be computed once into a local instead of inline
 * at every load.
 */
export function iint(a: number): number {
  return a;
}
const intFn = (source: Function, args: string[]) => ({
  source, settings: { argumentTypes: Object.fromEntries(args.map((a) => [a, 'Integer'])), returnType: 'Integer' },
});
/** gpu.js `functions` setting that makes idiv (and its ifix) and iint callable from a kernel. */
export const integerHelpers = [intFn(idiv, ['a', 'b']), intFn(ifix, ['a', 'b', 'q']), intFn(iint, ['a'])];
