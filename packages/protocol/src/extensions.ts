/**
 * Extensions to wg-dynamic v1. A client lists the ones it understands in its
 * request (`ext=route`); the server answers with the subset it applied
 * (`ext=route`) and only then sends that extension's keys. A v1 peer skips
 * `ext=` like any unknown key and so never sees a key it would misread.
 * docs/protocol.md describes each extension's keys.
 */
export const Extension = {
  /** `route=CIDR` lines in the response: routes to install through the interface. */
  Route: 'route',
  /**
   * `prefix=` lines both ways: a prefix per family delegated to the client, for
   * the network behind it (docs/protocol.md).
   */
  Prefix: 'prefix',
} as const;
export type Extension = (typeof Extension)[keyof typeof Extension];

/** The extensions a server of this implementation applies, in the order it names them. */
export const SUPPORTED_EXTENSIONS: readonly Extension[] = [Extension.Route, Extension.Prefix];

/** The extensions of `offered` that this implementation understands too. */
export function commonExtensions(offered: readonly string[]): Extension[] {
  return SUPPORTED_EXTENSIONS.filter((name) => offered.includes(name));
}
