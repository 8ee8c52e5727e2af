/**
 * Lazy stand-ins for platform objects (the request bridge, the lightweight
 * Response) implement what the server needs themselves and hand everything
 * else to the platform object, built on first use.
 *
 * @module
 */

/**
 * Defines on `target` every method and getter of `platform` that `target`
 * does not define itself, each forwarding to `real(this)`; then makes
 * `target` inherit from `platform`, so that `instanceof` holds.
 *
 * @example
 * ```ts
 * import { forwardToPlatform } from "./forward.ts";
 * class Lazy { real(): Request { return new Request("http://x/"); } }
 * forwardToPlatform(Lazy.prototype, Request.prototype, (self) => (self as Lazy).real());
 * ```
 */
export function forwardToPlatform(target: object, platform: object, real: (self: object) => object): void {
  const own = new Set(Object.getOwnPropertyNames(target));
  for (const key of Object.getOwnPropertyNames(platform)) {
    if (own.has(key) || key === "constructor") continue;
    const desc = Object.getOwnPropertyDescriptor(platform, key)!;
    if (typeof desc.value === "function") {
      Object.defineProperty(target, key, {
        configurable: true,
        writable: true,
        value(this: object, ...args: unknown[]) {
          return (real(this) as Record<string, (...a: unknown[]) => unknown>)[key](...args);
        },
      });
    } else if (desc.get) {
      Object.defineProperty(target, key, {
        configurable: true,
        get(this: object) {
          return (real(this) as Record<string, unknown>)[key];
        },
      });
    }
  }
  Object.setPrototypeOf(target, platform);
}
