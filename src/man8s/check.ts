import type { Diagnostic, Fleet } from '../fleet/model.js';

/**
 * The Man8S rules that span files and hosts (references, require, dns/local_access, ports, yggaddr…).
 * Placeholder until the rules land; `man8s validate` reports loader diagnostics plus these.
 */
export function checkFleet(_fleet: Fleet): Diagnostic[] {
  return [];
}
