import {
  RT_SCOPE_HOST,
  RT_SCOPE_LINK,
  RT_SCOPE_NOWHERE,
  RT_SCOPE_SITE,
  RT_SCOPE_UNIVERSE,
} from './constants.js';

/**
 * How far an address or route reaches (rtm_scope, ifa_scope): `universe` is
 * what `ip` prints as "global"; `link` is a directly connected network.
 */
export type Scope = 'universe' | 'site' | 'link' | 'host' | 'nowhere';

const scopes: Record<Scope, number> = {
  universe: RT_SCOPE_UNIVERSE,
  site: RT_SCOPE_SITE,
  link: RT_SCOPE_LINK,
  host: RT_SCOPE_HOST,
  nowhere: RT_SCOPE_NOWHERE,
};

export function scopeNumber(scope: Scope): number {
  return scopes[scope];
}

/** A scope byte by name; the numbers without a name (user-defined scopes) stay numbers. */
export function scopeName(value: number): Scope | number {
  for (const [name, number] of Object.entries(scopes)) {
    if (number === value) return name as Scope;
  }
  return value;
}
