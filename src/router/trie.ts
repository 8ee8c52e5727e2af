/**
 * A segment trie for route patterns: static segments, `:params` and a
 * trailing `*`. Lookup cost depends on the path's depth, not on the number
 * of routes or the order they were added; at each level a static segment is
 * tried before a param, and a param before the wildcard, backtracking when a
 * deeper level fails.
 *
 * @module
 */

/** A route's value at one method of one pattern, with its param names. */
export interface RouteEntry<T> {
  /** Param names in the order they appear in the pattern; `*` for the wildcard. */
  names: string[];
  /** What the route resolves to. */
  value: T;
}

interface Node<T> {
  statics: Map<string, Node<T>> | null;
  param: Node<T> | null;
  wildcard: Map<string, RouteEntry<T>> | null;
  methods: Map<string, RouteEntry<T>> | null;
}

/** What a lookup found. */
export interface TrieMatch<T> {
  /** Entries by method at the matched pattern ("*" is any method). */
  methods: Map<string, RouteEntry<T>>;
  /** Raw (still percent-encoded) values for each param position. */
  values: string[];
}

const newNode = <T>(): Node<T> => ({ statics: null, param: null, wildcard: null, methods: null });

/** Splits a path into segments: "/a/b" → ["a", "b"], "/" → [""], "/a/" → ["a", ""]. */
export function segments(path: string): string[] {
  return path.slice(1).split("/");
}

/**
 * Routes keyed by method and pattern.
 *
 * @example
 * ```ts
 * import { RouteTrie } from "./trie.ts";
 * const t = new RouteTrie<string>();
 * t.add("GET", "/users/:id", "user");
 * t.match("/users/42")?.values; // ["42"]
 * ```
 */
export class RouteTrie<T> {
  #root: Node<T> = newNode();

  /** Adds `value` for `method` ("*" for any) at `pattern`. A later add replaces an earlier one. */
  add(method: string, pattern: string, value: T): void {
    if (!pattern.startsWith("/")) throw new TypeError(`route pattern must start with "/": ${pattern}`);
    const parts = segments(pattern);
    const names: string[] = [];
    let node = this.#root;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      if (part === "*") {
        if (i !== parts.length - 1) throw new TypeError(`"*" must be the last segment: ${pattern}`);
        names.push("*");
        (node.wildcard ??= new Map()).set(method, { names, value });
        return;
      }
      if (part.startsWith(":")) {
        const name = part.slice(1);
        if (!/^[A-Za-z_$][\w$]*$/.test(name)) throw new TypeError(`invalid param name in ${pattern}`);
        if (names.includes(name)) throw new TypeError(`param :${name} appears twice in ${pattern}`);
        names.push(name);
        node = node.param ??= newNode();
      } else {
        const statics = node.statics ??= new Map();
        let next = statics.get(part);
        if (!next) statics.set(part, next = newNode());
        node = next;
      }
    }
    (node.methods ??= new Map()).set(method, { names, value });
  }

  /**
   * Finds the most specific pattern matching `path` whose method table
   * `accept`s (say, has the request's method), or null.
   */
  match(path: string, accept: (methods: Map<string, RouteEntry<T>>) => boolean = () => true): TrieMatch<T> | null {
    const parts = segments(path);
    const values: string[] = [];
    const methods = this.#walk(this.#root, parts, 0, values, accept);
    return methods ? { methods, values } : null;
  }

  #walk(
    node: Node<T>,
    parts: string[],
    i: number,
    values: string[],
    accept: (methods: Map<string, RouteEntry<T>>) => boolean,
  ): Map<string, RouteEntry<T>> | null {
    if (i === parts.length) {
      if (node.methods && accept(node.methods)) return node.methods;
      // "/files/*" also matches "/files" itself, with an empty rest.
      if (node.wildcard && accept(node.wildcard)) {
        values.push("");
        return node.wildcard;
      }
      return null;
    }
    const part = parts[i];
    const exact = node.statics?.get(part);
    if (exact) {
      const found = this.#walk(exact, parts, i + 1, values, accept);
      if (found) return found;
    }
    if (node.param && part !== "") {
      values.push(part);
      const found = this.#walk(node.param, parts, i + 1, values, accept);
      if (found) return found;
      values.pop();
    }
    if (node.wildcard && accept(node.wildcard)) {
      values.push(parts.slice(i).join("/"));
      return node.wildcard;
    }
    return null;
  }
}
