/**
 * The `require` graph of one host: levels for ordered `compose up` and cycles for validation.
 * Only edges to containers that exist (and loaded) count; missing ones are reported by checkFleet.
 */
import type { HostSpec } from '../fleet/model.js';

function edges(host: HostSpec, name: string): string[] {
  const spec = host.containers.get(name);
  if (!spec) return [];
  return [...new Set(spec.config.require)].filter((r) => host.containers.has(r));
}

/**
 * Every dependency cycle of the host, one per strongly connected component, each as the path
 * `[a, b, c, a]` starting at its smallest name so the message is the same on every run.
 */
export function findCycles(host: HostSpec): string[][] {
  // Tarjan's SCC, iterative so a long require chain cannot overflow the stack.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;
  const names = [...host.containers.keys()].sort();
  for (const root of names) {
    if (index.has(root)) continue;
    const work: { node: string; next: number; succ: string[] }[] = [];
    const visit = (node: string): void => {
      index.set(node, counter);
      low.set(node, counter);
      counter++;
      stack.push(node);
      onStack.add(node);
      work.push({ node, next: 0, succ: edges(host, node) });
    };
    visit(root);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      if (frame.next < frame.succ.length) {
        const succ = frame.succ[frame.next++]!;
        if (!index.has(succ)) visit(succ);
        else if (onStack.has(succ)) low.set(frame.node, Math.min(low.get(frame.node)!, index.get(succ)!));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        components.push(component);
      }
    }
  }
  const cycles: string[][] = [];
  for (const component of components) {
    const members = new Set(component);
    const start = [...component].sort()[0]!;
    if (component.length === 1 && !edges(host, start).includes(start)) continue;
    cycles.push(shortestCycle(host, start, members));
  }
  return cycles.sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
}

/** Breadth-first inside the component, so the reported cycle is short and deterministic. */
function shortestCycle(host: HostSpec, start: string, members: Set<string>): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const succ of [...edges(host, node)].sort()) {
      if (!members.has(succ)) continue;
      if (succ === start) {
        const path = [node];
        while (path[0] !== start) path.unshift(previous.get(path[0]!)!);
        return [...path, start];
      }
      if (!previous.has(succ)) {
        previous.set(succ, node);
        queue.push(succ);
      }
    }
  }
  return [start, start];
}

/** `a → b → c → a` */
export function formatCycle(cycle: string[]): string {
  return cycle.join(' → ');
}

/**
 * Containers grouped by dependency level: level 0 requires nothing, level n requires something at level
 * n-1 and nothing higher. Deploy runs `compose up` level by level. Throws on a cycle (validation
 * reports cycles first, so a loaded fleet has none). Names are sorted within a level.
 */
export function dependencyLevels(host: HostSpec): string[][] {
  const levelOf = new Map<string, number>();
  const resolving = new Set<string>();
  const levelFor = (name: string): number => {
    const known = levelOf.get(name);
    if (known !== undefined) return known;
    if (resolving.has(name)) throw new Error(`${host.name}: dependency cycle through ${name}`);
    resolving.add(name);
    let level = 0;
    for (const dep of edges(host, name)) level = Math.max(level, levelFor(dep) + 1);
    resolving.delete(name);
    levelOf.set(name, level);
    return level;
  };
  const levels: string[][] = [];
  for (const name of [...host.containers.keys()].sort()) {
    const level = levelFor(name);
    (levels[level] ??= []).push(name);
  }
  for (const names of levels) names.sort();
  return levels;
}

/** The level of every container (see dependencyLevels). */
export function levelMap(host: HostSpec): Map<string, number> {
  const map = new Map<string, number>();
  dependencyLevels(host).forEach((names, level) => names.forEach((n) => map.set(n, level)));
  return map;
}
